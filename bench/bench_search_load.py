"""Load bench for issue 5: indexing items/s, and search latency under 20 concurrent clients.

    flock -w 1500 /tmp/w/bench.lock .venv/bin/python bench/bench_search_load.py [N]
        [--ceiling 50000] [--seconds 10] [--workers 1] [--keep] [--search-only ALIAS]
        [--baseline-tree DIR] [--index-only] [--think-ms D] [--rate R ...] [--only TARGET ...]

N items (default 100,000; the issue asks 1,000,000). Needs Elasticsearch at
INNONET_TEST_ES_URL (default http://127.0.0.1:9200) and ``wrk`` (``apt-get install -y wrk``).
Prints the load average before and after (2 cores, shared: a number taken at load 4 is not
one taken at load 0.2). Parts:

1. ``--ceiling M``: raw ``_bulk`` of M prepared documents (orjson NDJSON built before the
   clock starts) into a fresh index per configuration: bulk sizes 500/1k/2k/5k, 1 or 2
   concurrent senders, with the rebuild's load settings (refresh off, async translog), plus
   the serving settings (refresh 1 s, fsync per request) for comparison. ``--ceiling 0`` skips.
2. indexing N items: ours = the real full-load path (:class:`search.reindex.AliasRebuild`:
   validation, Python analysis, orjson NDJSON, chunked bulk with two in flight, refresh and
   alias swap) through ``AliasRebuild.load_batches`` in batches of 500, as ``innonet index
   --rebuild`` hands over the store's pages (bulk chunks in flight across batches). The N
   documents are generated before the clock (~4 KB each: ~4 GB of RAM at 1M) and then frozen
   out of the garbage collector's passes (``gc.freeze``: the real rebuild holds one page at a
   time, not N documents); the load runs with the collector's youngest threshold raised as
   ``rebuild_index`` raises it (``pipeline.index.REBUILD_GC_THRESHOLD0``, since 299eaed); each
   page is freed once indexed. Until 2026-11-28 this part called ``AliasRebuild.load`` per
   10,000-document batch (the pipeline drained every 10,000 documents); baseline
   = raw ``_bulk`` of the very same ``_source`` documents with the same index settings, chunk
   size and number of senders, NDJSON built before the clock starts. Both in items/s, ratio.
3. search: ``wrk`` (C, its own process: a Python load generator on these 2 cores measured
   itself) with a Lua script per target cycling through seeded queries (common and rare words
   of the generated vocabulary, one to three words, a filter on one facet, counts of 3 facets:
   type, theme, language) against the API (``GET /search``, its own uvicorn process) and
   straight against Elasticsearch: the same query as one plain ``_search`` body, as the
   ``_msearch`` the API sends (:func:`search.elasticsearch.split_search`: one body for a first
   page, request cache on) and as the previous rule's split ``_msearch`` (counting body + page
   body for every query). 20 and 1 connections; p50/p99, req/s, and CPU per request
   (Elasticsearch's own from its node stats, and the whole machine's from /proc/stat: wrk,
   the API and everything else running); the API overhead is the difference of the p50s of
   the API and of the ``_msearch`` it sends. Two modes, printed separately: **cold** = 20,000
   unique queries with the request cache cleared before each run (the printout says if a run
   sent more requests than there are queries), **warm** = 200 queries cycling (Elasticsearch's
   shard request cache answers repeats). The API itself caches nothing. ``--think-ms D`` adds
   a cold run at 20 connections where each connection waits D ms between requests: a moderate
   load, printed as such, never the closed-loop number. ``--only T ...`` limits the targets.
   The rebuild force-merges the index to one segment before its swap; its seconds are printed
   on their own and are not in the indexing items/s (the raw baseline does not merge).

Documents: titles, summaries and bodies drawn Zipf-like from the 20,000 most frequent words
of nl/en/fr/de (``wordfreq``), 12 networks, 40 sources, 15 themes, years 2018-2025, 10%
events with a location. Deterministic (seeded per batch of 10,000).
"""

