"""Every search is a subscription: the same query as ``/search`` as an Atom feed or an iCalendar feed.

The feeds take exactly ``/search``'s parameters because they *are* ``/search``: the search
endpoint is used as a FastAPI dependency (same validation, same query building, same backend),
and this module only writes its hits as Atom 1.0 (RFC 4287) or iCalendar (RFC 5545, with the
``icalendar`` package). Both point at the matching filtered event stream (``Link: rel="related"``,
and an Atom ``<link rel="related">``) for subscribers that want every change, not the top hits.

Which hits: those ``/search`` returns for the query (``size`` up to 100). Add ``sort=date`` for
"the newest N" (``sort=start&upcoming=true`` for events); the feed lists them newest first.
The iCalendar feed carries the hits that have a start (events); add ``type=Event`` to ask only for them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from lxml import etree

from api.deps import SettingsDep
from api.routers.search import HitOut, SearchOut, search

router = APIRouter(tags=["subscribe"])

ATOM = "http://www.w3.org/2005/Atom"
#: /search ``type`` values -> the event stream's item kinds (its ``type`` facet).
LDES_KINDS = {
    "newsarticle": "news",
    "news": "news",
    "event": "event",
    "publicevent": "event",
    "case": "case",
    "innovationcase": "case",
    "organization": "organisation",
    "organisation": "organisation",
}
#: /search filters that the event stream's filtered views also have.
LDES_FILTERS = ("type", "theme", "network", "source", "language")

SearchResult = Annotated[Any, Depends(search)]


def ldes_view(request: Request) -> tuple[str, list[str]]:
    """The filtered stream for this query, and the parameters it cannot express (dropped)."""
    pairs, dropped = [], []
    for key, value in request.query_params.multi_items():
        if key in LDES_FILTERS:
            if key == "type":
                value = LDES_KINDS.get(value.lower(), value.lower())
            pairs.append((key, value))
        elif key not in ("size", "offset", "sort", "facet_size", "highlight", "format", "collapse", "cursor"):
            dropped.append(key)
    return "/ldes/feed" + (f"?{urlencode(sorted(pairs))}" if pairs else ""), sorted(set(dropped))


def _hits(result: Any) -> list[HitOut]:
    if not isinstance(result, SearchOut):  # format=jsonld or an Accept that asked for it
        raise HTTPException(400, "feeds are Atom or iCalendar; drop format=jsonld")
    return result.hits


def _when(hit: HitOut) -> datetime | None:
    return hit.published or hit.start


def _title(request: Request) -> str:
    q = request.query_params.get("q")
    filters = [f"{k}={v}" for k, v in request.query_params.multi_items() if k not in ("q", "size", "sort")]
    what = " ".join(([f"“{q}”"] if q else []) + filters)
    return "innonet" + (f": {what}" if what else ": everything")


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.SubElement(parent, f"{{{ATOM}}}{tag}", {k.rstrip("_"): v for k, v in attrs.items()})
    if text is not None:
        el.text = text
    return el


def atom_feed(request: Request, hits: list[HitOut], base: str) -> bytes:
    """The hits as an Atom feed, newest first; entry ids are the item IRIs (stable across runs)."""
    now = datetime.now(UTC)
    ordered = sorted(hits, key=lambda h: _when(h) or datetime.min.replace(tzinfo=UTC), reverse=True)
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    self_url = str(request.url)
    _sub(feed, "id", self_url)
    _sub(feed, "title", _title(request))
    stamps = [w for w in (_when(h) for h in ordered) if w]
    _sub(feed, "updated", (max(stamps) if stamps else now).isoformat())
    _sub(feed, "link", rel="self", href=self_url, type="application/atom+xml")
    query = request.url.query
    _sub(
        feed, "link", rel="alternate", href=f"{base}/find" + (f"?{query}" if query else ""), type="text/html"
    )
    view, _ = ldes_view(request)
    _sub(feed, "link", rel="related", href=base + view, type="text/turtle", title="event stream (LDES)")
    _sub(feed, "generator", "innonet", uri=base + "/")
    for hit in ordered:
        entry = _sub(feed, "entry")
        _sub(entry, "id", hit.id)
        _sub(entry, "title", hit.title)
        when = _when(hit) or now
        _sub(entry, "updated", when.isoformat())
        if hit.published:
            _sub(entry, "published", hit.published.isoformat())
        author = _sub(entry, "author")
        _sub(author, "name", hit.network_name or hit.network)
        if hit.url:
            _sub(entry, "link", rel="alternate", href=hit.url)
        _sub(entry, "link", rel="describedby", href=hit.doc, type="text/turtle")
        for theme in hit.themes:
            _sub(entry, "category", term=theme)
        if hit.summary:
            _sub(entry, "summary", hit.summary)
    return etree.tostring(feed, xml_declaration=True, encoding="utf-8")


def ical_feed(request: Request, hits: list[HitOut]) -> bytes:
    """The hits that have a start, as VEVENTs; UID is the item IRI, so updates replace, not duplicate."""
    from icalendar import Calendar, Event, vUri

    cal = Calendar()
    cal.add("prodid", "-//innonet//search subscription//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", _title(request))
    now = datetime.now(UTC)
    for hit in sorted((h for h in hits if h.start), key=lambda h: h.start):  # type: ignore[arg-type, return-value]
        ev = Event()
        ev.add("uid", hit.id)
        ev.add("dtstamp", now)
        ev.add("dtstart", hit.start)
        if hit.end and hit.start and hit.end >= hit.start:
            ev.add("dtend", hit.end)
        ev.add("summary", hit.title)
        if hit.summary:
            ev.add("description", hit.summary)
        if hit.url:
            ev.add("url", vUri(hit.url))
        if hit.location and (hit.location.name or hit.location.address):
            ev.add("location", ", ".join(x for x in (hit.location.name, hit.location.address) if x))
        if hit.location and hit.location.lat is not None and hit.location.lon is not None:
            ev.add("geo", (hit.location.lat, hit.location.lon))
        for theme in hit.themes:
            ev.add("categories", theme)
        cal.add_component(ev)
    return cal.to_ical()


def _headers(request: Request, base: str) -> dict[str, str]:
    view, dropped = ldes_view(request)
    headers = {
        "Link": f'<{base}{view}>; rel="related"; type="text/turtle"; title="event stream (LDES)"',
        "Cache-Control": "public, max-age=300",
        "Access-Control-Allow-Origin": "*",
    }
    if dropped:
        headers["X-LDES-Dropped-Parameters"] = ",".join(dropped)
    return headers


@router.get("/feeds/atom", operation_id="feed-atom")
async def atom(request: Request, settings: SettingsDep, result: SearchResult) -> Response:
    """The search (same parameters as ``/search``) as an Atom feed; links the filtered event stream."""
    base = settings.base_url.rstrip("/")
    body = atom_feed(request, _hits(result), base)
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=_headers(request, base))


@router.get("/feeds/ical", operation_id="feed-ical")
async def ical(request: Request, settings: SettingsDep, result: SearchResult) -> Response:
    """The search's events (same parameters as ``/search``) as an iCalendar feed."""
    base = settings.base_url.rstrip("/")
    body = ical_feed(request, _hits(result))
    return Response(body, media_type="text/calendar; charset=utf-8", headers=_headers(request, base))


@router.get("/feeds/ldes", operation_id="feed-ldes", status_code=303)
async def ldes(request: Request) -> Response:
    """The filtered event stream for the search's filters (303; the stream has no full-text query)."""
    view, dropped = ldes_view(request)
    headers = {"Location": view, "Access-Control-Allow-Origin": "*"}
    if dropped:
        headers["X-LDES-Dropped-Parameters"] = ",".join(dropped)
    return Response(status_code=303, headers=headers)
