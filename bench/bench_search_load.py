"""Load bench for issue 5: indexing items/s and search latency under 20 concurrent clients.

    .venv/bin/python bench/bench_search_load.py [N]        # N items (default 100000; the issue asks 1000000)

Needs Elasticsearch at INNONET_TEST_ES_URL (default http://127.0.0.1:9200). Prints:

1. indexing: ``ElasticsearchBackend.upsert`` (Python analysis + bulk, chunks of 500) in items/s,
   and the ratio against a raw ``_bulk`` of the very same pre-built ``_source`` documents
   (baseline, same process, same chunk size, into a second index);
2. search: match + 3 facets (language, theme, type) through the API (uvicorn on 127.0.0.1,
   20 client threads) vs the same request body sent straight to Elasticsearch (20 threads):
   p50/p99 and the API overhead (difference of the medians).

Documents are synthetic but realistic in shape: titles and summaries drawn from nl/en/fr/de
vocabularies of public-sector innovation (with Dutch/German compounds), 12 networks, 40
sources, themes, years, 10% events with a location. Deterministic (seeded).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from search.documents import Location, SearchDocument, SearchQuery
from search.elasticsearch import ElasticsearchBackend, build_search_body, index_definition, to_source

ES = os.environ.get("INNONET_TEST_ES_URL", "http://127.0.0.1:9200")
WORDS = {
    "nl": [
        "gemeente",
        "burgerparticipatie",
        "proeftuin",
        "overheid",
        "innovatie",
        "stadsontwikkeling",
        "zorg",
        "mobiliteit",
        "netwerk",
        "open",
        "data",
        "digitalisering",
        "wijk",
        "buurtbudget",
        "samenwerking",
        "dienstverlening",
        "klimaat",
        "energie",
    ],
    "en": [
        "city",
        "council",
        "participation",
        "sandbox",
        "government",
        "innovation",
        "mobility",
        "health",
        "data",
        "open",
        "service",
        "design",
        "procurement",
        "climate",
        "energy",
        "housing",
        "citizens",
        "digital",
    ],
    "fr": [
        "commune",
        "participation",
        "citoyenne",
        "administration",
        "innovation",
        "mobilité",
        "santé",
        "données",
        "ouvertes",
        "service",
        "public",
        "expérimentation",
        "climat",
        "énergie",
        "logement",
        "numérique",
    ],
    "de": [
        "kommune",
        "bürgerbeteiligung",
        "verwaltung",
        "innovation",
        "mobilität",
        "gesundheit",
        "offene",
        "daten",
        "digitalisierung",
        "verwaltungsreform",
        "klimaschutz",
        "energie",
        "wohnen",
        "stadtentwicklung",
    ],
}
QUERIES = {
    "nl": "burgerparticipatie gemeente",
    "en": "open data city",
    "fr": "participation commune",
    "de": "verwaltung",
}
CLIENTS = 20
REQUESTS_PER_CLIENT = 50


def make_docs(n: int) -> list[SearchDocument]:
    rnd = random.Random(5)
    docs = []
    for i in range(n):
        lang = rnd.choice(list(WORDS))
        words = WORDS[lang]
        is_event = rnd.random() < 0.1
        docs.append(
            SearchDocument(
                id=f"https://innonet.example/id/news/s{i % 40}/{i}",
                type="Event" if is_event else rnd.choice(["NewsArticle", "Case"]),
                title=" ".join(rnd.choices(words, k=6)).capitalize(),
                summary=" ".join(rnd.choices(words, k=30)),
                body=" ".join(rnd.choices(words, k=120)),
                language=lang,
                network=f"net-{i % 12}",
                source=f"src-{i % 40}",
                published=datetime(2018, 1, 1, tzinfo=UTC) + timedelta(hours=rnd.randrange(70_000)),
                themes=[f"https://w3id.org/innonet/concepts/theme/t{rnd.randrange(15)}"],
                start=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=rnd.randrange(400))
                if is_event
                else None,
                location=Location(name="Venue", lat=50 + rnd.random() * 3, lon=3 + rnd.random() * 3)
                if is_event
                else None,
            )
        )
    return docs


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def hammer(call) -> list[float]:
    """20 threads, each REQUESTS_PER_CLIENT calls; returns latencies in ms (raises on any failure)."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def worker(k: int) -> None:
        with httpx.Client(timeout=30) as client:
            for j in range(REQUESTS_PER_CLIENT):
                t = time.perf_counter()
                status = call(client, (k + j) % len(QUERIES))
                ms = (time.perf_counter() - t) * 1000
                with lock:
                    latencies.append(ms)
                    if status != 200:
                        errors.append(str(status))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} failed requests: {errors[:5]}")
    return latencies


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    alias, raw = f"bench-{uuid.uuid4().hex[:8]}", f"bench-raw-{uuid.uuid4().hex[:8]}"
    print(f"generating {n} documents ...", flush=True)
    docs = make_docs(n)
    backend = ElasticsearchBackend(ES, alias, timeout_s=120)
    backend.ensure_index()
    definition = index_definition()
    httpx.put(
        f"{ES}/{raw}",
        json={"settings": definition["settings"], "mappings": definition["mappings"]},
        timeout=60,
    )
    try:
        t = time.perf_counter()
        for start in range(0, n, 5000):
            report = backend.upsert(docs[start : start + 5000])
            assert not report.errors, report.errors[:3]
        ours = n / (time.perf_counter() - t)

        payloads = [
            "".join(
                json.dumps({"index": {"_id": d.id}}) + "\n" + json.dumps(to_source(d)) + "\n"
                for d in docs[start : start + 500]
            ).encode()
            for start in range(0, n, 500)
        ]
        t = time.perf_counter()
        with httpx.Client(timeout=120) as client:
            for payload in payloads:
                r = client.post(
                    f"{ES}/{raw}/_bulk", content=payload, headers={"content-type": "application/x-ndjson"}
                )
                assert r.status_code == 200
                assert not r.json()["errors"]
        raw_rate = n / (time.perf_counter() - t)
        backend.refresh()
        print(
            f"indexing: ours {ours:,.0f} items/s (analysis + bulk); raw _bulk of prepared sources {raw_rate:,.0f} items/s; ratio {ours / raw_rate:.2f}"
        )

        import uvicorn

        from api.main import create_app
        from pipeline.settings import Settings

        settings = Settings(search_backend="elasticsearch", es_url=ES, es_index=alias)  # type: ignore[call-arg]
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), host="127.0.0.1", port=8799, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        langs = list(QUERIES)
        facet_filter = {"theme": ["https://w3id.org/innonet/concepts/theme/t3"]}

        def api_call(client: httpx.Client, k: int) -> int:
            params = {
                "q": QUERIES[langs[k]],
                "size": 20,
                "facet_size": 10,
                "highlight": "false",
                "theme": facet_filter["theme"],
            }
            return client.get("http://127.0.0.1:8799/search", params=params).status_code

        def es_call(client: httpx.Client, k: int) -> int:
            body = build_search_body(
                SearchQuery(q=QUERIES[langs[k]], size=20, facet_size=10, filters=facet_filter)
            )
            assert body is not None
            body["from"] = body.pop("from_", 0)
            return client.post(f"{ES}/{alias}/_search", json=body).status_code

        hammer(es_call)  # warm up
        direct = hammer(es_call)
        api = hammer(api_call)
        server.should_exit = True
        thread.join(timeout=10)
        print(
            f"search, {CLIENTS} clients x {REQUESTS_PER_CLIENT}, match + facets (all 12 computed) + 1 filter:"
        )
        print(
            f"  straight to Elasticsearch: p50 {statistics.median(direct):.1f} ms  p99 {pct(direct, 0.99):.1f} ms"
        )
        print(
            f"  through the API:           p50 {statistics.median(api):.1f} ms  p99 {pct(api, 0.99):.1f} ms"
        )
        print(
            f"  API overhead (p50 difference): {statistics.median(api) - statistics.median(direct):.1f} ms; ratio p50 {statistics.median(api) / statistics.median(direct):.2f}"
        )
    finally:
        names = httpx.get(f"{ES}/_resolve/index/{alias}-v*", timeout=30).json().get("indices", [])
        for name in [i["name"] for i in names] + [raw]:
            httpx.delete(f"{ES}/{name}", timeout=60)
        backend.close()


if __name__ == "__main__":
    main()
