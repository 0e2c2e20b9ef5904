"""The newest member's time read through the driver (``store.members._newest_on``, what a batch's
timestamp starts from) is the one SQLAlchemy reads, on SQLite (datetimes kept as text) and PostgreSQL;
the sequence numbers a batch's members took (``_appended_seqs``) are the ones stored."""

from __future__ import annotations

from datetime import UTC, datetime

from rdflib import Literal, URIRef

from ontology.namespaces import SCHEMA
from ontology.triples import ItemGraph
from store.members import _NEWEST, MemberLog, Publication, _newest_on
from store.repository import Store, aware

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def _entry(n: int) -> Publication:
    item = URIRef(f"http://innonet.test/id/news/s/{n}")
    triples = [(item, SCHEMA.headline, Literal(f"title {n}"))]
    return Publication(str(item), "news", "s", triples, f"h{n}", lines=ItemGraph(triples).nt_lines())


def test_newest_member_time_through_the_driver(store_url: str) -> None:
    store = Store(store_url)
    log = MemberLog(store, "http://innonet.test")
    with store.engine.begin() as conn:
        assert _newest_on(conn) == (None, 0)  # an empty stream
        log.publish_many_on(conn, [_entry(1)], NOW)
        assert _newest_on(conn) == (conn.scalar(_NEWEST), 1)
        assert aware(_newest_on(conn)[0]) == NOW
    later = datetime(2026, 3, 4, 5, 6, 9, tzinfo=UTC)
    with store.engine.begin() as conn:
        log.publish_many_on(conn, [_entry(2)], later)
        assert aware(_newest_on(conn)[0]) == later
        # a clock behind the stream: the next batch is stamped with the newest member's time
        assert log._next_timestamp(conn, NOW) == later  # noqa: SLF001
    store.close()


def test_a_batchs_members_are_filed_under_their_own_sequence_numbers(store_url: str) -> None:
    store = Store(store_url)
    log = MemberLog(store, "http://innonet.test")
    for first, now in ((1, NOW), (4, datetime(2026, 3, 4, 5, 7, 0, tzinfo=UTC))):
        with store.engine.begin() as conn:
            versions = log.publish_many_on(conn, [_entry(n) for n in range(first, first + 3)], now)
    with store.engine.connect() as conn:
        members = dict(conn.exec_driver_sql("SELECT version_iri, seq FROM ldes_members").fetchall())
        heads = dict(conn.exec_driver_sql("SELECT item_iri, seq FROM ldes_heads").fetchall())
        facets = conn.exec_driver_sql(
            "SELECT seq, value FROM ldes_member_facets WHERE facet = 'type'"
        ).fetchall()
    assert sorted(members.values()) == list(range(1, 7))
    for n, version in zip(range(4, 7), versions, strict=True):
        assert heads[f"http://innonet.test/id/news/s/{n}"] == members[version]  # type: ignore[index]
    assert sorted(seq for seq, _ in facets) == list(range(1, 7))
    store.close()
