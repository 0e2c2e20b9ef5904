"""CPU per item of each stage of the whole ingest path, this tree against a reference tree.

The whole-path benches (``bench_ingest``) print items/s, which moves ±8 % from run to run on a
shared 2-core host; a change of a few µs in one stage drowns in that. This bench times each stage
with ``time.process_time`` (this process's CPU only) and compares trees in alternating runs, each
tree in its own interpreter with its own modules:

* per run: ``bench_ingest``'s sources (``--items``, ``--fresh``), ROUNDS rounds; per round a fresh
  store, the payloads archived (as the fetch stage leaves them), per-text caches forgotten, then per
  source: ``parse_feed``, ``map_items``, ``validate_items``, ``store_and_publish`` (clustering,
  records and members in one transaction), each on the CPU clock; then the same sources through
  ``process_fetched`` (the harvest's own call) on another fresh store: the ``whole`` column;
* the median over the rounds, in ms of CPU per item, per stage; then per tree the median over runs,
  and the ratio this tree / reference.

    git worktree add --detach /tmp/ref <commit>   # it must see ../shared like this tree (a symlink will do)
    flock -w 1500 /tmp/w/bench.lock .venv/bin/python -m bench.bench_stage_cpu /tmp/ref [--pairs 3] [--items 3000] [--rounds 3] [--fresh]
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ("parse", "map", "validate", "store+publish", "sum", "whole")


def _measure(items: int, rounds: int, fresh: bool) -> dict[str, float]:
    """In a tree's interpreter (cwd = the tree): the median CPU ms per item of each stage."""
    sys.path.insert(0, os.getcwd())
    from datetime import UTC, datetime

    from bench.bench_ingest import (
        _fetched,
        _store,
        corpus_feeds,
        fresh_text_caches,
        whole_ours,
        whole_sources,
    )
    from crawlers.platforms.feed import parse_feed
    from pipeline.contracts import SourceReport
    from pipeline.map import map_items
    from pipeline.store import store_and_publish
    from pipeline.validate import validate_items

    now = datetime(2026, 11, 1, tzinfo=UTC)
    clock = time.process_time
    feeds = corpus_feeds()

    def sources_of(tag: str) -> list:
        """``whole_sources``; trees older than ``--fresh`` take no fourth argument."""
        return whole_sources(feeds, items, tag, True) if fresh else whole_sources(feeds, items, tag)

    per_round: dict[str, list[float]] = {stage: [] for stage in STAGES}
    with tempfile.TemporaryDirectory() as tmp:
        whole_ours(tmp, whole_sources(feeds, 60, "warm"), "warm")  # imports, shapes, models
        for r in range(rounds):
            sources = sources_of(f"s{r}")
            settings, store = _store(tmp, f"stages{r}", sources)
            fetched = [(spec, _fetched(store, spec, body)) for spec, body in sources]
            fresh_text_caches()
            spent = dict.fromkeys(STAGES[:4], 0.0)
            count = 0
            for spec, result in fetched:
                report = SourceReport(source_id=spec.id, started_at=now)
                t0 = clock()
                parsed = parse_feed(store.payload(result.body_sha256 or "") or b"", spec).items
                t1 = clock()
                mapped, _ = map_items(
                    parsed, spec, base=settings.base_url, fetched_at=now, raw_sha256=result.body_sha256,
                    mapping_version="1",
                )  # fmt: skip
                t2 = clock()
                valid, _, _ = validate_items(mapped, spec.id)
                t3 = clock()
                store_and_publish(
                    store, valid, report, result.body_sha256, settings.base_url, settings.ldes_page_size
                )
                t4 = clock()
                count += len(valid)
                for stage, a, b in (("parse", t0, t1), ("map", t1, t2), ("validate", t2, t3), ("store+publish", t3, t4)):  # fmt: skip
                    spent[stage] += b - a
            store.close()
            for stage, seconds in spent.items():
                per_round[stage].append(1000 * seconds / count)
            per_round["sum"].append(1000 * sum(spent.values()) / count)
            whole = sources_of(f"w{r}")
            fresh_text_caches()
            c0 = clock()
            _, stored = whole_ours(tmp, whole, f"w{r}")
            per_round["whole"].append(1000 * (clock() - c0) / stored)
            gc.collect()
    return {stage: statistics.median(values) for stage, values in per_round.items()}


def main(argv: list[str]) -> int:
    if argv[:1] == ["--measure"]:
        print(json.dumps(_measure(int(argv[1]), int(argv[2]), argv[3] == "fresh")))
        return 0
    reference = Path(argv[0]).resolve()

    def option(name: str, default: int) -> int:
        return int(argv[argv.index(name) + 1]) if name in argv else default

    pairs, items, rounds = option("--pairs", 3), option("--items", 3000), option("--rounds", 3)
    mix = "fresh" if "--fresh" in argv else "copies"
    here = Path(__file__).resolve().parent.parent
    print(
        f"load average {os.getloadavg()}; {pairs} pairs of runs, {items} items, {rounds} rounds per run, mix {mix}"
    )
    runs: dict[Path, list[dict[str, float]]] = {reference: [], here: []}
    for pair in range(pairs):
        for tree in (reference, here) if pair % 2 == 0 else (here, reference):
            out = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--measure", str(items), str(rounds), mix],
                cwd=tree, check=True, capture_output=True, text=True,
            ).stdout  # fmt: skip
            runs[tree].append(json.loads(out.strip().splitlines()[-1]))
            line = "  ".join(f"{s} {runs[tree][-1][s]:.3f}" for s in STAGES)
            print(
                f"  {'reference' if tree == reference else 'this tree':9s} {line}  (load {os.getloadavg()[0]:.2f})"
            )
    print("median ms CPU per item:")
    for stage in STAGES:
        ref = statistics.median(r[stage] for r in runs[reference])
        ours = statistics.median(r[stage] for r in runs[here])
        print(f"  {stage:14s} reference {ref:.3f}  this tree {ours:.3f}  ratio {ours / ref:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
