"""The Linked Data Event Stream of all items, paginated by time (checklist: ldes-and-vocabulary.md §3).

``/ldes/feed`` is the stream; its view ``/ldes/feed/by-time`` links one node per UTC day
(``?day=``), and each day links its pages of ``ldes_page_size`` members (``?day=&page=``),
each with ``GreaterThanOrEqualTo``/``LessThan(OrEqualTo)`` relations on
``prov:generatedAtTime``. A page that can no longer change (a full page, or any page of a
finished day) is served ``immutable`` and cached here as bytes. Filters (``type``, ``theme``,
``network``, ``source``, ``language``, as on ``/search``) make their own stream:
``/ldes/feed?type=event``. Page IRIs are built from the URL the client fetched, because the
client only reads relations hanging off that exact URL.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from rdflib import BNode, Graph, Literal, Namespace, URIRef
from starlette.types import ASGIApp, Receive, Scope, Send

from api.conneg import NotAcceptable, negotiate, serialize
from api.deps import SettingsDep, StoreDep
from api.page_cache import PageCache
from ontology.namespaces import DCTERMS, PROV, RDF, XSD
from pipeline.settings import Settings
from store.members import AS, Chunk, MemberLog, ViewFilter, day_start
from store.repository import Store

LDES = Namespace("https://w3id.org/ldes#")
TREE = Namespace("https://w3id.org/tree#")
SH = Namespace("http://www.w3.org/ns/shacl#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
IMMUTABLE = "public, max-age=31536000, immutable"
LDES_SPEC = URIRef("https://w3id.org/ldes/specification")

router = APIRouter(tags=["event stream"])
FilterParam = Annotated[list[str] | None, Query(max_length=20)]


class Page:
    """A rendered answer: the graph (or its N-Triples text) and whether it may ever change."""

    def __init__(self, graph: Graph, extra_nt: str = "", immutable: bool = False) -> None:
        self.graph, self.extra_nt, self.immutable = graph, extra_nt, immutable


def _iso(ts: datetime) -> Literal:
    return Literal(ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), datatype=XSD.dateTime)


def _filter(type_: list[str] | None, theme, network, source, language) -> ViewFilter:
    return ViewFilter.of(type=type_, theme=theme, network=network, source=source, language=language)


class Urls:
    """The IRIs of one (possibly filtered) stream, on the origin the client used."""

    def __init__(self, origin: str, flt: ViewFilter) -> None:
        self.origin, self.flt = origin.rstrip("/"), flt

    def _q(self, *extra: tuple[str, str]) -> str:
        pairs = self.flt.query_pairs() + list(extra)
        return ("?" + urlencode(pairs)) if pairs else ""

    @property
    def stream(self) -> URIRef:
        return URIRef(f"{self.origin}/ldes/feed{self._q()}")

    @property
    def view(self) -> URIRef:
        return URIRef(f"{self.origin}/ldes/feed/by-time{self._q()}")

    def day(self, day: str) -> URIRef:
        return URIRef(f"{self.origin}/ldes/feed/by-time{self._q(('day', day))}")

    def page(self, day: str, page: int) -> URIRef:
        return URIRef(f"{self.origin}/ldes/feed/by-time{self._q(('day', day), ('page', str(page)))}")

    @property
    def shape(self) -> URIRef:
        return URIRef(f"{self.origin}/ldes/feed/shape#MemberVersionShape")


def shape_graph(shape: URIRef) -> Graph:
    """The member shape: every version (tombstones included) has one item and one timestamp."""
    g = Graph()
    g.add((shape, RDF.type, SH.NodeShape))
    for path, extra in (
        (DCTERMS.isVersionOf, (SH.nodeKind, SH.IRI)),
        (PROV.generatedAtTime, (SH.datatype, XSD.dateTime)),
    ):
        prop = BNode()
        g.add((shape, SH.property, prop))
        g.add((prop, SH.path, path))
        g.add((prop, *extra))
        g.add((prop, SH.minCount, Literal(1)))
        g.add((prop, SH.maxCount, Literal(1)))
    return g


def describe_stream(g: Graph, urls: Urls, settings: Settings) -> None:
    s = urls.stream
    g.add((s, RDF.type, LDES.EventStream))
    g.add((s, LDES.timestampPath, PROV.generatedAtTime))
    g.add((s, LDES.versionOfPath, DCTERMS.isVersionOf))
    g.add((s, LDES.versionDeletePath, RDF.type))
    g.add((s, LDES.versionDeleteObject, AS.Delete))
    g.add((s, LDES.pollingInterval, Literal(settings.ldes_polling_interval_s)))
    g.add((s, TREE.shape, urls.shape))
    g.add((s, TREE.view, urls.view))
    g += shape_graph(urls.shape)


def _closed(log: MemberLog, day: str, settings: Settings, now: datetime) -> bool:
    end = day_start(day) + timedelta(days=1)
    return day < log.current_day(now) and now >= end + timedelta(seconds=settings.ldes_close_grace_s)


def _relation(g: Graph, node: URIRef, kind: URIRef, value: datetime, target: URIRef) -> None:
    rel = BNode()
    g.add((node, TREE.relation, rel))
    g.add((rel, RDF.type, kind))
    g.add((rel, TREE.path, PROV.generatedAtTime))
    g.add((rel, TREE.value, _iso(value)))
    g.add((rel, TREE.node, target))


def build_entry(log: MemberLog, urls: Urls, settings: Settings) -> Page:
    g = Graph()
    describe_stream(g, urls, settings)
    s = urls.stream
    g.add((s, RDF.type, DCAT.Dataset))
    g.add((s, DCTERMS.title, Literal("innonet: public-sector innovation news, events and cases", lang="en")))
    g.add((s, DCTERMS.conformsTo, LDES_SPEC))
    return Page(g)


def build_root(log: MemberLog, urls: Urls, settings: Settings) -> Page:
    g = Graph()
    describe_stream(g, urls, settings)
    node = urls.view
    g.add((node, RDF.type, TREE.Node))
    for day, _count in log.days(urls.flt):
        start = day_start(day)
        target = urls.day(day)
        _relation(g, node, TREE.GreaterThanOrEqualToRelation, start, target)
        _relation(g, node, TREE.LessThanRelation, start + timedelta(days=1), target)
    return Page(g)


def build_day(log: MemberLog, urls: Urls, settings: Settings, day: str, now: datetime) -> Page:
    closed = _closed(log, day, settings, now)
    g = Graph()
    node = urls.day(day)
    g.add((urls.stream, TREE.view, urls.view))
    g.add((node, RDF.type, TREE.Node))
    end = day_start(day) + timedelta(days=1)
    chunks: list[Chunk] = log.chunks(urls.flt, day)
    for chunk in chunks:
        target = urls.page(day, chunk.page)
        _relation(g, node, TREE.GreaterThanOrEqualToRelation, chunk.first, target)
        if closed or chunk.count >= log.page_size:
            _relation(g, node, TREE.LessThanOrEqualToRelation, chunk.last, target)
        else:
            _relation(g, node, TREE.LessThanRelation, end, target)
    if closed:
        g.add((node, LDES.immutable, Literal(True)))
    return Page(g, immutable=closed)


def build_page(log: MemberLog, urls: Urls, settings: Settings, day: str, page: int, now: datetime) -> Page:
    rows = log.page(urls.flt, day, page)
    closed = len(rows) >= log.page_size or _closed(log, day, settings, now)
    g = Graph()
    node = urls.page(day, page)
    g.add((urls.stream, TREE.view, urls.view))
    g.add((node, RDF.type, TREE.Node))
    for row in rows:
        g.add((urls.stream, TREE.member, URIRef(row.version_iri)))
    if closed:
        g.add((node, LDES.immutable, Literal(True)))
    return Page(g, extra_nt="".join(row.graph for row in rows), immutable=closed)


def render(page: Page, media: str) -> bytes:
    """N-Triples/N-Quads are concatenated from the stored members; other formats go through rdflib."""
    if media in ("application/n-triples", "application/n-quads"):
        return (page.graph.serialize(format="nt") + page.extra_nt).encode("utf-8")
    g = page.graph
    if page.extra_nt:
        g = Graph()
        g += page.graph
        g.parse(data=page.extra_nt, format="nt")
    return serialize(g, media).encode("utf-8")


def _cache(request: Request, settings: Settings) -> PageCache:
    cache = getattr(request.app.state, "ldes_cache", None)
    if cache is None:
        cache = request.app.state.ldes_cache = PageCache(settings.ldes_cache_max_bytes)
    return cache


def respond(request: Request, body: bytes, etag: str, media: str, cache_control: str) -> Response:
    headers = {
        "ETag": etag,
        "Cache-Control": cache_control,
        "Vary": "Accept",
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "ETag, Link",
    }
    inm = request.headers.get("if-none-match")
    if inm and etag in [t.strip().removeprefix("W/") for t in inm.split(",")]:
        return Response(status_code=304, headers=headers)
    charset = "; charset=utf-8" if media.startswith("text/") or media == "application/n-triples" else ""
    return Response(body, media_type=media + charset, headers=headers)


def _cache_key(request: Request, media: str) -> tuple[str, str]:
    """One key for the route and the fast path: the exact URL fetched, the origin, the format."""
    return (str(request.url.path) + "?" + request.url.query + "|" + _origin(request), media)


async def serve(
    request: Request, store: Store, settings: Settings, urls: Urls, build, media_override: str | None = None
):
    media = media_override or negotiate(request.headers.get("accept"))
    if media == "text/html":
        media = "text/turtle"
    key = _cache_key(request, media)
    cache = _cache(request, settings)
    hit = cache.get(key)
    if hit is not None:
        cache.move_to_end(key)
        return respond(request, hit[0], hit[1], media, IMMUTABLE)
    log = MemberLog(store, settings.base_url, settings.ldes_page_size)
    page: Page = await run_in_threadpool(build, log)
    body = await run_in_threadpool(render, page, media)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if page.immutable:
        cache.put(key, body, etag)
        control = IMMUTABLE
    else:
        control = f"public, max-age={settings.ldes_mutable_max_age_s}"
    return respond(request, body, etag, media, control)


def _canonical(request: Request, urls: Urls, target: URIRef) -> Response | None:
    """Redirect a reordered query string to the page's one IRI (the client compares URLs)."""
    wanted = str(target).split("?", 1)[1] if "?" in str(target) else ""
    if request.url.query != wanted:
        return RedirectResponse(str(target), status_code=301, headers={"Access-Control-Allow-Origin": "*"})
    return None


