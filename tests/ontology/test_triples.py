"""The hot-path triple container writes exactly what rdflib writes (ontology/triples.py).

Every corpus item is mapped twice: as the pipeline does (ItemGraph) and with the mappers writing
into real rdflib Graphs (the reference). The content's N-Triples lines must be byte-identical to
rdflib's ``serialize(format="nt")`` (so stored content hashes stay valid), the content hash must be
the one rdflib's serialization gives, and content and provenance must be isomorphic.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import isomorphic

import ontology.mapping.case
import ontology.mapping.event
import ontology.mapping.news
import ontology.mapping.organisation
import ontology.mapping.provenance
from ontology.namespaces import SCHEMA
from ontology.triples import ItemGraph
from pipeline.map import MappedItem
from pipeline.store import content_hash, record_nt
from store.members import version_graph, version_nt
from tests.ontology.test_fast_validation import all_corpus_batches

MAPPER_MODULES = (
    ontology.mapping.news,
    ontology.mapping.event,
    ontology.mapping.case,
    ontology.mapping.organisation,
    ontology.mapping.provenance,
)


def _rdflib_hash(graph: Graph) -> str:
    lines = sorted(line for line in graph.serialize(format="nt").splitlines() if line.strip())
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


@lru_cache(maxsize=1)
def _both(corpus: Path) -> list[tuple[MappedItem, MappedItem]]:
    ours = [m for batch in all_corpus_batches(corpus) for m in batch]
    with pytest.MonkeyPatch.context() as mp:
        for module in MAPPER_MODULES:
            mp.setattr(module, "item_graph", Graph)
        reference = [m for batch in all_corpus_batches(corpus) for m in batch]
    return list(zip(ours, reference, strict=True))


@pytest.fixture
def both(corpus: Path) -> list[tuple[MappedItem, MappedItem]]:
    return _both(corpus)


def test_every_corpus_item_has_rdflibs_exact_ntriples_and_hash(both) -> None:
    kinds = set()
    for ours, ref in both:
        assert isinstance(ours.content, ItemGraph)
        assert type(ref.content) is Graph
        assert ours.iri == ref.iri
        kinds.add(ours.kind)
        # Byte-identical lines (order aside: rdflib's store order is arbitrary too).
        assert sorted(ours.content.serialize(format="nt").splitlines()) == sorted(
            ref.content.serialize(format="nt").splitlines()
        )
        assert content_hash(ours) == _rdflib_hash(ref.content)
        assert isomorphic(ours.content.graph(), ref.content)
        assert isomorphic(ours.provenance.graph(), ref.provenance)  # blank nodes: compared by isomorphism
        stored = Graph().parse(data=record_nt(ours), format="nt")
        assert isomorphic(stored, ref.content + ref.provenance)
    assert len(both) > 300
    assert kinds == {"news", "event", "case", "organisation"}


def test_version_ntriples_are_rdflibs(both) -> None:
    from datetime import UTC, datetime

    ts = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    for ours, _ in both[:200]:
        record = ours.content + ours.provenance
        version = URIRef(str(ours.iri) + "/versie/20260304T050607Z")
        expected = version_graph(record.graph(), ours.iri, version, ts)
        got = version_nt(record, ours.iri, version, ts)
        content_lines = [line for line in got.splitlines() if "_:" not in line]
        want_lines = [line for line in expected.serialize(format="nt").splitlines() if "_:" not in line]
        assert sorted(content_lines) == sorted(want_lines)
        assert isomorphic(Graph().parse(data=got, format="nt"), expected)


def test_graph_methods_behave_like_rdflib() -> None:
    s, o = URIRef("http://e/s"), URIRef("http://e/o")
    triples = [
        (s, SCHEMA.headline, Literal('a "quoted"\nline\u2028', lang="en")),
        (s, SCHEMA.url, o),
        (s, SCHEMA.keywords, Literal("k")),
        (s, SCHEMA.keywords, Literal("k")),  # a duplicate is one triple
        (BNode("b1"), SCHEMA.name, Literal(1)),
    ]
    ours, ref = ItemGraph(), Graph()
    for t in triples:
        ours.add(t)
        ref.add(t)
    assert len(ours) == len(ref) == 4
    assert set(ours) == set(ref)
    assert ours.serialize(format="nt").splitlines() != []
    assert sorted(ours.serialize(format="nt").splitlines()) == sorted(ref.serialize(format="nt").splitlines())
    assert set(ours.triples((s, SCHEMA.keywords, None))) == set(ref.triples((s, SCHEMA.keywords, None)))
    assert ours.value(s, SCHEMA.url) == ref.value(s, SCHEMA.url) == o
    assert set(ours.objects(s, None)) == set(ref.objects(s, None))
    assert (s, SCHEMA.url, None) in ours
    assert (s, SCHEMA.name, None) not in ours
    ours.remove((s, SCHEMA.keywords, None))
    ref.remove((s, SCHEMA.keywords, None))
    assert set(ours) == set(ref)
    union = Graph() + ours
    union += ours
    assert isomorphic(union, ref)
    assert isomorphic(
        (ours + ItemGraph([(o, SCHEMA.name, Literal("x"))])).graph(),
        ref + Graph().add((o, SCHEMA.name, Literal("x"))),
    )
    assert isomorphic(Graph().parse(data=ours.serialize(format="turtle"), format="turtle"), ref)
    with pytest.raises(AttributeError):
        ours.parse  # noqa: B018 - a change to a built copy would be lost
