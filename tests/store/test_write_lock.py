"""take_write_lock: a harvest transaction takes SQLite's write lock itself (store/write_lock.py).

Two real connections on one SQLite file: the lock is held from ``take_write_lock`` to the commit,
a writer that finds it taken waits until it is free, gives up with SQLite's own error after the
connection's busy timeout, and the connection keeps its busy timeout either way.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from store.repository import Store
from store.write_lock import take_write_lock


def _busy_ms(conn) -> int:  # noqa: ANN001 - a SQLAlchemy Connection
    return conn.connection.driver_connection.execute("PRAGMA busy_timeout").fetchone()[0]


def test_the_lock_is_held_from_take_to_commit_and_waited_for(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    path = str(tmp_path / "s.sqlite3")
    with store.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    other = sqlite3.connect(path, timeout=0)
    released = threading.Event()
    got: list[object] = []
    with store.engine.begin() as conn:
        take_write_lock(conn)
        assert conn.connection.driver_connection.in_transaction
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            other.execute("INSERT INTO t VALUES (1)")  # held before this transaction writes anything
        assert _busy_ms(conn) == 30000  # the engine's timeout, as it was

        def wait_for_it() -> None:
            try:
                with store.engine.begin() as second:
                    take_write_lock(second)  # waits for the first transaction's commit
                    got.append(released.is_set())
                    second.execute(text("INSERT INTO t VALUES (2)"))
            except Exception as exc:  # noqa: BLE001 - reported by the test's thread
                got.append(exc)

        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive()  # still waiting
        conn.execute(text("INSERT INTO t VALUES (3)"))
        released.set()
    waiter.join(10)
    assert got == [True]  # it had the lock only after the first transaction's commit
    assert [n for (n,) in other.execute("SELECT n FROM t ORDER BY n")] == [2, 3]
    other.close()
    store.close()


def test_a_writer_gives_up_after_its_busy_timeout_with_sqlites_error(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    holder = sqlite3.connect(str(tmp_path / "s.sqlite3"))
    holder.execute("BEGIN IMMEDIATE")
    with store.engine.connect() as conn:
        conn.connection.driver_connection.execute("PRAGMA busy_timeout=50")
        with pytest.raises(OperationalError, match="database is locked"):  # SQLAlchemy's, as a write's
            take_write_lock(conn)
        assert _busy_ms(conn) == 50
        assert not conn.connection.driver_connection.in_transaction
    holder.rollback()
    with store.engine.begin() as conn:
        take_write_lock(conn)  # free now
        take_write_lock(conn)  # already holding it: nothing to do
        assert conn.connection.driver_connection.in_transaction
    holder.close()
    store.close()
