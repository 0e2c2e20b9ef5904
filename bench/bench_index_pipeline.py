"""Indexing as ``innonet index --rebuild`` hands documents over: batches of 500 (the store's page).

    flock -w 1500 /tmp/w/bench.lock .venv/bin/python bench/bench_index_pipeline.py [N] [--rounds R] [--gc]

Why a second indexing bench: ``bench_search_load.py`` loaded batches of 10,000 (one
``AliasRebuild.load`` each; it now takes ``load_batches`` too), while the rebuild reads the store
500 records at a time. With one
``load`` per batch, every batch ended with the bulk pipeline drained: Elasticsearch idled while
the next batch was read and prepared. ``AliasRebuild.load_batches`` keeps chunks in flight
across batches and still reports each batch complete and in order.

The same N documents (built before any clock starts, default 30,000) are indexed, round after
round in alternating order, by:

- ``per-batch load``: ``AliasRebuild.load`` once per 500-document batch (the rebuild before);
- ``load_batches``: ``AliasRebuild.load_batches`` over the same 500-document batches (now);
- ``raw _bulk``: the same documents' NDJSON, built before the clock, sent 1,000 per request
  with the same number of senders (the baseline: Elasticsearch's own speed here).

Each into a fresh index with the rebuild's load settings; printed: items/s (median of the
rounds), ratio against raw, and CPU per document of this process (all threads) and of
Elasticsearch (node stats), with the load average: the box has 2 cores shared with other work.

``--gc``: instead, the garbage collector's share (issue 5: ~13 us per document of collections
in a profile of the load). Three ways, all ``load_batches`` over the same documents pickled per
500-document page before the clock and unpickled one page at a time inside it (so only the pages
in flight are alive, as in the rebuild, which reads one store page at a time; N live documents
would make every full pass walk them): ``plain`` (the collector as it is), ``gc.freeze``
(``gc.collect(); gc.freeze()`` first, as pipeline/heap.py does for a harvest process: the
startup heap and the warm caches leave the full passes), and ``thresholds`` (the youngest
generation collected every 50,000 net allocations, as ``rebuild_index`` does since 299eaed).
Also printed: the collector's own time per document and its full (oldest-generation) passes,
from ``gc.callbacks``. bench_rebuild_gc.py measures the same on the whole rebuild.
"""

from __future__ import annotations

import argparse
import gc
import os
import pickle
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_search_load import (  # noqa: E402
    ES,
    batch_docs,
    create_index,
    load,
    payloads,
    send_all,
)
from pipeline.heap import fewer_collections  # noqa: E402
from pipeline.index import REBUILD_GC_THRESHOLD0  # noqa: E402
from search.documents import SearchDocument  # noqa: E402
from search.elasticsearch import BULK_CHUNK, BULK_SENDERS, ElasticsearchBackend, ndjson_index  # noqa: E402
from search.reindex import LOAD_SETTINGS, AliasRebuild  # noqa: E402

STORE_BATCH = 500


def es_cpu_s() -> float:
    """Elasticsearch's CPU time so far (user + system), from /proc (node stats refresh once a second)."""
    pid = next(iter(httpx.get(f"{ES}/_nodes/_local/process", timeout=10).json()["nodes"].values()))[
        "process"
    ]["id"]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_batch(rebuild: AliasRebuild, docs: list[SearchDocument]) -> None:
    for start in range(0, len(docs), STORE_BATCH):
        assert not rebuild.load(docs[start : start + STORE_BATCH]).errors


def pipelined(rebuild: AliasRebuild, docs: list[SearchDocument]) -> None:
    batches = ((start, docs[start : start + STORE_BATCH]) for start in range(0, len(docs), STORE_BATCH))
    for _, report in rebuild.load_batches(batches):
        assert not report.errors


def unpickled(rebuild: AliasRebuild, pages: list[bytes]) -> None:
    batches = ((k, pickle.loads(page)) for k, page in enumerate(pages))  # noqa: S301 - our own bytes
    for _, report in rebuild.load_batches(batches):
        assert not report.errors


class GcTime:
    """The collector's pauses while a load runs (``gc.callbacks``): seconds, and full passes."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.full += info["generation"] == 2

    def __enter__(self) -> GcTime:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def with_gc(
    freeze: bool, run: Callable[[], tuple[float, ...]], threshold0: int | None = None
) -> tuple[float, ...]:
    """``run()`` after a full collection, with the heap frozen first or not, and the youngest
    generation's threshold raised or not; its result plus (collector seconds, full passes)."""
    gc.collect()
    if freeze:
        gc.freeze()
    try:
        with GcTime() as spent, fewer_collections(threshold0):
            result = run()
    finally:
        gc.unfreeze()
    return (*result, spent.seconds, spent.full)


