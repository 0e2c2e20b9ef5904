"""The search API over both backends: filters, facets, dates, geo, cursor, highlight, JSON-LD,
suggestions, related items, and a clear 4xx/501 for what is malformed or unsupported."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.routers.search import SearchFastPath
from tests.api.backends import BACKENDS, settings_and_backend
from tests.search.test_contract_features import DOCS, ITEM, THEME


@pytest.fixture(params=BACKENDS)
def client(request, make_settings, tmp_path):
    settings, backend = settings_and_backend(request, make_settings, tmp_path)
    assert backend.upsert(DOCS).errors == []
    backend.refresh()
    with TestClient(create_app(settings)) as c:
        c.backend_name = request.param  # type: ignore[attr-defined]
        yield c


def short(body: dict) -> list[str]:
    return [h["id"].removeprefix(ITEM) for h in body["hits"]]


def test_filters_facets_and_highlight(client) -> None:
    body = client.get("/search", params={"q": "burgerparticipatie", "theme": THEME + "participation"}).json()
    assert short(body) == ["e1"]
    assert body["hits"][0]["highlight"]["title"] == "Werkdag <em>burgerparticipatie</em>"
    assert {b["value"] for b in body["facets"]["government_level"]} == {
        "https://w3id.org/innonet/concepts/level/local"
    }
    body = client.get("/search", params={"q": "sandboxes", "country": "GBR"}).json()
    assert short(body) == ["c1"]
    assert (
        body["hits"][0]["highlight"]["summary"] == "Cities tested new mobility rules in a <em>sandbox</em>."
    )
    years = client.get("/search", params=[("year", "2030"), ("size", 0)]).json()
    assert years["total"] == 2


def test_facet_parameter_selects_the_facets_counted(client) -> None:
    body = client.get("/search", params=[("facet", "language"), ("facet", "type")]).json()
    assert list(body["facets"]) == ["type", "language"]
    assert sum(b["count"] for b in body["facets"]["type"]) == body["total"]
    assert len(client.get("/search").json()["facets"]) == 12  # default: all


def test_upcoming_events_near_a_point_sorted_by_distance(client) -> None:
    body = client.get(
        "/search", params={"upcoming": "true", "lat": 51.05, "lon": 3.72, "km": 400, "sort": "distance"}
    ).json()
    assert short(body) == ["e1", "e2"]  # the 2020 Brussels event is past
    assert body["hits"][0]["distance_km"] < 1
    assert body["hits"][0]["location"]["name"] == "Het Pand"


def test_cursor_paging_walks_everything_once(client) -> None:
    seen: list[str] = []
    params: dict = {"size": 2, "sort": "date"}
    for _ in range(10):
        body = client.get("/search", params=params).json()
        seen += short(body)
        if not body["next_cursor"]:
            break
        params = {"size": 2, "sort": "date", "cursor": body["next_cursor"]}
    assert seen == ["e1", "e2", "c2", "c1", "n1", "e3"]


def test_jsonld_results(client) -> None:
    r = client.get("/search", params={"q": "sandbox"}, headers={"Accept": "application/ld+json"})
    assert r.headers["content-type"].startswith("application/ld+json")
    body = r.json()
    assert body["@type"] == "ItemList"
    assert body["numberOfItems"] == 2
    assert {i["item"]["@id"] for i in body["itemListElement"]} == {ITEM + "c1", ITEM + "c2"}
    assert client.get("/search", params={"q": "sandbox", "format": "jsonld"}).json()["@type"] == "ItemList"


def test_suggestions(client) -> None:
    r = client.get("/suggest", params={"prefix": "regulat"})
    assert r.status_code == 200
    assert {s["id"].removeprefix(ITEM) for s in r.json()} == {"c1", "c2"}


def test_collapse_and_related_work_on_elasticsearch_and_are_501_embedded(client) -> None:
    collapsed = client.get("/search", params={"q": "sandbox mobility", "collapse": "true"})
    related = client.get("/items/related", params={"id": ITEM + "c1"})
    if client.backend_name == "embedded":
        for r in (collapsed, related):
            assert r.status_code == 501
            assert r.headers["content-type"] == "application/problem+json"
            assert "Elasticsearch" in r.json()["detail"]
        return
    assert collapsed.status_code == 200
    assert [h["shared_by"] for h in collapsed.json()["hits"]] == [2]
    assert short(related.json())[0] == "c2"


@pytest.mark.parametrize(
    "params",
    [
        {"size": 101},
        {"offset": 10_001},
        {"facet_size": 1000},
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJzIjoic3RhcnQiLCJ2IjpbbnVsbCwiYSJdfQ"},  # a cursor of sort=start used with date
        {"lat": 50},
        {"sort": "distance"},
        {"sort": "nonsense"},
        {"published_from": "yesterday"},
        {"lat": 91, "lon": 0, "km": 1},
        {"km": -1, "lat": 0, "lon": 0},
        {"q": "x" * 501},
        {"facet": "nonsense"},
    ],
)
def test_malformed_is_a_clear_400(client, params) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"]


def _fast_path(app) -> SearchFastPath:
    layer = app.middleware_stack
    while not isinstance(layer, SearchFastPath):
        layer = layer.app
    return layer


@pytest.mark.parametrize(
    "params",
    [
        [],
        [("q", "burgerparticipatie")],
        [("q", "sandboxes"), ("country", "GBR"), ("highlight", "true")],
        [("q", "proeftuin werkdag"), ("size", "1"), ("offset", "1"), ("sort", "date")],
        [("theme", THEME + "participation"), ("facet", "type"), ("facet", "language"), ("facet_size", "2")],
        [("q", "événement"), ("language", "fr"), ("language", "nl"), ("highlight", "false")],
        [("year", "2030"), ("size", "0")],
        [("q", "$$$")],  # nothing searchable: an empty page
        [("sort", "start")],  # next_cursor in start order
        [("sort", "date"), ("size", "2")],  # next_cursor in date order
        [("q", "sandbox mobility"), ("size", "1")],  # next_cursor in relevance order (score + id)
        [("q", "werkdag"), ("facet", "year"), ("facet", "region"), ("facet", "country")],
        [("q", "Het Pand werkdag"), ("highlight", "true"), ("type", "Event")],  # a location in the hit
        [("q", "regulatory sandbox"), ("theme", THEME + "participation"), ("theme", THEME + "regulation")],
        [("offset", "2"), ("size", "3"), ("facet_size", "1")],
        [("q", "the"), ("highlight", "true")],  # only stop words
        [("offset", "50")],  # past the last hit: filter_path leaves no "hits" list
        [("q", "sandbox"), ("offset", "5"), ("size", "2")],  # counting + an empty page
        [("q", "zzzzqqq"), ("facet", "type")],  # no match: no buckets, no hits
        # every bucket has a label (English without lang/Accept-Language); labels in other
        # languages and from Accept-Language: tests/api/test_facet_labels.py
        [("q", "werkdag"), ("lang", "nl"), ("facet", "theme"), ("facet", "government_level")],
        [("lang", "fr"), ("facet", "type"), ("facet", "language"), ("facet", "network")],
    ],
)
def test_the_fast_path_answers_byte_for_byte_like_the_route(client, params) -> None:
    fast = _fast_path(client.app)
    before, direct = fast.served, fast.direct
    quick = client.get("/search", params=params)
    assert fast.served == before + 1  # really answered by the fast path
    if client.backend_name == "elasticsearch" and params != [("q", "$$$")]:
        assert fast.direct == direct + 1  # from Elasticsearch's response, without result models
    routed = client.get("/search", params=[*params, ("format", "json")])  # format: only the route takes it
    assert fast.served == before + 1
    assert quick.status_code == routed.status_code == 200
    assert quick.content == routed.content
    assert quick.headers == routed.headers


@pytest.mark.parametrize("sort", ["date", "start", "relevance"])
def test_cursor_pages_from_the_fast_path_are_the_routes(client, sort) -> None:
    fast = _fast_path(client.app)
    first = [("size", "1"), ("sort", sort), *([("q", "sandbox")] if sort == "relevance" else [])]
    params = first
    pages = 0
    while True:
        before, direct = fast.served, fast.direct
        quick = client.get("/search", params=params)
        assert fast.served == before + 1
        if client.backend_name == "elasticsearch":
            assert fast.direct == direct + 1
        routed = client.get("/search", params=[*params, ("format", "json")])
        assert quick.status_code == routed.status_code == 200
        assert quick.content == routed.content
        pages += 1
        cursor = quick.json()["next_cursor"]
        if not cursor or pages > 10:
            break
        params = [*first, ("cursor", cursor)]
    assert pages > 1


@pytest.mark.parametrize(
    "params",
    [
        {"size": 101},  # invalid: the route's 400
        {"facet": "nonsense"},
        {"q": ""},
        {"lat": 50, "lon": 4, "km": 10},  # parameters the fast path does not take
        {"cursor": "x"},  # not a cursor: the route's 400
        {"cursor": "eyJzIjoic3RhcnQiLCJ2IjpbbnVsbCwiYSJdfQ", "offset": 1},  # cursor + offset: 400
        {"q": "a", "size": [1, 2]},  # a scalar twice
    ],
)
def test_what_the_fast_path_does_not_take_goes_to_the_route(client, params) -> None:
    fast = _fast_path(client.app)
    before = fast.served
    r = client.get("/search", params=params)
    assert fast.served == before
    assert r.status_code in (200, 400), r.text


@pytest.mark.integration
def test_a_repeated_search_reuses_its_prepared_request_but_never_an_answer(
    make_settings, es_url, es_alias, es_backend
) -> None:
    """The second identical query string takes the prepared _msearch (no new entry), answers
    the route's bytes, and sees a document indexed in between (requests are kept, answers not)."""
    from api.routers import search as search_router

    assert es_backend.upsert(DOCS).errors == []
    es_backend.refresh()
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index=es_alias)
    params = [("q", "sandbox"), ("facet", "type"), ("highlight", "true")]
    with TestClient(create_app(settings)) as c:
        fast = _fast_path(c.app)
        first = c.get("/search", params=params)
        kept = {k: v for k, v in search_router._prepared.items() if k[0].startswith(f"/{es_alias}/")}
        assert len(kept) == 1
        again = c.get("/search", params=params)
        assert {k: v for k, v in search_router._prepared.items() if k[0].startswith(f"/{es_alias}/")} == kept
        assert fast.direct == 2
        assert (
            first.content == again.content == c.get("/search", params=[*params, ("format", "json")]).content
        )
        newer = DOCS[0].model_copy(update={"id": ITEM + "new-sandbox", "title": "Another sandbox"})
        assert es_backend.upsert([newer]).errors == []
        es_backend.refresh()
        third = c.get("/search", params=params)
        assert fast.direct == 3
        assert third.json()["total"] == first.json()["total"] + 1
        assert ITEM + "new-sandbox" in [h["id"] for h in third.json()["hits"]]
        # JSON-LD asked for the same query string: the route answers, even with a prepared request
        ld = c.get("/search", params=params, headers={"Accept": "application/ld+json"})
        assert fast.direct == 3
        assert ld.headers["content-type"].startswith("application/ld+json")


