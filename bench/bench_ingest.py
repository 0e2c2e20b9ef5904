"""Items/s for map + validate + cluster, against a naive rdflib-and-pySHACL-per-item baseline.

Run: ``.venv/bin/python -m bench.bench_ingest [N]`` (default N=1000). Input: the parsed items of
every corpus feed in ../shared/corpus/rss_atom/ (news in several languages), cycled to N with
distinct ids. Both paths run in this process, on the same items; the ratio is what to trust.

* baseline: per item, map to an rdflib graph, run ``pyshacl.validate`` on that one graph.
* ours:     map per item, validate in batches of 500 (items the cheap check of
            ontology/fast_validation.py proves conforming skip pySHACL; the rest get one pySHACL
            call per batch, report split by item), cluster every item (in-memory keys; the store
            adds one indexed lookup per batch).

The baseline uses the same mapping code, so speed-ups of the mapping itself raise both lines;
docs/vocabulary.md ("Speed") keeps the numbers from before and after each change.
"""

from __future__ import annotations

import hashlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from pyshacl import validate

from crawlers.platforms.feed import parse_feed
from ontology.cluster import Clusterer
from ontology.fast_validation import batch_proofs, item_triples
from ontology.validation import shapes_graph
from pipeline.contracts import RawItem, SourceSpec
from pipeline.map import map_items
from pipeline.store import cluster_items
from pipeline.validate import validate_items

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "rss_atom"
SOURCE = SourceSpec(id="bench", network="bench-net", title="bench", url="http://x")
BASE = "http://innonet.test"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def corpus_items(n: int) -> list[RawItem]:
    pool: list[RawItem] = []
    for path in sorted(CORPUS.glob("*.xml")):
        try:
            pool += parse_feed(path.read_bytes(), SOURCE).items
        except Exception:  # noqa: BLE001 - unreadable corpus files are not items
            continue
    return [
        pool[i % len(pool)].model_copy(update={"native_id": f"{i}:{pool[i % len(pool)].native_id}"})
        for i in range(n)
    ]


def baseline(items: list[RawItem]) -> float:
    start = time.perf_counter()
    shapes = shapes_graph()
    for item in items:
        [mapped], _ = map_items(
            [item], SOURCE, base=BASE, fetched_at=NOW, raw_sha256="ab" * 32, mapping_version="1"
        )
        validate(
            mapped.content + mapped.provenance, shacl_graph=shapes, inference="none", allow_warnings=True
        )
    return time.perf_counter() - start


def ours(items: list[RawItem], batch: int = 500) -> tuple[float, dict[str, float]]:
    parts = {"map": 0.0, "validate": 0.0, "cluster": 0.0}
    clusterer = Clusterer(lambda k: hashlib.sha256(k.encode()).hexdigest()[:16])
    for i in range(0, len(items), batch):
        t0 = time.perf_counter()
        mapped, _ = map_items(
            items[i : i + batch], SOURCE, base=BASE, fetched_at=NOW, raw_sha256="ab" * 32, mapping_version="1"
        )
        t1 = time.perf_counter()
        valid, _, _ = validate_items(mapped, SOURCE.id)
        t2 = time.perf_counter()
        cluster_items(valid, clusterer, BASE)
        t3 = time.perf_counter()
        parts["map"] += t1 - t0
        parts["validate"] += t2 - t1
        parts["cluster"] += t3 - t2
    return sum(parts.values()), parts


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    items = corpus_items(n)
    shapes_graph()
    ours(items[:50])  # warm caches (regexes, language models, shapes)
    total, parts = ours(items)
    base_n = min(n, 300)
    base_s = baseline(items[:base_n])
    ours_rate, base_rate = n / total, base_n / base_s
    mapped, _ = map_items(items, SOURCE, base=BASE, fetched_at=NOW, raw_sha256="ab" * 32, mapping_version="1")
    left = sum(  # per batch of 500, as ``ours`` validates
        proof is None
        for i in range(0, len(mapped), 500)
        for proof in batch_proofs(
            [(m.iri, item_triples(m.content, m.provenance)) for m in mapped[i : i + 500]]
        )
    )
    print(f"items: {n} (baseline on {base_n})")
    print(f"baseline  rdflib + pySHACL per item : {base_rate:8.0f} items/s")
    print(f"ours      map + batch SHACL + cluster: {ours_rate:8.0f} items/s  (x{ours_rate / base_rate:.1f})")
    for name, seconds in parts.items():
        print(f"  {name:9s} {n / seconds:10.0f} items/s  ({1000 * seconds / n:.3f} ms/item)")
    print(
        f"  pySHACL ran on {left} of {len(mapped)} items (the rest proven by the cheap check: conforming, or only the no-date warning)"
    )
    print("goal 5000 items/s:", "reached" if ours_rate >= 5000 else "NOT reached")


if __name__ == "__main__":
    main()
