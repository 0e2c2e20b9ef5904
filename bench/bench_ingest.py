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

import cProfile
import hashlib
import os
import pstats
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from pyshacl import validate
from rdflib import Graph

from crawlers.platforms.feed import parse_feed
from ontology.cluster import Clusterer
from ontology.fast_validation import batch_proofs, item_triples
from ontology.language import forget_detections
from ontology.validation import shapes_graph
from pipeline.contracts import FetchResult, NetworkSpec, RawItem, Registry, SourceReport, SourceSpec
from pipeline.harvest import process_fetched
from pipeline.heap import HARVEST_GC_THRESHOLD0, fewer_collections
from pipeline.map import MappedItem, map_items
from pipeline.settings import Settings
from pipeline.store import cluster_items, store_and_publish
from pipeline.validate import validate_items
from store.repository import Store

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


def rdflib_graph(item: MappedItem) -> Graph:
    """The naive path's item graph: an rdflib Graph (default Memory store) of content + provenance."""
    g = Graph()
    g += item.content
    g += item.provenance
    return g


def baseline(items: list[RawItem]) -> float:
    start = time.perf_counter()
    shapes = shapes_graph()
    for item in items:
        [mapped], _ = map_items(
            [item], SOURCE, base=BASE, fetched_at=NOW, raw_sha256="ab" * 32, mapping_version="1"
        )
        validate(rdflib_graph(mapped), shacl_graph=shapes, inference="none", allow_warnings=True)
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


def corpus_feeds() -> list[tuple[str, bytes]]:
    """(name, raw bytes) of every corpus feed the feed adapter reads items from."""
    out = []
    for path in sorted(CORPUS.glob("*.xml")):
        body = path.read_bytes()
        try:
            if parse_feed(body, SOURCE).items:
                out.append((path.stem, body))
        except Exception:  # noqa: BLE001 - unreadable corpus files are not items
            continue
    return out


#: Elements a fresh copy (``--fresh``) changes: item texts, and links and ids (RSS, Atom, content:encoded).
_FRESH_TEXT = frozenset({"title", "description", "summary", "content", "encoded"})
_FRESH_URL = frozenset({"link", "guid", "id"})


def fresh_copy(body: bytes, copy: int) -> bytes:
    """The feed with every text and link made this copy's own (the bytes unchanged if lxml cannot read them).

    By default the bench's sources after the first pass over the corpus are syndicated copies: the
    same texts under the same URLs from another source, so ~80 % of its items take the cheap ways
    (per-text language results and cluster keys already known in the run). A fresh copy appends
    `` [copy]`` to every text and ``-copy`` to every link and id: each item is then a new text
    under a new URL, as new stories are (language detected, MinHash computed, keys inserted); it
    still shares most words with the original, so it joins that story's cluster as a near-duplicate.
    """
    from lxml import etree

    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return body
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        local = etree.QName(el).localname
        if local in _FRESH_URL:
            if el.get("href"):
                el.set("href", f"{el.get('href')}-{copy}")
            elif el.text and el.text.strip():
                el.text = f"{el.text.strip()}-{copy}"
        elif local in _FRESH_TEXT and el.text and el.text.strip():
            el.text = f"{el.text} [{copy}]"
    encoding = root.getroottree().docinfo.encoding or "utf-8"
    return etree.tostring(root, xml_declaration=True, encoding=encoding)


