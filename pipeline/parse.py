"""Stage 2, parse: turn stored bytes into raw items with the source's platform adapter.

Works from the payload archive, so a parser fix re-parses without re-crawling. A new
platform is one module in ``crawlers/platforms`` and one line in :data:`PLATFORMS`.
Multi-page platforms (sitemap, listing pages) also name a page parser in
:data:`PAGE_PARSERS`: each archived follow-up page is parsed with it and the records
are merged (deduplicated by native id).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crawlers.platforms.feed import ParseOutcome, parse_feed
from crawlers.platforms.html import parse_html, parse_page
from crawlers.platforms.ical import parse_ical
from crawlers.platforms.jsonld import parse_jsonld
from crawlers.platforms.ldes import parse_ldes, parse_ldes_page
from crawlers.platforms.opml import parse_innonet_registry, parse_opml
from crawlers.platforms.sitemap import parse_sitemap
from crawlers.platforms.uitdatabank import parse_uitdatabank
from pipeline.contracts import FetchResult, RecordError, SourceSpec

Parser = Callable[[bytes, SourceSpec, str | None], ParseOutcome]
PageParser = Callable[[bytes, SourceSpec, str | None, str], ParseOutcome]

PLATFORMS: dict[str, Parser] = {
    "feed": parse_feed,
    "ical": parse_ical,
    "html": parse_html,
    "jsonld": parse_jsonld,
    "sitemap": parse_sitemap,
    "opml": parse_opml,
    "innonet-registry": parse_innonet_registry,
    "uitdatabank": parse_uitdatabank,
    "ldes": parse_ldes,
}

PAGE_PARSERS: dict[str, PageParser] = {"sitemap": parse_page, "html": parse_page, "ldes": parse_ldes_page}


def parse_payload(body: bytes, source: SourceSpec, content_type: str | None) -> ParseOutcome:
    """Parse one payload with the adapter of the source's platform."""
    return PLATFORMS[source.platform](body, source, content_type)


def platform_defaults(settings: Any) -> dict[str, Any]:
    """Option defaults that come from Settings (iCal window and instance cap)."""
    return {
        "window_past_days": settings.ical_window_past_days,
        "window_future_days": settings.ical_window_future_days,
        "max_instances": settings.ical_max_instances,
    }


def with_defaults(source: SourceSpec, defaults: dict[str, Any]) -> SourceSpec:
    """The source with Settings-derived option defaults under its own options."""
    if not defaults:
        return source
    return source.model_copy(update={"options": {**defaults, **source.options}})


def parse_fetched(
    store: Any, source: SourceSpec, result: FetchResult, defaults: dict[str, Any] | None = None
) -> ParseOutcome:
    """Parse a fetched source: its own body, then every archived follow-up page."""
    source = with_defaults(source, defaults or {})
    body = store.payload(result.body_sha256 or "") or b""
    outcome = parse_payload(body, source, result.content_type)
    if outcome.fatal or not result.pages:
        return outcome
    page_parser = PAGE_PARSERS.get(source.platform)
    failed_pages = 0
    for page in result.pages:
        if page.error_code or not page.body_sha256 or page_parser is None:
            failed_pages += 1
            outcome.errors.append(
                RecordError(
                    stage="fetch",
                    source_id=source.id,
                    code=page.error_code or "fetch_error",
                    message=page.error_message or "page not fetched",
                    item=page.url,
                )
            )
            continue
        page_body = store.payload(page.body_sha256) or b""
        parsed = page_parser(page_body, source, page.content_type, page.url)
        if parsed.fatal:
            if parsed.fatal.code not in ("no_items", "not_html"):
                outcome.errors.append(parsed.fatal.model_copy(update={"item": page.url}))
            continue
        outcome.merge(parsed)
    seen: set[str] = set()
    unique = []
    for item in outcome.items:
        if item.native_id not in seen:
            seen.add(item.native_id)
            unique.append(item)
    outcome.items = unique
    return outcome
