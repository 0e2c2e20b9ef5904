"""Facet buckets of GET /search carry labels in the reader's language, on both backends.

Labels come from the SKOS prefLabels (concepts), the message catalogues (types, languages)
and the store (network names, source titles); the language from ``lang``, else
Accept-Language, else English. The fast path answers the route's bytes in every language.
"""

from __future__ import annotations

import json
from functools import cache

import pytest
from fastapi.testclient import TestClient
from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import SKOS

from api.facet_labels import FacetLabels, header_language, label_language
from api.main import create_app
from api.routers.search import SearchFastPath
from api.web import i18n
from ontology.concepts import CONCEPTS_TTL
from pipeline.registry import parse_registry
from store.repository import Store
from tests.api.backends import BACKENDS, settings_and_backend
from tests.search.test_contract_features import DOCS, ITEM, THEME

INNONET = Namespace("https://w3id.org/innonet/ns#")
PARTICIPATION = THEME + "participation"
#: A theme the vocabulary does not have (an index written by a newer vocabulary, or a typo).
UNKNOWN_THEME = THEME + "quantum-governance"
REGISTRY = """
networks:
  - {id: lab-nl, name: Proeftuin Nederland}
  - {id: lab-fr, name: Laboratoire d'innovation publique}
  - {id: lab-en, name: Public Lab UK}
sources:
  - {id: src-a, network: lab-nl, title: Nieuws van de proeftuin, url: "https://example.org/a.xml"}
  - {id: src-f, network: lab-fr, title: Actualités du labo, url: "https://example.org/f.xml"}
"""


@pytest.fixture(params=BACKENDS)
def client(request, make_settings, tmp_path):
    settings, backend = settings_and_backend(request, make_settings, tmp_path)
    odd = DOCS[0].model_copy(update={"id": ITEM + "odd", "themes": [UNKNOWN_THEME]})
    assert backend.upsert([*DOCS, odd]).errors == []
    backend.refresh()
    store = Store(settings.resolved_database_url)
    store.sync_registry(parse_registry(REGISTRY))
    store.close()
    with TestClient(create_app(settings)) as c:
        c.backend_name = request.param  # type: ignore[attr-defined]
        yield c


def buckets(body: dict, facet: str) -> dict[str, str]:
    return {b["value"]: b["label"] for b in body["facets"][facet]}


@cache
def vocabulary() -> Graph:
    return Graph().parse(CONCEPTS_TTL, format="turtle")


def pref_label(iri: str, lang: str) -> str | None:
    """The prefLabel straight from the Turtle file (not through the code under test); None for
    an IRI the vocabulary lacks (the contract documents use a few, e.g. ``stage/testing``)."""
    labels = [str(o) for o in vocabulary().objects(URIRef(iri), SKOS.prefLabel) if o.language == lang]
    assert len(labels) <= 1
    return labels[0] if labels else None


def test_labels_in_dutch_and_french(client) -> None:
    nl = client.get("/search", params={"lang": "nl"}).json()
    assert buckets(nl, "theme")[PARTICIPATION] == pref_label(PARTICIPATION, "nl")
    assert buckets(nl, "theme")[PARTICIPATION] == "Participatie en betrokkenheid van belanghebbenden"
    assert buckets(nl, "type")["Event"] == "Evenement"
    assert buckets(nl, "language")["fr"] == i18n.catalogue("nl")["language.fr"]
    assert buckets(nl, "network")["lab-nl"] == "Proeftuin Nederland"
    assert buckets(nl, "source")["src-f"] == "Actualités du labo"
    level = "https://w3id.org/innonet/concepts/level/local"
    assert buckets(nl, "government_level")[level] == pref_label(level, "nl")

    fr = client.get("/search", headers={"Accept-Language": "fr-BE,fr;q=0.9,nl;q=0.5"}).json()
    assert buckets(fr, "theme")[PARTICIPATION] == pref_label(PARTICIPATION, "fr")
    assert buckets(fr, "type")["Event"] == "Événement"
    for facet in ("opsi_facet", "lifecycle_stage", "barrier"):
        for value, label in buckets(fr, facet).items():
            assert label == (pref_label(value, "fr") or value.rsplit("/", 1)[-1])
    # the parameter wins over the header; no language asked: English, as the HTML pages
    both = client.get("/search", params={"lang": "nl"}, headers={"Accept-Language": "fr"}).json()
    assert buckets(both, "theme")[PARTICIPATION] == pref_label(PARTICIPATION, "nl")
    en = client.get("/search").json()
    assert buckets(en, "theme")[PARTICIPATION] == pref_label(PARTICIPATION, "en")


def test_german_concepts_and_english_catalogue_names(client) -> None:
    """German has vocabulary labels but no page catalogue: types and languages fall back to English."""
    de = client.get("/search", params={"lang": "de"}).json()
    assert buckets(de, "theme")[PARTICIPATION] == pref_label(PARTICIPATION, "de")
    assert buckets(de, "type")["NewsArticle"] == i18n.catalogue("en")["type.NewsArticle"]


def test_values_without_a_label(client) -> None:
    """A concept IRI the vocabulary lacks: its last path segment (the full IRI stays in value);
    a network the store does not know, a source without a title, a country code, a year: the value."""
    body = client.get("/search", params={"lang": "fr"}).json()
    assert buckets(body, "theme")[UNKNOWN_THEME] == "quantum-governance"
    assert buckets(body, "network")["lab-de"] == "lab-de"
    assert buckets(body, "source")["src-e"] == "src-e"
    assert buckets(body, "country")["BEL"] == "BEL"
    assert all(label == value for value, label in buckets(body, "year").items())