from __future__ import annotations

import argparse
import collections
import gc
import hashlib
import itertools
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.uvicorn_proc import serve_api  # noqa: E402
from pipeline.heap import fewer_collections  # noqa: E402
from pipeline.index import REBUILD_GC_THRESHOLD0  # noqa: E402
from search.documents import Location, SearchDocument, SearchQuery  # noqa: E402
from search.elasticsearch import (  # noqa: E402
    BULK_CHUNK,
    BULK_SENDERS,
    MSEARCH_HEADER,
    ElasticsearchBackend,
    index_definition,
    ndjson_index,
    page_search_body,
    split_search,
)
from search.reindex import LOAD_SETTINGS, AliasRebuild, serving_settings  # noqa: E402

ES = os.environ.get("INNONET_TEST_ES_URL", "http://127.0.0.1:9200").rstrip("/")
LANGS = ("nl", "en", "fr", "de")
VOCABULARY = 20_000
BATCH = 10_000
#: Documents per ``load_batches`` batch: the store's page in ``innonet index --rebuild``.
STORE_BATCH = 500
QUERIES = 200
#: Unique queries for the cold runs (more than a run sends: no repeats; checked and printed).
#: Each target starts COLD_STRIDE further into the list, so no target runs a query another
#: one just ran (same distribution, no warming of one target by the one before).
COLD_QUERIES = 50_000
COLD_STRIDE = 10_000
FACETS_ASKED = ("type", "theme", "language")
THEME = "https://w3id.org/innonet/concepts/theme/t"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


@cache
def vocabulary(lang: str) -> tuple[list[str], list[float]]:
    """The language's most frequent words and Zipf cumulative weights (1/rank)."""
    from wordfreq import top_n_list

    words = [w for w in top_n_list(lang, VOCABULARY * 2) if w.isalpha()][:VOCABULARY]
    return words, list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))


def _text(rnd: random.Random, lang: str, k: int) -> str:
    words, cum = vocabulary(lang)
    return " ".join(rnd.choices(words, cum_weights=cum, k=k))


def batch_docs(start: int, count: int) -> list[SearchDocument]:
    """Documents start .. start+count-1; the same on every call (seeded by start)."""
    rnd = random.Random(start)
    docs = []
    for i in range(start, start + count):
        lang = LANGS[rnd.randrange(4)]
        is_event = rnd.random() < 0.1
        docs.append(
            SearchDocument(
                id=f"https://innonet.example/id/news/s{i % 40}/{i}",
                type="Event" if is_event else ("NewsArticle", "Case")[rnd.randrange(2)],
                title=_text(rnd, lang, 8).capitalize(),
                summary=_text(rnd, lang, 35),
                body=_text(rnd, lang, 140),
                language=lang,
                network=f"net-{i % 12}",
                network_name=f"Network {i % 12}",
                url=f"https://source{i % 40}.example/news/{i}",
                source=f"src-{i % 40}",
                published=datetime(2018, 1, 1, tzinfo=UTC) + timedelta(hours=rnd.randrange(70_000)),
                themes=[f"{THEME}{rnd.randrange(15)}" for _ in range(rnd.randrange(1, 3))],
                country=("NL", "BE", "FR", "DE")[LANGS.index(lang)],
                start=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=rnd.randrange(400))
                if is_event
                else None,
                location=Location(name="Venue", lat=50 + rnd.random() * 3, lon=3 + rnd.random() * 3)
                if is_event
                else None,
            )
        )
    return docs


def batches(n: int) -> Iterator[list[SearchDocument]]:
    for start in range(0, n, BATCH):
        yield batch_docs(start, min(BATCH, n - start))