def ours(docs: Any, way: Callable[[AliasRebuild, Any], None]) -> tuple[float, ...]:
    """(seconds, Python CPU s, Elasticsearch CPU s) of loading ``docs`` into a fresh rebuild index."""
    backend = ElasticsearchBackend(ES, f"bench-pipe-{uuid.uuid4().hex[:8]}", timeout_s=300)
    rebuild = AliasRebuild(backend)
    rebuild.begin()
    try:
        es, cpu, wall = es_cpu_s(), time.process_time(), time.perf_counter()
        way(rebuild, docs)
        return time.perf_counter() - wall, time.process_time() - cpu, es_cpu_s() - es
    finally:
        rebuild.abort()
        backend.close()


def raw(chunks: list[bytes]) -> tuple[float, ...]:
    name = f"bench-pipe-raw-{uuid.uuid4().hex[:8]}"
    with httpx.Client(timeout=300) as client:
        create_index(client, name, LOAD_SETTINGS)
        try:
            es, cpu, wall = es_cpu_s(), time.process_time(), time.perf_counter()
            send_all(client, name, chunks, BULK_SENDERS)
            return time.perf_counter() - wall, time.process_time() - cpu, es_cpu_s() - es
        finally:
            client.delete(f"{ES}/{name}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gc", action="store_true", help="A/B: load_batches with and without gc.freeze")
    args = parser.parse_args()
    print(f"before: {load()}", flush=True)
    docs = [d for start in range(0, args.n, 10_000) for d in batch_docs(start, min(10_000, args.n - start))]
    for doc in batch_docs(10**7, 5_000):  # the analysis caches warm, as after the first minutes of a rebuild
        ndjson_index(doc)
    chunks = payloads(docs, BULK_CHUNK)
    ways: dict[str, Callable[[], tuple[float, ...]]] = {
        "per-batch load": lambda: ours(docs, per_batch),
        "load_batches": lambda: ours(docs, pipelined),
        "raw _bulk": lambda: raw(chunks),
    }
    if args.gc:
        pages = [pickle.dumps(docs[s : s + STORE_BATCH]) for s in range(0, len(docs), STORE_BATCH)]
        del docs
        ways = {
            "plain": lambda: with_gc(False, lambda: ours(pages, unpickled)),
            "gc.freeze": lambda: with_gc(True, lambda: ours(pages, unpickled)),
            "thresholds": lambda: with_gc(False, lambda: ours(pages, unpickled), REBUILD_GC_THRESHOLD0),
            "raw _bulk": lambda: raw(chunks),
        }
    runs: dict[str, list[tuple[float, ...]]] = {name: [] for name in ways}
    for round_ in range(args.rounds):
        order = list(ways) if round_ % 2 == 0 else list(reversed(ways))
        for name in order:
            runs[name].append(ways[name]())
            seconds = runs[name][-1][0]
            print(f"  round {round_ + 1} {name}: {args.n / seconds:,.0f} items/s; {load()}", flush=True)
    raw_rate = statistics.median(args.n / r[0] for r in runs["raw _bulk"])
    print(
        f"{args.n:,} documents in batches of {STORE_BATCH} ({BULK_CHUNK}/bulk, {BULK_SENDERS} senders), "
        f"median of {args.rounds} rounds:"
    )
    print(
        "| way | items/s | ratio to raw | Python CPU us/doc | Elasticsearch CPU us/doc | GC us/doc, full passes |"
    )
    print("|---|---|---|---|---|---|")
    for name, results in runs.items():
        rate = statistics.median(args.n / r[0] for r in results)
        python_us = statistics.median(r[1] for r in results) / args.n * 1e6
        es_us = statistics.median(r[2] for r in results) / args.n * 1e6
        collector = (
            f"{statistics.median(r[3] for r in results) / args.n * 1e6:.1f}, {[int(r[4]) for r in results]}"
            if len(results[0]) > 3
            else ""
        )
        print(
            f"| {name} | {rate:,.0f} | {rate / raw_rate:.2f} | {python_us:.0f} | {es_us:.0f} | {collector} |"
        )
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
