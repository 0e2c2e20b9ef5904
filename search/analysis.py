"""Text analysis done in Python, identically for both search backends.

Elasticsearch's test distribution has no language analysers or ``asciifolding``
(``../shared/design/architecture.md`` §7), and the rule is that CI tests the mapping
production uses. So text is analysed here into space-separated tokens that
Elasticsearch indexes with its built-in ``whitespace`` analyser and SQLite FTS5 with
``unicode61``: the same tokens in both, hence the same matches.

Today: Unicode normalisation, accent folding and lower-casing. Per-language stemming and
compound splitting plug in here (issue: search), without touching either backend.
"""

from __future__ import annotations

import re
import unicodedata

_TOKEN = re.compile(r"\w+", re.UNICODE)
MAX_QUERY_TOKENS = 32


def fold(text: str) -> str:
    """Lower-case and strip diacritics: 'Überprüfung' -> 'uberprufung', 'Société' -> 'societe'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str | None) -> list[str]:
    """The index/query tokens of a text: folded words, punctuation and operators dropped."""
    if not text:
        return []
    return [t for t in _TOKEN.findall(fold(text)) if t != "_"]


def analysed(text: str | None) -> str:
    """Tokens joined by spaces, ready for a whitespace tokenizer."""
    return " ".join(tokens(text))


def query_tokens(q: str | None) -> list[str]:
    """Tokens of a user query, capped so a pasted essay cannot build a huge query."""
    return tokens(q)[:MAX_QUERY_TOKENS]
