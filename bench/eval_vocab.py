"""Precision and recall of the theme classifier and of clustering on labelled corpus items.

Run: ``.venv/bin/python -m bench.eval_vocab`` (prints the tables in docs/classifier.md).

Themes: every item of the corpus feeds in ../shared/corpus/rss_atom/ that parses (590 items,
en/de/fr/pt/ru/es). Gold labels: tests/ontology/data/themes_gold.json lists the items a developer
judged to be about one of our themes (found by reading every item a broad keyword scan flagged:
government, Bürger, Verwaltung, procurement, particip..., see docs/classifier.md); every other item
is labelled "no theme".

Clusters: pairs of items. The corpus has no real cross-network copies (the heise and Golem feeds in
two formats are from different days), so positives are *constructed* from real Guardian items the
way aggregators re-publish them: a relay with the same URL plus tracking parameters and no summary,
and a syndicated copy under another URL with a site suffix on the title and the summary cut to half.
Negatives: every other pair, i.e. all real heise, Golem and Guardian items among themselves (same
publisher, same day, same topics), and "near-miss" items: a Guardian title with one word changed,
another URL and a different summary start.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from urllib.parse import urlsplit

from crawlers.platforms.feed import html_to_text, parse_feed
from ontology.cluster import Clusterer, ClusterInput
from ontology.themes import classify
from pipeline.contracts import RawItem, SourceSpec

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
GOLD = Path(__file__).resolve().parent.parent / "tests" / "ontology" / "data" / "themes_gold.json"
SOURCE = SourceSpec(id="s", network="n", title="t", url="http://x")


def feed_items(name: str) -> list[RawItem]:
    return parse_feed((CORPUS / "rss_atom" / name).read_bytes(), SOURCE).items


def eval_themes() -> dict[str, float]:
    gold: dict[str, list[str]] = json.loads(GOLD.read_text(encoding="utf-8"))["positives"]
    tp = fp = fn = n = 0
    for path in sorted((CORPUS / "rss_atom").glob("*.xml")):
        try:
            items = parse_feed(path.read_bytes(), SOURCE).items
        except Exception:  # noqa: BLE001 - a corpus file the feed adapter rejects is not an item
            continue
        for i, it in enumerate(items):
            n += 1
            got = {
                str(c).rsplit("/", 1)[-1]
                for c in classify(
                    title=it.title,
                    summary=html_to_text(it.summary),
                    body=html_to_text(it.body_html),
                    tags=it.tags,
                ).concepts
            }
            want = set(gold.get(f"{path.name}#{i}", []))
            tp, fp, fn = tp + len(got & want), fp + len(got - want), fn + len(want - got)
    return {"items": n, "tp": tp, "fp": fp, "fn": fn, **_pr(tp, fp, fn)}


def _pr(tp: int, fp: int, fn: int) -> dict[str, float]:
    return {
        "precision": round(tp / (tp + fp), 3) if tp + fp else 1.0,
        "recall": round(tp / (tp + fn), 3) if tp + fn else 1.0,
    }


def _input(
    key: str, it: RawItem, url: str | None = None, title: str | None = None, summary: str | None = None
):
    return ClusterInput(
        key, title=title or it.title, summary=summary or html_to_text(it.summary), url=url or it.url
    )


def cluster_set() -> tuple[list[ClusterInput], dict[str, str]]:
    """Labelled inputs and their gold story id."""
    inputs: list[ClusterInput] = []
    story: dict[str, str] = {}
    for a, b in (
        ("heise_de_atom.xml", "heise_de_rss10.rdf.xml"),
        ("golem_de_iso-8859-1.xml", "rss10_iso-8859.xml"),
    ):
        for name in (a, b):
            for i, it in enumerate(feed_items(name)):
                key = f"{name}#{i}"
                inputs.append(_input(key, it))
                story[key] = urlsplit(it.url or key).path.removesuffix("-rss.html").removesuffix(".html")
    for i, it in enumerate(feed_items("guardian_rss2.xml")):
        key = f"guardian#{i}"
        summary = html_to_text(it.summary) or ""
        inputs.append(_input(key, it))
        story[key] = key
        copy = f"guardian#{i}/copy"
        inputs.append(
            _input(
                copy, it, url=f"https://aggregator.example/item/{i}?utm_source=rss&utm_medium=feed",
                title=f"{it.title} | via Network B", summary=summary[: max(80, len(summary) // 2)],
            )
        )  # fmt: skip
        story[copy] = key
        relay = f"guardian#{i}/relay"
        sep = "&" if "?" in (it.url or "") else "?"
        inputs.append(_input(relay, it, url=f"{it.url}{sep}utm_campaign=network-c&fbclid=x1", summary=""))
        story[relay] = key
        words = (it.title or "").split()
        if len(words) > 4:
            swap = " ".join(w if j != 1 else "Brussels" for j, w in enumerate(words))
            miss = f"guardian#{i}/near-miss"
            inputs.append(
                _input(
                    miss, it, url=f"https://other.example/{i}", title=swap, summary="Brussels " + summary[:60]
                )
            )
            story[miss] = miss
    return inputs, story


def pair_scores(inputs: list, story: dict) -> dict[str, float]:
    """Pairwise precision/recall of the harvest's clustering (``assign_all``) against ``story``
    (item IRI -> gold story id)."""
    clusterer = Clusterer(lambda k: hashlib.sha256(k.encode()).hexdigest()[:16])
    got = {x.iri: cluster for x, (cluster, _) in zip(inputs, clusterer.assign_all(inputs), strict=True)}
    tp = fp = fn = 0
    for a, b in itertools.combinations(story, 2):
        same_gold, same_got = story[a] == story[b], got[a] == got[b]
        tp += same_gold and same_got
        fp += same_got and not same_gold
        fn += same_gold and not same_got
    return {"items": len(inputs), "gold_pairs": tp + fn, "tp": tp, "fp": fp, "fn": fn, **_pr(tp, fp, fn)}


def eval_clusters() -> dict[str, float]:
    return pair_scores(*cluster_set())


def main() -> None:
    print("themes  ", eval_themes())
    print("clusters", eval_clusters())


if __name__ == "__main__":
    main()
