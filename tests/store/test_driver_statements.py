"""driver_executemany / driver_select_in run on the connection's own DBAPI cursor, inside the
caller's transaction, and a driver error surfaces as SQLAlchemy's (the harvest's retries catch
``sqlalchemy.exc.IntegrityError``), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.exc import IntegrityError

from store.models import NetworkRow, RecordRow, SourceRow
from store.repository import Store, driver_executemany, driver_select_in

_NETWORKS = NetworkRow.__table__
_BY_ID = select(_NETWORKS.c.id, _NETWORKS.c.name).where(_NETWORKS.c.id.in_(bindparam("ids", expanding=True)))


def test_rows_written_and_read_in_the_callers_transaction(store: Store) -> None:
    rows = [{"id": f"n{i}", "name": f"N{i}", "homepage": None, "country": None} for i in range(3)]
    with store.engine.begin() as conn:
        assert driver_executemany(conn, insert(_NETWORKS), rows) == 3
        assert sorted(driver_select_in(conn, _BY_ID, ["n0", "n2", "nx"], chunk=2)) == [
            ("n0", "N0"),
            ("n2", "N2"),
        ]
    with store.engine.connect() as conn:
        transaction = conn.begin()
        row = {"id": "n9", "name": "N9", "homepage": None, "country": None}
        assert driver_executemany(conn, insert(_NETWORKS), [row]) == 1
        assert driver_select_in(conn, _BY_ID, ["n9"]) == [("n9", "N9")]  # seen inside the transaction
        transaction.rollback()
    with store.engine.connect() as conn:
        assert driver_select_in(conn, _BY_ID, ["n9"]) == []  # rolled back with the caller's transaction


def test_a_duplicate_key_is_sqlalchemys_integrity_error(store: Store) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with store.engine.begin() as conn:
        conn.execute(insert(_NETWORKS), [{"id": "n", "name": "N"}])
        conn.execute(insert(SourceRow.__table__), [{"id": "s", "network_id": "n", "title": "s", "url": "http://s",
                                                    "platform": "rss", "kind": "news", "paused": False}])  # fmt: skip
    record = {
        "iri": "http://x/1", "source_id": "s", "kind": "news", "native_id": "1", "content_hash": "h",
        "graph": "", "raw_sha256": None, "first_seen_at": now, "updated_at": now, "indexed_hash": None,
    }  # fmt: skip
    with pytest.raises(IntegrityError), store.engine.begin() as conn:
        driver_executemany(conn, insert(RecordRow.__table__), [record, dict(record)])
    with store.engine.connect() as conn:
        stored = conn.execute(select(RecordRow.__table__.c.first_seen_at)).all()
    assert stored == []  # the whole batch rolled back
    with store.engine.begin() as conn:
        driver_executemany(conn, insert(RecordRow.__table__), [record])
    with store.engine.connect() as conn:
        [(first_seen,)] = conn.execute(select(RecordRow.__table__.c.first_seen_at)).all()
    assert first_seen.replace(tzinfo=first_seen.tzinfo or UTC) == now  # the typed column's processor ran


def test_an_engine_with_cursor_listeners_sees_every_statement(store: Store) -> None:
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda _c, _k, statement, *_: seen.append(statement))
    with store.engine.begin() as conn:
        driver_executemany(
            conn, insert(_NETWORKS), [{"id": "n", "name": "N", "homepage": None, "country": None}]
        )
        assert driver_select_in(conn, _BY_ID, ["n"]) == [("n", "N")]
    assert [s.split()[0].upper() for s in seen] == ["INSERT", "SELECT"]