def queries(count: int, seed: int) -> list[tuple[str, dict[str, list[str]]]]:
    """(q, one facet filter): 1-3 words, each common (rank 30-200) or rare (rank 2,000-20,000)."""
    rnd = random.Random(seed)
    out = []
    for i in range(count):
        lang = LANGS[i % 4]
        words, _ = vocabulary(lang)
        picked = []
        for _ in range(1 + i % 3):
            rare = rnd.random() < 0.5
            picked.append(words[rnd.randrange(2000, len(words))] if rare else words[rnd.randrange(30, 200)])
        facet = ("language", "type", "theme")[i % 3]
        value = {"language": lang, "type": "NewsArticle", "theme": f"{THEME}{rnd.randrange(15)}"}[facet]
        out.append((" ".join(picked), {facet: [value]}))
    return out


# -- raw _bulk --------------------------------------------------------------------------------


def create_index(client: httpx.Client, name: str, settings: dict[str, object]) -> None:
    definition = index_definition()
    body = {
        "settings": {"index": {**definition["settings"]["index"], **settings}},
        "mappings": definition["mappings"],
    }
    client.put(f"{ES}/{name}", json=body).raise_for_status()


def payloads(docs: list[SearchDocument], size: int) -> list[bytes]:
    return [b"".join(ndjson_index(d) for d in docs[i : i + size]) for i in range(0, len(docs), size)]


def send_all(client: httpx.Client, index: str, chunks: list[bytes], senders: int) -> None:
    def send(payload: bytes) -> None:
        r = client.post(
            f"{ES}/{index}/_bulk",
            content=payload,
            headers={"content-type": "application/x-ndjson"},
            params={"filter_path": "errors"},
        )
        r.raise_for_status()
        assert r.json()["errors"] is False, r.text[:500]

    if senders == 1:
        for payload in chunks:
            send(payload)
    else:
        with ThreadPoolExecutor(senders) as pool:
            list(pool.map(send, chunks))


def ceiling(m: int) -> None:
    docs = [d for batch in batches(m) for d in batch]
    print(f"raw _bulk ceiling, {m:,} documents (NDJSON prepared before the clock), {load()}")
    print("| settings | docs/bulk | senders | docs/s | MB/s |")
    print("|---|---|---|---|---|")
    configs = [
        ("load", LOAD_SETTINGS, size, senders) for size in (500, 1000, 2000, 5000) for senders in (1, 2)
    ]
    configs.append(("serving", serving_settings(), BULK_CHUNK, BULK_SENDERS))
    with httpx.Client(timeout=300) as client:
        for label, settings, size, senders in configs:
            chunks = payloads(docs, size)
            name = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
            create_index(client, name, settings)
            try:
                t = time.perf_counter()
                send_all(client, name, chunks, senders)
                took = time.perf_counter() - t
            finally:
                client.delete(f"{ES}/{name}")
            megabytes = sum(map(len, chunks)) / 1e6
            print(f"| {label} | {size} | {senders} | {m / took:,.0f} | {megabytes / took:.1f} |", flush=True)


class CpuUse:
    """CPU per document of a load: this process (all threads) inside the timed parts, and
    Elasticsearch's whole process from the first timed part to the last (its merges between
    batches included), so a number taken on a loaded machine can be told apart from a slower path."""

    def __init__(self) -> None:
        self.python_s = 0.0
        self.es_first: int | None = None
        self.es_last = 0

    @contextmanager
    def timed(self) -> Iterator[None]:
        if self.es_first is None:
            self.es_first = es_cpu_ms()
        start = time.process_time()
        try:
            yield
        finally:
            self.python_s += time.process_time() - start
            self.es_last = es_cpu_ms()

    def line(self, n: int) -> str:
        es_ms = self.es_last - (self.es_first or 0)
        return f"Python {self.python_s / n * 1e6:.0f} us, Elasticsearch {es_ms / n * 1e3:.0f} us; {load()}"


