"""Mark the words of a query in a hit's title and snippet, safely.

The search backends return documents, not highlighted fragments, so the page marks
matches itself with the same analysis the index uses (folding, Snowball stems per
language, prefix match for stems): 'européens' marks 'Européenne'. Text is escaped
piece by piece and only our own ``<mark>`` tags are added.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

from search.analysis import fold, language_of, query_tokens, stem

WORD = re.compile(r"\w+", re.UNICODE)


def _stems(q: str | None, language: str | None) -> list[str]:
    lang = language_of(language)
    out = set()
    for token in query_tokens(q):
        if len(token) < 2:
            continue
        out.add(token)
        if lang:
            out.add(stem(token, lang))
    return sorted(out, key=len, reverse=True)


def _matches(word: str, stems: list[str]) -> bool:
    folded = fold(word)
    return any(folded == s or (len(s) >= 3 and folded.startswith(s)) for s in stems)


def highlight(text: str | None, q: str | None, language: str | None) -> Markup:
    """``text`` escaped, with query words wrapped in ``<mark>``."""
    if not text:
        return Markup("")
    stems = _stems(q, language)
    if not stems:
        return escape(text)
    out: list[str] = []
    last = 0
    for m in WORD.finditer(text):
        if _matches(m.group(), stems):
            out.append(str(escape(text[last : m.start()])))
            out.append(f"<mark>{escape(m.group())}</mark>")
            last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))  # noqa: S704 - every piece above is escaped


def snippet(text: str | None, q: str | None, language: str | None, width: int = 280) -> Markup:
    """About ``width`` characters of ``text`` around the first match, highlighted."""
    if not text:
        return Markup("")
    text = " ".join(text.split())
    stems = _stems(q, language)
    start = 0
    if stems:
        for m in WORD.finditer(text):
            if _matches(m.group(), stems):
                start = max(0, m.start() - width // 3)
                break
    piece = text[start : start + width]
    if start > 0:
        piece = "… " + piece[piece.find(" ") + 1 :]
    if start + width < len(text):
        piece = piece[: piece.rfind(" ")] + " …"
    return highlight(piece, q, language)
