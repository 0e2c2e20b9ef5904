"""The vocabulary files themselves: parse, labels in four languages, concept schemes, context, clusters, tags."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from rdflib import Graph, Literal, URIRef
from rdflib.namespace import OWL, RDF, RDFS, SKOS

from ontology.cluster import Clusterer, ClusterInput, canonical_url
from ontology.concepts import CONCEPTS_TTL, resolve
from ontology.namespaces import INNONET, SCHEMES
from ontology.themes import classify
from pipeline.contracts import RawItem, SourceReport, SourceSpec
from pipeline.map import map_items
from pipeline.store import store_and_publish
from store import clusters as cluster_store
from store.repository import Store
from tests.ontology.helpers import BASE, case_item

ONTOLOGY = Path(__file__).resolve().parents[2] / "ontology"
LANGS = {"nl", "en", "fr", "de"}


def test_every_term_and_concept_is_labelled_in_four_languages() -> None:
    vocab = Graph().parse(ONTOLOGY / "vocab" / "innonet.ttl")
    terms = [s for s in vocab.subjects(RDF.type, None) if str(s).startswith("https://w3id.org/innonet/ns#")]
    assert len(terms) >= 20
    for term in terms:
        assert {lit.language for lit in vocab.objects(term, RDFS.label)} >= LANGS, term
        assert {lit.language for lit in vocab.objects(term, RDFS.comment)} >= LANGS, term
    assert (INNONET.InnovationCase, RDFS.subClassOf, URIRef("http://schema.org/CreativeWork")) in vocab
    concepts = Graph().parse(CONCEPTS_TTL)
    for name, scheme in SCHEMES.items():
        members = list(concepts.subjects(SKOS.inScheme, URIRef(scheme)))
        assert len(members) >= 4, name
        for concept in members:
            langs = [lit.language for lit in concepts.objects(concept, SKOS.prefLabel)]
            assert sorted(langs) == sorted(LANGS), concept
            assert concepts.value(concept, SKOS.notation) is not None
    assert len(list(concepts.subjects(SKOS.inScheme, URIRef(SCHEMES["facet"])))) == 4
    assert len(list(concepts.subjects(SKOS.inScheme, URIRef(SCHEMES["stage"])))) == 6
    assert (None, OWL.versionInfo, Literal("0.2")) in vocab


def test_context_prefixes_cover_the_namespaces_we_write() -> None:
    context = json.loads((ONTOLOGY / "context.jsonld").read_text())["@context"]
    assert all(isinstance(v, str) for v in context.values())  # api/conneg.py binds them as prefixes
    assert context["innonet"] == "https://w3id.org/innonet/ns#"
    assert context["theme"] == "https://w3id.org/innonet/concepts/theme/"


def test_concepts_resolve_by_label_in_any_language_or_notation() -> None:
    assert resolve("facet", "Missiegericht") == resolve("facet", "mission-oriented")
    assert resolve("level", "Gemeinde") == URIRef("https://w3id.org/innonet/concepts/level/local")
    assert resolve("barrier", "Datenaustausch") == URIRef(
        "https://w3id.org/innonet/concepts/barrier/data-sharing"
    )
    assert resolve("stage", "nonsense") is None


def test_classifier_uses_keywords_in_four_languages_tags_and_the_tag_map() -> None:
    theme = "https://w3id.org/innonet/concepts/theme/"
    assert URIRef(theme + "participation") in classify(title="Gent start burgerbudget").concepts
    assert URIRef(theme + "experimentation") in classify(title="Stuttgart eröffnet ein Reallabor").concepts
    assert URIRef(theme + "procurement") in classify(title="Marchés publics innovants : un guide").concepts
    sib = classify(title="A social impact bond for homelessness")
    assert URIRef(theme + "social-impact-bonds") in sib.concepts
    assert URIRef(theme + "alternative-financing") in sib.concepts  # broader concept added
    mapped = classify(tags=["Wijkwerking", "Sport"], tag_map={"wijkwerking": "participation"})
    assert mapped.concepts == [URIRef(theme + "participation")]
    assert mapped.unmapped_tags == ["Sport"]
    assert classify(title="Fortnite-Macher Epic Games soll 15 Milliarden Dollar wert sein").concepts == []


def test_canonical_urls_strip_tracking_and_noise() -> None:
    assert (
        canonical_url("http://www.Example.org/a/b/?utm_source=x&b=2&a=1#top")
        == "https://example.org/a/b?a=1&b=2"
    )
    assert canonical_url("/relative") is None


def test_copies_cluster_together_and_near_misses_stay_apart() -> None:
    clusterer = Clusterer(lambda key: key)
    original = ClusterInput(
        "a", title="Ghent opens its citizens' budget to every district", url="https://gent.be/news/1",
        summary="Residents decide on projects worth three million euro in their own neighbourhood.",
    )  # fmt: skip
    relay = ClusterInput("b", title="x", url="https://www.gent.be/news/1?utm_source=network-b")
    copy = ClusterInput(
        "c", title="Ghent opens its citizens' budget to every district | Network C", url="https://c.example/9",
        summary="Residents decide on projects worth three million euro.",
    )  # fmt: skip
    miss = ClusterInput(
        "d", title="Leuven closes its climate budget to every district", url="https://leuven.be/2",
        summary="The council decides on projects worth eight million euro in the city centre.",
    )  # fmt: skip
    ids = [clusterer.assign(x)[0] for x in (original, relay, copy, miss)]
    assert ids[0] == ids[1] == ids[2]
    assert ids[3] != ids[0]
    event_nl = ClusterInput(
        "e1",
        title="Burgerbudget: infoavond",
        start="2026-03-01T18:00:00+00:00",
        latitude=51.05,
        longitude=3.72,
    )
    event_fr = ClusterInput(
        "e2",
        title="Budget citoyen : soirée d'info",
        start="2026-03-01T18:00:00+00:00",
        latitude=51.0501,
        longitude=3.7202,
    )
    assert (
        clusterer.assign(event_nl)[0] == clusterer.assign(event_fr)[0]
    )  # across languages, by time and place


def test_store_keeps_every_copy_records_clusters_and_unmapped_tags(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        items = []
        for source_id, url in (
            ("lab-a", "https://lab.example.org/cases/burgerbudget"),
            ("lab-b", "https://lab.example.org/cases/burgerbudget?utm_source=b"),
        ):
            item = case_item(source_id=source_id)
            items.append(
                (
                    SourceSpec(id=source_id, network=source_id, title="t", url="http://x", kind="case"),
                    item.model_copy(update={"url": url}),
                )
            )
        from pipeline.contracts import NetworkSpec, Registry

        store.sync_registry(
            Registry(
                networks=[NetworkSpec(id=s.id, name=s.id) for s, _ in items], sources=[s for s, _ in items]
            )
        )
        clusters = []
        for source, item in items:
            mapped, _ = map_items(
                [item], source, base=BASE, fetched_at=datetime.now(UTC), raw_sha256=None, mapping_version="1"
            )
            report = SourceReport(source_id=source.id)
            store_and_publish(store, mapped, report, None, BASE)
            assert report.counts["new"] == 1
            graph = Graph().parse(data=store.record(str(mapped[0].iri)).graph, format="nt")
            clusters.append(graph.value(mapped[0].iri, INNONET.cluster))
        assert clusters[0] is not None
        assert clusters[0] == clusters[1]  # two networks, one story, both copies kept
        assert store.count_records() == 2
        tags = [row.tag for row in cluster_store.unmapped_tags(store.engine, "lab-a")]
        assert "facet:participatory" in tags
        assert "Wijkwerking" in tags  # no tag map for lab-a: the partner sees it to map
        # Re-harvest: unchanged content stays unchanged although provenance (fetch time) differs.
        source, item = items[0]
        mapped, _ = map_items(
            [item], source, base=BASE, fetched_at=datetime.now(UTC), raw_sha256=None, mapping_version="1"
        )
        report = SourceReport(source_id=source.id)
        store_and_publish(store, mapped, report, None, BASE)
        assert report.counts["unchanged"] == 1
    finally:
        store.close()


def test_raw_item_kinds_all_have_a_mapper() -> None:
    from typing import get_args

    from pipeline.contracts import ItemKind
    from pipeline.map import MAPPERS

    assert set(get_args(ItemKind)) == set(MAPPERS)
    assert RawItem(source_id="s", native_id="x").kind == "news"
