"""The API over a real harvest: search, dereferencing with content negotiation, status.

Runs against both backends: the embedded one and a real Elasticsearch (integration).
"""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph
from rdflib.compare import isomorphic

from api.main import create_app
from pipeline.harvest import harvest
from pipeline.index import index_pending
from store.repository import Store
from tests.conftest import write_registry


@pytest.fixture(
    params=["embedded", pytest.param("elasticsearch", marks=pytest.mark.integration)],
)
def client(request, make_settings, tmp_path, feed_server, demo_sources):
    overrides: dict[str, object] = {}
    if request.param == "elasticsearch":
        overrides = {
            "search_backend": "elasticsearch",
            "es_url": request.getfixturevalue("es_url"),
            "es_index": request.getfixturevalue("es_alias"),
        }
    registry = write_registry(tmp_path / "registry.yaml", demo_sources)
    settings = make_settings(registry_path=registry, samples_url=feed_server, **overrides)
    harvest(settings)
    result = index_pending(settings)
    assert result["failed"] == 0
    assert result["indexed"] == 55 + 15 + 9
    with TestClient(create_app(settings)) as c:
        c.settings = settings  # type: ignore[attr-defined]
        yield c


def test_search_finds_a_word_from_a_corpus_feed(client) -> None:
    r = client.get("/search", params={"q": "Wochenvorschau OR golf"})
    assert r.status_code == 200
    r = client.get("/search", params={"q": "golf club Florida"})
    body = r.json()
    assert body["total"] >= 1
    assert "Trump sues over property tax bill for Florida golf club" in [h["title"] for h in body["hits"]]
    hit = body["hits"][0]
    assert hit["network"] == "net-a"
    assert hit["source"] == "guardian"
    assert hit["type"] == "NewsArticle"
    assert {"type", "network", "source", "language"} <= set(body["facets"])


def test_facets_and_filters(client) -> None:
    body = client.get("/search", params={"size": 0}).json()
    assert body["total"] == 79
    networks = {b["value"]: b["count"] for b in body["facets"]["network"]}
    assert networks == {"net-a": 55, "net-b": 24}
    assert {b["value"]: b["count"] for b in body["facets"]["type"]} == {"NewsArticle": 79}
    only_b = client.get("/search", params={"network": "net-b", "size": 100}).json()
    assert only_b["total"] == 24
    assert {h["network"] for h in only_b["hits"]} == {"net-b"}
    two = client.get("/search", params=[("source", "heise"), ("source", "psy"), ("size", 0)]).json()
    assert two["total"] == 24


def test_accents_fold_in_search(client) -> None:
    # Le Cercle Psy (ISO-8859-1, French) has accented words; the folded form must find them.
    accented = client.get("/search", params={"q": "européens", "size": 50}).json()
    folded = client.get("/search", params={"q": "EUROPEENS", "size": 50}).json()
    assert accented["total"] >= 1
    assert [h["id"] for h in accented["hits"]] == [h["id"] for h in folded["hits"]]
    assert {h["source"] for h in accented["hits"]} == {"psy"}


def test_item_iri_dereferences_to_turtle_and_jsonld(client) -> None:
    hit = client.get("/search", params={"q": "golf club Florida"}).json()["hits"][0]
    path = hit["id"].removeprefix("http://innonet.test")
    r = client.get(path, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == path.replace("/id/", "/doc/", 1)
    stored = Store(client.settings.resolved_database_url).record(hit["id"])
    want = Graph().parse(data=stored.graph, format="nt")

    ttl = client.get(path, headers={"Accept": "text/turtle"})
    assert ttl.status_code == 200
    assert ttl.headers["content-type"].startswith("text/turtle")
    assert "Accept" in ttl.headers["vary"]
    assert isomorphic(Graph().parse(data=ttl.text, format="turtle"), want)

    jl = client.get(path, headers={"Accept": "application/ld+json"})
    assert jl.status_code == 200
    assert jl.headers["content-type"].startswith("application/ld+json")
    doc = json.loads(jl.text)
    assert doc["@context"]["schema"] == "http://schema.org/"
    assert isomorphic(Graph().parse(data=jl.text, format="json-ld"), want)

    nt = client.get(path.replace("/id/", "/doc/", 1) + ".nt")
    assert isomorphic(Graph().parse(data=nt.text, format="nt"), want)

    weighted = client.get(path, headers={"Accept": "application/ld+json;q=0.5, text/turtle;q=0.9"})
    assert weighted.headers["content-type"].startswith("text/turtle")


def test_unproducible_type_is_406_and_unknown_item_404(client) -> None:
    hit = client.get("/search", params={"q": "golf"}).json()["hits"][0]
    path = hit["id"].removeprefix("http://innonet.test").replace("/id/", "/doc/", 1)
    r = client.get(path, headers={"Accept": "image/png"})
    assert r.status_code == 406
    assert r.headers["content-type"] == "application/problem+json"
    assert "text/turtle" in r.json()["available"]
    assert client.get("/doc/news/guardian/doesnotexist").status_code == 404


@pytest.mark.parametrize(
    "params",
    [{"size": 1000}, {"offset": -1}, {"size": "ten"}, {"q": "x" * 501}],
)
def test_malformed_queries_get_a_clear_400(client, params) -> None:
    r = client.get("/search", params=params)
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400
    assert body["detail"]


@pytest.mark.parametrize("q", ['title:(x AND "', "*", "\\", "NEAR(a b)", "a OR b -c", "}{][", "😀 中文"])
def test_hostile_query_text_never_fails(client, q) -> None:
    r = client.get("/search", params={"q": q})
    assert r.status_code == 200
    assert r.json()["total"] >= 0


def test_sources_show_harvest_status(client) -> None:
    sources = {s["id"]: s for s in client.get("/sources").json()}
    assert sources["broken"]["status"] == "failed"
    assert sources["broken"]["error_code"] == "not_a_feed"
    assert "not an RSS or Atom feed" in sources["broken"]["message"]
    assert sources["guardian"]["status"] == "ok"
    assert sources["guardian"]["items"] == 55
    assert client.get("/sources/nope").status_code == 404
