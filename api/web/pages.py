"""Public pages: search, item, events, networks, organisations, barriers.

Every page is a plain GET that works without JavaScript. The pages call the search
backend and the store through the same objects the JSON API uses (``app.state``), so a
page never knows more, or less, than ``/search`` and ``/doc``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse
from rdflib import Graph, URIRef
from rdflib.collection import Collection
from starlette.routing import Route

from api.web.highlight import highlight, snippet
from api.web.labels import concepts_of, facet_label
from api.web.render import page_language, render
from ontology.namespaces import DCTERMS, INNONET, PROV, SCHEMA
from search.base import SearchBackend, Unsupported
from search.documents import FACETS, SearchDocument, SearchHit, SearchQuery, SearchResult
from store.models import NetworkRow, SourceRow
from store.repository import Store

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 10
#: Facets shown beside results, in this order (all of search.documents.FACETS but region).
SHOWN_FACETS = (
    "type",
    "theme",
    "opsi_facet",
    "lifecycle_stage",
    "government_level",
    "barrier",
    "network",
    "source",
    "country",
    "language",
    "year",
)
#: Filters the LDES views understand (api/routers/ldes.py).
LDES_FILTERS = ("type", "theme", "network", "source", "language")


# --- helpers -----------------------------------------------------------------------------------------
def _backend(request: Request) -> SearchBackend:
    return request.app.state.backend


def _store(request: Request) -> Store:
    return request.app.state.store


def _base(request: Request) -> str:
    return request.app.state.settings.base_url.rstrip("/")


def network_names(store: Store) -> dict[str, str]:
    with store.session() as s:
        return {row.id: row.name for row in s.query(NetworkRow)}


def item_path(request: Request, iri: str) -> str | None:
    """``/items/news/src/abc`` for an item IRI of this instance, else None."""
    prefix = f"{_base(request)}/id/"
    return f"/items/{iri[len(prefix) :]}" if iri.startswith(prefix) else None


def run_search(backend: SearchBackend, query: SearchQuery) -> tuple[SearchResult, bool]:
    """Search collapsed (copies shown once, "shared by N") when the backend can; else plain."""
    if query.collapse:
        try:
            return backend.search(query), True
        except Unsupported:
            query = query.model_copy(update={"collapse": False})
    return backend.search(query), False


def filters_from(request: Request) -> dict[str, list[str]]:
    return {
        name: [v for v in request.query_params.getlist(name) if v][:20]
        for name in FACETS
        if request.query_params.getlist(name)
    }


def without(request: Request, name: str, value: str) -> str:
    """The current search with one filter value (and the page number) taken away."""
    pairs = [
        (k, v)
        for k, v in request.query_params.multi_items()
        if (k, v) != (name, value) and k not in ("page", "lang")
    ]
    return "/find" + (f"?{urlencode(pairs)}" if pairs else "")


def hit_view(request: Request, hit: SearchHit, q: str | None, names: dict[str, str], lang: str) -> dict:
    d = hit.document
    return {
        "doc": d,
        "href": item_path(request, d.id),
        "title": highlight(d.title, q, d.language),
        "snippet": snippet(d.summary or d.body, q, d.language),
        "network_name": d.network_name or names.get(d.network, d.network),
        "type_label": facet_label("type", d.type, lang),
        "themes": [(t, facet_label("theme", t, lang)) for t in d.themes],
        "shared_by": hit.shared_by,
    }


def subscribe_links(request: Request, q: str | None, filters: dict[str, list[str]]) -> list[dict[str, str]]:
    """Atom, iCal and LDES links for the same query; a feed whose route is not mounted is left out."""
    pairs = ([("q", q)] if q else []) + [(k, v) for k, vs in filters.items() for v in vs]
    query = urlencode(pairs)
    links = []
    paths = [r.path for r in request.app.routes if isinstance(r, Route)]
    for kind, words in (("atom", ("atom",)), ("ical", ("ical", ".ics"))):
        path = next((p for p in paths if any(w in p for w in words) and "{" not in p), None)
        if path:
            links.append({"kind": kind, "href": path + (f"?{query}" if query else "")})
    ldes_pairs = [(k, v) for k, vs in filters.items() if k in LDES_FILTERS for v in vs]
    ldes_query = urlencode(ldes_pairs)
    links.append({"kind": "ldes", "href": "/ldes/feed" + (f"?{ldes_query}" if ldes_query else "")})
    dropped = [k for k in filters if k not in LDES_FILTERS] + (["q"] if q else [])
    if dropped:
        links[-1]["note"] = ", ".join(dropped)
    return links


# --- search ------------------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
@router.get("/find", response_class=HTMLResponse)
async def find(request: Request) -> HTMLResponse:
    """The home page is the search page: a search box, facets, results, paging, subscribe."""
    lang = page_language(request)
    q = (request.query_params.get("q") or "").strip()[:500] or None
    filters = filters_from(request)
    try:
        page = max(1, min(int(request.query_params.get("page", "1")), 1000))
    except ValueError:
        page = 1
    query = SearchQuery(
        q=q, filters=filters, size=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, collapse=True, facet_size=12
    )
    if query.offset > 10_000:
        query = query.model_copy(update={"offset": 10_000})
    backend, store = _backend(request), _store(request)
    result, collapsed = await run_in_threadpool(run_search, backend, query)
    names = await run_in_threadpool(network_names, store)
    hits = [hit_view(request, h, q, names, lang) for h in result.hits]
    facets = []
    for name in SHOWN_FACETS:
        buckets = result.facets.get(name) or []
        chosen = set(filters.get(name, []))
        if not buckets and not chosen:
            continue
        shown = [
            {
                "value": b.value,
                "count": b.count,
                "label": facet_label(name, b.value, lang, names),
                "checked": b.value in chosen,
            }
            for b in buckets
        ]
        for value in chosen - {b.value for b in buckets}:
            shown.append(
                {"value": value, "count": 0, "label": facet_label(name, value, lang, names), "checked": True}
            )
        facets.append({"name": name, "buckets": shown})
    active = [
        {
            "name": name,
            "value": v,
            "label": facet_label(name, v, lang, names),
            "href": without(request, name, v),
        }
        for name, values in filters.items()
        for v in values
    ]
    pages = max(1, -(-result.total // PAGE_SIZE))
    return render(
        request,
        "search.html",
        {
            "q": q or "",
            "hits": hits,
            "total": result.total,
            "facets": facets,
            "active": active,
            "page": page,
            "pages": min(pages, 10_000 // PAGE_SIZE + 1),
            "collapsed": collapsed,
            "subscribe": subscribe_links(request, q, filters),
            "is_home": request.url.path == "/",
        },
    )


# --- item ----------------------------------------------------------------------------------------------
def provenance_of(g: Graph, iri: str, store: Store, names: dict[str, str]) -> dict[str, Any]:
    """The trail of one item: networks (origin first), source, harvest run, bytes, mapping version."""
    s = URIRef(iri)
    chain_head = g.value(s, INNONET.networkChain)
    chain = [str(n) for n in Collection(g, chain_head)] if chain_head is not None else []
    source_iri = g.value(s, DCTERMS.source)
    source_id = str(source_iri).rstrip("/").rsplit("/", 1)[-1] if source_iri else None
    source_row = store.source(source_id) if source_id else None
    run = g.value(s, PROV.wasGeneratedBy)
    return {
        "networks": [
            {"iri": n, "id": n.rsplit("/", 1)[-1], "name": names.get(n.rsplit("/", 1)[-1], n)} for n in chain
        ],
        "source": {
            "id": source_id,
            "title": source_row.title if source_row else source_id,
            "url": source_row.url if source_row else None,
        },
        "generated": g.value(s, PROV.generatedAtTime),
        "run": str(run) if run else None,
        "payload": str(g.value(s, PROV.wasDerivedFrom) or "") or None,
        "primary": str(g.value(s, PROV.hadPrimarySource) or "") or None,
        "mapping_version": g.value(s, INNONET.mappingVersion),
        "original_dates": [str(o) for o in g.objects(s, INNONET.originalDate)],
        "creators": sorted(str(o) for o in g.objects(s, DCTERMS.creator)),
        "body": g.value(s, SCHEMA.articleBody) or g.value(s, SCHEMA.text),
        "description": g.value(s, SCHEMA.description),
        "people": sorted(
            {
                str(g.value(o, SCHEMA.name) or o)
                for p in (INNONET.implementer, INNONET.partner)
                for o in g.objects(s, p)
            }
        ),
    }


def _related(backend: SearchBackend, iri: str, network: str) -> tuple[list[SearchHit], bool]:
    try:
        result = backend.related(iri, size=8)
    except Unsupported:
        return [], False
    hits = [h for h in result.hits if h.id != iri]
    hits.sort(key=lambda h: h.document.network == network)  # other networks first (stable)
    return hits[:6], True


@router.get("/items/{path:path}", response_class=HTMLResponse)
async def item(path: str, request: Request) -> HTMLResponse:
    """One item: what it is, where it came from (provenance), themes, related items, linked data."""
    lang = page_language(request)
    iri = f"{_base(request)}/id/{path}"
    backend, store = _backend(request), _store(request)
    doc: SearchDocument | None = await run_in_threadpool(backend.get, iri)
    row = await run_in_threadpool(store.record, iri)
    if doc is None and row is None:
        return render(request, "error.html", {"status": 404, "message_key": "error.no_item"}, 404)
    names = await run_in_threadpool(network_names, store)
    g = Graph()
    if row is not None:
        g.parse(data=row.graph, format="nt")
    trail = await run_in_threadpool(provenance_of, g, iri, store, names)
    related, related_ok = ([], False)
    if doc is not None:
        related, related_ok = await run_in_threadpool(_related, backend, iri, doc.network)
    concept_rows = []
    if doc is not None:
        for facet, values in (
            ("theme", doc.themes),
            ("opsi_facet", doc.opsi_facets),
            ("lifecycle_stage", doc.lifecycle_stages),
            ("government_level", doc.government_levels),
            ("barrier", doc.barriers),
        ):
            if values:
                concept_rows.append(
                    {"facet": facet, "values": [(v, facet_label(facet, v, lang)) for v in values]}
                )
    return render(
        request,
        "item.html",
        {
            "doc": doc,
            "iri": iri,
            "path": path,
            "title": (doc.title if doc else None) or str(g.value(URIRef(iri), SCHEMA.headline) or iri),
            "trail": trail,
            "concepts": concept_rows,
            "related": [hit_view(request, h, None, names, lang) for h in related],
            "related_ok": related_ok,
            "network_name": (doc.network_name or names.get(doc.network, doc.network)) if doc else None,
            "type_label": facet_label("type", doc.type, lang) if doc else None,
        },
    )


# --- events --------------------------------------------------------------------------------------------
def place_of(doc: SearchDocument) -> str | None:
    loc = doc.location
    if loc is None:
        return None
    return loc.name or loc.address


@router.get("/events", response_class=HTMLResponse)
async def events(request: Request) -> HTMLResponse:
    """Events: upcoming (default) or past, grouped by day, with a by-place list to narrow to one place."""
    when = "past" if request.query_params.get("when") == "past" else "upcoming"
    place = (request.query_params.get("place") or "").strip() or None
    q = (request.query_params.get("q") or "").strip()[:500] or None
    now = datetime.now(UTC)
    filters = filters_from(request)
    filters["type"] = ["Event"]
    query = SearchQuery(
        q=q,
        filters=filters,
        size=100,
        sort="start" if when == "upcoming" else "date",
        start_from=now if when == "upcoming" else None,
        start_to=now if when == "past" else None,
    )
    result, _ = await run_in_threadpool(run_search, _backend(request), query)
    names = await run_in_threadpool(network_names, _store(request))
    docs = [h.document for h in result.hits]
    places = Counter(p for p in (place_of(d) for d in docs) if p)
    if place:
        docs = [d for d in docs if place_of(d) == place]
    docs.sort(key=lambda d: d.start or datetime.max.replace(tzinfo=UTC), reverse=when == "past")
    by_day: dict[str, list[dict]] = defaultdict(list)
    for d in docs:
        day = d.start.date().isoformat() if d.start else "—"
        by_day[day].append(
            {
                "doc": d,
                "href": item_path(request, d.id),
                "place": place_of(d),
                "network_name": d.network_name or names.get(d.network, d.network),
            }
        )
    return render(
        request,
        "events.html",
        {
            "when": when,
            "place": place,
            "q": q or "",
            "days": list(by_day.items()),
            "places": places.most_common(30),
            "total": len(docs),
            "subscribe": subscribe_links(request, q, filters),
        },
    )


# --- networks and organisations --------------------------------------------------------------------------
@router.get("/networks", response_class=HTMLResponse)
async def networks(request: Request) -> HTMLResponse:
    """Every network with its number of items and its main themes."""
    lang = page_language(request)
    store, backend = _store(request), _backend(request)
    names = await run_in_threadpool(network_names, store)
    result, _ = await run_in_threadpool(run_search, backend, SearchQuery(size=0, facet_size=100))
    counts = {b.value: b.count for b in result.facets.get("network", [])}
    rows = [
        {"id": nid, "name": name, "count": counts.get(nid, 0)}
        for nid, name in sorted(names.items(), key=lambda kv: (-counts.get(kv[0], 0), kv[1].lower()))
    ]
    orgs, _ = await run_in_threadpool(
        run_search, backend, SearchQuery(filters={"type": ["Organization"]}, size=50)
    )
    return render(
        request,
        "networks.html",
        {
            "networks": rows,
            "organisations": [hit_view(request, h, None, names, lang) for h in orgs.hits],
        },
    )


def _network_profile(backend: SearchBackend, store: Store, network_id: str) -> dict[str, Any]:
    own, _ = run_search(backend, SearchQuery(filters={"network": [network_id]}, size=8, facet_size=10))
    themes = own.facets.get("theme", [])
    peers: Counter[str] = Counter()
    for bucket in themes[:5]:
        other, _ = run_search(backend, SearchQuery(filters={"theme": [bucket.value]}, size=0, facet_size=20))
        for b in other.facets.get("network", []):
            if b.value != network_id:
                peers[b.value] += b.count
    with store.session() as s:
        sources = [
            {"id": r.id, "title": r.title, "url": r.url, "kind": r.kind, "paused": r.paused}
            for r in s.query(SourceRow).filter(SourceRow.network_id == network_id).order_by(SourceRow.id)
        ]
    return {"own": own, "themes": themes, "peers": peers.most_common(10), "sources": sources}


@router.get("/networks/{network_id}", response_class=HTMLResponse)
async def network(network_id: str, request: Request) -> HTMLResponse:
    """What a network works on (themes, types, recent items) and with whom (networks on the same themes)."""
    lang = page_language(request)
    store, backend = _store(request), _backend(request)
    row = await run_in_threadpool(store.network, network_id)
    if row is None:
        return render(request, "error.html", {"status": 404, "message_key": "error.no_network"}, 404)
    names = await run_in_threadpool(network_names, store)
    profile = await run_in_threadpool(_network_profile, backend, store, network_id)
    own = profile["own"]
    return render(
        request,
        "network.html",
        {
            "network": row,
            "total": own.total,
            "recent": [hit_view(request, h, None, names, lang) for h in own.hits],
            "themes": [(b.value, facet_label("theme", b.value, lang), b.count) for b in profile["themes"]],
            "types": [(facet_label("type", b.value, lang), b.count) for b in own.facets.get("type", [])],
            "item_languages": [
                (facet_label("language", b.value, lang), b.count) for b in own.facets.get("language", [])
            ],
            "peers": [(nid, names.get(nid, nid), n) for nid, n in profile["peers"]],
            "sources": profile["sources"],
        },
    )


# --- barriers ----------------------------------------------------------------------------------------------
def _barrier_rows(backend: SearchBackend) -> list[dict[str, Any]]:
    overview, _ = run_search(backend, SearchQuery(size=0, facet_size=50))
    rows = []
    for bucket in overview.facets.get("barrier", []):
        detail, _ = run_search(
            backend, SearchQuery(filters={"barrier": [bucket.value]}, size=3, facet_size=50)
        )
        rows.append(
            {
                "iri": bucket.value,
                "count": bucket.count,
                "networks": [b.value for b in detail.facets.get("network", [])],
                "types": {b.value: b.count for b in detail.facets.get("type", [])},
                "examples": detail.hits,
            }
        )
    return rows


@router.get("/barriers", response_class=HTMLResponse)
async def barriers(request: Request) -> HTMLResponse:
    """Structural barriers that recur across cases and networks, most frequent first."""
    lang = page_language(request)
    store, backend = _store(request), _backend(request)
    names = await run_in_threadpool(network_names, store)
    rows = await run_in_threadpool(_barrier_rows, backend)
    for row in rows:
        row["label"] = facet_label("barrier", row["iri"], lang)
        row["network_names"] = [(n, names.get(n, n)) for n in row["networks"]]
        row["examples"] = [hit_view(request, h, None, names, lang) for h in row["examples"]]
    known = [(iri, facet_label("barrier", iri, lang)) for iri in concepts_of("barrier")]
    return render(request, "barriers.html", {"rows": rows, "known": known})
