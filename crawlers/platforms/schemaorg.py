"""schema.org nodes (from JSON-LD, microdata or RDFa) to raw records.

Shared by the HTML, JSON-LD and UiTdatabank adapters. Nodes are read as found, with no
JSON-LD processing: ``@context`` is never dereferenced (no remote contexts, no canary hit);
keys are read by their schema.org local name whether the node is compacted (``name``),
prefixed (``schema:name``) or expanded (``http://schema.org/name``). Language maps
(UiTdatabank's ``{"nl": "...", "fr": "..."}``) pick the source's language, then the
node's ``mainLanguage``, then the first. The node itself goes to ``extra["jsonld"]``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from crawlers.platforms.base import parse_datetime
from crawlers.platforms.feed import html_to_text, sanitise_html
from pipeline.contracts import ItemKind, RawItem, SourceSpec

NEWS_TYPES = {
    "Article",
    "NewsArticle",
    "BlogPosting",
    "Report",
    "ScholarlyArticle",
    "TechArticle",
    "AnalysisNewsArticle",
    "ReportageNewsArticle",
    "LiveBlogPosting",
    "CreativeWork",
    "SocialMediaPosting",
}
EVENT_SUFFIX = "Event"
CASE_TYPES = {"Project", "ResearchProject", "FundingScheme"}
#: Properties whose values may be items themselves (schema.org nests events and main entities).
NESTED_ITEM_KEYS = ("event", "events", "mainEntity", "hasPart")


def local_name(key: str) -> str:
    for sep in ("#", "/", ":"):
        if sep in key and not key.startswith("@"):
            key = key.rsplit(sep, 1)[-1]
    return key


def normalise(node: Any, depth: int = 0) -> Any:
    """A node with every key reduced to its local name and ``@value`` wrappers unwrapped."""
    if depth > 20:
        return None
    if isinstance(node, list):
        return [normalise(n, depth + 1) for n in node]
    if isinstance(node, dict):
        if "@value" in node and len(node) <= 3:
            return node["@value"]
        out: dict[str, Any] = {}
        for key, value in node.items():
            name = local_name(key)
            out[name] = normalise(value, depth + 1)
        if "properties" in out and "type" in out and "@type" not in out:  # extruct microdata
            props = out["properties"] if isinstance(out["properties"], dict) else {}
            out = {"@type": out["type"], **props, **({"@id": out["id"]} if out.get("id") else {})}
            return normalise(out, depth + 1)
        return out
    return node


def types_of(node: dict[str, Any]) -> list[str]:
    raw = node.get("@type") or node.get("type") or []
    return [local_name(t) for t in (raw if isinstance(raw, list) else [raw]) if isinstance(t, str)]


def kind_of(node: dict[str, Any]) -> ItemKind | None:
    types = types_of(node)
    if any(t.endswith(EVENT_SUFFIX) for t in types):
        return "event"
    if any(t in CASE_TYPES for t in types):
        return "case"
    if any(t in NEWS_TYPES for t in types):
        return "news"
    return None


def flatten(data: Any) -> list[dict[str, Any]]:
    """Every node of a document: top-level lists, ``@graph`` members, ``member``/``itemListElement``."""
    out: list[dict[str, Any]] = []
    stack = [data]
    seen = 0
    while stack and seen < 10000:
        seen += 1
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(reversed(node))
        elif isinstance(node, dict):
            if "@graph" in node:
                stack.append(node["@graph"])
            for key in ("member", "itemListElement", "hydra:member"):
                if isinstance(node.get(key), list):
                    stack.append(node[key])
            if "item" in node and types_of(node) == ["ListItem"]:
                stack.append(node["item"])
            for key in NESTED_ITEM_KEYS:  # e.g. a MusicGroup's events, a WebPage's mainEntity
                if isinstance(node.get(key), dict | list):
                    stack.append(node[key])
            out.append(node)
    return out


def text(value: Any, language: str | None = None) -> str | None:
    """A plain string from a string, a language map, a list or a ``{"name": ...}`` node."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        for v in value:
            found = text(v, language)
            if found:
                return found
        return None
    if isinstance(value, dict):
        if "@value" in value:
            return text(value["@value"], language)
        if "name" in value:
            return text(value["name"], language)
        langs = {
            k: v
            for k, v in value.items()
            if isinstance(k, str) and 2 <= len(k) <= 5 and not k.startswith("@")
        }
        if langs:
            if language and language in langs:
                return text(langs[language], language)
            return text(next(iter(langs.values())), language)
    return None


