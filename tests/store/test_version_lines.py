"""A member's N-Triples made from rendered lines (the harvest's path, ``Publication.lines``) are the
bytes the triple-by-triple ``version_nt`` writes, in the cases where text edits could go wrong."""

from __future__ import annotations

from datetime import UTC, datetime

from rdflib import Literal, URIRef

from ontology.namespaces import DCTERMS, PROV, SCHEMA, XSD
from ontology.triples import ItemGraph
from store.members import _version_nt_lines, version_nt

ITEM = URIRef("http://innonet.test/id/news/s/1")
VERSION = URIRef("http://innonet.test/id/news/s/1/versie/20260506T070809Z")
TS = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


def _both(triples: list[tuple]) -> tuple[str, str]:
    """(from the lines, from the triples as a plain list: version_nt's line-by-line path)."""
    lines = ItemGraph(triples).nt_lines()
    return _version_nt_lines(lines, ITEM, VERSION, TS), version_nt(list(triples), ITEM, VERSION, TS)


def test_item_lines_move_to_the_version_and_harvest_times_go() -> None:
    other = URIRef("http://example.org/place")
    stamp = Literal("2026-01-01T00:00:00Z", datatype=XSD.dateTime)
    triples = [
        (ITEM, PROV.generatedAtTime, stamp),  # first line
        (ITEM, SCHEMA.headline, Literal(f"a title\nwith {ITEM.n3()} inside\u2028", lang="en")),
        (other, SCHEMA.name, Literal(f"{ITEM.n3()} as text")),
        (ITEM, SCHEMA.location, other),
        (other, SCHEMA.url, ITEM),
        (ITEM, PROV.generatedAtTime, Literal("2026-01-02T00:00:00Z", datatype=XSD.dateTime)),  # last line
    ]
    from_lines, from_triples = _both(triples)
    assert from_lines == from_triples
    assert 'generatedAtTime> "2026-01-0' not in from_lines
    assert from_lines.count(f"{VERSION.n3()} ") == 4  # headline, location, isVersionOf, its own time
    assert f"{other.n3()} <http://schema.org/url> {ITEM.n3()} .\n" in from_lines


def test_lines_that_moving_makes_equal_are_kept_once() -> None:
    # A record that already speaks about the version IRI: (item p o) becomes (version p o) twice.
    triples = [
        (VERSION, SCHEMA.headline, Literal("t")),
        (ITEM, SCHEMA.headline, Literal("t")),
        (ITEM, DCTERMS.isVersionOf, ITEM),
        (ITEM, SCHEMA.name, Literal("n")),
    ]
    from_lines, from_triples = _both(triples)
    assert from_lines == from_triples
    assert from_lines.count('<http://schema.org/headline> "t"') == 1
    assert from_lines.count("isVersionOf") == 1


def test_repeated_lines_in_the_input_are_written_once() -> None:
    triples = [(ITEM, SCHEMA.headline, Literal("t")), (ITEM, SCHEMA.name, Literal("n"))]
    lines = ItemGraph(triples).nt_lines()
    assert _version_nt_lines(lines + lines, ITEM, VERSION, TS) == version_nt(triples, ITEM, VERSION, TS)


def test_a_record_that_states_the_version_lines_already_writes_them_once() -> None:
    # (item isVersionOf item) becomes the version's own isVersionOf line: written once, where it was.
    triples = [
        (ITEM, SCHEMA.headline, Literal("t")),
        (ITEM, DCTERMS.isVersionOf, ITEM),
        (ITEM, SCHEMA.name, Literal("n")),
    ]
    from_lines, from_triples = _both(triples)
    assert from_lines == from_triples
    assert from_lines.count("isVersionOf") == 1
    assert from_lines.index("isVersionOf") < from_lines.index("schema.org/name")
