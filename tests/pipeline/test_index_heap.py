"""pipeline/heap.py through the rebuild's own path: ``rebuild_index`` freezes the long-lived heap
once per process, after its first batch (the collector's full passes then stop walking the
modules, the vocabulary and the caches: bench/bench_index_pipeline.py --gc).

Runs in a fresh interpreter: the test process may already have frozen objects (the API tests do).
The embedded backend: the freeze is the process's, whichever backend it indexes into.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import gc, json, sys
from pathlib import Path

import pipeline.heap as heap
from pipeline.index import rebuild_index
from search.embedded import EmbeddedBackend
from tests.search.store_fill import filled_store

tmp = Path(sys.argv[1])
store = filled_store(tmp / "store.sqlite3", 1_200)  # 3 batches of 500
backend = EmbeddedBackend(tmp / "index.sqlite3")
out = {"before": gc.get_freeze_count(), "settled_before": heap._settled}
seen = []
result = rebuild_index(store, backend, progress=lambda n: seen.append((n, gc.get_freeze_count())))
out["progress"] = seen
out["indexed"] = result["indexed"]
out["count"] = backend.count()
out["again"] = heap.settle_long_lived()
backend.close()
store.close()
print(json.dumps(out))
"""


def test_rebuild_index_freezes_the_heap_once_after_its_first_batch(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert (out["before"], out["settled_before"]) == (0, False)
    assert out["indexed"] == out["count"] == 1_200  # nothing lost on the way
    (first, frozen), *later = out["progress"]
    assert first == 500
    assert frozen > 50_000  # the imported modules, the vocabulary, the analysis tables ...
    assert [n for n, _ in later] == [500, 200]
    # not frozen again: the permanent generation only shrinks (frozen objects freed by refcount)
    assert all(count <= frozen for _, count in later)
    assert out["again"] is False
