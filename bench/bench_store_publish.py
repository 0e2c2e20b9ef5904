"""ms/item of the harvest's store + publish steps: one transaction per source vs the previous path.

Run: ``flock -w 1500 /tmp/w/bench.lock .venv/bin/python -m bench.bench_store_publish [N] [--profile]``.
The sources are bench_ingest's (corpus feeds, one source per feed copy, ~19 items each, until N
items); each round parses, maps and validates them up front, then times only the store step on a
fresh SQLite store:

* before: ``store_items`` then ``publish_items`` as of commit 0af4f56 (four transactions per source,
  SQLAlchemy ``conn.execute``, one INSERT ... RETURNING per member), frozen in
  tests/store/old_store_path.py, which tests/store/test_store_publish_once.py proves stores the
  same rows as the new path;
* after:  ``pipeline.store.store_and_publish`` (one transaction per source, driver statements).

Both include clustering against the store (ontology/cluster.py), as the harvest's store stage does.
Rounds alternate before/after so load changes hit both; wall and CPU (process) time are printed
with the load average.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime

from bench.bench_ingest import BASE, NOW, _fetched, _store, corpus_feeds, whole_sources
from crawlers.platforms.feed import parse_feed
from pipeline.contracts import SourceReport
from pipeline.map import map_items
from pipeline.store import store_and_publish
from pipeline.validate import validate_items
from tests.store.old_store_path import old_publish_items, old_store_items


def prepared(tmp: str, name: str, n: int) -> tuple:
    """A fresh store and its sources' validated items (parse, map, validate done here, untimed)."""
    sources = whole_sources(corpus_feeds(), n, name)
    settings, store = _store(tmp, name, sources)
    batches = []
    for spec, body in sources:
        result = _fetched(store, spec, body)
        mapped, _ = map_items(
            parse_feed(body, spec).items, spec, base=BASE, fetched_at=NOW,
            raw_sha256=result.body_sha256, mapping_version="1",
        )  # fmt: skip
        batches.append((spec, result.body_sha256, validate_items(mapped, spec.id)[0]))
    return settings, store, batches


def store_step(store, batches, new: bool, page_size: int) -> tuple[float, float, int]:  # noqa: ANN001
    """(wall s, CPU s, items) of storing and publishing every batch."""
    items = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for spec, raw, valid in batches:
        report = SourceReport(source_id=spec.id, started_at=NOW)
        if new:
            store_and_publish(store, valid, report, raw, BASE, page_size)
        else:
            now = datetime.now(UTC)
            old_store_items(store, valid, report, raw, now)
            old_publish_items(store, BASE, valid, spec.id, now)
        items += len(valid)
    return time.perf_counter() - wall, time.process_time() - cpu, items


def main() -> None:
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    n = numbers[0] if numbers else 1000
    print(f"load average: {os.getloadavg()}")
    totals = {False: [0.0, 0.0, 0], True: [0.0, 0.0, 0]}
    with tempfile.TemporaryDirectory() as tmp:
        for new in (False, True):  # warm imports, caches, statements
            settings, store, batches = prepared(tmp, f"warm{int(new)}", 100)
            store_step(store, batches, new, settings.ldes_page_size)
            store.close()
        for round_no in range(3):
            for new in (False, True):
                settings, store, batches = prepared(tmp, f"r{round_no}{int(new)}", n)
                wall, cpu, items = store_step(store, batches, new, settings.ldes_page_size)
                store.close()
                for i, v in enumerate((wall, cpu, items)):
                    totals[new][i] += v
                print(
                    f"  round {round_no} {'after ' if new else 'before'}: {1000 * wall / items:6.3f} ms/item wall,"
                    f" {1000 * cpu / items:6.3f} ms/item CPU ({items} items, load {os.getloadavg()[0]:.2f})"
                )
        if "--profile" in sys.argv:
            settings, store, batches = prepared(tmp, "prof", n)
            profiler = cProfile.Profile()
            profiler.enable()
            store_step(store, batches, True, settings.ldes_page_size)
            profiler.disable()
            store.close()
    (bw, bc, bn), (aw, ac, an) = totals[False], totals[True]
    print(f"store + publish, {an // 3} items per round, 3 alternating rounds each")
    print(
        f"  before  4 transactions per source   : {1000 * bw / bn:6.3f} ms/item wall  {1000 * bc / bn:6.3f} CPU"
    )
    print(f"  after   store_and_publish, 1 per src: {1000 * aw / an:6.3f} ms/item wall  {1000 * ac / an:6.3f} CPU  (x{(bw / bn) / (aw / an):.2f} wall)")  # fmt: skip
    print(f"load average: {os.getloadavg()}")
    if "--profile" in sys.argv:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
