"""The DCAT-AP 3 catalogue: it describes the instance, its networks, sources and streams, and conforms.

Validated with pySHACL against the DCAT-AP 3.0.1 shapes and range shapes in ``../shared/vocab/dcat-ap/``
(the files the design note found usable; the EU code-list shapes are advisory and not run here).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pyshacl import validate
from rdflib import Graph, Namespace, URIRef

from api.main import create_app
from ontology.namespaces import DCAT, DCTERMS, FOAF, RDF
from pipeline.contracts import NetworkSpec, Registry, SourceSpec
from store.repository import Store

DCAT_AP = Path("/work/shared/vocab/dcat-ap")
BASE = "http://innonet.test"
LDES = Namespace("https://w3id.org/ldes#")


@pytest.fixture
def client(make_settings):
    settings = make_settings(base_url=BASE)
    Store(settings.resolved_database_url).sync_registry(
        Registry(
            networks=[
                NetworkSpec(id="net-a", name="Network A", homepage="https://a.example.org/"),
                NetworkSpec(id="net-b", name="Netwerk B"),
            ],
            sources=[
                SourceSpec(
                    id="news-a",
                    network="net-a",
                    title="A news",
                    url="https://a.example.org/feed.xml",
                    language="en",
                    licence="https://creativecommons.org/licenses/by/4.0/",
                ),
                SourceSpec(
                    id="agenda-b",
                    network="net-b",
                    title="B agenda",
                    url="https://b.example.org/x.ics",
                    platform="ical",
                ),
                SourceSpec(
                    id="peer",
                    network="net-b",
                    title="Peer",
                    url="https://peer.example.org/ldes/feed",
                    platform="ldes",
                ),
            ],
        )
    )
    with TestClient(create_app(settings)) as c:
        yield c


def _shapes() -> Graph:
    g = Graph()
    for name in ("dcat-ap-3.0.1-shapes.ttl", "dcat-ap-3.0.1-range.ttl"):
        g.parse(DCAT_AP / name, format="turtle")
    return g


def test_catalog_describes_instance_networks_sources_and_streams(client) -> None:
    r = client.get("/catalog", headers={"Accept": "text/turtle"})
    assert r.status_code == 200
    assert r.headers["vary"] == "Accept"
    g = Graph().parse(data=r.text, format="turtle")
    cat = URIRef(f"{BASE}/id/catalog/innonet")
    assert (cat, RDF.type, DCAT.Catalog) in g
    datasets = set(g.objects(cat, DCAT.dataset))
    assert {URIRef(f"{BASE}/id/source/{s}") for s in ("news-a", "agenda-b", "peer")} <= datasets
    stream = URIRef(f"{BASE}/ldes/feed")
    assert stream in datasets
    assert (stream, RDF.type, LDES.EventStream) in g
    for net in ("net-a", "net-b"):
        assert (URIRef(f"{BASE}/id/network/{net}"), RDF.type, FOAF.Agent) in g
    assert g.value(URIRef(f"{BASE}/id/source/agenda-b"), DCTERMS.publisher) == URIRef(
        f"{BASE}/id/network/net-b"
    )
    services = {str(g.value(s, DCAT.endpointURL)) for s in g.objects(cat, DCAT.service)}
    assert services == {f"{BASE}/ldes/feed", f"{BASE}/sparql"}
    ldes_service = URIRef(f"{BASE}/id/dataservice/ldes-feed")
    assert (ldes_service, DCTERMS.conformsTo, URIRef("https://w3id.org/ldes/specification")) in g
    assert (ldes_service, DCAT.servesDataset, stream) in g


def test_catalog_conforms_to_dcat_ap_3(client) -> None:
    g = Graph().parse(data=client.get("/catalog?format=ttl").text, format="turtle")
    conforms, _, text = validate(g, shacl_graph=_shapes(), inference="none", allow_warnings=True)
    assert conforms, text


def test_a_broken_catalogue_does_not_conform(client) -> None:
    """The shapes do bite: the same catalogue without the stream's title is reported."""
    g = Graph().parse(data=client.get("/catalog?format=ttl").text, format="turtle")
    g.remove((URIRef(f"{BASE}/ldes/feed"), DCTERMS.title, None))
    conforms, _, text = validate(g, shacl_graph=_shapes(), inference="none", allow_warnings=True)
    assert not conforms
    assert "title" in text


def test_catalog_iri_dereferences_in_every_format(client) -> None:
    r = client.get("/id/catalog/innonet", headers={"Accept": "application/ld+json"})
    assert r.status_code == 200
    jl = Graph().parse(data=r.text, format="json-ld")
    ttl = Graph().parse(data=client.get("/catalog?format=ttl").text, format="turtle")
    from rdflib.compare import isomorphic

    assert isomorphic(jl, ttl)
