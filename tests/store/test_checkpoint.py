"""Store.checkpoint_in_background: the WAL is copied into the database file by a thread of the
process (store/checkpoint.py), not only by the commit that crosses wal_autocheckpoint."""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from store.checkpoint import BackgroundCheckpoints
from store.repository import Store


def _wait_for(condition, timeout_s: float = 20.0) -> bool:  # noqa: ANN001 - a callable
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_committed_rows_reach_the_database_file_without_a_writer_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    store = Store(f"sqlite:///{path}")
    with store.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    store.checkpoint_in_background()
    checkpoints = store._checkpoints  # noqa: SLF001 - what this test is about
    assert checkpoints is not None
    with store.engine.begin() as conn:  # far below wal_autocheckpoint: no writer checkpoints this
        conn.execute(text("INSERT INTO t VALUES (:n)"), [{"n": n} for n in range(1000)])
    done = checkpoints.runs
    assert _wait_for(lambda: checkpoints.runs >= done + 2)  # a whole checkpoint after the commit
    shutil.copy(path, tmp_path / "copy.sqlite3")  # the database file alone, without its WAL
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    assert copy.execute("SELECT count(*), sum(n) FROM t").fetchone() == (1000, sum(range(1000)))
    copy.close()
    store.close()
    assert not checkpoints._thread.is_alive()  # noqa: SLF001 - stopped with the store
    assert store._checkpoints is None  # noqa: SLF001


def test_only_sqlite_files_get_a_thread(tmp_path: Path) -> None:
    memory = Store("sqlite://")
    memory.checkpoint_in_background()
    assert memory._checkpoints is None  # noqa: SLF001 - nothing to checkpoint
    memory.close()
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    store.checkpoint_in_background()
    first = store._checkpoints  # noqa: SLF001
    store.checkpoint_in_background()  # once per store
    assert store._checkpoints is first  # noqa: SLF001
    store.close()


def test_a_checkpoint_that_keeps_failing_is_logged_first_then_once_a_while(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first failure is logged; after that at most one warning per ``log_every_s``, saying how
    many failed meanwhile (not one warning per failed checkpoint, every ``every_s``)."""
    path = tmp_path / "s.sqlite3"
    holder = sqlite3.connect(path)  # holds the file: every checkpoint fails, "database is locked"
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("CREATE TABLE t (n INTEGER)")
    holder.commit()
    checkpoints = BackgroundCheckpoints(str(path), every_s=0.002, log_every_s=0.3, timeout_s=0.001)
    with caplog.at_level(logging.WARNING, logger="innonet.store"):
        started = time.monotonic()
        checkpoints.start()
        time.sleep(1.0)
        checkpoints.stop()
        elapsed = time.monotonic() - started
    holder.close()
    said = [r.getMessage() for r in caplog.records if "background WAL checkpoint" in r.getMessage()]
    assert checkpoints.runs == 0
    assert checkpoints.failures >= 20
    assert 2 <= len(said) <= 2 + elapsed / 0.3
    assert "database is locked" in said[0]
    assert "times in the last" not in said[0]  # the first failure, as it came
    meanwhile = [
        int(m.group(1)) for m in map(re.compile(r"and (\d+) times in the last").search, said[1:]) if m
    ]
    assert len(meanwhile) == len(said) - 1
    assert all(n >= 1 for n in meanwhile)
    assert len(said) + sum(meanwhile) <= checkpoints.failures  # every failure logged or counted
