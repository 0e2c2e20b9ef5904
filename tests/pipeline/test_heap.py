"""pipeline/heap.py through the harvest's own path: ``process_fetched`` freezes the long-lived heap
once per process, after the first source with stored items, and never for a source without items.

Runs in a fresh interpreter: the test process may already have frozen objects (the API tests do).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import gc, json, sys
from datetime import UTC, datetime
from pathlib import Path

import pipeline.heap as heap
from pipeline.contracts import FetchResult, NetworkSpec, Registry, SourceSpec
from pipeline.harvest import process_fetched
from pipeline.settings import Settings
from store.repository import Store

corpus, tmp = Path(sys.argv[1]), Path(sys.argv[2])
settings = Settings(data_dir=tmp, base_url="http://innonet.test")
store = Store(settings.resolved_database_url)
specs = [SourceSpec(id=f"s{i}", network="net-a", title="t", url=f"http://x/{i}") for i in range(3)]
store.sync_registry(Registry(networks=[NetworkSpec(id="net-a", name="A")], sources=specs))
bodies = [b"Sorry, our CMS is down.", (corpus / "guardian_rss2.xml").read_bytes(),
          (corpus / "heise_de_atom.xml").read_bytes()]
out = {"before": gc.get_freeze_count()}
for spec, body in zip(specs, bodies):
    sha = store.save_payload(body, spec.url, "application/xml")
    result = FetchResult(source_id=spec.id, url=spec.url, status=200, ok=True, body_sha256=sha,
                         body_size=len(body), fetched_at=datetime(2026, 1, 1, tzinfo=UTC))
    report = process_fetched(settings, store, spec, result)
    out[spec.id] = [report.status, report.counts.get("new", 0), gc.get_freeze_count(), heap._settled]
out["again"] = heap.settle_long_lived()
store.close()
print(json.dumps(out))
"""


def test_process_fetched_freezes_the_heap_once(corpus: Path, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(corpus / "rss_atom"), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["before"] == 0
    status, new, frozen, settled = out["s0"]
    assert (status, new, frozen, settled) == ("failed", 0, 0, False)  # no items: nothing frozen
    status, new, frozen, settled = out["s1"]
    assert (status, settled) == ("ok", True)
    assert new > 10
    assert frozen > 50_000  # the imported modules, vocabulary, shapes, scanners ...
    status, new, again_frozen, settled = out["s2"]
    assert (status, settled) == ("ok", True)
    assert new > 10
    # not frozen again: the permanent generation only shrinks (frozen objects freed by refcount)
    assert again_frozen <= frozen
    assert out["again"] is False
