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

from search.analysis import COMPOUND_LANGUAGES, compound_parts, fold, language_of, stem
from search.queries import TextPlan

_WORD = re.compile(r"\w+", re.UNICODE)
SNIPPET_CHARS = 240


def _forms(word: str, language: str | None) -> set[str]:
    folded = fold(word)
    forms = {folded}
    lang = language_of(language)
    if lang:
        forms |= {stem(word.casefold(), lang), stem(folded, lang)}
        if lang in COMPOUND_LANGUAGES:
            forms |= {stem(p, lang) for p in compound_parts(folded, lang)}
    return forms


def highlight(text: str | None, plan: TextPlan | None, language: str | None) -> str | None:
    """The text (cut to a snippet around the first match) with matching words in ``<em>``."""
    if not text or plan is None or not plan.groups:
        return None
    wanted = {alt for group in plan.groups for alt in group}
    matches = [m for m in _WORD.finditer(text) if _forms(m.group(), language) & wanted]
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
