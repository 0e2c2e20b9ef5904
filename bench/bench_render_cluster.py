"""µs/item of the store step's two CPU parts: N-Triples rendering and cluster keys, old code vs new.

Run: ``flock -w 1500 /tmp/w/bench.lock .venv/bin/python -m bench.bench_render_cluster [N] [--old=REV]``
(default N=2000, REV=HEAD). The "old" side is ontology/triples.py and ontology/cluster.py as they are
at REV (read with ``git show`` and loaded as separate modules), the "new" side the working tree; both
run in this process on the same items, rounds alternating, and must give the same bytes and keys
(checked here too; the tests check it on every corpus item).

* render: per item the record, member lines and content hash (``pipeline.store.rendered``) from
  freshly built graphs (building them is not timed: the mappers do it in the map stage);
* cluster: ``Clusterer.assign_all`` per source (in-memory index, no store lookups), from the
  ``ClusterInput`` of each item (``pipeline.store.cluster_input``), twice: on all items ("cycled":
  the corpus repeats, so most items are copies whose URL is known by their turn, as in a re-harvest)
  and on the first copy of each item only ("distinct": every item new, as in a first harvest).
  Both sides must assign the same clusters.

Items: bench_ingest's sources (corpus feeds, one source per feed copy, until N items), parsed, mapped
and validated up front. Caches keyed by text are cleared before every round (a harvest meets texts it
has not seen; the corpus is cycled, so a warm cache would hit on every copy).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from bench.bench_ingest import BASE, NOW, corpus_feeds, whole_sources
from crawlers.platforms.feed import parse_feed
from ontology import cluster as new_cluster
from ontology import triples as new_triples
from pipeline.map import MappedItem, map_items
from pipeline.store import cluster_input, cluster_items, rendered
from pipeline.validate import validate_items

ROOT = Path(__file__).resolve().parent.parent


def module_at(rev: str, path: str, name: str) -> ModuleType:
    """``path`` as it is at git revision ``rev``, loaded as module ``name``."""
    source = subprocess.run(
        ["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:{path}", "exec"), module.__dict__)  # noqa: S102 - our own file at a revision
    return module


def prepared(n: int) -> list[list[MappedItem]]:
    """Validated, clustered items per source (parse, map, validate, cluster done here, untimed)."""
    batches = []
    clusterer = new_cluster.Clusterer(lambda k: hashlib.sha256(k.encode()).hexdigest()[:16])
    for spec, body in whole_sources(corpus_feeds(), n, "rc"):
        mapped, _ = map_items(
            parse_feed(body, spec).items, spec, base=BASE, fetched_at=NOW,
            raw_sha256="ab" * 32, mapping_version="1",
        )  # fmt: skip
        valid = validate_items(mapped, spec.id)[0]
        cluster_items(valid, clusterer, BASE)
        batches.append(valid)
    return batches


def old_rendered(content: Any, provenance: Any, derived: Any) -> tuple[str, list[str], str]:
    """``pipeline.store.rendered`` as it was before 65a5740 (what it does with any ItemGraph), on the old graphs."""
    content_lines = content.nt_lines()
    member = list(dict.fromkeys(content_lines + provenance.nt_lines()))
    record = "".join(dict.fromkeys(member + derived.nt_lines()))
    return record, member, content.sorted_nt_sha256()


def fresh_graphs(batches: list[list[MappedItem]], module: ModuleType) -> list[tuple[Any, Any, Any]]:
    graph = module.ItemGraph
    return [(graph(m.content), graph(m.provenance), graph(m.derived)) for b in batches for m in b]


def render_round(graphs: list[tuple[Any, Any, Any]], old: bool) -> tuple[float, list[Any]]:
    start = time.process_time()
    if old:
        out = [old_rendered(c, p, d) for c, p, d in graphs]
    else:
        out = [rendered(SimpleNamespace(content=c, provenance=p, derived=d)) for c, p, d in graphs]  # type: ignore[arg-type]
    return time.process_time() - start, out


def cluster_round(inputs: list[list[Any]], module: ModuleType) -> tuple[float, list[str]]:
    clusterer = module.Clusterer(lambda k: hashlib.sha256(k.encode()).hexdigest()[:16])
    start = time.process_time()
    out = [clusterer.assign_all(batch) for batch in inputs]
    elapsed = time.process_time() - start
    return elapsed, [c for batch in out for c, _ in batch]


def distinct(inputs: list[list[Any]]) -> list[list[Any]]:
    """The first copy of each item (by URL, title and summary), in the same sources."""
    seen: set[tuple] = set()
    out = []
    for batch in inputs:
        kept = [x for x in batch if (x.url, x.title, x.summary) not in seen]
        seen.update((x.url, x.title, x.summary) for x in kept)
        if kept:
            out.append(kept)
    return out


def forget_text_caches(*modules: ModuleType) -> None:
    for module in modules:
        forget = getattr(module, "forget_caches", None)
        if forget is not None:
            forget()


def main() -> None:
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    n = numbers[0] if numbers else 2000
    rev = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--old=")), "HEAD")
    print(f"load average: {os.getloadavg()}  old = {rev}, new = working tree")
    old_triples = module_at(rev, "ontology/triples.py", "_old_triples")
    old_cluster = module_at(rev, "ontology/cluster.py", "_old_cluster")
    batches = prepared(n)
    items = sum(map(len, batches))
    cycled = [[cluster_input(m.iri, m.raw) for m in b] for b in batches]
    sets = {"cluster, cycled": cycled, "cluster, distinct": distinct(cycled)}
    times: dict[tuple[str, bool], list[float]] = {}
    clusters: dict[tuple[str, bool], list[str]] = {}
    for round_no in range(6):
        for old in (True, False) if round_no % 2 == 0 else (False, True):
            graphs = fresh_graphs(batches, old_triples if old else new_triples)
            seconds, out = render_round(graphs, old)
            times.setdefault(("render", old), []).append(seconds)
            if old:
                old_out = out
            else:
                new_out = out
            for name, inputs in sets.items():
                forget_text_caches(old_cluster, new_cluster)
                seconds, assigned = cluster_round(inputs, old_cluster if old else new_cluster)
                times.setdefault((name, old), []).append(seconds)
                clusters[(name, old)] = assigned
        assert new_out == old_out, "rendered bytes differ"
        for name in sets:
            assert clusters[(name, True)] == clusters[(name, False)], f"{name}: other clusters"
    counts = {"render": items, **{name: sum(map(len, inputs)) for name, inputs in sets.items()}}
    print(
        f"items: {items} in {len(batches)} sources ({counts['cluster, distinct']} distinct); same bytes, same clusters"
    )
    print("CPU µs/item, median of 6 rounds (min)   old            new        new/old")
    for part, n_items in counts.items():
        o, w = statistics.median(times[(part, True)]), statistics.median(times[(part, False)])
        print(
            f"  {part:18s}  {1e6 * o / n_items:7.1f} ({1e6 * min(times[(part, True)]) / n_items:5.1f})"
            f"  {1e6 * w / n_items:7.1f} ({1e6 * min(times[(part, False)]) / n_items:5.1f})   x{w / o:.2f}"
        )
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