def test_a_malformed_lang_is_a_400(client) -> None:
    r = client.get("/search", params={"lang": "xx"})
    assert r.status_code == 400
    assert "lang" in r.json()["detail"] or "nl" in r.json()["detail"]


def _fast_path(app) -> SearchFastPath:
    layer = app.middleware_stack
    while not isinstance(layer, SearchFastPath):
        layer = layer.app
    return layer


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ([("lang", "nl")], {}),
        ([("q", "sandbox"), ("facet", "theme"), ("facet", "network"), ("lang", "fr")], {}),
        ([("facet", "theme"), ("facet", "type")], {"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"}),
        ([("facet", "source"), ("facet", "theme")], {"Accept-Language": "de"}),
        ([("facet", "language"), ("lang", "de")], {"Accept-Language": "nl"}),
        ([("facet", "theme")], {"Accept-Language": "es, *;q=0.1"}),  # nothing supported: English
    ],
)
def test_the_fast_path_labels_byte_for_byte_like_the_route(client, params, headers) -> None:
    fast = _fast_path(client.app)
    before, direct = fast.served, fast.direct
    quick = client.get("/search", params=params, headers=headers)
    assert fast.served == before + 1
    if client.backend_name == "elasticsearch":
        assert fast.direct == direct + 1
    routed = client.get("/search", params=[*params, ("format", "json")], headers=headers)
    assert fast.served == before + 1
    assert quick.status_code == routed.status_code == 200
    assert quick.content == routed.content
    assert quick.headers == routed.headers
    assert quick.headers["vary"] == "Accept-Language"
    assert all("label" in b for facet in quick.json()["facets"].values() for b in facet)


def test_jsonld_facets_are_labelled_linked_data(client) -> None:
    r = client.get(
        "/search",
        params=[("facet", "theme"), ("facet", "network"), ("facet", "type")],
        headers={
            "Accept": "application/ld+json",
            "Accept-Language": "fr",
        },
    )
    assert r.headers["content-type"].startswith("application/ld+json")
    body = r.json()
    assert body["facets"]["theme"]  # the JSON shape: facet -> buckets of value, count, label
    label = {b["value"]: b["label"] for b in body["facets"]["theme"]}
    assert label[PARTICIPATION] == pref_label(PARTICIPATION, "fr")
    # as RDF (schema.org's remote context left out: no network in tests; ours is inline)
    body["@context"] = [c for c in body["@context"] if isinstance(c, dict)]
    body["@id"] = "https://example.org/search"
    body.pop("itemListElement")
    graph = Graph().parse(data=json.dumps(body), format="json-ld")
    nodes = {
        str(graph.value(node, INNONET.facetValue)): node
        for node in graph.objects(URIRef("https://example.org/search"), INNONET.facetCount)
    }
    theme = nodes[PARTICIPATION]
    assert graph.value(theme, INNONET.facetName) == Literal("theme")
    assert graph.value(theme, SKOS.prefLabel) == Literal(pref_label(PARTICIPATION, "fr"), lang="fr")
    counts = {b["value"]: b["count"] for b in r.json()["facets"]["theme"]}
    assert graph.value(theme, INNONET["count"]).toPython() == counts[PARTICIPATION] == 2
    assert graph.value(nodes["lab-fr"], SKOS.prefLabel) == Literal(
        "Laboratoire d'innovation publique"
    )  # a name: no language
    assert graph.value(nodes[UNKNOWN_THEME], SKOS.prefLabel) == Literal("quantum-governance")


def test_openapi_documents_the_labels_and_lang(client) -> None:
    spec = client.get("/openapi.json").json()
    bucket = spec["components"]["schemas"]["FacetBucketOut"]
    assert set(bucket["required"]) == {"value", "count", "label"}
    assert bucket["properties"]["label"]["description"]
    params = {p["name"]: p for p in spec["paths"]["/search"]["get"]["parameters"]}
    assert params["lang"]["schema"]["anyOf"][0]["enum"] == ["nl", "en", "fr", "de"]


def test_names_are_read_again_once_stale(client, make_settings) -> None:
    """A network renamed in the store (a partner, a registry reload) is labelled anew after the TTL."""
    first = client.get("/search", params=[("facet", "network")]).json()
    assert buckets(first, "network")["lab-nl"] == "Proeftuin Nederland"
    store = client.app.state.store
    store.sync_registry(parse_registry(REGISTRY.replace("Proeftuin Nederland", "Innovatielab NL")))
    assert buckets(client.get("/search", params=[("facet", "network")]).json(), "network")["lab-nl"] == (
        "Proeftuin Nederland"  # within the TTL: the names read before
    )
    client.app.state.facet_labels.ttl_s = 0
    again = client.get("/search", params=[("facet", "network")]).json()
    assert buckets(again, "network")["lab-nl"] == "Innovatielab NL"


def test_language_choice() -> None:
    assert label_language(None, "de-AT,de;q=0.9") == "de"
    assert label_language(None, "es,fr;q=0.5") == "fr"
    assert label_language("nl", "fr") == "nl"
    assert label_language(None, None) == "en"
    assert header_language({"headers": [(b"accept-language", b"nl-BE")]}) == "nl"
    assert header_language({"headers": []}) == "en"
    assert i18n.from_accept_language("de") is None  # the pages still have no German


def test_a_store_that_cannot_be_read_leaves_labels_without_names(make_settings) -> None:
    store = Store(make_settings().resolved_database_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE sources")  # the names query fails
    labels = FacetLabels(store)
    labels.refresh()
    store.close()
    assert labels.label("network", "lab-nl", "nl") == "lab-nl"
    assert labels.label("theme", PARTICIPATION, "nl") == pref_label(PARTICIPATION, "nl")
    assert not labels.stale()  # tried: not again before the TTL
