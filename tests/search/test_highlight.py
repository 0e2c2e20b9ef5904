"""Highlighting with its caches (search/highlight.py) marks exactly what the plain per-word
analysis marks, on real corpus titles and summaries (nl, fr, en) and plans made from the
relevance queries and from the texts' own words, first and again (cached); so does
highlighting from the word forms stored at indexing (index_marks + highlight_marked)."""

from __future__ import annotations

import html
import re

from search.analysis import COMPOUND_LANGUAGES, compound_parts, fold, language_of, stem
from search.documents import SearchQuery
from search.highlight import SNIPPET_CHARS, highlight, highlight_marked, index_marks, marks_keys
from search.queries import TextPlan, text_plan
from tests.search.relevance import CASES, corpus_documents

_WORD = re.compile(r"\w+", re.UNICODE)


def reference(text: str | None, plan: TextPlan | None, language: str | None) -> str | None:
    """The straightforward algorithm (no caches): every word analysed anew, as before."""
    if not text or plan is None or not plan.groups:
        return None
    wanted = {alt for group in plan.groups for alt in group}

    def forms(word: str) -> set[str]:
        folded = fold(word)
        out = {folded}
        lang = language_of(language)
        if lang:
            out |= {stem(word.casefold(), lang), stem(folded, lang)}
            if lang in COMPOUND_LANGUAGES:
                out |= {stem(p, lang) for p in compound_parts(folded, lang)}
        return out

    matches = [m for m in _WORD.finditer(text) if forms(m.group()) & wanted]
    if not matches:
        return None
    start = max(0, matches[0].start() - SNIPPET_CHARS // 3)
    end = min(len(text), start + SNIPPET_CHARS)
    out, pos = [], start
    for m in matches:
        if m.start() < start or m.end() > end:
            continue
        out += [html.escape(text[pos : m.start()]), "<em>", html.escape(m.group()), "</em>"]
        pos = m.end()
    out.append(html.escape(text[pos:end]))
    return ("…" if start else "") + "".join(out) + ("…" if end < len(text) else "")


def test_cached_highlighting_marks_what_the_plain_analysis_marks(corpus) -> None:
    docs = corpus_documents(corpus)
    texts = [(t, d.language) for d in docs for t in (d.title, d.summary) if t]
    assert len(texts) > 200
    words = [w for d in docs[::7] for w in _WORD.findall(d.title)[:3]]
    plans = [text_plan(SearchQuery(q=c.query, filters={"language": [c.language]})) for c in CASES]
    plans += [text_plan(SearchQuery(q=c.query)) for c in CASES]
    plans += [text_plan(SearchQuery(q=" ".join(words[i : i + 2]))) for i in range(0, len(words), 2)]
    marked = 0
    for plan in plans:
        for text, language in texts:
            for lang in (language, None):
                expected = reference(text, plan, lang)
                assert highlight(text, plan, lang) == expected
                assert highlight(text, plan, lang) == expected  # from the caches
                marked += expected is not None
    assert marked > 500  # the comparison covers many marked texts, not only "no match"


def test_marks_stored_at_indexing_give_the_same_highlights(corpus) -> None:
    docs = corpus_documents(corpus)
    texts = [(t, d.language) for d in docs for t in (d.title, d.summary) if t]
    words = [w for d in docs[::5] for w in _WORD.findall(d.title)[:3]]
    plans = [text_plan(SearchQuery(q=c.query, filters={"language": [c.language]})) for c in CASES]
    plans += [text_plan(SearchQuery(q=c.query)) for c in CASES]
    plans += [text_plan(SearchQuery(q=" ".join(words[i : i + 3]))) for i in range(0, len(words), 3)]
    plans += [text_plan(SearchQuery(q="the")), text_plan(SearchQuery(q="$$$")), None]
    marks = {(text, language): index_marks(text, language) for text, language in texts}
    assert all(m for m in marks.values())  # every corpus text has words
    marked = 0
    for plan in plans:
        keys = marks_keys(plan)
        for text, language in texts:
            expected = reference(text, plan, language)
            assert highlight_marked(text, marks[text, language], keys) == expected, (text, plan)
            marked += expected is not None
    assert marked > 500
    assert index_marks(None, "nl") == index_marks("", "nl") == index_marks("...", "en") == ""
    assert highlight_marked("Open data", "", marks_keys(plans[0])) is None
