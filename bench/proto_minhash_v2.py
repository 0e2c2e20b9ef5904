"""A cheaper MinHash for clustering, tried and NOT shipped: its cost and its precision/recall vs the shipped one.

Run: ``.venv/bin/python -m bench.proto_minhash_v2`` (~10 s; hold the bench lock). docs/vocabulary.md (round 4 of
rendering and clustering) has the numbers and why it was not kept.

Shipped (version 1, ontology/cluster.py ``_add_signatures``): one blake2b digest per word pair, 48 xor-multiply
permutations in numpy, one blake2b per band of three rows. The prototype (version 2, here) computes every word's
hash at once in numpy: the batch's words joined by spaces and read as code points (UTF-32), prefix sums of
``code * P**position`` give a word's polynomial sum as ``(prefix[end] - prefix[start]) * P**-start`` (P odd, so
invertible modulo 2**64), mixed with splitmix64's finaliser; word pairs and band rows are mixed the same way. The
numpy result is checked against the pure-Python definition below. The same 48 permutations and thresholds are used;
only the hash of a word pair differs, which re-rolls the signature estimate.
"""

from __future__ import annotations

import os
import time

import numpy as np

from bench.bench_ingest import corpus_feeds, whole_sources
from bench.eval_vocab import cluster_set, pair_scores
from crawlers.platforms.feed import parse_feed
from ontology import cluster
from ontology.cluster import _MASK, _MULTIPLIER, _SEED_ARRAY, _SEEDS, BANDS, ROWS, ItemKeys, _tokens
from pipeline.store import cluster_input

_POLY = 0x100000001B3
_POLY_INVERSE = pow(_POLY, -1, 1 << 64)
_PAIR = 0xD6E8FEB86659FD93
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_PAIR_U, _MIX1_U, _MIX2_U = (np.array(v, dtype=np.uint64) for v in (_PAIR, _MIX1, _MIX2))
_S30, _S27, _S31 = (np.array(v, dtype=np.uint64) for v in (30, 27, 31))


def _mix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> _S30)) * _MIX1_U
    x = (x ^ (x >> _S27)) * _MIX2_U
    return x ^ (x >> _S31)


def _mix_int(x: int) -> int:
    x = ((x ^ (x >> 30)) * _MIX1) & _MASK
    x = ((x ^ (x >> 27)) * _MIX2) & _MASK
    return x ^ (x >> 31)


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    up = np.full(n, _POLY, dtype=np.uint64)
    down = np.full(n, _POLY_INVERSE, dtype=np.uint64)
    up[0] = down[0] = 1
    return np.cumprod(up, dtype=np.uint64), np.cumprod(down, dtype=np.uint64)


def signature_reference(tokens: list[str]) -> list[int]:
    words = [
        _mix_int((sum(ord(c) * pow(_POLY, i, 1 << 64) for i, c in enumerate(w)) + len(w)) & _MASK)
        for w in tokens
    ]
    pairs = {_mix_int(((a * _PAIR) & _MASK) ^ b) for a, b in zip(words, words[1:], strict=False)}
    return [min((h ^ seed) * 0x9E3779B97F4A7C15 & _MASK for h in pairs) for seed in _SEEDS]


def bands_reference(signature: list[int]) -> list[str]:
    out = []
    for b in range(BANDS):
        rows = signature[b * ROWS : (b + 1) * ROWS]
        folded = _mix_int(rows[0])
        for row in rows[1:]:
            folded = _mix_int(folded ^ row)
        out.append(f"lsh2:{b}:{folded:016x}")
    return out


def add_signatures_v2(signed: list[tuple[ItemKeys, list[str]]]) -> None:
    """``ontology.cluster._add_signatures``'s contract, version 2 (every item has five or more words)."""
    if not signed:
        return
    words: list[str] = []
    counts: list[int] = []
    for _, tokens in signed:
        words += tokens
        counts.append(len(tokens))
    text = " ".join(words).encode("utf-32-le", "surrogatepass")
    codes = np.frombuffer(text, dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    up, down = _powers(len(codes) + 1)
    prefix = np.zeros(len(codes) + 1, dtype=np.uint64)
    np.cumsum(codes * up[: len(codes)], out=prefix[1:])
    word = _mix((prefix[starts + lengths] - prefix[starts]) * down[starts] + lengths.astype(np.uint64))
    pairs = _mix((word[:-1] * _PAIR_U) ^ word[1:])
    firsts = np.cumsum([0, *counts[:-1]])
    keep = np.ones(len(pairs), dtype=bool)
    keep[firsts[1:] - 1] = False  # the pair of an item's last word and the next item's first
    mixed = (pairs[keep][:, None] ^ _SEED_ARRAY[None, :]) * _MULTIPLIER
    signatures = np.minimum.reduceat(mixed, firsts - np.arange(len(counts)), axis=0)
    rows = signatures.reshape(len(counts), BANDS, ROWS)
    folded = _mix(rows[:, :, 0])
    for r in range(1, ROWS):
        folded = _mix(folded ^ rows[:, :, r])
    hexes = folded.astype(">u8").tobytes().hex()
    for i, ((out, _), signature) in enumerate(zip(signed, signatures.tolist(), strict=True)):
        out.signature = signature
        base = i * 16 * BANDS
        out.bands = [f"lsh2:{b}:{hexes[base + 16 * b : base + 16 * b + 16]}" for b in range(BANDS)]


def scores(threshold: float) -> dict[str, float]:
    cluster.MIN_SIMILARITY = threshold
    return pair_scores(*cluster_set())


def main() -> None:
    print(f"load average: {os.getloadavg()}")
    texts = [
        " ".join(t for t in (x.title, x.summary) if t)
        for spec, body in whole_sources(corpus_feeds(), 600, "v2")
        for x in (cluster_input(it.native_id, it) for it in parse_feed(body, spec).items)  # type: ignore[arg-type]
    ]
    token_lists = list({tuple(t): t for t in (_tokens(x) for x in texts) if len(t) >= 5}.values())
    signed = [(ItemKeys(), t) for t in token_lists]
    for i in range(0, len(signed), 20):
        add_signatures_v2(signed[i : i + 20])
    same = all(
        k.signature == signature_reference(t) and k.bands == bands_reference(k.signature) for k, t in signed
    )
    print(
        f"{len(signed)} distinct corpus token lists; numpy version 2 equals its pure-Python definition: {same}"
    )
    for name, add in (
        ("version 1 (shipped)", cluster._add_signatures),
        ("version 2 (prototype)", add_signatures_v2),
    ):
        times = []
        for _ in range(7):
            start = time.process_time()
            for i in range(0, len(signed), 20):  # a source's batch
                add(signed[i : i + 20])
            times.append(time.process_time() - start)
        print(
            f"  {name:22s} signatures + bands: {1e6 * sorted(times)[3] / len(signed):5.1f} µs CPU per new item"
        )
    shipped = cluster._add_signatures
    for threshold in (0.5, 0.4):
        for name, add in (("version 1", shipped), ("version 2", add_signatures_v2)):
            cluster._add_signatures = add  # what Clusterer.assign_all calls
            print(f"  labelled pairs, threshold {threshold}, {name}: {scores(threshold)}")
    cluster._add_signatures = shipped
    cluster.MIN_SIMILARITY = 0.5
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
