"""``innonet index --rebuild`` end to end, with and without its one-time ``gc.freeze()``.

    flock -w 1500 /tmp/w/bench.lock .venv/bin/python bench/bench_rebuild_gc.py [COPIES] [--rounds R]

(from a ``git archive`` tree elsewhere: ``INNONET_CORPUS=/work/shared/corpus``)

``bench_index_pipeline.py --gc`` measures the freeze on generated documents handed straight to
``AliasRebuild.load_batches``; this runs the whole command's path: ``pipeline.index.rebuild_index``
from a SQLite store into Elasticsearch (store pages of 500, ``nt_read``, projection, analysis,
bulk with chunks in flight, force-merge, alias swap, catch-up), each run in a fresh interpreter
(the freeze happens once per process, after the first page), the two ways alternating:

- ``plain``: the collector as CPython sets it (``pipeline.index.REBUILD_GC_THRESHOLD0 = None``);
- ``gc.freeze``: plain, plus pipeline/heap.py's one-time ``gc.collect(); gc.freeze()`` after the
  first page (as the harvest does; what pipeline/index.py did at 9f37a83);
- ``thresholds``: the code as shipped: the youngest generation collected every 50,000 net
  allocations instead of 700 while the rebuild runs (``REBUILD_GC_THRESHOLD0``).

Records: every corpus item the mapping tests build (feeds, bundled samples, UiTdatabank events,
schema.org pages, an organiser, a case) as the store keeps it (``pipeline.store.record_nt``),
COPIES times (default 12), each copy with its item IRIs changed, in one store built before any
clock. Printed per way (medians of the rounds): records/s of ``rebuild_index`` (force-merge
included: the command as a user runs it), the process's CPU per record, the collector's time per
record and its full passes (``gc.callbacks``), Elasticsearch's CPU per record (/proc), and the load
average: the box has 2 cores shared with other work.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ES = os.environ.get("INNONET_TEST_ES_URL", "http://127.0.0.1:9200").rstrip("/")
#: The shared corpus: beside the checkout, else INNONET_CORPUS (a ``git archive`` tree elsewhere).
CORPUS = Path(os.environ.get("INNONET_CORPUS", ROOT.parent / "shared" / "corpus")).resolve()

#: One rebuild in a fresh interpreter: only what ``innonet index`` itself imports, plus json.
CHILD = r"""
import gc, json, os, sys, time
from pathlib import Path

import pipeline.heap as heap
import pipeline.index as index
from search.elasticsearch import ElasticsearchBackend
from store.repository import Store

store_path, es, alias, way, es_pid = sys.argv[1:6]
if way != "thresholds":
    index.REBUILD_GC_THRESHOLD0 = None  # the collector as CPython sets it (700, 10, 10)
# gc.freeze: pipeline/heap.py's one-time freeze, after the first page (the rebuild reports each page)
progress = (lambda n: heap.settle_long_lived()) if way == "gc.freeze" else None