def test_json_ld_is_negotiated_by_the_route(client) -> None:
    fast = _fast_path(client.app)
    before = fast.served
    r = client.get("/search", params={"q": "proeftuin"}, headers={"Accept": "application/ld+json"})
    assert fast.served == before
    assert r.headers["content-type"].startswith("application/ld+json")


@pytest.mark.integration
def test_elasticsearch_unreachable_is_the_routes_503(make_settings, tmp_path) -> None:
    """The fast path's async transport fails; the route answers its usual problem document."""
    from tests.api.ldes_support import free_port

    settings = make_settings(
        search_backend="elasticsearch", es_url=f"http://127.0.0.1:{free_port()}", es_index="nowhere"
    )
    with TestClient(create_app(settings)) as c:
        fast = _fast_path(c.app)
        r = c.get("/search", params={"q": "sandbox"})
        assert fast.served == 0
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "not reachable" in r.json()["detail"]


@pytest.mark.integration
def test_elasticsearch_refusing_the_search_is_the_routes_503(make_settings, es_url, es_alias) -> None:
    """An index that does not exist: Elasticsearch answers 404 per search; same problem as the route."""
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index=es_alias)
    with TestClient(create_app(settings)) as c:
        fast = _fast_path(c.app)
        quick = c.get("/search", params={"q": "sandbox"})
        routed = c.get("/search", params={"q": "sandbox", "format": "json"})
        assert fast.served == 0
    assert quick.status_code == routed.status_code == 503
    assert quick.json() == routed.json()
    assert "index_not_found" in quick.json()["detail"]


