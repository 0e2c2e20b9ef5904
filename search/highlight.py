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
    if not matches:
        return None
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
