"""The newest member's time read through the driver (``store.members._newest_on``, what a batch's
timestamp starts from) is the one SQLAlchemy reads, on SQLite (datetimes kept as text) and PostgreSQL."""

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
        assert _newest_on(conn) is None  # an empty stream
        log.publish_many_on(conn, [_entry(1)], NOW)
        assert _newest_on(conn) == conn.scalar(_NEWEST)
        assert aware(_newest_on(conn)) == NOW
    later = datetime(2026, 3, 4, 5, 6, 9, tzinfo=UTC)
    with store.engine.begin() as conn:
        log.publish_many_on(conn, [_entry(2)], later)
        assert aware(_newest_on(conn)) == later
        # a clock behind the stream: the next batch is stamped with the newest member's time
        assert log._next_timestamp(conn, NOW) == later  # noqa: SLF001
    store.close()
