"""News mapping: golden graphs compared by isomorphism, and SHACL outcomes as data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import graph_diff, isomorphic, to_isomorphic

from crawlers.platforms.feed import parse_feed
from ontology.mapping.news import map_news, provenance
from ontology.namespaces import DCTERMS, INNONET, PROV, SCHEMA
from ontology.uris import item_iri
from pipeline.contracts import RawItem, SourceSpec
from pipeline.map import map_items
from pipeline.validate import validate_items

GOLDEN = Path(__file__).parent / "golden"
SPIEGEL = SourceSpec(
    id="spiegel-update", network="spiegel", title="SPIEGEL Update", url="http://x", language="de"
)


def assert_isomorphic(got: Graph, want: Graph) -> None:
    if not isomorphic(got, want):
        _, only_got, only_want = graph_diff(to_isomorphic(got), to_isomorphic(want))
        pytest.fail(
            f"unexpected:\n{only_got.serialize(format='nt')}\nmissing:\n{only_want.serialize(format='nt')}"
        )


def test_spiegel_item_matches_golden_graph(corpus: Path) -> None:
    items = parse_feed((corpus / "rss_atom" / "spiegel_de_rss2.xml").read_bytes(), SPIEGEL).items
    assert len(items) == 1
    _, got = map_news(items[0], SPIEGEL, "http://innonet.test")
    want = Graph().parse(GOLDEN / "spiegel_update_news.ttl")
    assert_isomorphic(got, want)


def test_iris_are_deterministic_and_distinct() -> None:
    a = item_iri("http://innonet.test", "news", "src", "guid-1")
    assert a == item_iri("http://innonet.test/", "news", "src", "guid-1")
    assert a != item_iri("http://innonet.test", "news", "other", "guid-1")
    assert a != item_iri("http://innonet.test", "news", "src", "guid-2")


def test_our_namespace_rejects_typos() -> None:
    with pytest.raises(AttributeError):
        _ = INNONET.netwrok


def test_provenance_names_time_payload_and_mapping_version() -> None:
    subject = URIRef("http://innonet.test/id/news/s/1")
    g = provenance(subject, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "ab" * 32, "7")
    assert g.value(subject, PROV.wasDerivedFrom) == URIRef("urn:sha256:" + "ab" * 32)
    assert g.value(subject, INNONET.mappingVersion) == Literal("7")
    assert str(g.value(subject, PROV.generatedAtTime)).startswith("2026-01-02T03:04:05")


def _item(native_id: str, **fields: object) -> RawItem:
    return RawItem(source_id="s", native_id=native_id, **fields)  # type: ignore[arg-type]


def test_invalid_item_is_quarantined_and_the_others_kept() -> None:
    source = SourceSpec(id="s", network="n", title="t", url="http://x")
    good = _item("a", title="A good item", published=datetime(2024, 5, 1, tzinfo=UTC))
    undated = _item("b", title="No date")
    mapped, errors = map_items(
        [good, undated],
        source,
        base="http://innonet.test",
        fetched_at=datetime.now(UTC),
        raw_sha256=None,
        mapping_version="1",
    )
    assert not errors
    assert len(mapped) == 2
    # Break one item after mapping: two headlines violate the shape.
    mapped[0].content.add((mapped[0].iri, SCHEMA.headline, Literal("A second headline")))
    valid, invalid, warnings = validate_items(mapped, "s")
    assert [v.native_id for v in valid] == ["b"]
    assert len(invalid) == 1
    assert invalid[0].stage == "validate"
    assert invalid[0].item == "a"
    assert "headline" in invalid[0].message
    assert any(w.startswith("b:") and "publication date" in w for w in warnings)


def test_unparseable_date_is_kept_as_written_not_guessed() -> None:
    source = SourceSpec(id="s", network="n", title="t", url="http://x")
    subject, g = map_news(
        _item("x", title="T", published_raw="Mon, 32 Foo 2017"), source, "http://innonet.test"
    )
    assert g.value(subject, SCHEMA.datePublished) is None
    assert g.value(subject, DCTERMS.date) == Literal("Mon, 32 Foo 2017")


def test_relative_or_bad_links_are_not_turned_into_iris() -> None:
    source = SourceSpec(id="s", network="n", title="t", url="http://x")
    subject, g = map_news(
        _item("x", title="T", url="/relative/path with space"), source, "http://innonet.test"
    )
    assert g.value(subject, SCHEMA.url) is None
