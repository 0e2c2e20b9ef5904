"""The cheap conformance proof (ontology/fast_validation.py) never disagrees with pySHACL.

pySHACL is the reference: on every mapped corpus item (all feeds of ../shared/corpus/rss_atom and
crawlers/samples/feeds, corpus events, the organiser, the case) and on broken variants of real
items, an item the cheap check proves must get exactly pySHACL's outcome (no violation, the same
warnings), and every variant pySHACL rejects must be left to pySHACL. validate_items, which uses
the proof, must give the same split as pySHACL on the whole batch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import pytest
from rdflib import BNode, Graph, Literal, URIRef

from crawlers.platforms.feed import parse_feed
from ontology import fast_validation
from ontology import namespaces as ns
from ontology.namespaces import DCTERMS, INNONET, PROV, RDF, RDFS, SCHEMA
from ontology.validation import validate_batch
from pipeline.contracts import RawItem, SourceSpec
from pipeline.map import MappedItem, map_items
from pipeline.validate import validate_items
from tests.ontology.corpus_items import schemaorg_events, uitdatabank_event, uitdatabank_organizer
from tests.ontology.helpers import BASE, case_item

SAMPLES = Path(__file__).resolve().parents[2] / "crawlers" / "samples" / "feeds"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _map(items: list[RawItem], source: SourceSpec) -> list[MappedItem]:
    mapped, _ = map_items(items, source, base=BASE, fetched_at=NOW, raw_sha256="ab" * 32, mapping_version="2")
    return mapped


def feed_items(directory: Path) -> list[list[MappedItem]]:
    """One mapped batch per feed file (files that are not feeds yield nothing)."""
    batches = []
    for path in sorted(directory.iterdir()):
        source = SourceSpec(
            id=path.stem[:40].lower().replace(".", "-"), network="n", title="t", url="http://x"
        )
        try:
            items = parse_feed(path.read_bytes(), source).items
        except Exception:  # noqa: BLE001 - not every corpus file is a readable feed
            continue
        if items:
            batches.append(_map(items, source))
    return batches


def all_corpus_batches(corpus: Path) -> list[list[MappedItem]]:
    uit = SourceSpec(id="uit", network="publiq", title="UiT", url="http://x", kind="event")
    pages = SourceSpec(id="pages", network="songkick", title="p", url="http://x", kind="event")
    lab = SourceSpec(id="lab", network="gent-lab", title="lab", url="http://x", kind="case")
    batches = feed_items(corpus / "rss_atom") + feed_items(SAMPLES)
    batches += [
        _map([uitdatabank_event(p)], uit)
        for p in sorted((corpus / "events_jsonld").glob("uitdatabank_event_*.json"))
    ]
    batches.append(
        _map(
            [i for p in sorted((corpus / "html_structured").glob("*.html")) for i in schemaorg_events(p)],
            pages,
        )
    )
    batches.append(
        _map(
            [
                uitdatabank_organizer(
                    corpus / "events_jsonld" / "uitdatabank_organizer_original_with_translated_address.json"
                )
            ],
            uit,
        )
    )
    batches.append(_map([case_item()], lab))
    return batches  # fmt: skip


def reference(items: list[MappedItem]) -> tuple[dict[URIRef, list[str]], dict[URIRef, list[str]]]:
    """pySHACL alone on the union of the batch (what validate_items did before the cheap check)."""
    union = Graph()
    for item in items:
        union += item.content
        union += item.provenance
    outcome = validate_batch(union)
    return outcome.violations, outcome.warnings


def test_the_check_is_bound_to_the_current_shapes() -> None:
    # If this fails, the shapes changed: update ontology/fast_validation.py for the new constraints,
    # then COVERED_SHAPES_FINGERPRINT. Until then nothing is proven and pySHACL checks every item.
    assert fast_validation.enabled(), fast_validation.shapes_fingerprint()


def test_every_proof_on_corpus_items_agrees_with_pyshacl(corpus: Path) -> None:
    proven = unproven = 0
    for batch in all_corpus_batches(corpus):
        violations, warnings = reference(batch)
        triples = [fast_validation.item_triples(m.content, m.provenance) for m in batch]
        for item, proof in zip(
            batch,
            fast_validation.batch_proofs([(m.iri, t) for m, t in zip(batch, triples, strict=True)]),
            strict=True,
        ):
            if proof is None:
                unproven += 1
                continue
            proven += 1
            assert item.iri not in violations, (item.native_id, violations[item.iri])
            assert sorted(proof) == sorted(warnings.get(item.iri, [])), item.native_id
    # Both paths are exercised: most news items are proven, events/cases/organisations are not.
    assert proven > 400
    assert unproven > 10


Mutation = Callable[[Graph, URIRef], None]


def _set(prop: URIRef, *values: object) -> Mutation:
    def apply(g: Graph, s: URIRef) -> None:
        g.remove((s, prop, None))
        for value in values:
            g.add((s, prop, value))  # type: ignore[arg-type]

    return apply


def _add(*triples: tuple[object, object, object]) -> Mutation:
    def apply(g: Graph, s: URIRef) -> None:
        for a, p, o in triples:
            g.add((s if a is None else a, p, o))  # type: ignore[arg-type]

    return apply


DT = ns.XSD.dateTime


def _place(g: Graph, s: URIRef) -> None:
    place, geo = URIRef(s + "#place"), URIRef(s + "#geo")
    g.add((s, SCHEMA.location, place))
    g.add((place, RDF.type, SCHEMA.Place))
    g.add((place, SCHEMA.geo, geo))
    g.add((geo, SCHEMA.latitude, Literal("91", datatype=ns.XSD.decimal)))


#: Variants of a valid, dated news item that the shapes reject (each one a violation).
BAD: dict[str, Mutation] = {
    "two headlines": _add((None, SCHEMA.headline, Literal("another", lang="en"))),
    "no headline": _set(SCHEMA.headline),
    "empty headline": _set(SCHEMA.headline, Literal("")),
    "headline too long": _set(SCHEMA.headline, Literal("x" * 2001, lang="en")),
    "headline an IRI": _set(SCHEMA.headline, URIRef("http://example.org/h")),
    "headline a number": _set(SCHEMA.headline, Literal(5)),
    "headline a date": _set(SCHEMA.headline, Literal("2024-01-01", datatype=ns.XSD.date)),
    "two links": _add((None, SCHEMA.url, URIRef("http://example.org/a")), (None, SCHEMA.url, URIRef("http://example.org/b"))),
    "link a literal": _set(SCHEMA.url, Literal("http://example.org/a")),
    "date a string": _set(SCHEMA.datePublished, Literal("2024-01-01T00:00:00Z")),
    "date ill-typed": _set(SCHEMA.datePublished, Literal("yesterday", datatype=DT)),
    "date only a day": _set(SCHEMA.datePublished, Literal("2024-01-01", datatype=ns.XSD.date)),
    "two dates": _set(SCHEMA.datePublished, Literal("2024-01-01T00:00:00Z", datatype=DT), Literal("2024-01-02T00:00:00Z", datatype=DT)),
    "no source": _set(DCTERMS.source),
    "two sources": _add((None, DCTERMS.source, URIRef("http://example.org/s2"))),
    "source a literal": _set(DCTERMS.source, Literal("s")),
    "no network": _set(INNONET.network),
    "network a literal": _add((None, INNONET.network, Literal("n"))),
    "no harvest time": _set(PROV.generatedAtTime),
    "harvest time without zone": _set(PROV.generatedAtTime, Literal("2026-01-02T03:04:05", datatype=DT)),
    "two harvest times": _add((None, PROV.generatedAtTime, Literal("2026-01-03T03:04:05Z", datatype=DT))),
    "two runs": _add((None, PROV.wasGeneratedBy, URIRef("http://example.org/run2"))),
    "run a literal": _set(PROV.wasGeneratedBy, Literal("run")),
    "two network chains": _add((None, INNONET.networkChain, BNode())),
    "theme not ours": _add((None, DCTERMS.subject, URIRef("http://example.org/theme/x"))),
    "theme a literal": _add((None, DCTERMS.subject, Literal("https://w3id.org/innonet/concepts/theme/x"))),
    "facet not ours": _add((None, INNONET.innovationFacet, URIRef("https://w3id.org/innonet/concepts/theme/x"))),
    "two stages": _add((None, INNONET.lifecycleStage, URIRef("https://w3id.org/innonet/concepts/stage/a")), (None, INNONET.lifecycleStage, URIRef("https://w3id.org/innonet/concepts/stage/b"))),
    "level not ours": _add((None, INNONET.governmentLevel, Literal("city"))),
    "barrier not ours": _add((None, INNONET.barrier, URIRef("http://example.org/b"))),
    "also an event without dates": _add((None, RDF.type, SCHEMA.Event)),
    "a place with a bad latitude": _place,
    "an organisation without name": lambda g, s: g.add((URIRef(s + "#partner-1"), RDF.type, URIRef("http://www.w3.org/ns/org#Organization"))),
    "a subclass makes it an event": _add((SCHEMA.NewsArticle, RDFS.subClassOf, SCHEMA.Event)),
}  # fmt: skip


@lru_cache(maxsize=1)
def _dated_news(corpus: Path) -> list[MappedItem]:
    batches = feed_items(corpus / "rss_atom")
    dated = [m for b in batches for m in b if (m.iri, SCHEMA.datePublished, None) in m.content]
    # A few different feeds (languages, with and without links and themes).
    return [dated[0], dated[len(dated) // 2], dated[-1]]


@pytest.mark.parametrize("name", sorted(BAD))
def test_every_variant_pyshacl_rejects_is_left_to_pyshacl(corpus: Path, name: str) -> None:
    for original in _dated_news(corpus):
        # Content and provenance in one graph, so a mutation can reach either (pySHACL sees the union).
        item = MappedItem(original.iri, original.native_id, original.kind, Graph(), Graph())
        item.content += original.content
        item.content += original.provenance
        assert fast_validation.proves_conformance(
            item.iri, fast_validation.item_triples(item.content, item.provenance)
        )
        BAD[name](item.content, item.iri)
        violations, _ = reference([item])
        assert violations, f"fixture {name!r} should violate a shape"
        triples = fast_validation.item_triples(item.content, item.provenance)
        assert fast_validation.proven_warnings(item.iri, triples) is None, name
        valid, errors, _ = validate_items([item], "s")
        assert not valid
        assert [e.message for e in errors] == ["; ".join(violations[item.iri])]


def test_validate_items_matches_pyshacl_on_mixed_batches_and_shared_nodes(corpus: Path) -> None:
    news = [m for b in feed_items(corpus / "rss_atom") for m in b][:120]
    # One item breaks another: a statement about item 0 made in item 1's graph (shared node).
    news[1].content.add((news[0].iri, SCHEMA.headline, Literal("injected")))
    # One item is broken in its own graph, one has only a warning (no date).
    news[2].content.add((news[2].iri, SCHEMA.url, Literal("not an IRI")))
    news[3].content.remove((news[3].iri, SCHEMA.datePublished, None))
    batch_proofs = fast_validation.batch_proofs(
        [(m.iri, fast_validation.item_triples(m.content, m.provenance)) for m in news]
    )
    # Item 1 itself conforms (a triple about another item does not change its own result); item 0
    # is named by item 1, so it is left to pySHACL, which sees item 1's triple about it.
    assert batch_proofs[0] is None
    assert batch_proofs[2] is None
    assert batch_proofs[3] == [fast_validation.NO_DATE_WARNING]
    violations, warnings = reference(news)
    assert news[0].iri in violations
    assert news[2].iri in violations
    valid, errors, got_warnings = validate_items(news, "s")
    assert {v.iri for v in valid} == {m.iri for m in news} - set(violations)
    assert {(e.item, frozenset(e.message.split("; "))) for e in errors} == {
        (m.native_id, frozenset(violations[m.iri])) for m in news if m.iri in violations
    }
    assert sorted(got_warnings) == sorted(
        f"{m.native_id}: {'; '.join(warnings[m.iri])}" for m in news if m.iri in warnings
    )


def _reference_provenance(
    subject: URIRef,
    fetched_at: datetime,
    raw_sha256: str | None,
    mapping_version: str,
    *,
    base: str | None = None,
    source_id: str | None = None,
    network_id: str | None = None,
    upstream_networks: list[str] | None = None,
    primary_source: str | None = None,
) -> Graph:
    """ontology/mapping/provenance.py as it was before its terms were made once per run (rdflib Collection)."""
    from rdflib.collection import Collection

    from ontology.mapping.common import dt_literal, iri
    from ontology.uris import harvest_iri, network_iri, payload_iri, source_iri

    g = Graph()
    when = fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC)
    g.add((subject, PROV.generatedAtTime, dt_literal(when)))
    if raw_sha256:
        g.add((subject, PROV.wasDerivedFrom, payload_iri(raw_sha256)))
    g.add((subject, INNONET.mappingVersion, Literal(mapping_version)))
    if base and source_id:
        run = harvest_iri(base, source_id, when)
        g.add((subject, PROV.wasGeneratedBy, run))
        g.add((run, RDF.type, PROV.Activity))
        g.add((run, PROV.startedAtTime, dt_literal(when)))
        g.add((run, PROV.used, source_iri(base, source_id)))
        if raw_sha256:
            g.add((run, PROV.generated, payload_iri(raw_sha256)))
    chain = [u for u in (iri(n) for n in upstream_networks or []) if u is not None]
    if base and network_id:
        chain.append(network_iri(base, network_id))
    if chain:
        head = BNode()
        Collection(g, head, list(chain))
        g.add((subject, INNONET.networkChain, head))
        for network in chain:
            g.add((subject, PROV.wasAttributedTo, network))
    primary = iri(primary_source)
    if primary is not None:
        g.add((subject, PROV.hadPrimarySource, primary))
    return g


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"base": BASE, "source_id": "s"},
        {"base": BASE, "source_id": "s", "network_id": "n", "primary_source": "https://example.org/a?b=1"},
        {"base": BASE, "source_id": "s", "network_id": "n", "upstream_networks": ["https://a.example/net", "not an iri", "https://b.example/net"]},
        {"upstream_networks": ["https://a.example/net"], "primary_source": "/relative"},
    ],
)  # fmt: skip
@pytest.mark.parametrize("sha", [None, "ab" * 32])
def test_provenance_is_isomorphic_to_the_reference(kwargs: dict, sha: str | None) -> None:
    from rdflib.compare import isomorphic

    from ontology.mapping.provenance import provenance

    subject = URIRef(BASE + "/id/news/s/1")
    for when in (NOW, datetime(2026, 1, 2, 4, 4, 5), NOW):  # naive, and the cached run terms again
        got = provenance(subject, when, sha, "3", **kwargs)
        want = _reference_provenance(subject, when, sha, "3", **kwargs)
        assert isomorphic(got, want), got.serialize(format="nt")


def test_one_regex_tag_match_equals_the_loop_over_concepts(corpus: Path) -> None:
    from ontology.concepts import fold
    from ontology.themes import _matchers, match_tag, schemes

    tags = {
        t
        for b in feed_items(corpus / "rss_atom") + feed_items(SAMPLES)
        for m in b
        if m.raw
        for t in m.raw.tags
    }
    for kinds in schemes()["theme"].labels.values():
        for values in kinds.values():
            for label, _ in values:
                tags |= {
                    label,
                    label + "s",
                    label.upper(),
                    "x " + label,
                    label + "-x",
                    label.replace(" ", "-"),
                }
    matched = 0
    for tag in tags:
        want = next((c for c, rx in _matchers().items() if rx.fullmatch(fold(tag))), None)
        assert match_tag(tag) == want, tag
        matched += want is not None
    assert matched > 100
    assert len(tags) - matched > 100


def test_fold_removes_exactly_the_combining_marks() -> None:
    import sys
    import unicodedata

    from ontology.concepts import _COMBINING, fold, strip_combining

    every = "".join(chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i <= 0xDFFF)
    want = "".join(ch for ch in every if not unicodedata.combining(ch))
    assert _COMBINING.sub("", every) == want
    assert strip_combining(every) == want  # astral characters present: the full class
    bmp = every[: every.index("\U00010000")]
    assert strip_combining(bmp) == "".join(ch for ch in bmp if not unicodedata.combining(ch))  # bitmap class
    assert fold("  Économie  SOCIALE’s\u0301 Straße ") == "economie sociale's strasse"


def _proofs_by_definition(batch: list[tuple[URIRef, list]]) -> list[list[str] | None]:
    """batch_proofs as its docstring defines it: every node of every item, counted per item."""
    nodes_of = [{s for s, _, _ in t} | {o for _, _, o in t if isinstance(o, URIRef)} for _, t in batch]
    out: list[list[str] | None] = []
    for (item, triples), nodes in zip(batch, nodes_of, strict=True):
        shared = any(
            fast_validation.owned(item, n) and sum(n in other for other in nodes_of) > 1 for n in nodes
        )
        out.append(None if shared else fast_validation.proven_warnings(item, triples))
    return out


def test_batch_proofs_find_shared_nodes_as_defined(corpus: Path) -> None:
    news = [m for b in feed_items(corpus / "rss_atom") for m in b][:40]
    base = [(m.iri, fast_validation.item_triples(m.content, m.provenance)) for m in news]

    def renamed(index: int, iri: URIRef) -> tuple[URIRef, list]:
        old, triples = base[index]
        return iri, [(iri if s == old else s, p, iri if o == old else o) for s, p, o in triples]

    a, b = base[0][0], base[1][0]
    cases = [
        base,
        [*base[:5], base[2]],  # the same item twice
        [base[0], (b, [*base[1][1], (b, SCHEMA.about, a)])],  # an item named by another
        [base[0], (b, [*base[1][1], (b, SCHEMA.about, URIRef(f"{a}#place"))])],  # a fragment named
        [(a, [*base[0][1], (URIRef(f"{a}#place"), SCHEMA.name, Literal("x"))]), base[1]],  # own fragment
        [  # an own fragment another item names
            (a, [*base[0][1], (URIRef(f"{a}#place"), SCHEMA.name, Literal("x"))]),
            (b, [*base[1][1], (b, SCHEMA.about, URIRef(f"{a}#place"))]),
        ],
        [base[0], renamed(1, URIRef(f"{a}#sub"))],  # an item whose IRI is another's fragment
        [base[0], renamed(1, URIRef(f"{a}#a#b")), (b, [*base[1][1], (b, SCHEMA.about, URIRef(f"{a}#a#b"))])],
        [base[0], (b, [*base[1][1], (b, SCHEMA.about, URIRef(f"{a}x"))])],  # a longer IRI, not owned
        [base[0], (b, [*base[1][1], (b, SCHEMA.about, Literal(str(a)))])],  # a literal, not a node
        [base[0], (b, [*base[1][1], (BNode("x"), SCHEMA.about, a)])],  # named by a blank node's triple
    ]
    not_proven = 0
    for batch in cases:
        want = _proofs_by_definition(batch)
        assert fast_validation.batch_proofs(batch) == want
        not_proven += sum(p is None for p in want)
    assert not_proven >= 6  # the cases do reach the shared-node rule
