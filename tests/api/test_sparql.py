"""The read-only SPARQL 1.1 endpoint: protocol (GET, POST body, POST form), result formats, the
service description, refusal of updates, the result cap, the deadline and freshness.

Answers are compared with rdflib evaluating the same query over the same graphs (an independent
engine), on real mapped items (the golden mapping outputs of corpus inputs). Comunica against a
running server: tests/api/test_sparql_comunica.py.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic

from api.main import create_app
from pipeline.contracts import NetworkSpec, Registry, SourceSpec
from store.members import MemberLog
from store.repository import Store

GOLDEN = Path(__file__).resolve().parent.parent / "ontology" / "golden"
BASE = "http://innonet.test"
SD_ENDPOINT = URIRef("http://www.w3.org/ns/sparql-service-description#endpoint")
SELECT = """PREFIX schema: <http://schema.org/>
SELECT ?item ?name WHERE { ?item schema:name ?name } ORDER BY ?item ?name"""


def _fill(settings, names) -> tuple[Store, dict[str, Graph]]:
    store = Store(settings.resolved_database_url)
    store.sync_registry(
        Registry(
            networks=[NetworkSpec(id="net-a", name="Network A")],
            sources=[SourceSpec(id="s", network="net-a", title="S", url="https://a.example.org/")],
        )
    )
    graphs = {}
    for name in names:
        g = Graph().parse(GOLDEN / name, format="turtle")
        iri = min(
            str(s)
            for s in g.subjects()
            if isinstance(s, URIRef)
            and "#" not in str(s)
            and "/id/" in str(s)
            and "/id/network/" not in str(s)
        )
        store.upsert_record(
            iri=iri,
            source_id="s",
            kind="case",
            native_id=name,
            graph_nt=g.serialize(format="nt"),
            raw_sha256=None,
            content_hash=name,
        )
        graphs[iri] = g
    return store, graphs


@pytest.fixture
def served(make_settings):
    settings = make_settings(base_url=BASE, sparql_max_results=1000, sparql_timeout_s=10.0)
    names = sorted(p.name for p in GOLDEN.glob("*.ttl"))
    store, graphs = _fill(settings, names)
    with TestClient(create_app(settings)) as client:
        yield client, store, graphs, settings


def _union(graphs: dict[str, Graph]) -> Graph:
    g = Graph()
    for part in graphs.values():
        g += part
    return g


def _rows_json(doc: dict) -> list[tuple]:
    return [
        tuple((v, b[v]["value"]) for v in doc["head"]["vars"] if v in b) for b in doc["results"]["bindings"]
    ]


def test_service_description_names_the_exact_endpoint(served) -> None:
    client, *_ = served
    r = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert r.status_code == 200
    g = Graph().parse(data=r.text, format="turtle")
    assert list(g.objects(None, SD_ENDPOINT)) == [URIRef(f"{BASE}/sparql")]
    assert r.headers["access-control-allow-origin"] == "*"


def test_select_by_get_post_and_form_agree_with_rdflib(served) -> None:
    client, _, graphs, _ = served
    want = [tuple((str(v), str(row[v])) for v in ("item", "name")) for row in _union(graphs).query(SELECT)]
    assert len(want) > 3
    json_accept = {"Accept": "application/sparql-results+json"}
    by_get = client.get("/sparql", params={"query": SELECT}, headers=json_accept)
    assert by_get.status_code == 200
    assert by_get.headers["content-type"].startswith("application/sparql-results+json")
    by_post = client.post(
        "/sparql", content=SELECT, headers={**json_accept, "Content-Type": "application/sparql-query"}
    )
    by_form = client.post("/sparql", data={"query": SELECT}, headers=json_accept)
    for r in (by_get, by_post, by_form):
        assert _rows_json(r.json()) == want


def test_xml_results_and_language_tags(served) -> None:
    client, *_ = served
    q = 'SELECT ?n WHERE { ?s <http://schema.org/name> ?n FILTER(lang(?n) != "") } LIMIT 1'
    doc = client.get("/sparql", params={"query": q}).json()
    binding = doc["results"]["bindings"][0]["n"]
    assert binding["type"] == "literal"
    assert binding["xml:lang"]
    xml = client.get("/sparql", params={"query": q}, headers={"Accept": "application/sparql-results+xml"})
    assert xml.headers["content-type"].startswith("application/sparql-results+xml")
    root = ET.fromstring(xml.content)
    lit = root.find(".//{http://www.w3.org/2005/sparql-results#}literal")
    assert lit is not None
    assert lit.get("{http://www.w3.org/XML/1998/namespace}lang") == binding["xml:lang"]
    assert lit.text == binding["value"]


def test_ask_and_construct(served) -> None:
    client, _, graphs, _ = served
    item = next(iter(graphs))
    ask = client.get("/sparql", params={"query": f"ASK {{ <{item}> ?p ?o }}"}).json()
    assert ask["boolean"] is True
    assert client.get("/sparql", params={"query": "ASK { <urn:x:nope> ?p ?o }"}).json()["boolean"] is False
    construct = f"CONSTRUCT {{ <{item}> ?p ?o }} WHERE {{ <{item}> ?p ?o }}"
    r = client.get("/sparql", params={"query": construct}, headers={"Accept": "text/turtle"})
    assert r.headers["content-type"].startswith("text/turtle")
    want = Graph()
    want += graphs[item].triples((URIRef(item), None, None))
    assert isomorphic(Graph().parse(data=r.text, format="turtle"), want)


def test_updates_are_refused(served) -> None:
    client, *_ = served
    update = "INSERT DATA { <urn:x:a> <urn:x:b> <urn:x:c> }"
    assert (
        client.post(
            "/sparql", content=update, headers={"Content-Type": "application/sparql-update"}
        ).status_code
        == 400
    )
    assert client.post("/sparql", data={"update": update}).status_code == 400
    assert client.get("/sparql", params={"query": update}).status_code == 400
    assert client.get("/sparql", params={"query": "ASK { <urn:x:a> ?p ?o }"}).json()["boolean"] is False


def test_result_cap_and_deadline(make_settings) -> None:
    settings = make_settings(base_url=BASE, sparql_max_results=3, sparql_timeout_s=0.5)
    _fill(settings, sorted(p.name for p in GOLDEN.glob("*.ttl")))
    with TestClient(create_app(settings)) as client:
        capped = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p ?o }"})
        assert len(capped.json()["results"]["bindings"]) == 3
        assert capped.headers["x-result-truncated"] == "capped at 3"
    # a streaming cross join of every triple with every triple twice (~10^8 rows): the deadline
    # stops it between rows, so its thread ends too (Oxigraph cannot interrupt an aggregate)
    settings = make_settings(base_url=BASE, sparql_max_results=10**9, sparql_timeout_s=0.5)
    with TestClient(create_app(settings)) as client:
        slow = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
        r = client.get("/sparql", params={"query": slow})
        assert r.status_code == 503
        assert "0.5 s" in r.json()["detail"]


def test_dataset_follows_the_store_and_hides_withdrawn_items(served) -> None:
    client, store, graphs, settings = served
    item = next(iter(graphs))
    ask = {"query": f"ASK {{ <{item}> ?p ?o }}"}
    assert client.get("/sparql", params=ask).json()["boolean"] is True
    log = MemberLog(store, BASE)
    log.publish(item_iri=item, kind="case", source_id="s", graph=graphs[item], content_hash="x")
    log.withdraw(item)
    assert client.get("/sparql", params=ask).json()["boolean"] is False
    store.upsert_record(
        iri=f"{BASE}/id/news/s/new",
        source_id="s",
        kind="news",
        native_id="new",
        graph_nt=f'<{BASE}/id/news/s/new> <http://schema.org/headline> "{Literal("fresh")}"@en .\n',
        raw_sha256=None,
        content_hash="new",
    )
    fresh = client.get("/sparql", params={"query": 'ASK { ?s <http://schema.org/headline> "fresh"@en }'})
    assert fresh.json()["boolean"] is True
    # the catalogue is part of the dataset: networks and sources are queryable too
    q = "ASK { ?s a <http://www.w3.org/ns/dcat#Catalog> }"
    assert client.get("/sparql", params={"query": q}).json()["boolean"] is True


def test_runaway_queries_hold_their_slot_and_the_next_query_is_turned_away(make_settings) -> None:
    """An aggregate cannot be interrupted: past its deadline it keeps its slot, and with every slot
    taken a further query is answered 503 at once instead of queueing on the thread pool."""
    settings = make_settings(base_url=BASE, sparql_timeout_s=0.3, sparql_max_concurrent=1)
    _fill(settings, ["case_gent_burgerbudget.ttl"])
    with TestClient(create_app(settings)) as client:
        # ~10^7 joined rows counted before the first answer row: seconds of work, deadline 0.3 s
        slow = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g a ?h . ?j a ?l }"
        first = client.get("/sparql", params={"query": slow})
        assert first.status_code == 503
        assert "0.3 s" in first.json()["detail"]
        busy = client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
        assert busy.status_code == 503
        assert "1 queries are running" in busy.json()["detail"]
        slots = client.app.state.sparql_slots
        assert slots.acquire(timeout=120)  # the runaway query ends on its own and frees its slot
        slots.release()
        assert client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).json()["boolean"] is True