def whole_sources(
    feeds: list[tuple[str, bytes]], n: int, tag: str, fresh: bool = False
) -> list[tuple[SourceSpec, bytes]]:
    """Distinct sources (one per feed copy) until their items add up to at least ``n``.

    ``fresh``: copies after the first pass over the corpus get their own texts and links (``fresh_copy``)."""
    sources, total, i = [], 0, 0
    sizes = {name: len(parse_feed(body, SOURCE).items) for name, body in feeds}
    while total < n:
        name, body = feeds[i % len(feeds)]
        if fresh and i >= len(feeds):
            body = fresh_copy(body, i // len(feeds))
        spec = SourceSpec(id=f"{tag}-{i}", network="bench-net", title=name, url=f"http://x/{i}")
        sources.append((spec, body))
        total += sizes[name]
        i += 1
    return sources


def _store(tmp: str, name: str, sources: list[tuple[SourceSpec, bytes]]) -> tuple[Settings, Store]:
    settings = Settings(data_dir=Path(tmp) / name, base_url=BASE)  # type: ignore[call-arg]
    store = Store(settings.resolved_database_url)
    store.checkpoint_in_background()  # as pipeline.harvest.harvest opens its store (commits skip checkpoints)
    store.sync_registry(
        Registry(networks=[NetworkSpec(id="bench-net", name="bench")], sources=[s for s, _ in sources])
    )
    return settings, store


def _fetched(store: Store, spec: SourceSpec, body: bytes) -> FetchResult:
    # The fetch stage archives the body and hands over this line; the bench starts right after it.
    sha = store.save_payload(body, spec.url, "application/xml")
    return FetchResult(
        source_id=spec.id, url=spec.url, status=200, ok=True, content_type="application/xml",
        body_sha256=sha, body_size=len(body), fetched_at=NOW,
    )  # fmt: skip


def whole_ours(tmp: str, sources: list[tuple[SourceSpec, bytes]], name: str = "ours") -> tuple[float, int]:
    """The harvest's own path per source (pipeline.harvest.process_fetched): parse ... publish."""
    settings, store = _store(tmp, name, sources)
    results = [(spec, _fetched(store, spec, body)) for spec, body in sources]
    stored = 0
    start = time.perf_counter()
    with fewer_collections(HARVEST_GC_THRESHOLD0):  # as pipeline.harvest.harvest runs its sources
        for spec, result in results:
            report = process_fetched(settings, store, spec, result)
            stored += report.counts.get("new", 0) + report.counts.get("updated", 0)
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed, stored


def whole_baseline(tmp: str, sources: list[tuple[SourceSpec, bytes]]) -> tuple[float, int]:
    """Naive: parse, then per item an rdflib graph and one pySHACL call; the same store and publish."""
    settings, store = _store(tmp, "baseline", sources)
    results = [(spec, _fetched(store, spec, body)) for spec, body in sources]
    shapes = shapes_graph()
    stored = 0
    start = time.perf_counter()
    for spec, result in results:
        report = SourceReport(source_id=spec.id, started_at=NOW)
        items = parse_feed(store.payload(result.body_sha256 or "") or b"", spec).items
        valid = []
        for item in items:
            mapped, _ = map_items(
                [item], spec, base=BASE, fetched_at=NOW, raw_sha256=result.body_sha256, mapping_version="1"
            )
            for m in mapped:
                conforms, _, _ = validate(
                    rdflib_graph(m), shacl_graph=shapes, inference="none", allow_warnings=True
                )
                if conforms:
                    valid.append(m)
        store_and_publish(store, valid, report, result.body_sha256, BASE, settings.ldes_page_size)
        stored += report.counts.get("new", 0) + report.counts.get("updated", 0)
    elapsed = time.perf_counter() - start
    store.close()
    return elapsed, stored


def whole_stages(tmp: str, sources: list[tuple[SourceSpec, bytes]]) -> dict[str, float]:
    """The same work as ``whole_ours``, stage by stage (no follow/registry glue), for the split.

    Store and publish are one transaction per source in the harvest (``store_and_publish``), so
    they are timed together."""
    settings, store = _store(tmp, "stages", sources)
    results = [(spec, _fetched(store, spec, body)) for spec, body in sources]
    parts = dict.fromkeys(("parse", "map", "validate", "store+publish"), 0.0)
    for spec, result in results:
        report = SourceReport(source_id=spec.id, started_at=NOW)
        t0 = time.perf_counter()
        items = parse_feed(store.payload(result.body_sha256 or "") or b"", spec).items
        t1 = time.perf_counter()
        mapped, _ = map_items(
            items, spec, base=BASE, fetched_at=NOW, raw_sha256=result.body_sha256, mapping_version="1"
        )
        t2 = time.perf_counter()
        valid, _, _ = validate_items(mapped, spec.id)
        t3 = time.perf_counter()
        store_and_publish(store, valid, report, result.body_sha256, BASE, settings.ldes_page_size)
        t4 = time.perf_counter()
        for key, a, b in (("parse", t0, t1), ("map", t1, t2), ("validate", t2, t3), ("store+publish", t3, t4)):  # fmt: skip
            parts[key] += b - a
    store.close()
    return parts


def fresh_text_caches() -> None:
    """Forget per-text results before a timed run: the warm-up and earlier runs read the same corpus
    texts, and a harvest meets new items with texts it has never seen (lingua costs ~0.1 ms per
    text, a cache hit ~0.1 µs: left warm, the map stage looked ~2.5x cheaper than it is)."""
    forget_detections()


def copies_note(feeds: list[tuple[str, bytes]], sources: list[tuple[SourceSpec, bytes]], fresh: bool) -> str:
    """What the items are: how many are syndicated copies of an item stored before them in the run."""
    first = sum(len(parse_feed(body, SOURCE).items) for _, body in sources[: len(feeds)])
    total = sum(len(parse_feed(body, SOURCE).items) for _, body in sources)
    originals = {body for _, body in feeds}
    kept = sum(len(parse_feed(b, SOURCE).items) for _, b in sources[len(feeds) :] if b in originals)
    if fresh:
        return (f"items: --fresh: {total - first - kept} of {total} are copies with their own texts and links "
                f"(new to the language detector and the exact keys; near-duplicates of an earlier copy), "
                f"{kept} copies left as they were (feeds lxml cannot rewrite)")  # fmt: skip
    return (f"items: {total - first} of {total} ({100 * (total - first) / total:.0f} %) are syndicated copies "
            f"(same texts and links as an item stored earlier in the run: known exact keys, cached language); "
            f"--fresh makes them new")  # fmt: skip


def whole_path(n: int, profile: bool, fresh: bool = False) -> None:
    """Raw feed bytes -> parse -> map -> validate -> cluster -> store -> publish, per source."""
    feeds = corpus_feeds()
    with tempfile.TemporaryDirectory() as tmp:
        whole_ours(tmp, whole_sources(feeds, 60, "warm"), "warm")  # imports, caches, models
        sources = whole_sources(feeds, n, "src", fresh)
        fresh_text_caches()
        ours_s, ours_n = whole_ours(tmp, sources)
        base_sources = whole_sources(feeds, min(n, 300), "base", fresh)
        fresh_text_caches()
        base_s, base_n = whole_baseline(tmp, base_sources)
        fresh_text_caches()
        parts = whole_stages(tmp, whole_sources(feeds, n, "stg", fresh))
        if profile:
            fresh_text_caches()
            profiler = cProfile.Profile()
            profiler.enable()
            whole_ours(tmp, whole_sources(feeds, n, "prof", fresh), "prof")
            profiler.disable()
    ours_rate, base_rate = ours_n / ours_s, base_n / base_s
    print(f"whole ingest path, raw bytes -> stored + published record ({len(sources)} feeds, {ours_n} items)")
    print("  " + copies_note(feeds, sources, fresh))
    print(f"  baseline  rdflib + pySHACL per item, same store: {base_rate:8.0f} items/s ({base_n} items)")
    print(f"  ours      process_fetched per source           : {ours_rate:8.0f} items/s  (x{ours_rate / base_rate:.1f})")  # fmt: skip
    total = sum(parts.values())
    for name, seconds in parts.items():
        print(f"    {name:13s} {1000 * seconds / ours_n:7.3f} ms/item  ({100 * seconds / total:4.1f} %)")
    print("  goal 5000 items/s:", "reached" if ours_rate >= 5000 else "NOT reached")
    if profile:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def main() -> None:
    if any(a.startswith("--parallel") for a in sys.argv[1:]):  # N batch processes on one store
        from bench.ingest_parallel import main as parallel_main

        parallel_main(sys.argv[1:])
        return
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    n = numbers[0] if numbers else 1000
    print(f"load average: {os.getloadavg()}")
    whole_path(n, "--profile" in sys.argv, "--fresh" in sys.argv)
    items = corpus_items(n)
    shapes_graph()
    ours(items[:50])  # warm caches (regexes, language models, shapes)
    fresh_text_caches()
    total, parts = ours(items)
    base_n = min(n, 300)
    fresh_text_caches()
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
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
