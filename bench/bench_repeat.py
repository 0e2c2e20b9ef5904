"""The harvest path repeated in one process, as a long harvest runs it: whole-path items/s and stage split per round.

Run: ``flock -w 900 /tmp/w/bench.lock .venv/bin/python -m bench.bench_repeat [N] [ROUNDS]`` (default 1000, 4).
bench_ingest times ~N items right after its warm-up, so a full garbage collection (~0.1 s, every ~1,500-2,000
items before pipeline/heap.py froze the long-lived heap) falls in its window only sometimes. Here, after the same
warm-up, each round runs ``process_fetched`` over N items and then bench_ingest's stage split over N more, with
fresh language detections each time; the last line is one JSON object (mean and best over the rounds) so two
trees can be compared by running this file from each (``cd TREE && python /work/main/bench/bench_repeat.py``).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.getcwd())  # run from another tree: that tree's modules

from bench.bench_ingest import corpus_feeds, fresh_text_caches, whole_ours, whole_sources, whole_stages  # noqa: E402
from crawlers.platforms.feed import parse_feed  # noqa: E402


def main() -> None:
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    n = numbers[0] if numbers else 1000
    rounds = numbers[1] if len(numbers) > 1 else 4
    print(f"load average: {os.getloadavg()}")
    feeds = corpus_feeds()
    out: dict[str, list[float]] = {"items/s": [], "parse": [], "map": [], "validate": [], "store+publish": []}
    with tempfile.TemporaryDirectory() as tmp:
        whole_ours(tmp, whole_sources(feeds, 60, "warm"), "warm")
        for r in range(rounds):
            fresh_text_caches()
            seconds, stored = whole_ours(tmp, whole_sources(feeds, n, f"o{r}"), f"o{r}")
            out["items/s"].append(stored / seconds)
            fresh_text_caches()
            sources = whole_sources(feeds, n, f"s{r}")
            items = sum(len(parse_feed(body, spec).items) for spec, body in sources)
            for stage, spent in whole_stages(tmp, sources).items():
                out[stage].append(1000 * spent / items)
            print(f"  round {r + 1}: " + "  ".join(f"{k} {v[-1]:.3f}" for k, v in out.items()))
    print(f"load average: {os.getloadavg()}")
    best = {k: max(v) if k == "items/s" else min(v) for k, v in out.items()}
    print(json.dumps({"mean": {k: statistics.mean(v) for k, v in out.items()}, "best": best}))


if __name__ == "__main__":
    main()
