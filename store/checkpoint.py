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
import time

log = logging.getLogger("innonet.store")

#: Seconds between two background checkpoints (~10-20 MB of WAL at the harvest's write rate).
EVERY_S = 0.25
#: A checkpoint that keeps failing is logged when it first fails, then at most once per this many
#: seconds (with the count of failures meanwhile), not every ``EVERY_S``.
LOG_EVERY_S = 60.0


class BackgroundCheckpoints:
    """A daemon thread that checkpoints one SQLite database file's WAL until ``stop``."""

    def __init__(
        self,
        path: str,
        every_s: float = EVERY_S,
        *,
        log_every_s: float = LOG_EVERY_S,
        timeout_s: float = 30.0,
    ) -> None:
        self.path, self.every_s, self.log_every_s, self.timeout_s = path, every_s, log_every_s, timeout_s
        self.runs = 0  # checkpoints done (tests, benches)
        self.failures = 0  # checkpoints failed
        self._unlogged, self._logged_at = 0, float("-inf")  # failures since the last warning, its time
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
        conn = sqlite3.connect(self.path, timeout=self.timeout_s, check_same_thread=False)
        tuned = False
        try:
            while not self._stop.wait(self.every_s):
                try:
                    if not tuned:  # as the store's connections (make_engine)
                        conn.execute("PRAGMA synchronous=NORMAL")
                        tuned = True
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error as exc:  # the writers' own checkpoints still run
                    self._failed(exc)
        finally:
            conn.close()

    def _failed(self, exc: sqlite3.Error) -> None:
        """Log the first failure, then at most once per ``log_every_s``, with the failures meanwhile."""
        self.failures += 1
        now = time.monotonic()
        if now - self._logged_at < self.log_every_s:
            self._unlogged += 1
            return
        if self._unlogged:
            log.warning(
                "background WAL checkpoint of %s failed: %s (and %d times in the last %.0f s)",
                self.path, exc, self._unlogged, now - self._logged_at,
            )  # fmt: skip
        else:
            log.warning("background WAL checkpoint of %s failed: %s", self.path, exc)
        self._unlogged, self._logged_at = 0, now
