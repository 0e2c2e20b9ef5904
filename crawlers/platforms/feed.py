"""Platform adapter for RSS 0.9x/1.0/2.0 and Atom feeds, through feedparser.

Bytes in, raw items out, with a per-record outcome: feedparser never raises on bad XML
(it sets ``bozo``), so a broken feed becomes a precise status, a feed with a few bad
entries keeps its good ones, and nothing here touches the network (feedparser is handed
bytes, never a URL, so it cannot resolve external entities or fetch anything).
"""

from __future__ import annotations

import calendar
import hashlib
import html
from datetime import UTC, datetime
from typing import Any

import feedparser
import nh3

from crawlers.platforms.base import ParseOutcome
from crawlers.platforms.fastfeed import fast_entries, feedparser_markup, nh3_options, sorted_attributes
from ontology import sanitisers
from pipeline.contracts import RawItem, RecordError, SourceSpec

__all__ = ["ParseOutcome", "html_to_text", "parse_feed", "sanitise_html"]


# Text without these characters reads the same through nh3 as without it (HTML's tokenizer only
# acts on '<', '&' and NUL in text, drops a leading BOM; for sanitise_html nh3 also writes '>' and
# U+00A0 as entities and CR/CRLF as LF). tests/crawlers/test_feed_text.py checks every code point
# and every corpus text both ways. Tested with ``in`` (str's fast search, ~8x faster than a regex
# character class over these texts).


def _text_needs_nh3(text: str) -> bool:
    return "<" in text or "&" in text or "\x00" in text or "\ufeff" in text


def _html_needs_nh3(html_text: str) -> bool:
    return (
        "<" in html_text
        or "&" in html_text
        or ">" in html_text
        or "\x00" in html_text
        or "\r" in html_text
        or "\xa0" in html_text
        or "\ufeff" in html_text
    )


# Sanitisers made once (ontology/sanitisers.py says why); the fast path's own is below.
_TEXT_ONLY, _SAFE = sanitisers.TEXT_ONLY, sanitisers.SAFE


def html_to_text(fragment: str | None) -> str | None:
    """Plain text of an HTML fragment (tags dropped, entities decoded, whitespace collapsed)."""
    if not fragment:
        return None
    if _text_needs_nh3(fragment):
        fragment = html.unescape(_TEXT_ONLY.clean(fragment))
    text = " ".join(fragment.split())
    return text or None


def sanitise_html(fragment: str | None, **options: Any) -> str | None:
    """HTML safe to show: scripts, styles, event handlers and javascript: URLs removed."""
    if not fragment:
        return None
    if not _html_needs_nh3(fragment):
        return fragment
    return (nh3.clean(fragment, **options) if options else _SAFE.clean(fragment)) or None


_FAST_NH3 = nh3_options()
_FAST_CLEANER = nh3.Cleaner(**_FAST_NH3)


def _sanitise_fast(fragment: str | None) -> str | None:
    """``sanitise_html(fragment, **_FAST_NH3)`` with its cleaner made once."""
    if not fragment:
        return None
    if not _html_needs_nh3(fragment):
        return fragment
    return _FAST_CLEANER.clean(fragment) or None


def _date(entry: dict[str, Any], *keys: str) -> tuple[datetime | None, str | None]:
    """(aware UTC datetime, raw string) of the first key with a date; a parsed value is a
    struct_time (feedparser) or already the datetime (the fast path's feeddates.feed_date)."""
    for key in keys:  # entries are plain dicts: no feedparser updated->published fallback
        parsed = entry.get(f"{key}_parsed")
        raw = entry.get(key)
        if parsed:
            if isinstance(parsed, datetime):
                return parsed, raw
            return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC), raw
        if raw:
            return None, raw
    return None, None


def _native_id(entry: Any) -> str | None:
    for key in ("id", "link"):
        value = (entry.get(key) or "").strip()
        if value:
            return value
    basis = (entry.get("title") or "") + "\x1f" + (entry.get("published") or entry.get("updated") or "")
    if basis.strip("\x1f"):
        return "sha256:" + hashlib.sha256(basis.encode("utf-8")).hexdigest()
    return None


def _undeclared_utf16(body: bytes) -> bytes:
    """Re-encode UTF-16 without BOM or declaration (every other byte zero) as UTF-8."""
    head = body[:200]
    if len(head) >= 8 and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        for offset, codec in ((1, "utf-16-le"), (0, "utf-16-be")):
            if head[offset::2].count(0) > 0.9 * len(head[offset::2]):
                try:
                    return body.decode(codec).encode("utf-8")
                except UnicodeDecodeError:
                    return body
    return body


