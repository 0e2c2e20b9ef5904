"""SQLite: the store's WAL checkpoints in a background thread of the harvest process.

With ``wal_autocheckpoint`` (store/repository.py: every ~40 MB of WAL) the checkpoint runs in the
commit that crosses the mark: that writer copies the WAL's pages into the database file and waits
for the fsync, ~120 ms per 40 MB on this machine, while its harvest batch stands still (a harvest
writes ~20 KB of WAL per item: one stall every ~2,000 items). Here a thread with its own connection
runs a PASSIVE checkpoint every ``EVERY_S`` (it never waits for, or blocks, a writer or a reader);
pysqlite releases the GIL while SQLite copies and syncs, so the batch keeps working meanwhile.
``wal_autocheckpoint`` stays as it is, as the backstop: when the thread lags, the writer checkpoints
as before, and only what the thread has not copied yet. Durability is SQLite's for a checkpoint
(the database file is synced once the pages are in), with a WAL that stays smaller than before.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

log = logging.getLogger("innonet.store")

#: Seconds between two background checkpoints (~10-20 MB of WAL at the harvest's write rate).
EVERY_S = 0.25


class BackgroundCheckpoints:
    """A daemon thread that checkpoints one SQLite database file's WAL until ``stop``."""

    def __init__(self, path: str, every_s: float = EVERY_S) -> None:
        self.path, self.every_s = path, every_s
        self.runs = 0  # checkpoints done (tests, benches)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="innonet-wal-checkpoint", daemon=True)

    def start(self) -> BackgroundCheckpoints:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the checkpoint in progress, if any (the writers' own checkpoints go on)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")  # as the store's connections (make_engine)
            while not self._stop.wait(self.every_s):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error as exc:  # the writers' own checkpoints still run
                    log.warning("background WAL checkpoint of %s failed: %s", self.path, exc)
        finally:
            conn.close()
