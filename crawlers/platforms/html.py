"""Platform adapter for HTML pages: schema.org structured data, or declarative selectors.

A page's items come from its JSON-LD, microdata and RDFa (``extruct``; RDFa without
vocabulary expansion, JSON-LD without context processing, so nothing is fetched). For
sites without markup, the registry gives CSS or XPath selectors in ``options``::

    options:
      follow: "a.news-item::attr(href)"   # listing page -> pages to fetch (CSS or xpath:...)
      item: "article.news"                # one element per item on a page
      fields: {title: "h2::text", url: "a::attr(href)", published: "time::attr(datetime)",
               summary: "p.lead::text", start: ..., end: ..., location: ...}
      kind: event                          # default: the source's kind

A source of platform ``html`` is a page or a listing page; ``follow`` names its item
pages (:func:`follow_ups`, called by the spider). The sitemap platform hands its pages here too.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urljoin, urlsplit

import extruct
from parsel import Selector

from crawlers.platforms.base import ParseOutcome, fatal, parse_datetime, record_error
from crawlers.platforms.feed import html_to_text
from crawlers.platforms.schemaorg import flatten, node_to_item, normalise
from pipeline.contracts import RawItem, SourceSpec

SYNTAXES = ["json-ld", "microdata", "rdfa"]
MAX_HTML_BYTES = 5 * 1024 * 1024


def _decode(body: bytes) -> str:
    for codec in ("utf-8-sig", "cp1252"):
        try:
            return body.decode(codec)
        except UnicodeDecodeError:
            continue
    return body.decode("utf-8", errors="replace")


def _select(sel: Selector, query: str) -> list[str]:
    if query.startswith("xpath:"):
        return [v.strip() for v in sel.xpath(query.removeprefix("xpath:")).getall() if v and v.strip()]
    return [v.strip() for v in sel.css(query).getall() if v and v.strip()]


def follow_ups(
    body: bytes, url: str, content_type: str | None, options: dict[str, Any], depth: int
) -> list[str]:
    """Item pages named by the ``follow`` selector of a listing page (same host only, depth 1)."""
    query = options.get("follow")
    if not query or depth > 0:
        return []
    sel = Selector(text=_decode(body[:MAX_HTML_BYTES]))
    host = urlsplit(url).hostname
    found = []
    for href in _select(sel, str(query)):
        target = urljoin(url, href).split("#", 1)[0]
        if urlsplit(target).scheme in ("http", "https") and urlsplit(target).hostname == host:
            found.append(target)
    return list(dict.fromkeys(found))


def _structured(html: str, url: str, source: SourceSpec, outcome: ParseOutcome) -> list[RawItem]:
    items: list[RawItem] = []
    for syntax in SYNTAXES:
        try:
            data = extruct.extract(html, base_url=url, syntaxes=[syntax], errors="strict")
        except (ValueError, TypeError, KeyError, RecursionError, json.JSONDecodeError) as exc:
            outcome.warnings.append(f"{syntax} on {url} could not be read ({type(exc).__name__})")
            continue
        except Exception as exc:  # noqa: BLE001 - extruct's parsers raise many types on bad markup
            outcome.warnings.append(
                f"{syntax} on {url} could not be read ({type(exc).__name__}: {exc})"[:300]
            )
            continue
        for node in flatten(normalise(data.get(syntax.replace("-", "_"), data.get(syntax)))):
            item = node_to_item(node, source, url)
            if item is not None:
                item.extra["syntax"] = syntax
                items.append(item)
    return items


def _selected(html: str, url: str, source: SourceSpec, outcome: ParseOutcome) -> list[RawItem]:
    options = source.options
    fields: dict[str, str] = options.get("fields") or {}
    if not fields:
        return []
    sel = Selector(text=html)
    blocks = (
        sel.css(options["item"])
        if options.get("item") and not str(options["item"]).startswith("xpath:")
        else (sel.xpath(str(options["item"]).removeprefix("xpath:")) if options.get("item") else [sel])
    )
    items = []
    for position, block in enumerate(blocks):
        values = {name: (_select(block, query) or [None])[0] for name, query in fields.items()}
        title = html_to_text(values.get("title"))
        link = (
            urljoin(url, values["url"]) if values.get("url") else (url if not options.get("item") else None)
        )
        if not title:
            outcome.errors.append(
                record_error(source, "missing_field", "selector found no title", f"{url} #{position + 1}")
            )
            continue
        kind = options.get("kind", source.kind)
        native = link or f"{url}#{position + 1}"
        start = parse_datetime(values.get("start"))
        items.append(
            RawItem(
                source_id=source.id,
                native_id=native,
                kind=kind,
                title=title,
                summary=html_to_text(values.get("summary")),
                url=link,
                published=parse_datetime(values.get("published")),
                published_raw=values.get("published"),
                language=source.language,
                start=start,
                end=parse_datetime(values.get("end")),
                start_raw=values.get("start"),
                end_raw=values.get("end"),
                location_name=html_to_text(values.get("location")),
                extra={"selectors": True},
            )
        )
    return items


def parse_page(body: bytes, source: SourceSpec, content_type: str | None, url: str) -> ParseOutcome:
    """Items of one HTML page: structured data first, then the source's selectors."""
    outcome = ParseOutcome()
    head = body[:2048].lstrip().lower()
    if (
        content_type
        and "html" not in content_type.lower()
        and not head.startswith((b"<!doctype html", b"<html"))
    ):
        return fatal(source, "not_html", f"{url} is not an HTML page (content type {content_type})")
    if len(body) > MAX_HTML_BYTES:
        outcome.warnings.append(f"{url} is larger than {MAX_HTML_BYTES} bytes; only the start was read")
        body = body[:MAX_HTML_BYTES]
    html = _decode(body)
    items = _structured(html, url, source, outcome)
    if not items:
        items = _selected(html, url, source, outcome)
    seen: set[str] = set()
    for item in items:
        if item.native_id not in seen:
            seen.add(item.native_id)
            outcome.items.append(item)
    return outcome


def parse_html(body: bytes, source: SourceSpec, content_type: str | None = None) -> ParseOutcome:
    """The source's own page (a page or a listing page); its follow-up pages are parsed per page."""
    outcome = parse_page(body, source, content_type, source.url)
    if outcome.fatal:
        return outcome
    if not outcome.items and not source.options.get("follow"):
        return fatal(
            source,
            "no_items",
            "the page has no schema.org item (JSON-LD, microdata, RDFa) and no selector of the source matched",
        )
    return outcome
