"""Where the API's time goes on one everyday search (issue 5): perf_counter_ns probes per part.

    .venv/bin/python bench/search_breakdown.py ALIAS [--n 400]

On an existing alias (``bench_search_load.py --keep``), one process, sequential requests
(the 1-connection case), the same queries as the load bench's warm set. Each part is timed
on its own over every query, median in µs: parameter validation, SearchQuery, body building,
the sync client's ``_msearch`` (serialise + HTTP + wait + decode), the same NDJSON bytes on a
bare keep-alive HTTP connection (ES's own time + loopback), JSON decode, result models, output
models, JSON encoding, and the thread-pool hop. Prints the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from starlette.requests import Request  # noqa: E402

from api.routers.search import _es_page, _fast_params, es_request, search  # noqa: E402
from bench.bench_search_load import ES, FACETS_ASKED, QUERIES, load, queries  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from search.documents import SearchQuery  # noqa: E402
from search.elasticsearch import (  # noqa: E402
    MSEARCH_HEADER,
    ElasticsearchBackend,
    page_search_body,
    split_search,
)

_HTTP = {"type": "http", "method": "GET", "path": "/search"}


def _median_us(samples: list[int]) -> float:
    return statistics.median(samples) / 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("alias")
    parser.add_argument("--n", type=int, default=QUERIES)
    args = parser.parse_args()
    print(f"before: {load()}")
    backend = ElasticsearchBackend(ES, args.alias)
    settings = Settings(search_backend="elasticsearch", es_url=ES, es_index=args.alias)
    parts: dict[str, list[int]] = {}

    def timed(name: str, fn: Any, *a: Any) -> Any:
        t = time.perf_counter_ns()
        out = fn(*a)
        parts.setdefault(name, []).append(time.perf_counter_ns() - t)
        return out

    host = urlsplit(ES)
    conn = http.client.HTTPConnection(host.hostname, host.port)
    qs = queries(args.n, 55)
    loop = asyncio.new_event_loop()
    for _ in range(2):  # the second pass is measured (warm: ES request cache, Python caches)
        parts.clear()
        for q, filters in qs:
            params = [("q", q), ("size", "20"), ("facet_size", "10"), ("highlight", "false")]
            params += [("facet", f) for f in FACETS_ASKED]
            params += [(k, v) for k, vs in filters.items() for v in vs]
            scope = {"query_string": urlencode(params).encode(), "headers": []}
            timed("1 parameters (_fast_params)", _fast_params, scope)
            query = timed(
                "2 SearchQuery",
                lambda q=q, filters=filters: SearchQuery(
                    q=q, size=20, facet_size=10, filters=filters, facets=list(FACETS_ASKED)
                ),
            )
            body = timed("3 body (build + split)", lambda query=query: split_search(page_search_body(query)))
            searches = [line for b in body for line in (MSEARCH_HEADER, b)]
            timed(
                "4 client _msearch (all)",
                lambda searches=searches: backend._client.msearch(index=args.alias, searches=searches),
            )
            ndjson = b"".join(orjson.dumps(x) + b"\n" for x in searches)

            def bare(ndjson: bytes = ndjson) -> bytes:
                conn.request(
                    "POST", f"/{args.alias}/_msearch", ndjson, {"content-type": "application/x-ndjson"}
                )
                return conn.getresponse().read()

            raw = timed("5 bare HTTP _msearch (ES + loopback)", bare)
            timed("6 orjson.loads of the response", orjson.loads, raw)
            timed("7 backend.search (4 + models)", backend.search, query)
            result = backend.search(query)

            async def route(scope: dict[str, Any] = scope) -> Any:
                return await search(Request(scope | _HTTP), backend, settings, **_fast_params(scope))

            timed(
                "12 post_async only (es_http client, same _msearch bytes as 5)",
                lambda ndjson=ndjson: loop.run_until_complete(
                    backend.post_async(f"/{args.alias}/_msearch", ndjson)
                ),
            )

            async def direct(scope: dict[str, Any] = scope) -> Any:
                request = es_request(backend._msearch_path, backend.search_timeout, _fast_params(scope))  # type: ignore[arg-type]
                return await _es_page(backend, "http://innonet.test", request)  # type: ignore[arg-type]

            timed(
                "11 _es_page incl. params (es_http, orjson bytes)",
                lambda: loop.run_until_complete(direct()),
            )

            page = timed("8 route function search() (all)", lambda: loop.run_until_complete(route()))
            timed("9 model_dump_json", page.model_dump_json)
            parts.setdefault("result size (bytes)", []).append(len(page.model_dump_json()) * 1000)
            del result
    from fastapi.concurrency import run_in_threadpool

    async def hops() -> None:
        for _ in range(args.n):
            t = time.perf_counter_ns()
            await run_in_threadpool(lambda: None)
            parts.setdefault("10 thread-pool hop (empty)", []).append(time.perf_counter_ns() - t)

    loop.run_until_complete(hops())
    for name in sorted(parts, key=lambda s: (len(s.split()[0]), s)):
        print(f"  {name:40} median {_median_us(parts[name]):9.1f} µs")
    print(f"after: {load()}")
    backend.close()
    os._exit(0)


if __name__ == "__main__":
    main()
