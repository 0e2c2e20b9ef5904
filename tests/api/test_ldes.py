"""The event stream against the checklist (ldes-and-vocabulary.md §3), over the real app and store."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from starlette.responses import Response

from api.main import create_app
from api.page_cache import PageCache
from api.routers.ldes import ClosedPageFastPath
from store.members import MemberLog
from store.repository import Store

LDES = Namespace("https://w3id.org/ldes#")
TREE = Namespace("https://w3id.org/tree#")
PROV = Namespace("http://www.w3.org/ns/prov#")
DCTERMS = Namespace("http://purl.org/dc/terms/")
RDF_TYPE = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
BASE = "http://innonet.test"
ORIGIN = "http://testserver"
IMMUTABLE = "public, max-age=31536000, immutable"


def item_nt(
    ref: str, title: str, kind: str = "news", network: str = "net-a", theme: str | None = None
) -> str:
    s = f"<{BASE}/id/{kind}/{ref}>"
    cls = "NewsArticle" if kind == "news" else "Event"
    lines = [
        f"{s} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/{cls}> .",
        f'{s} <http://schema.org/headline> "{title}"@en .',
        f"{s} <https://w3id.org/innonet/ns#network> <{BASE}/id/network/{network}> .",
        f'{s} <http://www.w3.org/ns/prov#generatedAtTime> "2026-01-01T00:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> .',
    ]
    if theme:
        lines.append(
            f"{s} <http://purl.org/dc/terms/subject> <https://w3id.org/innonet/concepts/theme/{theme}> ."
        )
    return "\n".join(lines) + "\n"


def at(day: int, minute: int = 0) -> datetime:
    return datetime(2026, 1, day, 9, minute, tzinfo=UTC)


@pytest.fixture
def stream(make_settings):
    """Three past days of members (page size 2): news and events, two networks, a change, a withdrawal."""
    settings = make_settings(ldes_page_size=2, base_url=BASE)
    store = Store(settings.resolved_database_url)
    log = MemberLog(store, BASE, 2)
    pub = log.publish
    pub(
        item_iri=f"{BASE}/id/news/a/1",
        kind="news",
        source_id="a",
        graph=item_nt("a/1", "one", theme="participation"),
        content_hash="1",
        now=at(1, 1),
    )
    pub(
        item_iri=f"{BASE}/id/news/a/2",
        kind="news",
        source_id="a",
        graph=item_nt("a/2", "two"),
        content_hash="2",
        now=at(1, 2),
    )
    pub(
        item_iri=f"{BASE}/id/event/b/3",
        kind="event",
        source_id="b",
        graph=item_nt("b/3", "three", "event", "net-b"),
        content_hash="3",
        now=at(1, 3),
    )
    pub(
        item_iri=f"{BASE}/id/news/a/1",
        kind="news",
        source_id="a",
        graph=item_nt("a/1", "one, corrected", theme="participation"),
        content_hash="1b",
        now=at(2),
    )
    log.withdraw(f"{BASE}/id/news/a/2", now=at(3))
    app = create_app(settings)
    with TestClient(app) as client:
        yield client, log
    store.close()


def get_graph(client: TestClient, url: str, accept: str = "text/turtle") -> tuple[Graph, object]:
    r = client.get(url, headers={"Accept": accept})
    assert r.status_code == 200, r.text
    fmt = {
        "text/turtle": "turtle",
        "application/n-quads": "nquads",
        "application/n-triples": "nt",
        "application/ld+json": "json-ld",
    }[accept]
    return Graph().parse(data=r.text, format=fmt), r


def test_stream_describes_itself_and_names_one_view(stream) -> None:
    client, _ = stream
    g, r = get_graph(client, "/ldes/feed")
    s = URIRef(f"{ORIGIN}/ldes/feed")
    assert (s, RDF_TYPE, LDES.EventStream) in g
    assert list(g.objects(s, TREE.view)) == [URIRef(f"{ORIGIN}/ldes/feed/by-time")]
    assert list(g.objects(s, LDES.timestampPath)) == [PROV.generatedAtTime]
    assert list(g.objects(s, LDES.versionOfPath)) == [DCTERMS.isVersionOf]
    shape = g.value(s, TREE.shape)
    assert shape is not None
    assert len(list(g.predicate_objects(shape))) >= 2  # inline, so no extra fetch
    assert r.headers["vary"] == "Accept"
    assert r.headers["access-control-allow-origin"] == "*"


def test_view_pages_members_and_tombstones_by_day(stream) -> None:
    client, log = stream
    root, _ = get_graph(client, "/ldes/feed/by-time")
    days = {str(o) for o in root.objects(None, TREE.node)}
    assert days == {f"{ORIGIN}/ldes/feed/by-time?day=2026-01-0{d}" for d in (1, 2, 3)}
    day1, r = get_graph(client, "/ldes/feed/by-time?day=2026-01-01")
    pages = {str(o) for o in day1.objects(None, TREE.node)}
    assert pages == {f"{ORIGIN}/ldes/feed/by-time?day=2026-01-01&page={p}" for p in (1, 2)}
    assert r.headers["cache-control"] == IMMUTABLE
    seen: dict[str, Graph] = {}
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        node, _ = get_graph(client, f"/ldes/feed/by-time?day={day}")
        for page in set(node.objects(None, TREE.node)):
            g, _ = get_graph(client, str(page).removeprefix(ORIGIN), "application/n-quads")
            for member in g.objects(URIRef(f"{ORIGIN}/ldes/feed"), TREE.member):
                seen[str(member)] = g
    assert sorted(seen) == sorted(m.version_iri for m in log.members())
    tomb = f"{BASE}/id/news/a/2/versie/20260103T090000Z"
    assert (URIRef(tomb), RDF_TYPE, URIRef("https://www.w3.org/ns/activitystreams#Delete")) in seen[tomb]
    corrected = URIRef(f"{BASE}/id/news/a/1/versie/20260102T090000Z")
    assert (corrected, URIRef("http://schema.org/headline"), Literal("one, corrected", lang="en")) in seen[
        str(corrected)
    ]
    assert (corrected, DCTERMS.isVersionOf, URIRef(f"{BASE}/id/news/a/1")) in seen[str(corrected)]
    assert len(list(seen[str(corrected)].objects(corrected, PROV.generatedAtTime))) == 1


def test_relations_bound_every_node_by_time(stream) -> None:
    """Each relation names prov:generatedAtTime and a value, and the values really bound the members below.

    Ordered replication depends on this: a client may only emit a member once no relation can
    still lead to an earlier one.
    """
    client, _ = stream
    seen_relations = checked = 0
    frontier = ["/ldes/feed/by-time"]
    while frontier:
        g, _ = get_graph(client, frontier.pop())
        for rel in g.objects(None, TREE.relation):
            seen_relations += 1
            kind = g.value(rel, RDF_TYPE)
            assert kind in (
                TREE.GreaterThanOrEqualToRelation,
                TREE.LessThanRelation,
                TREE.LessThanOrEqualToRelation,
            )
            assert g.value(rel, TREE.path) == PROV.generatedAtTime
            bound = g.value(rel, TREE.value).toPython()
            target = str(g.value(rel, TREE.node)).removeprefix(ORIGIN)
            page, _ = get_graph(client, target, "application/n-quads")
            times = [
                t.toPython()
                for m in page.objects(None, TREE.member)
                for t in page.objects(m, PROV.generatedAtTime)
            ]
            checked += len(times)
            for t in times:
                if kind == TREE.GreaterThanOrEqualToRelation:
                    assert t >= bound, (target, t, bound)
                elif kind == TREE.LessThanRelation:
                    assert t < bound, (target, t, bound)
                else:
                    assert t <= bound, (target, t, bound)
            if "page=" not in target and target not in frontier:
                frontier.append(target)
    assert seen_relations >= 6
    assert checked >= 5, "no member time was compared with a relation bound"


def test_closed_pages_are_immutable_and_never_change_open_ones_are_short_lived(stream) -> None:
    client, log = stream
    url = "/ldes/feed/by-time?day=2026-01-01&page=1"
    first = client.get(url, headers={"Accept": "text/turtle"})
    assert first.headers["cache-control"] == IMMUTABLE
    assert (URIRef(ORIGIN + url), LDES.immutable, Literal(True)) in Graph().parse(data=first.text)
    # today's new members go to today's pages: the closed page stays byte for byte the same
    for n in range(3):
        log.publish(
            item_iri=f"{BASE}/id/news/c/{n}",
            kind="news",
            source_id="c",
            graph=item_nt(f"c/{n}", f"new {n}"),
            content_hash="c",
        )
    assert client.get(url, headers={"Accept": "text/turtle"}).content == first.content
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    full = client.get(f"/ldes/feed/by-time?day={today}&page=1")  # two of three: full, so fixed
    assert full.headers["cache-control"] == IMMUTABLE
    open_page = client.get(f"/ldes/feed/by-time?day={today}&page=2")
    assert open_page.headers["cache-control"] == "public, max-age=60"
    assert client.get(f"/ldes/feed/by-time?day={today}").headers["cache-control"] == "public, max-age=60"
    assert client.get("/ldes/feed/by-time").headers["cache-control"] == "public, max-age=60"


def test_etag_and_304(stream) -> None:
    client, _ = stream
    url = "/ldes/feed/by-time?day=2026-01-02&page=1"
    r = client.get(url)
    etag = r.headers["etag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


@pytest.mark.parametrize("accept", ["application/n-quads", "application/n-triples", "application/ld+json"])
def test_every_format_parses_back_to_the_same_graph(stream, accept: str) -> None:
    client, _ = stream
    for url in ("/ldes/feed", "/ldes/feed/by-time", "/ldes/feed/by-time?day=2026-01-01&page=1"):
        turtle, _ = get_graph(client, url)
        other, r = get_graph(client, url, accept)
        assert r.headers["content-type"].startswith(accept)
        assert isomorphic(turtle, other), (url, accept)


def test_filtered_views_are_their_own_streams(stream) -> None:
    client, log = stream

    def members(query: str) -> set[str]:
        out = set()
        root, _ = get_graph(client, f"/ldes/feed/by-time?{query}")
        for day in set(root.objects(None, TREE.node)):
            node, _ = get_graph(client, str(day).removeprefix(ORIGIN))
            for page in set(node.objects(None, TREE.node)):
                g, _ = get_graph(client, str(page).removeprefix(ORIGIN))
                out |= {str(m) for m in g.objects(URIRef(f"{ORIGIN}/ldes/feed?{query}"), TREE.member)}
        return out

    assert members("type=event") == {f"{BASE}/id/event/b/3/versie/20260101T090300Z"}
    assert members("network=net-b") == {f"{BASE}/id/event/b/3/versie/20260101T090300Z"}
    assert members("theme=participation") == {
        f"{BASE}/id/news/a/1/versie/20260101T090100Z",
        f"{BASE}/id/news/a/1/versie/20260102T090000Z",
    }
    # the withdrawal of a news item is in the news view too
    assert f"{BASE}/id/news/a/2/versie/20260103T090000Z" in members("type=news")
    g, _ = get_graph(client, "/ldes/feed?type=event")
    assert (
        URIRef(f"{ORIGIN}/ldes/feed?type=event"),
        TREE.view,
        URIRef(f"{ORIGIN}/ldes/feed/by-time?type=event"),
    ) in g
    # a reordered query string moves to the page's one IRI
    r = client.get("/ldes/feed/by-time?page=1&day=2026-01-01", follow_redirects=False)
    assert r.status_code == 301
    assert r.headers["location"] == f"{ORIGIN}/ldes/feed/by-time?day=2026-01-01&page=1"


def _fast_path_only(app, reached: list[str]) -> httpx.AsyncClient:
    """The fast path alone, in front of an app that only records what fell through to it."""

    async def downstream(scope, receive, send) -> None:
        reached.append(scope["method"] + " " + scope["path"] + "?" + scope["query_string"].decode())
        await Response(status_code=204)(scope, receive, send)

    fast = ClosedPageFastPath(downstream)

    async def with_app(scope, receive, send) -> None:
        scope["app"] = app  # what Starlette sets before its middleware stack
        await fast(scope, receive, send)

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=with_app), base_url=ORIGIN)


@pytest.mark.parametrize(
    "accept",
    ["text/turtle", "application/n-quads", "application/n-triples", "application/ld+json", "text/html", None],
)
def test_fast_path_answers_closed_pages_byte_for_byte_as_the_route_does(stream, accept) -> None:
    client, _ = stream
    app = client.app
    url = "/ldes/feed/by-time?day=2026-01-01&page=1"
    headers = {"Accept": accept} if accept else {}

    def via_route(extra: dict[str, str]) -> httpx.Response:
        getattr(app.state, "ldes_cache", {}).clear()  # an empty cache: the route renders and answers
        return client.get(url, headers=headers | extra)

    route = via_route({})
    assert route.status_code == 200
    assert route.headers["cache-control"] == IMMUTABLE
    route_304 = via_route({"If-None-Match": route.headers["etag"]})
    assert route_304.status_code == 304
    client.get(url, headers=headers)  # cached by the route, as in production

    reached: list[str] = []

    async def via_fast_path() -> list[httpx.Response]:
        async with _fast_path_only(app, reached) as fast:
            return [
                await fast.get(url, headers=headers),
                await fast.get(url, headers=headers | {"If-None-Match": route.headers["etag"]}),
                await fast.get(
                    url, headers=headers | {"If-None-Match": '"other", W/' + route.headers["etag"]}
                ),
            ]

    fast, fast_304, fast_weak = asyncio.run(via_fast_path())
    assert reached == []  # the fast path answered all three alone
    for ours, theirs in ((fast, route), (fast_304, route_304), (fast_weak, route_304)):
        assert ours.status_code == theirs.status_code
        assert ours.headers.multi_items() == theirs.headers.multi_items()
        assert ours.content == theirs.content
    # and the whole app (fast path installed outermost) answers the same from its cache
    again = client.get(url, headers=headers)
    assert (again.headers.multi_items(), again.content) == (route.headers.multi_items(), route.content)


def test_fast_path_lets_everything_else_through(stream) -> None:
    client, _ = stream
    app = client.app
    closed = "/ldes/feed/by-time?day=2026-01-01&page=1"
    client.get(closed, headers={"Accept": "text/turtle"})  # cached as turtle only
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    misses = [
        ("GET", closed, {"Accept": "application/n-quads"}),  # not rendered in this format yet
        ("GET", closed, {"Accept": "image/png"}),  # 406 is the route's answer
        ("HEAD", closed, {"Accept": "text/turtle"}),
        ("GET", "/ldes/feed/by-time?page=1&day=2026-01-01", {"Accept": "text/turtle"}),  # 301 by the route
        ("GET", f"/ldes/feed/by-time?day={today}&page=1", {"Accept": "text/turtle"}),  # open: never cached
        ("GET", "/ldes/feed/by-time", {"Accept": "text/turtle"}),
        ("GET", "/health", {}),
    ]
    reached: list[str] = []

    async def send_all() -> list[int]:
        async with _fast_path_only(app, reached) as fast:
            hit = await fast.get(closed, headers={"Accept": "text/turtle"})
            return [hit.status_code] + [
                (await fast.request(m, u, headers=h)).status_code for m, u, h in misses
            ]

    statuses = asyncio.run(send_all())
    assert statuses == [200] + [204] * len(misses)
    assert reached == [m + " " + u.split("?")[0] + "?" + (u.split("?") + [""])[1] for m, u, _ in misses]
    assert client.get(closed, headers={"Accept": "image/png"}).status_code == 406


def test_the_app_caches_closed_pages_within_ldes_cache_max_bytes(stream) -> None:
    """Three closed pages of a real stream: with room for at most two, the cache keeps the last
    fetched and never more than the budget, its size is the sum of its bodies, and each page still
    answers the same bytes."""
    client, _ = stream
    urls = [f"/ldes/feed/by-time?day=2026-01-01&page={p}" for p in (1, 2)] + [
        "/ldes/feed/by-time?day=2026-01-02&page=1"
    ]
    bodies = {}
    for url in urls:
        r = client.get(url, headers={"Accept": "text/turtle"}, follow_redirects=True)
        assert r.status_code == 200, r.text
        bodies[url] = r.content
    sizes = sorted(len(b) for b in bodies.values())
    budget = sizes[-1] + sizes[-2]  # the two largest fit, three never do
    settings = client.app.state.settings.model_copy(update={"ldes_cache_max_bytes": budget})
    with TestClient(create_app(settings)) as bounded:
        for url in urls:
            r = bounded.get(url, headers={"Accept": "text/turtle"}, follow_redirects=True)
            assert r.content == bodies[url]
        cache = bounded.app.state.ldes_cache
        assert isinstance(cache, PageCache)
        assert cache.max_bytes == budget
        assert cache.size == sum(len(body) for body, _ in cache.values()) <= budget
        assert 1 <= len(cache) <= 2
        last = [key for key in cache if cache.get(key)[0] == bodies[urls[-1]]]  # type: ignore[index]
        assert len(last) == 1  # the last fetched is kept
        entry = cache.get(last[0])
        again = bounded.get(urls[-1], headers={"Accept": "text/turtle"}, follow_redirects=True)
        assert again.content == bodies[urls[-1]]
        assert cache.get(last[0]) is entry  # answered from the cache: nothing rendered and put again
