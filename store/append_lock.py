"""Members of the stream become visible in log order, also with parallel writers on PostgreSQL.

A member's ``seq`` is taken when it is inserted, but other transactions see it only at commit. On
PostgreSQL two harvest batches write at once: one that inserted members 1-55 and commits after
another that inserted 56-65 lets a reader see 56-65 first; a full page cut from that view is served
as immutable and would never show 1-55 to that client (tests/store/test_concurrent_store.py). So
every transaction that appends members first takes one transaction-scoped advisory lock and keeps
it until its commit: seqs, timestamps (``max(now, the newest member)``) and commits follow one
order. Appending is the last step of a harvest's transaction, so the lock is held for the member
inserts and the commit only. SQLite needs nothing: it has one writer at a time from the first write.
"""

from __future__ import annotations

from sqlalchemy import Connection

#: The advisory lock key for appends to the member log (any bigint; the same for every writer).
APPEND_LOCK_KEY = 0x1D_E5_0001


def serialize_appends(conn: Connection) -> None:
    """Wait until no other transaction is appending members; hold the turn until this one ends."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY})")