def raw_load(n: int, name: str) -> float:
    """Seconds for a raw `_bulk` load of the N documents (the baseline), refresh and settings restore."""
    took = 0.0
    cpu = CpuUse()
    with httpx.Client(timeout=300) as client:
        create_index(client, name, LOAD_SETTINGS)
        for batch in batches(n):
            chunks = payloads(batch, BULK_CHUNK)
            t = time.perf_counter()
            with cpu.timed():
                send_all(client, name, chunks, BULK_SENDERS)
            took += time.perf_counter() - t
        t = time.perf_counter()
        client.put(f"{ES}/{name}/_settings", json={"index": serving_settings()}).raise_for_status()
        client.post(f"{ES}/{name}/_refresh").raise_for_status()
        took += time.perf_counter() - t
    print(f"raw _bulk CPU per document: {cpu.line(n)}", flush=True)
    return took


def our_load(n: int, backend: ElasticsearchBackend) -> float:
    """Seconds for the real rebuild path over the N documents (begin, load batches, swap),
    without the swap's force-merge to one segment (the raw baseline does not merge; its
    seconds are printed on their own line)."""
    t = time.perf_counter()
    pages = collections.deque(
        doc_batch[start : start + STORE_BATCH]
        for doc_batch in batches(n)
        for start in range(0, len(doc_batch), STORE_BATCH)
    )
    gc.freeze()  # the bench's input, not the rebuild's heap (see the module docstring)
    print(f"ours: {n:,} documents generated in {time.perf_counter() - t:.1f} s (off the clock); {load()}")

    def handed_over() -> Iterator[tuple[int, list[SearchDocument]]]:
        while pages:
            yield len(pages), pages.popleft()  # the deque lets go of it: freed once indexed

    t = time.perf_counter()
    rebuild = AliasRebuild(backend)
    rebuild.begin()
    cpu = CpuUse()
    with cpu.timed(), fewer_collections(REBUILD_GC_THRESHOLD0):
        for _, report in rebuild.load_batches(handed_over()):
            assert not report.errors, report.errors[:3]
    took = time.perf_counter() - t
    gc.unfreeze()
    print(f"ours (load_batches, before the swap) CPU per document: {cpu.line(n)}", flush=True)
    merged = rebuild.merge
    merge_s = 0.0

    def timed_merge() -> None:
        nonlocal merge_s
        t = time.perf_counter()
        merged()
        merge_s = time.perf_counter() - t

    rebuild.merge = timed_merge  # type: ignore[method-assign]
    t = time.perf_counter()
    rebuild.swap()
    print(f"rebuild force-merge to one segment (not in the items/s): {merge_s:.1f} s; {load()}", flush=True)
    return took + time.perf_counter() - t - merge_s


# -- search -----------------------------------------------------------------------------------


def lua_string(text: str) -> str:
    return f"[==[{text}]==]"


def wrk_script(requests: list[tuple[str, str, str | None]], think_ms: float = 0) -> str:
    """A wrk Lua script cycling through (method, path, body) requests; wrk's (at most 2) threads
    start half the list apart, so within a run no thread repeats what the other just sent (a
    37-request offset, used before, made the second thread repeat the first one's queries: half
    of a "cold" run's requests were request-cache hits for the bodies that ask for the cache).
    ``think_ms``: each connection waits that long after an answer before its next request
    (wrk's ``delay()``; latency is still measured from the request's send)."""
    rows = ",\n".join(
        "{" + f"{lua_string(m)}, {lua_string(p)}, {lua_string(b) if b else 'nil'}" + "}"
        for m, p, b in requests
    )
    think = f"function delay()\n  return {think_ms:g}\nend\n" if think_ms else ""
    return f"""
local reqs = {{
{rows}
}}
local i = 0
local counter = 0
function setup(thread)
  thread:set("i", counter * {max(1, len(requests) // 2)})
  counter = counter + 1
end
function request()
  i = i % #reqs + 1
  local r = reqs[i]
  if r[3] then
    return wrk.format(r[1], r[2], {{["Content-Type"] = "application/json"}}, r[3])
  end
  return wrk.format(r[1], r[2])
end
{think}"""


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def es_cpu_ms() -> int:
    """Elasticsearch's process CPU time so far (user + system, ms), from its node stats."""
    stats = httpx.get(f"{ES}/_nodes/_local/stats/process", timeout=10).json()
    return sum(node["process"]["cpu"]["total_in_millis"] for node in stats["nodes"].values())