def _origin(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@lru_cache(maxsize=256)
def _fast_media(accept: str | None) -> str | None:
    """What ``serve`` negotiates for this Accept header (None: not acceptable, let the route answer)."""
    try:
        media = negotiate(accept)
    except NotAcceptable:
        return None
    return "text/turtle" if media == "text/html" else media


class ClosedPageFastPath:
    """Pure ASGI middleware: a GET for an answer already cached as immutable is sent from the cache.

    Closed pages are what subscribers fetch most and they never change, so they need not pass
    FastAPI's routing, parameter validation and dependencies again (the bench measured about a
    tenth of uvicorn's rate for the same bytes through that path). Only entries ``serve`` put in
    the cache are answered, with the same key and the same :func:`respond` (body, Content-Type,
    ETag and 304, Cache-Control, Vary, CORS); an entry exists only for a canonical, validated URL.
    Everything else falls through unchanged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"].startswith("/ldes/feed"):
            app = scope.get("app")
            cache = getattr(app.state, "ldes_cache", None) if app is not None else None
            if cache:
                request = Request(scope)
                media = _fast_media(request.headers.get("accept"))
                key = _cache_key(request, media) if media else None
                hit = cache.get(key) if key else None
                if hit is not None:
                    cache.move_to_end(key)
                    await respond(request, hit[0], hit[1], media, IMMUTABLE)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def install_fast_path(app) -> None:
    """Put :class:`ClosedPageFastPath` outermost (call after every other ``add_middleware``)."""
    app.add_middleware(ClosedPageFastPath)


@router.get("/ldes/feed", operation_id="ldes-stream")
async def stream(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    type: FilterParam = None,  # noqa: A002 - the public parameter name, as on /search
    theme: FilterParam = None,
    network: FilterParam = None,
    source: FilterParam = None,
    language: FilterParam = None,
) -> Response:
    """The event stream: its description (timestamp, version and delete paths, shape) and its view."""
    urls = Urls(_origin(request), _filter(type, theme, network, source, language))
    redirect = _canonical(request, urls, urls.stream)
    if redirect:
        return redirect
    return await serve(request, store, settings, urls, lambda log: build_entry(log, urls, settings))


@router.get("/ldes/feed/shape", operation_id="ldes-shape")
async def shape(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """The SHACL shape of the stream's members."""
    urls = Urls(_origin(request), ViewFilter())
    return await serve(request, store, settings, urls, lambda log: Page(shape_graph(urls.shape)))


@router.get("/ldes/feed/by-time", operation_id="ldes-view-by-time")
async def by_time(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    type: FilterParam = None,  # noqa: A002
    theme: FilterParam = None,
    network: FilterParam = None,
    source: FilterParam = None,
    language: FilterParam = None,
    day: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
    page: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> Response:
    """The view by time: the root (one relation pair per day), a day node, or one page of members."""
    urls = Urls(_origin(request), _filter(type, theme, network, source, language))
    now = datetime.now(UTC)
    if day is None:
        if page is not None:
            raise HTTPException(400, "page needs day")
        target, build = urls.view, lambda log: build_root(log, urls, settings)
    elif page is None:
        target, build = urls.day(day), lambda log: build_day(log, urls, settings, day, now)
    else:
        target, build = urls.page(day, page), lambda log: build_page(log, urls, settings, day, page, now)
    redirect = _canonical(request, urls, target)
    if redirect:
        return redirect
    return await serve(request, store, settings, urls, build)
