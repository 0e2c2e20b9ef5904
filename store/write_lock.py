"""SQLite: a harvest batch takes the database's write lock itself, trying again every ~0.2 ms.

SQLite lets one transaction write at a time: it takes the write lock at the first write and keeps
it until the commit. A transaction that finds it taken waits in SQLite's busy handler, which sleeps
1, 2, 5, 10, 15 ... ms between tries. A harvest batch holds the lock ~2 ms per source
(``bench_ingest N --parallel`` prints it), so a second batch process mostly slept past the moment
the lock came free, idle on a machine whose two cores the two batches should keep busy. Here the
batch's transaction begins with ``BEGIN IMMEDIATE`` (the write lock, before the first write, at
the same point of the transaction), tried every ``POLL_S`` until the connection's own busy timeout
has passed, then SQLite's "database is locked" as before. Nothing else changes: the transaction
starts where its first write would have started it, and PostgreSQL is left as it is.
"""

from __future__ import annotations

import sqlite3
import time

from sqlalchemy import Connection
from sqlalchemy.exc import OperationalError

#: Seconds between two tries for the write lock (~0.25 ms with the OS's timer slack).
POLL_S = 0.0002


def take_write_lock(conn: Connection) -> None:
    """Begin ``conn``'s transaction with SQLite's write lock (no-op elsewhere, or once it writes).

    Waits at most the connection's busy timeout (the engine's ``timeout``, 30 s), as a first
    write would, and restores it afterwards. An engine with cursor event listeners sees the
    ``BEGIN IMMEDIATE`` (bench/ingest_parallel.py's lock clock counts its wait).
    """
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.driver_connection
    if raw is None or raw.in_transaction:
        return
    (busy_ms,) = raw.execute("PRAGMA busy_timeout").fetchone()
    deadline = time.monotonic() + busy_ms / 1000
    watched = bool(conn.dispatch.before_cursor_execute or conn.dispatch.after_cursor_execute)
    raw.execute("PRAGMA busy_timeout=0")
    try:
        while True:
            try:
                if watched:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    raw.execute("BEGIN IMMEDIATE")
                return
            except (sqlite3.OperationalError, OperationalError) as exc:
                if "database is locked" not in str(exc) or time.monotonic() >= deadline:
                    if isinstance(exc, OperationalError):
                        raise
                    raise OperationalError("BEGIN IMMEDIATE", None, exc) from exc  # as a write raises it
            time.sleep(POLL_S)
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
