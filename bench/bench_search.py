"""Query rate of the search backends on a synthetic corpus built from the sample feeds.

Baseline: the embedded backend (SQLite FTS5). Compared: Elasticsearch, when one answers at
INNONET_TEST_ES_URL (default http://127.0.0.1:9200). Same documents, same queries, same process.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from crawlers.platforms.feed import parse_feed
from pipeline.contracts import SourceSpec
from search.base import SearchBackend
from search.documents import SearchDocument, SearchQuery
from search.embedded import EmbeddedBackend

FEEDS = Path(__file__).resolve().parent.parent / "crawlers" / "samples" / "feeds"
COPIES = 20
QUERIES = ["trump", "europa", "golf club", "apple", "linux kernel", "psychologie", "daten", "news"]


def documents() -> list[SearchDocument]:
    docs = []
    for copy in range(COPIES):
        for path in sorted(FEEDS.glob("*.xml")):
            source = SourceSpec(
                id=path.stem.replace(".", "-"), network=f"net-{copy % 5}", title="t", url="http://x"
            )
            for i, item in enumerate(parse_feed(path.read_bytes(), source).items):
                docs.append(
                    SearchDocument(
                        id=f"http://bench/{copy}/{source.id}/{i}",
                        type="NewsArticle",
                        title=item.title or "",
                        summary=item.summary,
                        language=(item.language or "en")[:2],
                        network=source.network,
                        source=source.id,
                        published=item.published,
                    )
                )
    return docs


def rate(backend: SearchBackend, rounds: int = 20) -> float:
    start = time.perf_counter()
    n = 0
    for _ in range(rounds):
        for q in QUERIES:
            backend.search(SearchQuery(q=q, size=10))
            n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    docs = documents()
    with tempfile.TemporaryDirectory() as tmp:
        embedded = EmbeddedBackend(Path(tmp) / "bench.sqlite3")
        embedded.upsert(docs)
        embedded.refresh()
        base = rate(embedded)
        print(f"{len(docs)} documents; embedded: {base:,.0f} queries/s (baseline)")
        url = os.environ.get("INNONET_TEST_ES_URL", "http://127.0.0.1:9200")
        try:
            httpx.get(f"{url}/_cluster/health", timeout=2).raise_for_status()
        except httpx.HTTPError:
            print(f"Elasticsearch not reachable at {url}: only the baseline was measured")
            return
        from search.elasticsearch import ElasticsearchBackend

        alias = f"bench-{uuid.uuid4().hex[:8]}"
        es = ElasticsearchBackend(url, alias)
        try:
            es.ensure_index()
            es.upsert(docs)
            es.refresh()
            ours = rate(es)
            print(f"elasticsearch: {ours:,.0f} queries/s; ratio elasticsearch/embedded: x{ours / base:.2f}")
        finally:
            httpx.delete(f"{url}/{alias}-v1", timeout=30)
            es.close()


if __name__ == "__main__":
    main()
