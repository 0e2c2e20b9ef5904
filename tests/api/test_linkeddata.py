"""Every IRI dereferences: items, versions, withdrawn items (410), networks, sources, the vocabulary.

Each RDF answer is parsed back with rdflib and compared with the graph it came from by
isomorphism, for every format, by Accept and by extension. Items are real mapped graphs (the
golden mapping outputs of corpus inputs); the member log is the real one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, URIRef
from rdflib.compare import isomorphic

from api.main import create_app
from ontology.namespaces import DCAT, FOAF, INNONET, RDF, SKOS
from pipeline.contracts import NetworkSpec, Registry, SourceSpec
from store.members import AS, MemberLog
from store.repository import Store

GOLDEN = Path(__file__).resolve().parent.parent / "ontology" / "golden"
VOCAB = Path(__file__).resolve().parent.parent.parent / "ontology" / "vocab"
BASE = "http://innonet.test"
#: media type, extension, rdflib parser
RDF_FORMATS = [
    ("text/turtle", "ttl", "turtle"),
    ("application/ld+json", "jsonld", "json-ld"),
    ("application/n-triples", "nt", "nt"),
    ("application/n-quads", "nq", "nquads"),
    ("application/rdf+xml", "rdf", "xml"),
]


def _item(name: str) -> tuple[str, Graph]:
    g = Graph().parse(GOLDEN / name, format="turtle")
    subjects = {
        str(s) for s in g.subjects() if isinstance(s, URIRef) and "#" not in str(s) and "/id/" in str(s)
    }
    item = next(s for s in sorted(subjects) if re.search(r"/id/(case|event|news|organisation)/", s))
    return item, g


@pytest.fixture
def served(make_settings):
    settings = make_settings(base_url=BASE)
    store = Store(settings.resolved_database_url)
    store.sync_registry(
        Registry(
            networks=[NetworkSpec(id="net-a", name="Network A", homepage="https://a.example.org/")],
            sources=[
                SourceSpec(
                    id="lab", network="net-a", title="Lab cases", url="https://a.example.org/cases.json"
                ),
                SourceSpec(id="pages", network="net-a", title="Events", url="https://a.example.org/agenda"),
            ],
        )
    )
    log = MemberLog(store, BASE)
    items = {}
    for name, source in (("case_gent_burgerbudget.ttl", "lab"), ("songkick_event.ttl", "pages")):
        iri, g = _item(name)
        nt = g.serialize(format="nt")
        store.upsert_record(
            iri=iri,
            source_id=source,
            kind="case",
            native_id=name,
            graph_nt=nt,
            raw_sha256=None,
            content_hash=name,
        )
        log.publish(item_iri=iri, kind="case", source_id=source, graph=g, content_hash=name)
        items[source] = (iri, g)
    log.withdraw(items["pages"][0])
    with TestClient(create_app(settings)) as client:
        yield client, items, log


def _path(iri: str) -> str:
    return iri.removeprefix(BASE)


@pytest.mark.parametrize(("media", "ext", "parser"), RDF_FORMATS)
def test_item_round_trips_in_every_format_by_accept_and_extension(served, media, ext, parser) -> None:
    client, items, _ = served
    iri, want = items["lab"]
    r = client.get(_path(iri), headers={"Accept": media}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == _path(iri).replace("/id/", "/doc/", 1)
    by_accept = client.get(_path(iri), headers={"Accept": media})
    assert by_accept.status_code == 200
    assert by_accept.headers["content-type"].startswith(media)
    assert by_accept.headers["vary"] == "Accept"
    assert by_accept.headers["access-control-allow-origin"] == "*"
    assert isomorphic(Graph().parse(data=by_accept.content, format=parser), want)
    by_ext = client.get(_path(iri).replace("/id/", "/doc/", 1) + f".{ext}")
    assert by_ext.headers["content-type"].startswith(media)
    assert isomorphic(Graph().parse(data=by_ext.content, format=parser), want)
    assert by_ext.headers["content-location"].endswith(f".{ext}")
    assert 'rel="alternate"' in by_ext.headers["link"]


def test_html_embeds_the_same_graph_and_links_alternates(served) -> None:
    client, items, _ = served
    iri, want = items["lab"]
    page = client.get(_path(iri), headers={"Accept": "text/html,application/xhtml+xml;q=0.9"})
    assert page.headers["content-type"].startswith("text/html")
    assert '<link rel="alternate" type="text/turtle"' in page.text
    embedded = re.search(r'<script type="application/ld\+json">(.*?)</script>', page.text, re.S)
    assert embedded is not None
    assert isomorphic(Graph().parse(data=embedded.group(1).replace("<\\/", "</"), format="json-ld"), want)


def test_etag_gives_304(served) -> None:
    client, items, _ = served
    doc = _path(items["lab"][0]).replace("/id/", "/doc/", 1) + ".ttl"
    first = client.get(doc)
    again = client.get(doc, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_version_iri_serves_the_immutable_member(served) -> None:
    client, items, log = served
    member = next(m for m in log.members() if m.item_iri == items["lab"][0])
    r = client.get(_path(member.version_iri), headers={"Accept": "application/n-triples"})
    assert r.status_code == 200
    assert "immutable" in r.headers["cache-control"]
    assert isomorphic(Graph().parse(data=r.text, format="nt"), Graph().parse(data=member.graph, format="nt"))


def test_withdrawn_item_is_410_with_its_tombstone(served) -> None:
    client, items, log = served
    iri = items["pages"][0]
    r = client.get(_path(iri), headers={"Accept": "text/turtle"})
    assert r.status_code == 410
    g = Graph().parse(data=r.text, format="turtle")
    tombstones = list(g.subjects(RDF.type, AS.Delete))
    assert len(tombstones) == 1
    assert g.value(tombstones[0], URIRef("http://purl.org/dc/terms/isVersionOf")) == URIRef(iri)
    assert str(tombstones[0]) == log.head(iri).item_iri + str(tombstones[0]).removeprefix(iri)


def test_networks_and_sources_dereference(served) -> None:
    client, _, _ = served
    net = client.get("/id/network/net-a", headers={"Accept": "text/turtle"})
    assert net.status_code == 200
    g = Graph().parse(data=net.text, format="turtle")
    node = URIRef(f"{BASE}/id/network/net-a")
    assert (node, RDF.type, FOAF.Agent) in g
    assert (node, RDF.type, INNONET.Network) in g
    src = client.get("/doc/source/lab.jsonld")
    g = Graph().parse(data=src.text, format="json-ld")
    node = URIRef(f"{BASE}/id/source/lab")
    assert (node, RDF.type, DCAT.Dataset) in g
    assert g.value(node, URIRef("http://purl.org/dc/terms/publisher")) == URIRef(f"{BASE}/id/network/net-a")
    assert client.get("/id/network/nope", headers={"Accept": "text/turtle"}).status_code == 404
    assert client.get("/doc/source/nope.ttl").status_code == 404


@pytest.mark.parametrize(("media", "ext", "parser"), RDF_FORMATS)
def test_vocabulary_and_concept_schemes_dereference(served, media, ext, parser) -> None:
    client, _, _ = served
    want = Graph().parse(VOCAB / "innonet.ttl", format="turtle")
    r = client.get("/ns/innonet", headers={"Accept": media})
    assert r.status_code == 200
    assert isomorphic(Graph().parse(data=r.content, format=parser), want)
    assert isomorphic(Graph().parse(data=client.get(f"/ns/innonet.{ext}").content, format=parser), want)
    concepts = Graph().parse(VOCAB / "concepts.ttl", format="turtle")
    scheme = URIRef("https://w3id.org/innonet/concepts/theme")
    got = Graph().parse(data=client.get(f"/ns/concepts/theme.{ext}").content, format=parser)
    assert set(got.subjects(SKOS.inScheme, scheme)) == set(concepts.subjects(SKOS.inScheme, scheme))
    one = Graph().parse(data=client.get(f"/ns/concepts/theme/participation.{ext}").content, format=parser)
    expected = Graph()
    expected += concepts.triples((URIRef(scheme + "/participation"), None, None))
    assert len(expected) > 5
    assert isomorphic(one, expected)


def test_unknown_vocabulary_documents_are_404_and_the_context_is_served(served) -> None:
    client, _, _ = served
    assert client.get("/ns/concepts/nope").status_code == 404
    assert client.get("/ns/concepts/theme/nope.ttl").status_code == 404
    ctx = client.get("/ns/context.jsonld")
    assert ctx.status_code == 200
    assert json.loads(ctx.text)["@context"]["schema"] == "http://schema.org/"
    assert "max-age=86400" in ctx.headers["cache-control"]