def machine_busy_ms() -> float:
    """CPU time all processes of the machine spent so far (ms, from /proc/stat; every core)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) * 1000 / os.sysconf("SC_CLK_TCK")


def wrk(base: str, script: str, connections: int, seconds: float) -> tuple[float, float, float, int]:
    """(p50 ms, p99 ms, requests/s, requests) from wrk --latency; any non-2xx or socket error fails."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    threads = min(2, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", f.name, base]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(f.name)
    if re.search(r"Non-2xx or 3xx responses: (\d+)", out) or re.search(r"Socket errors: (.*)", out):
        raise SystemExit(f"wrk saw failures on {base}:\n{out}")
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return p50, p99, rate, total


T = TypeVar("T")


@dataclass(frozen=True)
class CpuSpent:
    """CPU time (ms) Elasticsearch and the whole machine spent during one load run."""

    es_ms: float
    machine_ms: float

    def per(self, requests: int) -> str:
        return f"CPU/request: ES {self.es_ms / requests:.2f} ms, machine {self.machine_ms / requests:.2f} ms"


def with_cpu(alias: str, cold: bool, run: Callable[..., T], *args: Any) -> tuple[T, CpuSpent]:
    """``run(*args)`` (one load run against one target), the request cache cleared first when
    ``cold``, with the CPU Elasticsearch and the machine spent meanwhile."""
    if cold:
        clear_request_cache(alias)
    cpu, busy = es_cpu_ms(), machine_busy_ms()
    result = run(*args)
    return result, CpuSpent(es_cpu_ms() - cpu, machine_busy_ms() - busy)


def repeated(sent: int, queries: list[Request]) -> str:
    """How many requests of a run repeated a query of the list (request-cache hits when warm)."""
    return f" ({sent - len(queries):,} repeated)" if sent > len(queries) else ""


OPENLOOP_SRC = Path(__file__).resolve().parent / "openloop" / "main.go"


def openloop_binary() -> Path:
    """bench/openloop/main.go built once per source version into ~/.cache/innonet (needs ``go``)."""
    digest = hashlib.sha256(OPENLOOP_SRC.read_bytes()).hexdigest()[:12]
    binary = Path.home() / ".cache" / "innonet" / f"openloop-{digest}"
    if not binary.exists():
        if not shutil.which("go"):
            raise SystemExit("--rate needs the Go toolchain to build bench/openloop (go build)")
        binary.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["go", "build", "-o", str(binary), str(OPENLOOP_SRC)], check=True, timeout=600)
    return binary


def open_loop(
    base: str, requests: list[Request], rate: float, connections: int, seconds: float
) -> dict[str, float]:
    """bench/openloop at ``rate`` req/s offered (Poisson arrivals) over at most ``connections``
    connections: latency from each request's intended start, so queueing is counted. Any error
    or non-2xx answer fails the bench, as with wrk."""
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as f:
        for method, path, body in requests:
            f.write(orjson.dumps({"method": method, "path": path, "body": body}) + b"\n")
    cmd = [str(openloop_binary()), "-url", base, "-requests", f.name, "-rate", f"{rate:g}"]
    cmd += ["-connections", str(connections), "-seconds", f"{seconds:g}"]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 120)
    finally:
        os.unlink(f.name)
    result = orjson.loads(out.stdout)
    if result["errors"] or result["non_2xx"]:
        raise SystemExit(f"openloop saw failures on {base}: {result}")
    return result


