"""Crawl benchmark: 1,000 sources across 100 hosts on loopback, politeness on.

Each host is its own address (127.0.1.1 ... 127.0.1.100, allowlisted) with its own HTTP
server and robots.txt, serving real corpus feeds; each source is one feed URL. The crawl
is the production path: the Scrapy child process (guard, RFC 9309 robots, per-host cap 2,
per-host delay, size cap, deadline) then the platform adapter on every archived body.
Prints sources/s, items/s, peak memory (this process and the crawler child) and the ratio
against a bare ``feedparser.parse`` loop over exactly the same bytes, in the same process.

    .venv/bin/python bench/bench_crawl.py [--sources 1000] [--hosts 100] [--delay 0.5]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.loopback import FEEDS, serve_on_hosts  # noqa: E402 - after the sys.path line


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--delay", type=float, default=0.5, help="per-host delay between requests (s)")
    args = ap.parse_args()

    import feedparser

    from pipeline.contracts import SourceSpec
    from pipeline.fetch import fetch_sources
    from pipeline.parse import parse_fetched
    from pipeline.settings import Settings
    from store.repository import Store

    with tempfile.TemporaryDirectory(prefix="innonet-bench-crawl-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        hosts, bases = serve_on_hosts(stack, root, args.hosts)
        sources = [
            SourceSpec(
                id=f"s{i:04d}",
                network="bench",
                title=f"s{i}",
                url=f"{bases[i % len(bases)]}/{FEEDS[i % len(FEEDS)]}?s={i}",
            )
            for i in range(args.sources)
        ]
        settings = Settings(
            data_dir=root / "data",
            fetch_allow_hosts=hosts,
            fetch_delay_s=args.delay,
            fetch_per_host=2,
            fetch_timeout_s=30.0,
        )
        store = Store(settings.resolved_database_url)
        started = time.perf_counter()
        results = fetch_sources(settings, store, sources)
        fetched = time.perf_counter()
        items = failed = 0
        by_id = {s.id: s for s in sources}
        bodies: list[bytes] = []
        for result in results:
            if not result.ok:
                failed += 1
                continue
            outcome = parse_fetched(store, by_id[result.source_id], result)
            items += len(outcome.items)
            bodies.append(store.payload(result.body_sha256 or "") or b"")
        done = time.perf_counter()
        store.close()

        base_start = time.perf_counter()
        base_items = sum(len(feedparser.parse(body).entries) for body in bodies)
        baseline = time.perf_counter() - base_start

    crawl_s = done - started
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"sources: {len(sources)} on {len(hosts)} hosts, per-host cap 2, per-host delay {args.delay} s")
    print(f"fetch (Scrapy child):      {fetched - started:7.2f} s")
    print(f"parse (adapters):          {done - fetched:7.2f} s")
    print(f"crawl total:               {crawl_s:7.2f} s   failed sources: {failed}")
    print(f"sources/s:                 {len(sources) / crawl_s:7.1f}")
    print(f"items/s:                   {items / crawl_s:7.1f}   ({items} items)")
    print(f"peak RSS: this process {peak_self:.0f} MB, crawler child {peak_child:.0f} MB")
    print(
        f"bare feedparser loop:      {baseline:7.2f} s over the same {len(bodies)} bodies ({base_items} entries)"
    )
    print(
        f"ratio crawl / bare parse:  {crawl_s / baseline:7.2f}x  (parse stage alone: {(done - fetched) / baseline:.2f}x)"
    )
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
