"""Platform adapter for JSON Feed 1.0 / 1.1 (https://www.jsonfeed.org/version/1.1/).

Registered as platform ``feed``: :func:`crawlers.platforms.feed.parse_feed` hands a body
that starts with ``{`` here, so a partner need not know which feed format it publishes.
"""

from __future__ import annotations

import json
from typing import Any

from crawlers.platforms.base import ParseOutcome, fatal, parse_datetime, record_error
from crawlers.platforms.feed import html_to_text, sanitise_html
from pipeline.contracts import RawItem, SourceSpec


def _authors(item: dict[str, Any], feed: dict[str, Any]) -> list[str]:
    authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
    if not authors:
        authors = feed.get("authors") or ([feed["author"]] if isinstance(feed.get("author"), dict) else [])
    return [a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)]


def parse_json_feed(body: bytes, source: SourceSpec, content_type: str | None = None) -> ParseOutcome:
    """Read a JSON Feed into raw items; a JSON document that is no JSON Feed is ``not_a_feed``."""
    try:
        feed = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return fatal(source, "not_a_feed", f"the response is not valid JSON ({type(exc).__name__}: {exc})")
    version = feed.get("version") if isinstance(feed, dict) else None
    if (
        not isinstance(version, str)
        or "jsonfeed.org" not in version
        or not isinstance(feed.get("items"), list)
    ):
        return fatal(
            source, "not_a_feed", "the JSON document is not a JSON Feed (no jsonfeed.org version or items)"
        )
    outcome = ParseOutcome()
    language = feed.get("language") if isinstance(feed.get("language"), str) else None
    for position, item in enumerate(feed["items"]):
        if not isinstance(item, dict):
            outcome.errors.append(
                record_error(source, "bad_record", "item is not an object", f"#{position + 1}")
            )
            continue
        native_id = str(item.get("id") or item.get("url") or "").strip()
        title = html_to_text(item.get("title")) if isinstance(item.get("title"), str) else None
        if not title and isinstance(item.get("content_text"), str):
            title = item["content_text"].strip().split("\n", 1)[0][:200] or None
        if not native_id or not title:
            outcome.errors.append(
                record_error(
                    source,
                    "missing_field",
                    "item has no title" if native_id else "item has no id or url",
                    native_id or f"item #{position + 1}",
                )
            )
            continue
        published_raw = item.get("date_published") if isinstance(item.get("date_published"), str) else None
        updated_raw = item.get("date_modified") if isinstance(item.get("date_modified"), str) else None
        summary = item.get("summary") if isinstance(item.get("summary"), str) else None
        content_html = item.get("content_html") if isinstance(item.get("content_html"), str) else None
        tags = [t for t in item.get("tags") or [] if isinstance(t, str)]
        outcome.items.append(
            RawItem(
                source_id=source.id,
                native_id=native_id,
                title=title,
                summary=html_to_text(summary) or html_to_text(content_html) or item.get("content_text"),
                body_html=sanitise_html(content_html),
                url=item.get("url") if isinstance(item.get("url"), str) else None,
                published=parse_datetime(published_raw) or parse_datetime(updated_raw),
                published_raw=published_raw or updated_raw,
                updated=parse_datetime(updated_raw),
                language=item.get("language") or language or source.language,
                authors=_authors(item, feed),
                tags=tags,
                image=item.get("image") if isinstance(item.get("image"), str) else None,
            )
        )
    return outcome
