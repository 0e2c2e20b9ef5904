"""Map stage alone: ms per item over bench_ingest's corpus items, with and without the function-word vote.

Run: ``flock -w 900 /tmp/w/bench.lock .venv/bin/python -m bench.bench_map [N]`` (default N=1000).
Each timed run starts with forgotten per-text detections (``forget_detections``), as bench_ingest
does; best of 5 alternating rounds. The baseline is the same mapping with the vote switched off
(every undeclared text goes to lingua, as before issue 4's map round). A garbage collection of the
old generation (~0.1 s with the vocabulary, shapes and models loaded) can fall in any stage of
bench_ingest's split; here the best of 5 leaves it out of both lines.
"""

from __future__ import annotations

import os
import sys
import time

import ontology.language as language
from bench.bench_ingest import BASE, NOW, SOURCE, corpus_items
from pipeline.map import map_items


def _run(items: list) -> float:
    language.forget_detections()
    start = time.perf_counter()
    map_items(items, SOURCE, base=BASE, fetched_at=NOW, raw_sha256="ab" * 32, mapping_version="1")
    return time.perf_counter() - start


def main() -> None:
    numbers = [int(a) for a in sys.argv[1:] if a.isdigit()]
    items = corpus_items(numbers[0] if numbers else 1000)
    print(f"load average: {os.getloadavg()}")
    _run(items[:50])  # imports, regexes, language models
    vote = language.function_word_vote
    best = {"ours": float("inf"), "baseline (no vote)": float("inf")}
    for _ in range(5):
        language.function_word_vote = vote
        best["ours"] = min(best["ours"], _run(items))
        language.function_word_vote = lambda text: None  # type: ignore[assignment]
        best["baseline (no vote)"] = min(best["baseline (no vote)"], _run(items))
    language.function_word_vote = vote
    for name, seconds in best.items():
        print(f"  {name:20s} {1000 * seconds / len(items):.3f} ms/item")
    print(f"  ratio x{best['baseline (no vote)'] / best['ours']:.2f} ({len(items)} items)")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
