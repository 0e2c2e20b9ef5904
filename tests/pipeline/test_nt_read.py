"""Stored records read for indexing without rdflib's parser give the same search documents.

Every corpus item (feeds, samples, events, pages, organiser, case) is stored as the store
writes it (pipeline.store.record_nt) and projected twice: from rdflib's parse (the reference)
and from pipeline.nt_read. Records with escapes or unusual lines must take rdflib's path.
"""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph

from pipeline.index import _documents
from pipeline.nt_read import read_record
from pipeline.store import record_nt
from search.project import document_from_graph
from tests.ontology.test_fast_validation import all_corpus_batches
from tests.search.store_fill import item_graph


def _both_ways(iri: str, nt: str) -> tuple[object, object]:
    fast = read_record(nt)
    assert fast is not None, nt[:300]
    names, countries = {"publiq": "Publiq"}, {"publiq": "BEL"}
    reference = document_from_graph(iri, Graph().parse(data=nt, format="nt"), names, countries)
    return document_from_graph(iri, fast, names, countries), reference  # type: ignore[arg-type]


def test_every_corpus_item_projects_the_same_document(corpus: Path) -> None:
    items = [m for batch in all_corpus_batches(corpus) for m in batch]
    fast_path = 0
    for item in items:
        nt = record_nt(item)
        if read_record(nt) is None:
            continue
        fast_path += 1
        ours, reference = _both_ways(str(item.iri), nt)
        assert ours == reference, item.iri
    assert len(items) > 300
    assert fast_path == len(items)  # the store's records are all in the plain shapes


def test_lines_outside_the_plain_shapes_go_to_rdflib() -> None:
    s = "<http://x.test/i/1>"
    plain = f'{s} <http://schema.org/headline> "Titel" .\n'
    assert read_record(plain) is not None
    for odd in (
        '<http://x.test/i/\\u00e9> <http://schema.org/headline> "Titel" .\n',  # escape in an IRI
        f'{s}  <http://schema.org/headline> "Titel" .\n',  # two spaces
        f"# comment\n{plain}",
        f'{s} <http://schema.org/headline> "Titel" . # trailing comment\n',
        f"{s} <http://schema.org/headline> plain .\n",
    ):
        assert read_record(odd) is None, odd


def test_blank_nodes_languages_datatypes_and_duplicates_read_as_rdflib_does() -> None:
    s = "<http://x.test/id/event/1>"
    nt = (
        f'{s} <http://schema.org/name> "Fête"@fr .\n'
        f'{s} <http://schema.org/name> "Feest"@nl-BE .\n'
        f'{s} <http://schema.org/startDate> "2026-03-01T10:00:00Z"^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n'
        f"{s} <http://schema.org/location> _:loc .\n"
        f'_:loc <http://schema.org/name> "Zaal" .\n'
        f"_:loc <http://schema.org/geo> _:geo .\n"
        f'_:geo <http://schema.org/latitude> "51.05"^^<http://www.w3.org/2001/XMLSchema#double> .\n'
        f'_:geo <http://schema.org/longitude> "3.72"^^<http://www.w3.org/2001/XMLSchema#double> .\n'
        f"{s} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/Event> .\n"
        f"{s} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/Event> .\n"
        f'{s} <http://schema.org/description> "Lijn 1\\nLijn 2 \\"quote\\" \\u00e9t\\u00e9 \\\\ \\U0001F600\\t" .\n'
    )
    ours, reference = _both_ways("http://x.test/id/event/1", nt)
    assert ours == reference
    assert reference.location is not None  # type: ignore[attr-defined]
    assert reference.location.lat == 51.05  # type: ignore[attr-defined]


def test_the_index_stage_projects_store_records_the_same_way() -> None:
    class Row:
        def __init__(self, i: int) -> None:
            self.graph = item_graph(i)
            self.iri = f"http://innonet.test/id/news/src-{i % 5}/{i:06d}"

    rows = [Row(i) for i in range(50)]
    names, countries = {"net-0": "Network 0"}, {"net-0": "BEL"}
    expected = [
        document_from_graph(r.iri, Graph().parse(data=r.graph, format="nt"), names, countries) for r in rows
    ]
    assert _documents(rows, names, countries) == expected  # type: ignore[arg-type]
