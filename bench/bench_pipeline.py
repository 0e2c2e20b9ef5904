"""Throughput of parse -> map -> validate on the bundled real-world feeds.

Baseline: pySHACL called once per item (the naive way). Ours: one pySHACL call per
source batch (pipeline/validate.py). Same items, same process; prints items/s and the ratio.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from rdflib import Graph

from crawlers.platforms.feed import parse_feed
from ontology.validation import validate_batch
from pipeline.contracts import SourceSpec
from pipeline.map import MappedItem, map_items
from pipeline.validate import validate_items

FEEDS = Path(__file__).resolve().parent.parent / "crawlers" / "samples" / "feeds"
REPEAT = 5


def load() -> list[tuple[SourceSpec, list[MappedItem]]]:
    batches = []
    for path in sorted(FEEDS.glob("*.xml")):
        source = SourceSpec(id=path.stem.replace(".", "-"), network="bench", title=path.name, url="http://x")
        items = parse_feed(path.read_bytes(), source).items
        mapped, _ = map_items(
            items,
            source,
            base="http://bench",
            fetched_at=datetime.now(UTC),
            raw_sha256=None,
            mapping_version="1",
        )
        batches.append((source, mapped))
    return batches


def per_item(batches: list[tuple[SourceSpec, list[MappedItem]]]) -> int:
    n = 0
    for _, items in batches:
        for item in items:
            validate_batch(item.content + item.provenance)
            n += 1
    return n


def batched(batches: list[tuple[SourceSpec, list[MappedItem]]]) -> int:
    return sum(len(validate_items(items, source.id)[0]) for source, items in batches)


def timed(fn, batches) -> float:
    start = time.perf_counter()
    count = 0
    for _ in range(REPEAT):
        count += fn(batches)
    return count / (time.perf_counter() - start)


def main() -> None:
    t0 = time.perf_counter()
    batches = load()
    n = sum(len(items) for _, items in batches)
    parse_map_rate = n / (time.perf_counter() - t0)
    Graph()  # warm imports
    base = timed(per_item, batches)
    ours = timed(batched, batches)
    print(f"items: {n} from {len(batches)} feeds; parse+map: {parse_map_rate:,.0f} items/s (first run, cold)")
    print(f"validate, baseline one pySHACL call per item: {base:,.0f} items/s")
    print(f"validate, ours one call per source batch:     {ours:,.0f} items/s")
    print(f"ratio ours/baseline: x{ours / base:.2f}")


if __name__ == "__main__":
    main()
