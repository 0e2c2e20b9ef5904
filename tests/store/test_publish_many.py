"""MemberLog.publish_many keeps publish's rules in one transaction (store/members.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rdflib import Literal, URIRef
from sqlalchemy import select

from ontology.namespaces import SCHEMA
from ontology.triples import ItemGraph
from store.ldes_models import LdesMemberFacetRow
from store.members import MemberLog, Publication
from store.repository import Store

BASE = "http://innonet.test"
NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


def _facets(store: Store) -> list[LdesMemberFacetRow]:
    with store.session() as s:
        return list(
            s.scalars(select(LdesMemberFacetRow).order_by(LdesMemberFacetRow.seq, LdesMemberFacetRow.facet))
        )


def _entry(n: int, text: str) -> Publication:
    iri = f"{BASE}/id/news/s/{n}"
    graph = ItemGraph([(URIRef(iri), SCHEMA.headline, Literal(text, lang="en"))])
    return Publication(item_iri=iri, kind="news", source_id="s", graph=graph, content_hash=f"{n}-{text}")


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


def test_members_rendered_before_the_transaction_are_used_only_when_still_right(tmp_path: Path) -> None:
    """``prepare`` renders members before the transaction's first write; ``publish_many_on`` decides
    again with the heads it reads itself and renders anew whatever moved (another second, another
    writer's head): the stored bytes are those of a batch published without ``prepare``."""
    later = NOW.replace(second=NOW.second + 1)

    def publish(log: MemberLog, entries: list[Publication], ready_at: datetime | None, at: datetime) -> list:
        with log.store.engine.begin() as conn:
            ready = log.prepare(conn, entries, ready_at) if ready_at else None
            return log.publish_many_on(conn, entries, at, ready)

    stores = [Store(f"sqlite:///{tmp_path / f'{name}.sqlite3'}") for name in ("plain", "prepared")]
    logs = [MemberLog(store, BASE) for store in stores]
    for log, ready_at in zip(logs, (None, NOW), strict=True):
        assert publish(log, [_entry(i, "a") for i in range(3)], ready_at, NOW) == [
            f"{BASE}/id/news/s/{i}/versie/20260506T070809Z" for i in range(3)
        ]
    # Prepared at NOW, written a second later: every member moves to that second.
    batch = [_entry(0, "a"), _entry(1, "b"), _entry(3, "c")]
    assert publish(logs[0], batch, None, later) == publish(logs[1], batch, NOW, later)
    # Prepared while item 4 had no head; another writer publishes it before this transaction writes.
    entries = [_entry(4, "d"), _entry(5, "e")]
    with stores[1].engine.begin() as conn:
        ready = logs[1].prepare(conn, entries, later)
    assert len(ready.members) == 2
    logs[1].publish_many([_entry(4, "d")], now=later)
    logs[0].publish_many([_entry(4, "d")], now=later)
    with stores[1].engine.begin() as conn:
        done = logs[1].publish_many_on(conn, entries, later, ready)
    assert done == [None, f"{BASE}/id/news/s/5/versie/20260506T070810Z"]  # 4 is unchanged now
    assert logs[0].publish_many([_entry(5, "e")], now=later) == done[1:]
    dumps = [[(m.version_iri, m.generated_at, m.graph) for m in log.members()] for log in logs]
    assert dumps[0] == dumps[1]
    facets = [[(f.seq, f.facet, f.value) for f in _facets(store)] for store in stores]
    assert facets[0] == facets[1]
    for store in stores:
        store.close()