def parse_feed(
    body: bytes, source: SourceSpec, content_type: str | None = None, *, use_fast: bool = True
) -> ParseOutcome:
    """Read a fetched feed into raw items.

    Plain UTF-8 RSS 2.0 / Atom 1.0 goes through crawlers/platforms/fastfeed.py (same items, ~x20
    faster); everything else, and ``use_fast=False`` (the equality test), through feedparser.
    """
    if body.lstrip()[:1] == b"{":
        from crawlers.platforms.jsonfeed import parse_json_feed

        return parse_json_feed(body, source, content_type)
    outcome = ParseOutcome()
    body = _undeclared_utf16(body)
    if use_fast:
        fast = fast_entries(body, content_type)
        if fast is not None:
            entries, feed_language, bozo = fast
            if bozo:
                outcome.warnings.append(_not_well_formed(bozo))
            _build_items(outcome, entries, feed_language, source, fast=True)
            return outcome
    headers = {"content-type": content_type} if content_type else None
    parsed = feedparser.parse(body, response_headers=headers, sanitize_html=True, resolve_relative_uris=True)
    bozo = parsed.get("bozo_exception")
    if not parsed.get("version") and not parsed.entries:
        reason = f" ({type(bozo).__name__}: {bozo})" if bozo else ""
        outcome.fatal = RecordError(
            stage="parse",
            source_id=source.id,
            code="not_a_feed",
            message=f"the response is not an RSS or Atom feed{reason}; content type {content_type or 'unknown'}",
        )
        return outcome
    if bozo:
        outcome.warnings.append(_not_well_formed(bozo))
    feed_language = (parsed.feed.get("language") or "").strip() or None
    entries = []
    for entry in parsed.entries:
        content = entry.get("content") or []
        fields = {key: entry[key] for key in _DATE_KEYS if key in entry}
        fields.update(
            id=entry.get("id"),
            link=entry.get("link"),
            title=entry.get("title"),
            summary=entry.get("summary"),
            content=content[0].get("value") if content else None,
            language=entry.get("language"),
            authors=[a.get("name") for a in entry.get("authors", [])],
            tags=[t.get("term") for t in entry.get("tags", [])],
        )
        entries.append(fields)
    _build_items(outcome, entries, feed_language, source)
    return outcome


def _not_well_formed(bozo: Exception) -> str:
    """The warning for a feed feedparser flags as bozo (the fast path reproduces the same bozo)."""
    return f"feed is not well-formed ({type(bozo).__name__}: {bozo}); read what could be read"


_DATE_KEYS = tuple(f"{k}{s}" for k in ("published", "updated", "created") for s in ("", "_parsed"))


def _build_items(
    outcome: ParseOutcome,
    entries: list[dict[str, Any]],
    feed_language: str | None,
    source: SourceSpec,
    *,
    fast: bool = False,
) -> None:
    """RawItems from entries in one shape, whichever parser read them (fast path or feedparser)."""
    feed_language = (feed_language or "").strip() or None
    for position, entry in enumerate(entries):
        native_id = _native_id(entry)
        title = html_to_text(entry.get("title"))
        if not native_id or not title:
            outcome.errors.append(
                RecordError(
                    stage="parse",
                    source_id=source.id,
                    code="missing_field",
                    message="entry has no title" if native_id else "entry has no id, link or title",
                    item=native_id or f"entry #{position + 1}",
                )
            )
            continue
        published, published_raw = _date(entry, "published", "updated", "created")
        updated, _ = _date(entry, "updated")
        outcome.items.append(
            RawItem.model_validate(
                {
                    "source_id": source.id,
                    "native_id": native_id,
                    "title": title,
                    "summary": html_to_text(entry.get("summary")),
                    "body_html": (
                        sorted_attributes(_sanitise_fast(feedparser_markup(entry.get("content"))))
                        if fast and entry["content_sorted"]
                        else sanitise_html(entry.get("content"))
                    ),
                    "url": (entry.get("link") or None),
                    "published": published,
                    "published_raw": published_raw,
                    "updated": updated,
                    "language": (entry.get("language") or feed_language or source.language),
                    "authors": [a for a in entry["authors"] if a],
                    "tags": [t for t in entry["tags"] if t],
                }
            )
        )
