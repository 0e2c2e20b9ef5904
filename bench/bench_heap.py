"""The harvest with and without the one-time ``gc.freeze()`` of pipeline/heap.py: items/s and the stage split.

Run: ``flock -w 900 /tmp/w/bench.lock .venv/bin/python -m bench.bench_heap [N] [ROUNDS]`` (default 1000, 2).
Each variant runs in its own fresh process (a freeze cannot be undone cleanly in one), alternating
frozen / not frozen ROUNDS times: the harvest path as bench_ingest times it (warm-up of 60 items,
then ``process_fetched`` per source over N items, then the stage split), with fresh language
detections before each timed run. "not frozen" marks the heap as already settled, so nothing is frozen.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile


def _child(n: int, frozen: bool) -> None:
    import pipeline.heap as heap
    from bench.bench_ingest import corpus_feeds, fresh_text_caches, whole_ours, whole_sources, whole_stages
    from crawlers.platforms.feed import parse_feed

    if not frozen:
        heap._settled = True  # noqa: SLF001 - the "before" variant: never freeze
    feeds = corpus_feeds()
    with tempfile.TemporaryDirectory() as tmp:
        whole_ours(tmp, whole_sources(feeds, 60, "warm"), "warm")
        rates = []
        for r in range(3):
            fresh_text_caches()
            seconds, stored = whole_ours(tmp, whole_sources(feeds, n, f"o{r}"), f"o{r}")
            rates.append(stored / seconds)
        fresh_text_caches()
        sources = whole_sources(feeds, n, "stg")
        parts = whole_stages(tmp, sources)
        items = sum(len(parse_feed(body, spec).items) for spec, body in sources)
    print(json.dumps({"rates": rates, "parts": {k: v / items for k, v in parts.items()}}))


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        _child(int(sys.argv[2]), sys.argv[3] == "1")
        return
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    n = numbers[0] if numbers else 1000
    rounds = numbers[1] if len(numbers) > 1 else 2
    print(f"load average: {os.getloadavg()}")
    for _ in range(rounds):
        for frozen in (False, True):
            out = subprocess.run(
                [sys.executable, "-m", "bench.bench_heap", "--child", str(n), "1" if frozen else "0"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            result = json.loads(out.strip().splitlines()[-1])
            rates = " ".join(f"{r:6.0f}" for r in result["rates"])
            split = " ".join(f"{k} {1000 * v:.3f}" for k, v in result["parts"].items())
            label = "frozen    " if frozen else "not frozen"
            print(f"  {label}  process_fetched items/s: {rates}  | ms/item: {split}")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
