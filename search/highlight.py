"""Highlighting in Python, the same for both backends.

The indexed fields hold analysed tokens, not the original text, so a server-side
highlighter would return stems. Instead the original text is re-tokenised here, each word
is analysed like the query (folded, stemmed in the item's language, compound parts), and
the words that match a query group are wrapped in ``<em>``; everything else is
HTML-escaped, so item text can never inject markup.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from itertools import chain

from search.analysis import COMPOUND_LANGUAGES, compound_parts, fold, language_of, stem
from search.queries import TextPlan

_WORD = re.compile(r"\w+", re.UNICODE)
SNIPPET_CHARS = 240


#: Forms per word, per item language as given (cleared when it holds this many words).
_FORMS: dict[str | None, dict[str, frozenset[str]]] = {}
FORMS_KEPT = 20_000
#: Segments per word for :func:`index_marks`, per language (cleared when it holds this many). An
#: indexing process meets a whole vocabulary, not a page's: with 20,000 the 1M-item bench's ~21,000
#: words per language cleared it again and again (marks 49 -> 16 us per document with room for them;
#: ~200 bytes per word, so at most ~80 MB for four languages in the indexing process).
SEGMENTS_KEPT = 100_000


def _analyse(word: str, language: str | None) -> frozenset[str]:
    """Every form under which ``word`` is indexed: folded, stemmed, compound parts' stems."""
    folded = fold(word)
    forms = {folded}
    lang = language_of(language)
    if lang:
        forms |= {stem(word.casefold(), lang), stem(folded, lang)}
        if lang in COMPOUND_LANGUAGES:
            forms |= {stem(p, lang) for p in compound_parts(folded, lang)}
    return frozenset(forms)


def _forms(words: list[str], language: str | None) -> list[frozenset[str]]:
    """The forms of each word. Kept per (language, word) in plain dicts and looked up from C
    (``map(dict.get, ...)``): a page of 20 hits has ~900 title/summary words, mostly frequent
    ones, and analysing each anew was ~1 ms per page (bench/bench_api_overhead.py --highlight)."""
    known = _FORMS.get(language)
    if known is None:
        known = _FORMS[language] = {}
    found = list(map(known.get, words))
    if None in found:
        if len(known) > FORMS_KEPT:
            known.clear()
        for i, forms in enumerate(found):
            if forms is None:
                found[i] = known[words[i]] = _analyse(words[i], language)
    return found  # type: ignore[return-value]


@lru_cache(maxsize=2048)
def _word_forms(text: str, language: str | None) -> tuple[frozenset[str], ...]:
    """The forms of each word of ``text``, in order, kept for the last texts shown (the same
    item on another query's page, a reload)."""
    return tuple(_forms(_WORD.findall(text), language))


def highlight(text: str | None, plan: TextPlan | None, language: str | None) -> str | None:
    """The text (cut to a snippet around the first match) with matching words in ``<em>``."""
    if not text or plan is None or not plan.groups:
        return None
    wanted = {alt for group in plan.groups for alt in group}
    forms = _word_forms(text, language)
    if wanted.isdisjoint(chain.from_iterable(forms)):  # most texts: one C-level pass, no match
        return None
    hit = [not f.isdisjoint(wanted) for f in forms]
    matches = [(m.start(), m.end()) for m, yes in zip(_WORD.finditer(text), hit, strict=True) if yes]
    return _snippet(text, matches) if matches else None


def _snippet(text: str, matches: list[tuple[int, int]]) -> str:
    """``text`` cut to :data:`SNIPPET_CHARS` around the first of ``matches`` (word spans, in
    order), those in ``<em>``, everything HTML-escaped."""
    start = max(0, matches[0][0] - SNIPPET_CHARS // 3)
    end = min(len(text), start + SNIPPET_CHARS)
    out, pos = [], start
    for m_start, m_end in matches:
        if m_start < start or m_end > end:
            continue
        out += [html.escape(text[pos:m_start]), "<em>", html.escape(text[m_start:m_end]), "</em>"]
        pos = m_end
    out.append(html.escape(text[pos:end]))
    return ("…" if start else "") + "".join(out) + ("…" if end < len(text) else "")


# -- the same marks from what indexing computed once (mapping version 5, field ``marks``) -----


#: Per item language as given: word -> `` form form … `` (its forms, sorted, space around each).
_SEGMENTS: dict[str | None, dict[str, str]] = {}


def index_marks(text: str | None, language: str | None) -> str:
    """The forms of each word of ``text`` in order, for :func:`highlight_marked`: one segment
    `` form form … `` per word (the forms :func:`highlight` would compute), segments joined
    by tabs ("" without words). Forms are made of word characters: no space, no tab.

    Why: analysing ~40 titles/summaries word by word was most of a highlighted page's cost
    (~300 µs per 20 hits for texts not seen lately, bench/bench_api_overhead.py --highlight);
    stored at indexing (~6 µs per text: segments kept per word and joined in C), the search
    only looks up the query's forms (~40 µs per page).
    """
    if not text:
        return ""
    words = _WORD.findall(text)
    known = _SEGMENTS.get(language)
    if known is None or len(known) > SEGMENTS_KEPT:
        known = _SEGMENTS[language] = {}
    segments = list(map(known.get, words))
    if None in segments:
        for i, (word, forms) in enumerate(zip(words, _forms(words, language), strict=True)):
            if segments[i] is None:
                segments[i] = known[word] = " " + " ".join(sorted(forms)) + " "
    return "\t".join(segments)  # type: ignore[arg-type]


def marks_keys(plan: TextPlan | None) -> tuple[str, ...]:
    """`` form `` for every form the plan's groups accept: what :func:`highlight_marked` looks
    up (the API prepares them once per query string)."""
    if plan is None:
        return ()
    return tuple(sorted(f" {alt} " for alt in {alt for group in plan.groups for alt in group}))


def highlight_marked(text: str | None, marks: str, keys: tuple[str, ...]) -> str | None:
    """What :func:`highlight` gives for ``text`` in its language and a plan, from ``marks`` =
    :func:`index_marks` of that text and ``keys`` = :func:`marks_keys` of the plan: the
    words holding one of the query's forms are found by string search, not analysed."""
    if not text or not keys:
        return None
    found: set[int] = set()
    for key in keys:
        at = marks.find(key)
        while at >= 0:
            found.add(marks.count("\t", 0, at))  # the word's position in the text
            at = marks.find(key, at + 1)
    if not found:
        return None
    return _snippet(text, [m.span() for i, m in enumerate(_WORD.finditer(text)) if i in found])
