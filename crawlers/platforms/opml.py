"""Platform adapters for source *lists*: OPML, JSON feed lists, another innonet's registry.

A source list yields no items: it yields registry entries (``ParseOutcome.sources``),
which the harvest keeps in sync as child sources of the list (added, changed, and paused
when they disappear from the list; see :func:`pipeline.registry.sync_listed_sources`).
Child ids are ``{list id}--{slug}`` and stable across runs (derived from the URL).
OPML ``category`` / folder outlines become the child's tags; the child's platform is
``feed`` unless the list says ``type="ical"`` or the registry entry names another.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import yaml
from lxml import etree

from crawlers.platforms.base import ParseOutcome, UnsafeXML, fatal, local, parse_xml
from pipeline.contracts import SourceSpec

_XMLURL = re.compile(r"""<outline\b[^>]*?\sxmlUrl\s*=\s*["']([^"'<>\s]+)["']""", re.IGNORECASE)
_TYPE_TO_PLATFORM = {
    "rss": "feed",
    "atom": "feed",
    "feed": "feed",
    "json": "feed",
    "ical": "ical",
    "ics": "ical",
}


def child_id(parent: str, url: str) -> str:
    """A stable registry id for a listed source: the list's id and a slug of the URL."""
    slug = re.sub(r"[^a-z0-9]+", "-", url.lower().split("://", 1)[-1]).strip("-")[:40].strip("-")
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
    return f"{parent}--{slug}-{digest}"[:100]


def _entry(
    source: SourceSpec, url: str, title: str | None, kind: str | None, tags: list[str]
) -> dict[str, Any]:
    return {
        "id": child_id(source.id, url),
        "network": source.network,
        "title": (title or url)[:300],
        "url": url,
        "platform": _TYPE_TO_PLATFORM.get((kind or "").lower(), "feed"),
        "kind": "news",
        "language": source.language,
        "options": {"listed_by": source.id, "categories": tags},
    }


def parse_opml(body: bytes, source: SourceSpec, content_type: str | None = None) -> ParseOutcome:
    """Sources named by an OPML file (``xmlUrl`` outlines, folders as categories) or a JSON feed list."""
    if body.lstrip()[:1] in (b"{", b"["):
        return _json_list(body, source)
    try:
        root = parse_xml(body, recover=True)
    except UnsafeXML as exc:
        return fatal(source, "entity_rejected", str(exc))
    except etree.XMLSyntaxError as exc:
        return fatal(source, "not_opml", f"the response is not well-formed XML: {exc}"[:400])
    if local(root.tag) != "opml":
        return fatal(source, "not_opml", f"the XML root is <{local(root.tag)}>, not <opml>")
    outcome = ParseOutcome()

    def walk(node: Any, folders: list[str]) -> None:
        for child in node:
            if local(child.tag) != "outline":
                continue
            url = (child.get("xmlUrl") or child.get("xmlurl") or "").strip()
            label = child.get("title") or child.get("text")
            if url.startswith(("http://", "https://")):
                tags = folders + [c.strip() for c in (child.get("category") or "").split(",") if c.strip()]
                outcome.sources.append(_entry(source, url, label, child.get("type"), tags))
            walk(child, folders + [label] if label and not url else folders)

    body_el = next((c for c in root if local(c.tag) == "body"), None)
    if body_el is None:
        return fatal(source, "not_opml", "the OPML file has no <body>")
    walk(body_el, [])
    found = {entry["url"] for entry in outcome.sources}
    lost = [
        url
        for url in dict.fromkeys(_XMLURL.findall(body.decode("utf-8", errors="replace")))
        if url.startswith(("http://", "https://")) and url not in found
    ]
    for url in lost:  # outlines a recovering parser had to drop (e.g. bare quotes in a description)
        outcome.sources.append(_entry(source, url, None, None, []))
    if lost:
        outcome.warnings.append(f"{len(lost)} malformed outline(s) were read by their xmlUrl only")
    _dedupe(outcome)
    if not outcome.sources:
        outcome.warnings.append("the OPML file lists no http(s) feed (no xmlUrl)")
    return outcome


def _json_list(body: bytes, source: SourceSpec) -> ParseOutcome:
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return fatal(source, "not_opml", f"the response is neither OPML nor a JSON feed list ({exc})"[:400])
    feeds = data.get("feeds") if isinstance(data, dict) else data
    if not isinstance(feeds, list):
        return fatal(source, "not_opml", "the JSON has no 'feeds' list")
    outcome = ParseOutcome()
    folder = [data["title"]] if isinstance(data, dict) and isinstance(data.get("title"), str) else []
    for feed in feeds:
        url = feed.get("url") or feed.get("xmlUrl") if isinstance(feed, dict) else None
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            outcome.sources.append(_entry(source, url, feed.get("title"), feed.get("type"), folder))
    _dedupe(outcome)
    return outcome


def parse_innonet_registry(body: bytes, source: SourceSpec, content_type: str | None = None) -> ParseOutcome:
    """Sources of another innonet instance's registry (its YAML file, or JSON of the same shape)."""
    try:
        data = yaml.safe_load(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        return fatal(source, "not_a_registry", f"the response is not a registry file ({exc})"[:400])
    if not isinstance(data, dict) or not isinstance(data.get("sources"), list):
        return fatal(source, "not_a_registry", "the document has no 'sources' list")
    outcome = ParseOutcome()
    for entry in data["sources"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            continue
        if entry.get("platform") in ("opml", "innonet-registry"):
            continue  # no transitive lists: one level of federation per list source
        child = _entry(source, entry["url"], entry.get("title"), None, [])
        child["platform"] = entry.get("platform", "feed")
        child["kind"] = entry.get("kind", "news")
        child["language"] = entry.get("language") or source.language
        child["options"] = {
            **(entry.get("options") or {}),
            "listed_by": source.id,
            "remote_id": entry.get("id"),
        }
        outcome.sources.append(child)
    _dedupe(outcome)
    return outcome


def _dedupe(outcome: ParseOutcome) -> None:
    seen: set[str] = set()
    unique = []
    for entry in outcome.sources:
        if entry["id"] not in seen:
            seen.add(entry["id"])
            unique.append(entry)
    outcome.sources = unique