def run_open_loop(
    targets: dict[str, str], reqs: dict[str, list[Request]], rate: float, seconds: float, alias: str
) -> None:
    """One open-loop run per target at ``rate`` req/s, 20 connections, request cache cleared."""
    for name, base in targets.items():
        r, cpu = with_cpu(alias, True, open_loop, base, reqs[name], rate, 20, seconds)
        n = max(1, int(r["answered"]))
        print(
            f"     {LABELS.get(name, name):36} p50 {r['p50_ms']:6.2f} ms  p90 {r['p90_ms']:6.2f}  "
            f"p99 {r['p99_ms']:7.2f} ms  max {r['max_ms']:7.1f}  {r['achieved_rate']:6.1f} req/s answered "
            f"of {r['offered_rate']:.1f} offered{repeated(n, reqs[name])}; {cpu.per(n)}",
            flush=True,
        )


@contextmanager
def serve_alias(alias: str, workers: int = 1, tree: Path | None = None) -> Iterator[str]:
    """The API in its own uvicorn process (``workers`` workers) on the Elasticsearch backend;
    ``tree``: the API's code from another checkout (its modules come first on the path)."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "INNONET_DATA_DIR": tmp,
            "INNONET_SEARCH_BACKEND": "elasticsearch",
            "INNONET_ES_URL": ES,
            "INNONET_ES_INDEX": alias,
        }
        with serve_api(env, workers, tree) as url:
            yield url


Request = tuple[str, str, str | None]


def search_requests(alias: str, count: int, seed: int) -> dict[str, list[Request]]:
    """The same queries as API GETs, as one plain ``_search`` body, as the ``_msearch`` the API
    sends (:func:`split_search`: one body for a first page, request cache on), and as the
    previous rule's ``_msearch`` (counting + page bodies for every query, default headers)."""
    out: dict[str, list[Request]] = {"api": [], "_search": [], "_msearch": [], "_msearch split": []}
    for q, filters in queries(count, seed):
        params = [("q", q), ("size", "20"), ("facet_size", "10"), ("highlight", "false")]
        params += [("facet", f) for f in FACETS_ASKED]
        params += [(name, v) for name, values in filters.items() for v in values]
        out["api"].append(("GET", f"/search?{urlencode(params)}", None))
        query = SearchQuery(q=q, size=20, facet_size=10, filters=filters, facets=list(FACETS_ASKED))
        body = page_search_body(query)  # what the API's fast path sends
        assert body is not None
        single = {("from" if k == "from_" else k): v for k, v in body.items()} | {"timeout": "2s"}
        out["_search"].append(("POST", f"/{alias}/_search", orjson.dumps(single).decode()))
        for name, header, split_first in (("_msearch", MSEARCH_HEADER, False), ("_msearch split", {}, True)):
            bodies = split_search(body, "2s", split_first_page=split_first)
            lines = [line for b in bodies for line in (header, b)]
            ndjson = "".join(orjson.dumps(line).decode() + "\n" for line in lines)
            out[name].append(("POST", f"/{alias}/_msearch", ndjson))
    return out


def clear_request_cache(alias: str) -> None:
    httpx.post(f"{ES}/{alias}/_cache/clear", params={"request": "true"}, timeout=30).raise_for_status()


LABELS = {
    "_search": "ES _search (one plain body)",
    "_msearch split": "ES _msearch, count+page (old rule)",
    "_msearch": "ES _msearch (what the API sends)",
    "api": "through the API",
}