@pytest.mark.integration
def test_a_bug_in_the_fast_path_is_logged_and_the_route_answers(
    make_settings, es_url, es_alias, es_backend, monkeypatch, caplog
) -> None:
    """A failure the fast path does not expect (here a KeyError in building the page from
    Elasticsearch's answer) must not stay silent: every such search would ask Elasticsearch
    twice. Expected failures (Elasticsearch down, input the route refuses) are not logged here
    (the route reports them)."""
    import api.routers.search as search_router

    async def broken(*_args, **_kwargs):
        raise KeyError("hits")

    assert es_backend.upsert(DOCS).errors == []
    es_backend.refresh()
    monkeypatch.setattr(search_router, "_es_page", broken)
    monkeypatch.setattr(search_router, "_last_logged", {})
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index=es_alias)
    with TestClient(create_app(settings)) as client, caplog.at_level("WARNING", logger="api.routers.search"):
        first = client.get("/search", params={"q": "proeftuin"})
        second = client.get("/search", params={"q": "gemeente"})
        fast = _fast_path(client.app)
    assert first.status_code == second.status_code == 200
    assert first.json()["total"] >= 1
    assert fast.direct == 0
    logged = [r for r in caplog.records if "fast path failed" in r.getMessage()]
    assert len(logged) == 1  # once per type per minute, not per search
    assert logged[0].exc_info
    assert logged[0].exc_info[0] is KeyError
