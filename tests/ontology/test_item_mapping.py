"""Event, case and organisation mapping on real corpus inputs: golden graphs by isomorphism, then SHACL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef

from ontology.mapping.case import map_case
from ontology.mapping.event import map_event
from ontology.mapping.organisation import map_organisation
from ontology.namespaces import INNONET, PROV, RDF, SCHEMA
from pipeline.contracts import RawItem, SourceSpec
from pipeline.map import map_items
from pipeline.validate import validate_items
from tests.ontology.corpus_items import schemaorg_events, uitdatabank_event, uitdatabank_organizer
from tests.ontology.helpers import BASE, GOLDEN, assert_isomorphic, case_item

UIT = SourceSpec(
    id="uit", network="publiq", title="UiT", url="http://x", platform="uitdatabank", kind="event"
)
PAGES = SourceSpec(id="pages", network="songkick", title="p", url="http://x", platform="jsonld", kind="event")
LAB = SourceSpec(
    id="lab",
    network="gent-lab",
    title="lab",
    url="http://x",
    kind="case",
    tag_map={"Wijkwerking": "participation"},
)


def _map(items: list[RawItem], source: SourceSpec):
    return map_items(
        items, source, base=BASE, fetched_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), raw_sha256="ab" * 32,
        mapping_version="2",
    )  # fmt: skip


def test_uitdatabank_event_matches_golden(corpus: Path) -> None:
    item = uitdatabank_event(
        corpus / "events_jsonld" / "uitdatabank_event_original-with-unavailable-status.json"
    )
    got = map_event(item, UIT, BASE).graph
    assert_isomorphic(got, Graph().parse(GOLDEN / "uitdatabank_event_unavailable.ttl"))


def test_schemaorg_jsonld_event_matches_golden(corpus: Path) -> None:
    [item] = schemaorg_events(corpus / "html_structured" / "songkick_elysianfields_owl_2015-10-31.html")
    got = map_event(item, PAGES, BASE).graph
    assert_isomorphic(got, Graph().parse(GOLDEN / "songkick_event.ttl"))
    start = next(got.objects(None, SCHEMA.startDate))
    # 19:30 at -04:00 is 23:30 UTC; the source's own text is kept next to it.
    assert start.toPython() == datetime(2015, 10, 31, 23, 30, tzinfo=UTC)
    assert Literal("startDate=2015-10-31T19:30:00-0400") in set(got.objects(predicate=INNONET.originalDate))


def test_uitdatabank_organizer_matches_golden(corpus: Path) -> None:
    item = uitdatabank_organizer(
        corpus / "events_jsonld" / "uitdatabank_organizer_original_with_translated_address.json"
    )
    got = map_organisation(item, UIT, BASE).graph
    assert_isomorphic(got, Graph().parse(GOLDEN / "uitdatabank_organizer.ttl"))


def test_case_matches_golden_and_reports_unresolved_values() -> None:
    result = map_case(case_item(), LAB, BASE)
    assert_isomorphic(result.graph, Graph().parse(GOLDEN / "case_gent_burgerbudget.ttl"))
    assert result.unmapped == ["facet:participatory"]


def test_contact_point_only_with_opt_in() -> None:
    item = case_item()
    item.extra["case"]["contact"]["consent"] = False
    g = map_case(item, LAB, BASE).graph
    assert g.value(predicate=SCHEMA.contactPoint) is None
    assert not list(g.subjects(RDF.type, SCHEMA.ContactPoint))


def test_every_corpus_event_conforms_or_is_quarantined_with_a_reason(corpus: Path) -> None:
    uit_items = [
        uitdatabank_event(p) for p in sorted((corpus / "events_jsonld").glob("uitdatabank_event_*.json"))
    ]
    page_items = [i for p in sorted((corpus / "html_structured").glob("*.html")) for i in schemaorg_events(p)]
    assert len(uit_items) == 5
    assert len(page_items) >= 5
    seen = 0
    # The UiTdatabank fixtures share one @id, so each is mapped in its own batch (a feed repeating
    # an id keeps the first occurrence).
    for items, source in [([i], UIT) for i in uit_items] + [(page_items, PAGES)]:
        mapped, errors = _map(items, source)
        assert not errors
        valid, invalid, _ = validate_items(mapped, source.id)
        assert len(valid) + len(invalid) == len(mapped)
        seen += len(mapped)
        for error in invalid:
            assert error.stage == "validate"
            assert error.item
            assert len(error.message) > 20
    assert seen == len(uit_items) + len(page_items)


def test_local_times_without_zone_are_quarantined_then_accepted_with_the_source_zone(corpus: Path) -> None:
    [item] = schemaorg_events(corpus / "html_structured" / "schemaorg_Event.003.html")
    assert item.start is not None
    assert item.start.tzinfo is None
    mapped, _ = _map([item], PAGES)
    valid, invalid, _ = validate_items(mapped, "pages")
    assert not valid
    assert "set the source option 'timezone'" in invalid[0].message
    denver = PAGES.model_copy(update={"options": {"timezone": "America/Denver"}})
    mapped, _ = _map([item], denver)
    valid, invalid, _ = validate_items(mapped, "pages")
    assert [v.native_id for v in valid] == [item.native_id], invalid
    start = mapped[0].content.value(mapped[0].iri, SCHEMA.startDate).toPython()
    assert start == datetime(2013, 9, 15, 3, 30, tzinfo=UTC)


def test_uitdatabank_event_without_start_is_quarantined_readably(corpus: Path) -> None:
    item = uitdatabank_event(
        corpus / "events_jsonld" / "uitdatabank_event_original-with-optional-fields.json"
    )
    mapped, _ = _map([item], UIT)
    valid, invalid, _ = validate_items(mapped, "uit")
    assert not valid
    assert "an event needs one start date" in invalid[0].message


def test_case_and_organisation_conform() -> None:
    mapped, errors = _map([case_item()], LAB)
    valid, invalid, warnings = validate_items(mapped, "lab")
    assert not errors
    assert not invalid, invalid
    assert len(valid) == 1
    assert not warnings


def test_provenance_chain_is_ordered_and_outside_the_content() -> None:
    item = case_item()
    item.extra["network_chain"] = ["https://other-instance.example/id/network/oecd-opsi"]
    [mapped], _ = _map([item], LAB)
    prov = mapped.provenance
    head = prov.value(mapped.iri, INNONET.networkChain)
    chain = list(prov.items(head))
    assert chain == [
        URIRef("https://other-instance.example/id/network/oecd-opsi"),
        URIRef("http://innonet.test/id/network/gent-lab"),
    ]
    run = prov.value(mapped.iri, PROV.wasGeneratedBy)
    assert run == URIRef("http://innonet.test/id/harvest/lab/20260102T030405Z")
    assert prov.value(run, PROV.used) == URIRef("http://innonet.test/id/source/lab")
    assert prov.value(mapped.iri, PROV.wasDerivedFrom) == URIRef("urn:sha256:" + "ab" * 32)
    assert prov.value(mapped.iri, INNONET.mappingVersion) == Literal("2")
    assert not set(mapped.content.triples((None, INNONET.networkChain, None)))
    assert mapped.content.value(mapped.iri, PROV.generatedAtTime) is None


def test_unknown_kind_is_a_record_error_not_a_crash() -> None:
    bad = RawItem(source_id="lab", native_id="x", kind="news", title="t")
    object.__setattr__(bad, "kind", "podcast")
    mapped, errors = _map([bad], LAB)
    assert not mapped
    assert errors[0].stage == "map"
    assert "podcast" in errors[0].message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("De stad Gent lanceert een burgerbudget voor alle wijken", "nl"),
        ("La ville de Gand lance un budget participatif pour tous les quartiers", "fr"),
        ("Die Stadt Stuttgart startet ein Reallabor für die Verwaltung", "de"),
        ("The city of Ghent launches a participatory budget for every district", "en"),
    ],
)
def test_untagged_text_gets_its_language_detected(text: str, expected: str) -> None:
    source = SourceSpec(id="s", network="n", title="t", url="http://x")
    result = map_case(RawItem(source_id="s", native_id="1", kind="case", title=text), source, BASE)
    assert result.graph.value(result.iri, SCHEMA.inLanguage) == Literal(expected)
    assert result.graph.value(result.iri, SCHEMA.name).language == expected


def test_html_in_titles_and_bodies_is_sanitised() -> None:
    source = SourceSpec(id="s", network="n", title="t", url="http://x", language="en")
    item = RawItem(
        source_id="s", native_id="1", kind="news", title="<b>Hello</b> <script>alert(1)</script>world",
        body_html='<p onclick="x()">Body<script>alert(1)</script></p>',
    )  # fmt: skip
    [mapped], _ = _map([item], source)
    assert str(mapped.content.value(mapped.iri, SCHEMA.headline)) == "Hello world"
    body = str(mapped.content.value(mapped.iri, SCHEMA.articleBody))
    assert "script" not in body
    assert "onclick" not in body
    assert "Body" in body
