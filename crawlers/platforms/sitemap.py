"""Platform adapter for sitemaps (sitemaps.org XML, index files, gzip, plain-text lists).

A sitemap holds no items itself: it names pages. :func:`follow_ups` (called by the spider)
returns child sitemaps of an index (up to ``max_depth``, default 2) and the page URLs of a
URL set, newest ``lastmod`` first, filtered by the options ``include`` / ``exclude``
(substrings or ``re:`` patterns), so the page cap keeps the freshest pages. The pages are
parsed by the HTML adapter. ``.gz`` payloads are gunzipped with a cap (bomb-safe), XML is
parsed with entities off (:func:`crawlers.platforms.base.parse_xml`).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree

from crawlers.platforms.base import (
    ParseOutcome,
    UnsafeXML,
    fatal,
    local,
    maybe_gunzip,
    option_list,
    parse_xml,
)
from pipeline.contracts import SourceSpec


def read_sitemap(body: bytes) -> tuple[str, list[tuple[str, str]]]:
    """(``index`` | ``urlset`` | ``text``, [(loc, lastmod)]); raises ValueError when it is no sitemap."""
    body = maybe_gunzip(body)
    stripped = body.lstrip()
    if not stripped.startswith(b"<"):
        lines = [line.strip() for line in body.decode("utf-8", errors="replace").splitlines() if line.strip()]
        urls = [line for line in lines if line.startswith(("http://", "https://"))]
        if not urls or len(urls) < len(lines) / 2:
            raise ValueError("neither XML nor a plain-text list of URLs")
        return "text", [(u, "") for u in urls]
    root = parse_xml(body)
    kind = local(root.tag)
    if kind not in ("sitemapindex", "urlset"):
        raise ValueError(f"the XML root is <{kind}>, not <urlset> or <sitemapindex>")
    entries = []
    for child in root:
        if local(child.tag) not in ("sitemap", "url"):
            continue
        loc = lastmod = ""
        for field in child:
            name = local(field.tag)
            if name == "loc":
                loc = (field.text or "").strip()
            elif name == "lastmod":
                lastmod = (field.text or "").strip()
        if loc:
            entries.append((loc, lastmod))
    return ("index" if kind == "sitemapindex" else "urlset"), entries


def _wanted(url: str, options: dict[str, Any]) -> bool:
    def matches(pattern: str) -> bool:
        return bool(re.search(pattern[3:], url)) if pattern.startswith("re:") else pattern in url

    include, exclude = option_list(options, "include"), option_list(options, "exclude")
    return (not include or any(matches(p) for p in include)) and not any(matches(p) for p in exclude)


def follow_ups(
    body: bytes, url: str, content_type: str | None, options: dict[str, Any], depth: int
) -> list[str]:
    """Child sitemaps (index) or page URLs (URL set) to fetch next; pages are not followed further."""
    if depth > int(options.get("max_depth", 2)):
        return []
    try:
        kind, entries = read_sitemap(body)
    except (ValueError, etree.XMLSyntaxError, UnsafeXML):
        return []  # a page (HTML) or a broken sitemap: nothing to follow
    base_host = urlsplit(url).hostname
    absolute = [(urljoin(url, loc), lastmod) for loc, lastmod in entries]
    same_site = [(u, m) for u, m in absolute if urlsplit(u).hostname == base_host or options.get("any_host")]
    if kind == "index":
        return [u for u, _ in same_site]
    pages = [(u, m) for u, m in same_site if _wanted(u, options)]
    pages.sort(key=lambda pair: pair[1], reverse=True)
    return [u for u, _ in pages]


def parse_sitemap(body: bytes, source: SourceSpec, content_type: str | None = None) -> ParseOutcome:
    """Check the source's sitemap; its items come from the pages it names (parsed per page)."""
    try:
        kind, entries = read_sitemap(body)
    except UnsafeXML as exc:
        return fatal(source, "entity_rejected", str(exc))
    except (ValueError, etree.XMLSyntaxError) as exc:
        return fatal(source, "not_a_sitemap", f"the response is not a sitemap: {exc}"[:400])
    outcome = ParseOutcome()
    if not entries:
        outcome.warnings.append(f"the sitemap ({kind}) lists no URL")
    return outcome
