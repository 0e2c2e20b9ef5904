"""How a SQLite store's connections are set up: WAL, synchronous=NORMAL, checkpoints every 10,000 pages.

The checkpoint interval is a speed/durability trade-off (docs/vocabulary.md "Speed", issue 4): an
operating-system crash or power loss can lose up to ~40 MB of the last commits instead of ~4 MB.
"""

from __future__ import annotations

from pathlib import Path

from store.repository import Store


def test_sqlite_connections_checkpoint_every_10000_pages(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        for _ in range(2):  # a new pooled connection and a reused one
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10000
                assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        store.close()
