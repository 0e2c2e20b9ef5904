"""Parse stage alone, per corpus feed: items, which path reads it (fast path or feedparser), ms/item.

Run: ``flock -w 900 /tmp/w/bench.lock .venv/bin/python -m bench.bench_parse [N]`` (default N=1000).
The feeds are those bench_ingest's whole-path run reads (../shared/corpus/rss_atom/*.xml with
items), cycled the same way until N items; each feed's share of the parse stage is its
ms/item (best of 5) x the items it contributes. The fallback column says why the fast path hands
a feed to feedparser (``fastfeed.refusal``).
"""

from __future__ import annotations

import os
import sys
import time

from bench.bench_ingest import SOURCE, corpus_feeds
from crawlers.platforms.fastfeed import refusal
from crawlers.platforms.feed import _undeclared_utf16, parse_feed


def _best(body: bytes, rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        parse_feed(body, SOURCE)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    n = numbers[0] if numbers else 1000
    print(f"load average: {os.getloadavg()}")
    feeds = corpus_feeds()
    sizes = {name: len(parse_feed(body, SOURCE).items) for name, body in feeds}
    copies = dict.fromkeys(sizes, 0)
    total, i = 0, 0
    while total < n:  # bench_ingest.whole_sources' cycle
        name = feeds[i % len(feeds)][0]
        copies[name] += 1
        total += sizes[name]
        i += 1
    rows = []
    for name, body in feeds:
        seconds = _best(body)
        why = refusal(_undeclared_utf16(body), None)  # as parse_feed hands it over
        rows.append((name, sizes[name], copies[name], "feedparser" if why else "fast", why or "", seconds))
    stage = sum(s * c for _, _, c, _, _, s in rows)
    print(f"{'feed':34s} {'items':>5s} {'x':>3s} {'path':10s} {'ms/item':>8s} {'share':>6s}  refusal")
    for name, items, c, path, why, seconds in sorted(rows, key=lambda r: -r[5] * r[2]):
        print(
            f"{name:34s} {items:5d} {c:3d} {path:10s} {1000 * seconds / items:8.3f} "
            f"{100 * seconds * c / stage:5.1f}%  {why[:60]}"
        )
    for path in ("fast", "feedparser"):
        part = [r for r in rows if r[3] == path]
        its = sum(r[1] * r[2] for r in part)
        sec = sum(r[5] * r[2] for r in part)
        print(
            f"{path:10s}: {its:5d} items, {1000 * sec / max(its, 1):.3f} ms/item, {100 * sec / stage:.1f} % of the stage"
        )
    print(f"parse stage: {1000 * stage / total:.3f} ms/item over {total} items")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
