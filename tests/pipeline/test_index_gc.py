"""``rebuild_index`` runs with the collector's youngest threshold raised, and restores it after.

A rebuild allocates and drops millions of short-lived containers; at CPython's default (700) the
collector ran ~800 young and 6 full passes per 25,000 records (bench/bench_rebuild_gc.py). The
threshold is the process's, and a rebuild may run inside a long-lived process (the maintenance
DAG's worker, this test run), so it must come back, also when the rebuild fails. The embedded
backend: the setting is the process's, whichever backend the rebuild writes to.
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from pipeline import index
from search.embedded import EmbeddedBackend
from tests.search.store_fill import filled_store


def test_the_threshold_is_raised_during_the_rebuild_and_restored(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "store.sqlite3", 1_200)  # 3 pages of 500
    backend = EmbeddedBackend(tmp_path / "index.sqlite3")
    before = gc.get_threshold()
    seen: list[tuple[int, tuple[int, int, int]]] = []
    try:
        result = index.rebuild_index(store, backend, progress=lambda n: seen.append((n, gc.get_threshold())))
        assert result["indexed"] == backend.count() == 1_200  # nothing lost on the way
    finally:
        backend.close()
        store.close()
    assert [n for n, _ in seen] == [500, 500, 200]
    assert index.REBUILD_GC_THRESHOLD0 is not None
    assert all(threshold == (index.REBUILD_GC_THRESHOLD0, *before[1:]) for _, threshold in seen)
    assert gc.get_threshold() == before


def test_a_failing_rebuild_restores_the_threshold_too(tmp_path: Path) -> None:
    store = filled_store(tmp_path / "store.sqlite3", 600)
    backend = EmbeddedBackend(tmp_path / "index.sqlite3")
    before = gc.get_threshold()

    def stop(n: int) -> None:
        raise KeyboardInterrupt  # an operator's Ctrl-C after the first page

    try:
        with pytest.raises(KeyboardInterrupt):
            index.rebuild_index(store, backend, progress=stop)
    finally:
        backend.close()
        store.close()
    assert gc.get_threshold() == before
