"""MemberLog.publish_many keeps publish's rules in one transaction (store/members.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rdflib import Literal, URIRef

from ontology.namespaces import SCHEMA
from ontology.triples import ItemGraph
from store.members import MemberLog, Publication
from store.repository import Store

BASE = "http://innonet.test"
NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


def _entry(n: int, text: str) -> Publication:
    iri = f"{BASE}/id/news/s/{n}"
    graph = ItemGraph([(URIRef(iri), SCHEMA.headline, Literal(text, lang="en"))])
    return Publication(item_iri=iri, kind="news", source_id=None, graph=graph, content_hash=f"{n}-{text}")


def test_batch_adds_only_changes_one_version_per_item_per_second(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    log = MemberLog(store, BASE)
    first = log.publish_many([_entry(i, "a") for i in range(3)], now=NOW)
    assert first == [f"{BASE}/id/news/s/{i}/versie/20260506T070809Z" for i in range(3)]
    # Unchanged items add nothing; a changed one in the same second moves to the next second.
    again = log.publish_many([_entry(0, "a"), _entry(1, "b"), _entry(2, "a")], now=NOW)
    assert again == [None, f"{BASE}/id/news/s/1/versie/20260506T070810Z", None]
    members = log.members()
    assert [m.version_iri for m in members] == [*first, again[1]]
    stamps = [m.generated_at for m in members]
    assert stamps == sorted(stamps)  # never backwards in log order
    assert log.head(f"{BASE}/id/news/s/1").content_hash == "1-b"
    # The stored member is the version object, as publish() writes it.
    assert f'<{again[1]}> <http://schema.org/headline> "b"@en .' in members[-1].graph
    assert f"<{again[1]}> <http://purl.org/dc/terms/isVersionOf> <{BASE}/id/news/s/1> ." in members[-1].graph
    store.close()