def es_cpu() -> float:
    fields = Path(f"/proc/{es_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


spent = {"gc_s": 0.0, "full": 0, "t": 0.0, "gen2_s": 0.0, "young": 0}


def collector(phase, info):
    if phase == "start":
        spent["t"] = time.perf_counter()
    else:
        took = time.perf_counter() - spent["t"]
        spent["gc_s"] += took
        spent["full"] += info["generation"] == 2
        spent["young"] += info["generation"] < 2
        if info["generation"] == 2:
            spent["gen2_s"] += took


store = Store(f"sqlite:///{store_path}")
backend = ElasticsearchBackend(es, alias, timeout_s=300)
gc.callbacks.append(collector)
es0, cpu0, wall0 = es_cpu(), time.process_time(), time.perf_counter()
result = index.rebuild_index(store, backend, progress=progress)
wall, cpu, es_s = time.perf_counter() - wall0, time.process_time() - cpu0, es_cpu() - es0
gc.callbacks.remove(collector)
backend.close()
store.close()
print(json.dumps({"indexed": result["indexed"], "failed": result["failed"], "wall": wall, "cpu": cpu,
                  "es": es_s, "gc_s": spent["gc_s"], "full": spent["full"], "frozen": gc.get_freeze_count(),
                  "gen2_s": spent["gen2_s"], "young": spent["young"]}))
"""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


def build_store(path: Path, copies: int) -> int:
    """A SQLite store holding every corpus item ``copies`` times; returns the number of records."""
    from pipeline.contracts import NetworkSpec, Registry, SourceSpec
    from pipeline.store import record_nt
    from store.models import RecordRow
    from store.repository import Store
    from tests.ontology.test_fast_validation import all_corpus_batches

    items = [item for batch in all_corpus_batches(CORPUS) for item in batch]
    store = Store(f"sqlite:///{path}")
    store.sync_registry(
        Registry(
            networks=[NetworkSpec(id="bench-net", name="Bench network", country="BEL")],
            sources=[
                SourceSpec(
                    id="bench-src",
                    network="bench-net",
                    title="Bench source",
                    url="https://example.org/feed.xml",
                )
            ],
        )
    )
    now = datetime.now(UTC)
    n = 0
    with store.session() as s, s.begin():
        seen: set[str] = set()
        for copy in range(copies):
            for item in items:
                iri = str(item.iri)
                copied = f"{iri}/c{copy}"
                if copied in seen:
                    continue
                seen.add(copied)
                graph = record_nt(item).replace(f"<{iri}", f"<{copied}")
                s.add(
                    RecordRow(
                        iri=copied,
                        source_id="bench-src",
                        kind=item.kind,
                        native_id=f"{item.native_id}/c{copy}",
                        content_hash=hashlib.sha256(graph.encode()).hexdigest(),
                        graph=graph,
                        raw_sha256=None,
                        first_seen_at=now,
                        updated_at=now,
                        indexed_hash=None,
                    )
                )
                n += 1
    store.close()
    return n


def es_pid() -> int:
    nodes = httpx.get(f"{ES}/_nodes/_local/process", timeout=10).json()["nodes"]
    return int(next(iter(nodes.values()))["process"]["id"])


def run(store_path: Path, way: str, pid: int) -> dict[str, float]:
    alias = f"bench-rebuild-{uuid.uuid4().hex[:8]}"
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(store_path), ES, alias, way, str(pid)],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=1800,
        )  # fmt: skip
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        names = httpx.get(f"{ES}/_resolve/index/{alias}-v*", timeout=30).json().get("indices", [])
        for name in [i["name"] for i in names]:
            httpx.delete(f"{ES}/{name}", timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("copies", nargs="?", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"before: {load()}", flush=True)
    ways = ("plain", "gc.freeze", "thresholds")
    runs: dict[str, list[dict[str, float]]] = {way: [] for way in ways}
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        store_path = Path(tmp) / "store.sqlite3"
        n = build_store(store_path, args.copies)
        print(f"store: {n:,} records ({args.copies} copies of the corpus items); {load()}", flush=True)
        pid = es_pid()
        for round_ in range(args.rounds):
            for way in ways if round_ % 2 == 0 else tuple(reversed(ways)):
                result = run(store_path, way, pid)
                assert (result["indexed"], result["failed"]) == (n, 0), result
                runs[way].append(result)
                print(
                    f"  round {round_ + 1} {way}: {n / result['wall']:,.0f} records/s, "
                    f"collector {result['gc_s'] * 1e3:.0f} ms, of which {result['gen2_s'] * 1e3:.0f} ms in "
                    f"{int(result['full'])} full passes ({int(result['young'])} younger), "
                    f"frozen {int(result['frozen']):,}; {load()}",
                    flush=True,
                )
    print(
        f"rebuild_index of {n:,} stored records (force-merge and swap included), median of {args.rounds} rounds:"
    )
    print(
        "| way | records/s | process CPU µs/record | collector µs/record | of which full passes µs/record "
        "| full passes | ES CPU µs/record |"
    )
    print("|---|---|---|---|---|---|---|")
    for way, results in runs.items():
        rate = statistics.median(n / r["wall"] for r in results)
        cpu = statistics.median(r["cpu"] for r in results) / n * 1e6
        gc_us = statistics.median(r["gc_s"] for r in results) / n * 1e6
        gen2_us = statistics.median(r["gen2_s"] for r in results) / n * 1e6
        full = [int(r["full"]) for r in results]
        es_us = statistics.median(r["es"] for r in results) / n * 1e6
        print(f"| {way} | {rate:,.0f} | {cpu:.0f} | {gc_us:.1f} | {gen2_us:.1f} | {full} | {es_us:.0f} |")
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
