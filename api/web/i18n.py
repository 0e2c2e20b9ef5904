"""Messages in Dutch, English and French, and which language a visitor gets.

Catalogues are plain JSON files (``api/web/i18n/{nl,en,fr}.json``): one flat key -> message
map per language, with ``{name}`` placeholders. No compile step, so a translator edits
one file and reloads. English is the reference: a key missing elsewhere falls back to it
(``tests/web/test_pages.py`` checks that every catalogue has every key).

The language is the visitor's explicit choice (``?lang=`` once, then a cookie), else the
best match in ``Accept-Language``, else English.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

LANGUAGES = ("nl", "en", "fr")
DEFAULT = "en"
COOKIE = "innonet_lang"
CATALOGUES = Path(__file__).parent / "i18n"


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: str) -> dict[str, str]:
    """The messages of one language (loaded once per process)."""
    return json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))


def translate(lang: str, key: str, **values: object) -> str:
    """One message, with placeholders filled; falls back to English, then to the key itself."""
    text = catalogue(lang).get(key) or catalogue(DEFAULT).get(key) or key
    return text.format(**values) if values else text


def from_accept_language(header: str | None, supported: tuple[str, ...] = LANGUAGES) -> str | None:
    """The supported language the browser prefers most (``nl-BE,nl;q=0.9,en;q=0.8`` -> ``nl``).

    ``supported``: the pages' languages by default; the search API's facet labels add German."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        base = tag.strip().split("-")[0].lower()
        if base in supported and q > 0:
            ranked.append((-q, position, base))
    return min(ranked)[2] if ranked else None


def choose(query_lang: str | None, cookie_lang: str | None, accept_language: str | None) -> str:
    """The language of a page: explicit choice, then cookie, then the browser, then English."""
    for candidate in (query_lang, cookie_lang):
        if candidate in LANGUAGES:
            return candidate
    return from_accept_language(accept_language) or DEFAULT