def run_targets(
    targets: dict[str, str],
    reqs: dict[str, list[Request]],
    connections: int,
    seconds: float,
    alias: str,
    cold: bool,
    think_ms: float = 0,
) -> dict[str, float]:
    """One wrk run per target; prints p50/p99/req/s and the CPU per request; returns p50s."""
    p50s = {}
    for name, base in targets.items():
        script = wrk_script(reqs[name], think_ms)
        (p50, p99, rate, total), cpu = with_cpu(alias, cold, wrk, base, script, connections, seconds)
        p50s[name] = p50
        print(
            f"     {LABELS.get(name, name):36} p50 {p50:6.2f} ms  p99 {p99:7.2f} ms  "
            f"{rate:7.1f} req/s  {total:,} requests{repeated(total, reqs[name])}; {cpu.per(total)}",
            flush=True,
        )
    return p50s


def search_bench(
    alias: str,
    seconds: float,
    workers: int = 1,
    baseline_tree: Path | None = None,
    think_ms: float = 0,
    only: list[str] | None = None,
    rates: list[float] | None = None,
) -> None:
    """``baseline_tree``: also the API of another checkout (e.g. ``git archive`` of an older
    commit), measured right after ours on the same queries: a before/after taken minutes
    apart on this shared box differs by more than the change. ``think_ms``: also a run at
    20 connections where each waits that long between requests (an open-ish, moderate load;
    NOT the closed-loop number). ``only``: these targets only. ``rates``: also cold runs at each
    offered rate, open loop (:func:`open_loop`): the latency at a given load, as performance.md's
    goal states it ("p50 <= 10 ms, p99 <= 50 ms at >= 300 qps"), next to the closed-loop runs."""
    warm = search_requests(alias, QUERIES, 55)
    cold = search_requests(alias, COLD_QUERIES, 56)
    for k, name in enumerate(list(cold)):  # api, _search, _msearch, _msearch split
        shift = k * COLD_STRIDE % COLD_QUERIES
        cold[name] = cold[name][shift:] + cold[name][:shift]
    with ExitStack() as stack:
        url = stack.enter_context(serve_alias(alias, workers))
        if baseline_tree is not None:
            base_url = stack.enter_context(serve_alias(alias, workers, baseline_tree))
            warm["api (baseline tree)"] = warm["api"]
            cold["api (baseline tree)"] = cold["api"][4 * COLD_STRIDE :] + cold["api"][: 4 * COLD_STRIDE]
        sample = httpx.get(url + warm["api"][0][1], timeout=30)
        sample.raise_for_status()
        print(
            f"search (API: uvicorn, {workers} worker(s)): match + {len(FACETS_ASKED)} facets ({', '.join(FACETS_ASKED)}) + 1 filter, size 20; "
            f"first query {warm['api'][0][1]!r}: {sample.json()['total']:,} hits",
            flush=True,
        )
        with httpx.Client(timeout=30) as client:  # the direct bodies must be answered, not refused
            for name in ("_search", "_msearch", "_msearch split"):
                for _, path, body in warm[name][:20]:
                    assert body is not None
                    answer = client.post(
                        ES + path, content=body, headers={"content-type": "application/json"}
                    )
                    answer.raise_for_status()
                    parsed = answer.json()
                    for item in parsed.get("responses", [parsed]):
                        assert "error" not in item, item
        targets = {"_search": ES, "_msearch split": ES, "_msearch": ES, "api": url}
        if baseline_tree is not None:
            targets["api (baseline tree)"] = base_url
        if only:
            targets = {k: v for k, v in targets.items() if k in only}
        for name, base in targets.items():  # warm-up: file cache, connections
            wrk(base, wrk_script(warm[name]), 20, 3)
        for mode, reqs in (("cold", cold), ("warm", warm)):
            for connections in (20, 1):
                print(f"  {mode}, {connections} connections, wrk {seconds:g}s, {load()}:", flush=True)
                p50s = run_targets(targets, reqs, connections, seconds, alias, mode == "cold")
                if "api" in p50s and "_msearch" in p50s:
                    ratio = (
                        f"; ratio p50 API/_search {p50s['api'] / p50s['_search']:.2f}"
                        if "_search" in p50s
                        else ""
                    )
                    print(
                        f"     API overhead (p50 API - p50 _msearch) {p50s['api'] - p50s['_msearch']:.2f} ms{ratio}"
                    )
                if baseline_tree is not None and "_msearch" in p50s:
                    base = p50s["api (baseline tree)"]
                    print(
                        f"     baseline tree: overhead {base - p50s['_msearch']:.2f} ms; "
                        f"ratio p50 API/baseline API {p50s['api'] / base:.2f}"
                    )
        if think_ms:
            print(
                f"  cold, 20 connections each waiting {think_ms:g} ms between requests (moderate load, "
                f"NOT closed-loop), wrk {seconds:g}s, {load()}:",
                flush=True,
            )
            run_targets(targets, cold, 20, seconds, alias, True, think_ms)
        for rate in rates or ():
            print(
                f"  cold, OPEN loop: {rate:g} req/s offered (Poisson arrivals), at most 20 connections, "
                f"latency from each request's intended start (bench/openloop), {seconds:g}s, {load()}:",
                flush=True,
            )
            run_open_loop(targets, cold, rate, seconds, alias)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument(
        "--ceiling", type=int, default=50_000, help="documents for the raw _bulk table (0: skip)"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of the API")
    parser.add_argument("--keep", action="store_true", help="keep the indices (to rerun the search part)")
    parser.add_argument("--search-only", metavar="ALIAS", help="only the search part, on an existing alias")
    parser.add_argument(
        "--think-ms", type=float, default=0, help="also 20 connections waiting this long between requests"
    )
    parser.add_argument(
        "--rate",
        type=float,
        nargs="*",
        default=[],
        help="also cold open-loop runs at these offered req/s (20 connections; needs go)",
    )
    parser.add_argument(
        "--only", nargs="*", help="search targets to run (_search, _msearch, '_msearch split', api)"
    )
    parser.add_argument(
        "--index-only", action="store_true", help="only the indexing part (no wrk, no search)"
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="also measure the API of this checkout (e.g. git archive of a commit)",
    )
    args = parser.parse_args()
    if not args.index_only and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    print(f"before: {load()}", flush=True)
    if args.search_only:
        search_bench(
            args.search_only,
            args.seconds,
            args.workers,
            args.baseline_tree,
            args.think_ms,
            args.only,
            args.rate,
        )
        print(f"after: {load()}")
        return
    if args.ceiling:
        ceiling(args.ceiling)
    alias, raw = f"bench-{uuid.uuid4().hex[:8]}", f"bench-raw-{uuid.uuid4().hex[:8]}"
    backend = ElasticsearchBackend(ES, alias, timeout_s=300)
    try:
        raw_s = raw_load(args.n, raw)
        httpx.delete(f"{ES}/{raw}", timeout=120)  # not competing for the page cache with ours
        ours_s = our_load(args.n, backend)
        print(
            f"indexing {args.n:,} items ({BULK_CHUNK}/bulk, {BULK_SENDERS} senders, refresh off + async translog): "
            f"ours (rebuild: analysis + bulk + swap) {args.n / ours_s:,.0f} items/s; raw _bulk of the same "
            f"prepared documents {args.n / raw_s:,.0f} items/s; ratio {raw_s / ours_s:.2f}; {load()}",
            flush=True,
        )
        assert backend.count() == args.n
        if not args.index_only:
            search_bench(
                alias, args.seconds, args.workers, args.baseline_tree, args.think_ms, args.only, args.rate
            )
    finally:
        if not args.keep:
            names = httpx.get(f"{ES}/_resolve/index/{alias}-v*", timeout=30).json().get("indices", [])
            for name in [i["name"] for i in names] + [raw]:
                httpx.delete(f"{ES}/{name}", timeout=120)
        else:
            print(f"kept alias {alias}")
        backend.close()
    print(f"after: {load()}")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