def _url(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("url") or value.get("@id") or value.get("contentUrl")
    if isinstance(value, list):
        value = value[0] if value else None
    return (
        value.strip()
        if isinstance(value, str) and value.strip().startswith(("http://", "https://"))
        else None
    )


def _address(value: Any, language: str | None) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        if language and isinstance(value.get(language), dict):
            value = value[language]
        elif value and all(isinstance(v, dict) for v in value.values()) and "streetAddress" not in value:
            value = next(iter(value.values()))
        parts = [
            text(value.get(k), language)
            for k in ("streetAddress", "postalCode", "addressLocality", "addressCountry")
        ]
        joined = ", ".join(p for p in parts if p)
        return joined or None
    return None


def _names(value: Any, language: str | None) -> list[str]:
    values = value if isinstance(value, list) else [value] if value else []
    return [n for n in (text(v, language) for v in values) if n]


def _location(node: dict[str, Any], language: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    locations = node.get("location")
    for loc in locations if isinstance(locations, list) else [locations]:
        if isinstance(loc, str):
            found.setdefault("location_name", loc.strip())
            continue
        if not isinstance(loc, dict):
            continue
        if "VirtualLocation" in types_of(loc):
            found.setdefault("online_url", _url(loc))
            continue
        found.setdefault("location_name", text(loc.get("name"), language))
        found.setdefault("location_address", _address(loc.get("address"), language))
        geo = loc.get("geo") if isinstance(loc.get("geo"), dict) else {}
        try:
            if geo.get("latitude") is not None:
                found.setdefault("latitude", float(geo["latitude"]))
                found.setdefault("longitude", float(geo["longitude"]))
        except (TypeError, ValueError):
            pass
    return {k: v for k, v in found.items() if v is not None}


def node_to_item(node: dict[str, Any], source: SourceSpec, page_url: str | None = None) -> RawItem | None:
    """One record from one normalised schema.org node, or None when it is not an item we read."""
    kind = kind_of(node)
    if kind is None:
        return None
    language = source.language or text(node.get("mainLanguage")) or text(node.get("inLanguage"))
    title = html_to_text(text(node.get("headline") or node.get("name"), language))
    if not title:
        return None
    url = _url(node.get("url")) or _url(node.get("mainEntityOfPage")) or page_url
    native = (
        node.get("@id") if isinstance(node.get("@id"), str) and not node["@id"].startswith("_:") else None
    )
    if not native:
        basis = json.dumps([title, url, node.get("startDate"), node.get("datePublished")], default=str)
        native = (url + "#" if url else "") + "sha256:" + hashlib.sha256(basis.encode()).hexdigest()[:32]
    description = text(node.get("description"), language)
    body = text(node.get("articleBody"), language)
    published_raw = text(node.get("datePublished") or node.get("dateCreated") or node.get("created"))
    fields: dict[str, Any] = {}
    if kind == "event":
        start_raw, end_raw = text(node.get("startDate")), text(node.get("endDate"))
        start, end = parse_datetime(start_raw), parse_datetime(end_raw)
        fields.update(
            start=start,
            end=end,
            start_raw=start_raw,
            end_raw=end_raw,
            all_day=bool(start_raw and "T" not in start_raw),
            organizer=text(node.get("organizer"), language),
            status=local_name(text(node.get("eventStatus")) or "") or None,
            registration_url=_url(node.get("offers")) or _url(node.get("bookingInfo")),
            **_location(node, language),
        )
    image = node.get("image")
    return RawItem(
        source_id=source.id,
        native_id=native,
        kind=kind,
        title=title,
        summary=html_to_text(description) or (html_to_text(body)[:500] if body else None),
        body_html=sanitise_html(body) if body and "<" in body else None,
        url=url,
        published=parse_datetime(published_raw),
        published_raw=published_raw,
        updated=parse_datetime(text(node.get("dateModified") or node.get("modified"))),
        language=language,
        authors=_names(node.get("author"), language),
        tags=_names(node.get("keywords"), language)
        if not isinstance(node.get("keywords"), str)
        else [k.strip() for k in node["keywords"].split(",") if k.strip()],
        image=_url(image),
        extra={"jsonld": _compact(node), "types": types_of(node)},
        **fields,
    )


def _compact(node: dict[str, Any]) -> dict[str, Any]:
    """The node as found, bounded (the mapper reads facets from it; huge bodies are cut)."""
    dumped = json.dumps(node, default=str)
    return node if len(dumped) <= 100_000 else {"@type": node.get("@type"), "truncated": True}
