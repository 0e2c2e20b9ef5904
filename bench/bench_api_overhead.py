"""API overhead per search, measured in pairs (issue 5: "API overhead at most 0.3 ms").

    flock -w 1500 /tmp/w/bench.lock .venv/bin/python bench/bench_api_overhead.py
        [--docs 50000] [--queries 300] [--rounds 3] [--rebuild] [--alias NAME]
        [--baseline-tree DIR [--baseline-alias NAME]] [--highlight] [--timed] [--profile]

(A tree of another mapping version searches an index its own code built: e.g. ``git archive
096c3f3 | tar -x -C DIR``, an index built by that tree under ``bench-overhead-d``, then
``--alias bench-overhead-d5 --baseline-tree DIR --baseline-alias bench-overhead-d``.)

Overhead = the time a search through our API takes minus the time of the very request the API
sends to Elasticsearch, sent straight to Elasticsearch. A difference of two p50s taken minutes
apart over different (cold) queries is mostly noise on this shared 2-core box, so here:

* **one connection per target, one query at a time**, from one Python client on raw keep-alive
  sockets (its own cost is the same for every target and cancels in the differences);
* **the same query list for every target, interleaved per query**: for each query the targets
  run back to back, in an order that rotates from query to query (so no target always goes
  first or last), and each target's time is paired with Elasticsearch's time for that query;
* **Elasticsearch gets exactly the bytes the API sends** (the same ``_msearch`` path, query
  string and NDJSON payload, built by the API's own :func:`api.routers.search.es_request`);
* **warm**: every query is first sent once through every target, untimed, so every timed
  request is answered from Elasticsearch's shard request cache (the API asks for it); the
  request cache cannot be switched off for the API's bytes (its header turns it on), and a
  cold query would be a miss for whichever target sent it first;
* the targets: ``es`` (straight), ``api`` (the API under uvicorn as bench/uvicorn_proc.py runs
  it: uvloop, httptools, no access log), ``floor`` (a trivial ASGI app under the same uvicorn
  flags that forwards the same prepared bytes to Elasticsearch over the same keep-alive client,
  :mod:`search.es_http`, and returns Elasticsearch's answer unchanged: the process hop, uvicorn
  and the event loop with no work of ours: the "physics" line), ``static`` (the same floor
  process answering the same bytes from memory: uvicorn's hop alone, no Elasticsearch; its raw
  time is the number, its difference to ``es`` means nothing), and with ``--baseline-tree DIR``
  ``api-base``: the API of another checkout (``git archive <commit> | tar -x -C DIR``) in the
  same run, for a before/after that does not depend on the load of the minute;
  ``--access-log``: ``api-accesslog``, the API with uvicorn's default access log;
  ``--timed``: ``api-timed``, the API with perf_counter_ns inside its uvicorn process (our
  Python between Elasticsearch's answer and the last byte handed to uvicorn, as served);
  ``--granian DIR``: ``api-granian``, the API under granian (not a dependency: installed with
  ``uv pip install --target DIR granian``), to see whether another server lowers the floor;
  ``--vary-order``: each round sends the parameters in another order (same search, same
  Elasticsearch bytes, but a query string the API has not prepared yet);
  ``--highlight``: ``highlight=true``, the API's default (the load bench sends false).

Printed: per target the median and p90 of the per-query differences to ``es`` (µs), the
medians of the raw times, the load average, each server process's CPU per request over the
timed rounds (user + kernel, from the scheduler's /proc/PID/task/*/schedstat: what the process
really spent, less sensitive to the box's load than wall time); then the API's in-process Python time per
request (the real app built in this process, driven as uvicorn drives it, with
``time.perf_counter_ns`` around the ASGI call minus the time spent in the Elasticsearch round
trip of :class:`search.es_http.KeepAliveClient`), and with ``--profile`` a cProfile of that
in-process loop. The index is built once from bench_search_load's generator (``--docs`` items,
kept under ``--alias`` between runs while its mapping version is the code's; ``--rebuild`` builds
it again; ``--baseline-alias``: another index for ``--baseline-tree``, e.g. one that tree's code built). Elasticsearch's part is
subtracted per query, so the overhead does not depend on the index size (the hits, facets and
answer size per query do: same page size, same facets, at any size).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_search_load import ES, FACETS_ASKED, batches, load, queries, serve_alias  # noqa: E402
from bench.uvicorn_proc import server_process  # noqa: E402
from tests.api.ldes_support import free_port  # noqa: E402

ALIAS = "bench-overhead-d"
REPO = Path(__file__).resolve().parent.parent
FLOOR_ENV = "INNONET_BENCH_FLOOR_FILE"


# -- the floor: forward prepared bytes to Elasticsearch, return its answer unchanged ----------


def floor_app() -> Any:
    """ASGI app for ``uvicorn --factory bench.bench_api_overhead:floor_app``: ``GET /f?I`` posts
    the I-th prepared ``_msearch`` (path, payload) from the file named by $INNONET_BENCH_FLOOR_FILE
    to Elasticsearch with the API's keep-alive client and answers its bytes as they are;
    ``GET /s?I`` answers the same bytes from memory (uvicorn's hop alone, no Elasticsearch)."""
    from api.routers.search import send_json_bytes
    from search.es_http import KeepAliveClient

    spec = orjson.loads(Path(os.environ[FLOOR_ENV]).read_bytes())
    requests = [(path, payload.encode()) for path, payload in spec["requests"]]
    clients: dict[int, KeepAliveClient] = {}
    answers: dict[int, bytes] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        loop_id = id(asyncio.get_running_loop())
        client = clients.get(loop_id) or clients.setdefault(loop_id, KeepAliveClient(spec["es"], 10.0))
        i = int(scope["query_string"] or b"0")
        data = answers.get(i) if scope["path"] == "/s" else None
        if data is None:  # /f: forward; /s (static) the first time
            _, data = await client.post(*requests[i], b"application/x-ndjson")
            answers[i] = data
        await send_json_bytes(send, data)  # as the API's fast path answers

    return app


def time_es_round_trips() -> list[int]:
    """Wrap :meth:`search.es_http.KeepAliveClient.post` (the Elasticsearch round trip: write,
    wait, read) in this process; returns the list its durations (ns) are appended to."""
    from search import es_http

    samples: list[int] = []
    post = es_http.KeepAliveClient.post

    async def timed_post(self: Any, *args: Any) -> Any:
        t = time.perf_counter_ns()
        try:
            return await post(self, *args)
        finally:
            samples.append(time.perf_counter_ns() - t)

    es_http.KeepAliveClient.post = timed_post  # type: ignore[method-assign]
    return samples


def timed_api() -> Any:
    """ASGI app for ``uvicorn --factory bench.bench_api_overhead:timed_api``: the real API
    (``api.main:app_factory``) with perf_counter_ns around each ASGI call and around each
    Elasticsearch round trip of :class:`search.es_http.KeepAliveClient`; ``GET /__timing``
    answers the samples (ns) and clears them. Measures our Python inside the real server
    process, as uvicorn drives it, between Elasticsearch's answers."""
    from api.main import app_factory
    from api.routers.search import send_json_bytes

    inner = app_factory()
    calls: list[int] = []
    posts = time_es_round_trips()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/__timing":
            data = orjson.dumps({"calls": calls, "posts": posts})
            calls.clear()
            posts.clear()
            await send_json_bytes(send, data)
            return
        t = time.perf_counter_ns()
        await inner(scope, receive, send)
        if scope["type"] == "http" and scope["path"] == "/search":
            calls.append(time.perf_counter_ns() - t)

    return app


@contextmanager
def serve_uvicorn(app: str, env: dict[str, str], flags: list[str], ready: str) -> Iterator[str]:
    """``uvicorn --factory APP`` with uvloop and httptools plus ``flags`` (stdout to /dev/null)."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "--factory", app, "--port", str(port), *flags]
    cmd += ["--loop", "uvloop", "--http", "httptools"]
    with server_process(cmd, dict(os.environ, **env), REPO, port, ready, quiet=True) as url:
        yield url


@contextmanager
def serve_api_granian(alias: str, data_dir: str, granian_dir: Path) -> Iterator[str]:
    """The API under granian (Rust HTTP server, ASGI interface, uvloop, no access log), for the
    "what a different server would give" line; granian is not a dependency: pass a directory
    it was installed into (``uv pip install --target DIR granian``)."""
    port = free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(granian_dir),
        INNONET_DATA_DIR=data_dir,
        INNONET_SEARCH_BACKEND="elasticsearch",
        INNONET_ES_URL=ES,
        INNONET_ES_INDEX=alias,
    )
    cmd = [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--factory"]
    cmd += ["--no-access-log", "--log-level", "warning", "--port", str(port), "api.main:app_factory"]
    with server_process(cmd, env, REPO, port, quiet=True) as url:
        yield url


def serve_floor(spec_file: Path) -> Any:
    """The floor app, started with the flags bench/uvicorn_proc.py gives the API."""
    flags = ["--log-level", "warning", "--no-access-log"]
    return serve_uvicorn("bench.bench_api_overhead:floor_app", {FLOOR_ENV: str(spec_file)}, flags, "/f?0")


def serve_api_access_log(alias: str, data_dir: str) -> Any:
    """The API as the Dockerfile's CMD starts it (uvicorn's default logging: an access log
    line per request, here to /dev/null), with uvloop and httptools named."""
    env = {
        "INNONET_DATA_DIR": data_dir,
        "INNONET_SEARCH_BACKEND": "elasticsearch",
        "INNONET_ES_URL": ES,
        "INNONET_ES_INDEX": alias,
    }
    return serve_uvicorn("api.main:app_factory", env, [], "/health")


# -- a minimal blocking keep-alive client (the same cost for every target) --------------------


class Conn:
    """One keep-alive HTTP/1.1 connection; :meth:`roundtrip` sends prepared request bytes and
    reads one answer (content-length only: Elasticsearch and uvicorn both send it here)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host = f"{parts.hostname}:{parts.port}".encode()
        self.sock = socket.create_connection((parts.hostname, parts.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def get(self, target: str) -> bytes:
        return b"GET " + target.encode() + b" HTTP/1.1\r\nHost: " + self.host + b"\r\n\r\n"

    def post(self, target: str, body: bytes, content_type: bytes) -> bytes:
        return (
            b"POST " + target.encode() + b" HTTP/1.1\r\nHost: " + self.host + b"\r\nContent-Type: "
            + content_type + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )  # fmt: skip

    def roundtrip(self, request: bytes) -> tuple[int, bytes, int]:
        """(status, body, nanoseconds from the first byte sent to the last byte read)."""
        sock = self.sock
        t = time.perf_counter_ns()
        sock.sendall(request)
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            buf += sock.recv(1 << 20)
        head = buf[:end].split(b"\r\n")
        lengths = [int(line[15:]) for line in head if line[:15].lower() == b"content-length:"]
        pos = end + 4
        if lengths:
            need = pos + lengths[0]
            while len(buf) < need:
                buf += sock.recv(1 << 20)
            body, rest = buf[pos:need], buf[need:]
        else:  # chunked (Elasticsearch 8.19 answers searches chunked)
            parts = []
            while True:
                while (eol := buf.find(b"\r\n", pos)) < 0:
                    buf += sock.recv(1 << 20)
                size = int(buf[pos:eol].split(b";")[0], 16)
                need = eol + 2 + size + 2
                while len(buf) < need:
                    buf += sock.recv(1 << 20)
                if size == 0:
                    break
                parts.append(buf[eol + 2 : eol + 2 + size])
                pos = need
            body, rest = b"".join(parts), buf[need:]
        took = time.perf_counter_ns() - t
        self.buf = rest
        return int(head[0].split()[1]), body, took


# -- the queries ------------------------------------------------------------------------------


def api_params(q: str, filters: dict[str, list[str]], highlight: bool) -> list[tuple[str, str]]:
    """bench_search_load's API query: match + 3 facets + 1 filter, size 20."""
    params = [("q", q), ("size", "20"), ("facet_size", "10"), ("highlight", str(highlight).lower())]
    params += [("facet", f) for f in FACETS_ASKED]
    params += [(name, v) for name, values in filters.items() for v in values]
    return params


def es_bytes(alias: str, query_string: str) -> tuple[str, bytes]:
    """(path with query, NDJSON payload) the API's fast path sends for this query string."""
    from api.routers.search import _fast_params, es_request
    from pipeline.settings import Settings

    timeout = Settings(es_index=alias).es_search_timeout
    params = _fast_params({"query_string": query_string.encode(), "headers": []})
    assert params is not None, query_string
    built = es_request(f"/{quote(alias, safe='')}/_msearch", timeout, params)
    assert built is not None, query_string
    return built.path, built.payload


def ensure_index(alias: str, n: int, rebuild: bool) -> None:
    """``alias`` with ``n`` generated items on this code's mapping version (else built again)."""
    from search.elasticsearch import INDEX_VERSION, ElasticsearchBackend
    from search.reindex import AliasRebuild

    have = httpx.get(f"{ES}/{alias}/_count", timeout=30)
    mapping = httpx.get(f"{ES}/{alias}/_mapping", timeout=30)
    versions = [m["mappings"]["_meta"]["version"] for m in mapping.json().values()] if have.is_success else []
    if have.is_success and have.json()["count"] == n and versions == [INDEX_VERSION] and not rebuild:
        print(f"index: {alias} kept ({n:,} items, mapping v{INDEX_VERSION})")
        return
    backend = ElasticsearchBackend(ES, alias)
    t = time.perf_counter()
    rebuild_ = AliasRebuild(backend)
    rebuild_.begin()
    for batch in batches(n):
        report = rebuild_.load(batch)
        assert not report.errors, report.errors[:3]
    rebuild_.swap()
    backend.close()
    print(f"index: {alias} built ({n:,} items, {time.perf_counter() - t:.0f} s, force-merged)")


# -- in-process: Python time of the real app per request --------------------------------------


def in_process(alias: str, qss: list[str], profile: bool, cold_caches: bool) -> None:
    """The real app (create_app) in this process, driven with uvicorn-like scopes; per request:
    perf_counter_ns around the ASGI call, minus the time inside KeepAliveClient.post (the
    Elasticsearch round trip: write, wait, read). Prints medians in µs."""
    from api.main import create_app
    from api.routers import search as search_router
    from pipeline.settings import Settings
    from search import es_http
    from search import queries as queries_module

    post = es_http.KeepAliveClient.post  # put back at the end
    spent = time_es_round_trips()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), search_backend="elasticsearch", es_url=ES, es_index=alias)  # type: ignore[call-arg]
        app = create_app(settings)

        async def run() -> tuple[list[int], list[int]]:
            totals: list[int] = []
            posts: list[int] = []
            sent: list[dict[str, Any]] = []

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            async with app.router.lifespan_context(app):
                for rnd in range(3):  # round 0: warm-up (connections, caches)
                    for qs in qss:
                        scope = {
                            "type": "http",
                            "asgi": {"version": "3.0", "spec_version": "2.3"},
                            "http_version": "1.1",
                            "server": ("127.0.0.1", 8000),
                            "client": ("127.0.0.1", 50000),
                            "scheme": "http",
                            "method": "GET",
                            "root_path": "",
                            "path": "/search",
                            "raw_path": b"/search",
                            "query_string": qs.encode(),
                            "headers": [(b"host", b"127.0.0.1:8000")],
                            "state": {},
                        }
                        sent.clear()
                        spent.clear()
                        if cold_caches:  # the API's own caches (prepared requests, text plans)
                            search_router._prepared.clear()
                            queries_module._plan.cache_clear()
                        t = time.perf_counter_ns()
                        await app(scope, receive, send)
                        took = time.perf_counter_ns() - t
                        assert sent[0]["status"] == 200, sent[0]
                        if rnd:
                            totals.append(took)
                            posts.append(sum(spent))
            return totals, posts

        prof = cProfile.Profile() if profile else None
        if prof is not None:
            prof.enable()
        totals, posts = asyncio.run(run())
        if prof is not None:
            prof.disable()
    es_http.KeepAliveClient.post = post  # type: ignore[method-assign]
    python = sorted(t - p for t, p in zip(totals, posts, strict=True))
    print(
        f"in-process (the real app, {len(totals)} requests, "
        f"{'caches emptied before each request' if cold_caches else 'warm caches'}, {load()}): ASGI call median "
        f"{statistics.median(totals) / 1000:.0f} µs, of which Elasticsearch round trip (es_http post) "
        f"{statistics.median(posts) / 1000:.0f} µs; Python of ours per request (call - post): "
        f"median {statistics.median(python) / 1000:.0f} µs, p90 {python[int(len(python) * 0.9)] / 1000:.0f} µs"
    )
    if prof is not None:
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue())


# -- the paired run ---------------------------------------------------------------------------


def listening_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1:``port`` (its socket's inode in /proc/net/tcp, then the
    process holding that inode), or None (not Linux, or not ours to read)."""
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:  # state LISTEN
            inode = fields[9]
    if inode is None:
        return None
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if any(os.readlink(fd) == f"socket:[{inode}]" for fd in (proc / "fd").iterdir()):
                    return int(proc.name)
            except OSError:
                continue
    return None


def cpu_ns(pid: int) -> int:
    """Time process ``pid`` (all its threads) has run on a CPU so far, user and kernel, in ns
    (the scheduler's own count, /proc/PID/task/*/schedstat: no 10 ms ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue  # a thread that ended meanwhile
    return total


def paired(
    targets: dict[str, tuple[Conn, list[list[bytes]]]], rounds: int, timed_from: Any = None
) -> dict[str, list[int]]:
    """Per target, the list of nanoseconds per (round, query), same order for every target.
    A target's requests: one list per pass (the untimed first pass, then each round).
    ``timed_from``: called between the untimed pass and the rounds."""
    names = list(targets)
    n = len(next(iter(targets.values()))[1][0])
    times: dict[str, list[int]] = {name: [] for name in names}
    for i in range(n):  # untimed first pass: request cache, connections, Python caches
        for name in names:
            conn, reqs = targets[name]
            status, body, _ = conn.roundtrip(reqs[0][i])
            assert status == 200, (name, body[:300])
    if timed_from is not None:
        timed_from()
    for rnd in range(rounds):
        for i in range(n):
            k = (i + rnd) % len(names)
            for name in names[k:] + names[:k]:  # the order rotates per query
                conn, reqs = targets[name]
                status, body, took = conn.roundtrip(reqs[rnd + 1][i])
                assert status == 200, (name, body[:300])
                times[name].append(took)
    return times


def pct(values: list[int], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="build the index again")
    parser.add_argument("--baseline-tree", type=Path, help="also the API of this checkout (same run)")
    parser.add_argument(
        "--alias", default=ALIAS, help="the bench index (built when missing or of another version)"
    )
    parser.add_argument(
        "--baseline-alias",
        help="the index --baseline-tree's API searches (default: --alias), e.g. one built by that tree's "
        "code when the mapping version differs",
    )
    parser.add_argument(
        "--highlight", action="store_true", help="highlight=true (default: false, as the load bench)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile of the in-process loop")
    parser.add_argument("--no-in-process", action="store_true")
    parser.add_argument(
        "--timed", action="store_true", help="also the API with timing inside its uvicorn process (api-timed)"
    )
    parser.add_argument("--granian", type=Path, help="also the API under granian installed in this directory")
    parser.add_argument(
        "--access-log",
        action="store_true",
        help="also the API with uvicorn's default access log (the Dockerfile's CMD)",
    )
    parser.add_argument(
        "--vary-order",
        action="store_true",
        help="each round sends the parameters in another order (the API's prepared-request cache misses)",
    )
    args = parser.parse_args()
    print(f"before: {load()}", flush=True)
    alias = args.alias
    ensure_index(alias, args.docs, args.rebuild)
    plist = [api_params(q, f, args.highlight) for q, f in queries(args.queries, 55)]
    qss = [urlencode(p) for p in plist]
    es_reqs = [es_bytes(alias, qs) for qs in qss]
    # --vary-order: round r sends each query's parameters rotated by r (the first pass: by 0):
    # the same search and the same Elasticsearch bytes, but a query string the API has not seen
    # (its prepared-request cache misses; its text-plan cache still hits: same words)
    variants = [
        [
            urlencode(p[r % len(p) :] + p[: r % len(p)]) if args.vary_order else qs
            for p, qs in zip(plist, qss, strict=True)
        ]
        for r in range(args.rounds + 1)
    ]
    if args.vary_order:
        assert all(es_bytes(alias, v) == e for v, e in zip(variants[1], es_reqs, strict=True))
    with ExitStack() as stack:
        spec = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "floor.json"
        spec.write_bytes(orjson.dumps({"es": ES, "requests": [(p, b.decode()) for p, b in es_reqs]}))
        urls = {"es": ES, "api": stack.enter_context(serve_alias(alias))}
        urls["floor"] = stack.enter_context(serve_floor(spec))
        urls["static"] = stack.enter_context(serve_floor(spec))  # its own process: CPU counted apart
        if args.baseline_tree is not None:
            urls["api-base"] = stack.enter_context(
                serve_alias(args.baseline_alias or alias, tree=args.baseline_tree)
            )
        if args.timed:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory())
            env = {
                "INNONET_DATA_DIR": data_dir,
                "INNONET_SEARCH_BACKEND": "elasticsearch",
                "INNONET_ES_URL": ES,
                "INNONET_ES_INDEX": alias,
            }
            flags = ["--log-level", "warning", "--no-access-log"]
            urls["api-timed"] = stack.enter_context(
                serve_uvicorn("bench.bench_api_overhead:timed_api", env, flags, "/health")
            )
        if args.granian is not None:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory())
            urls["api-granian"] = stack.enter_context(serve_api_granian(alias, data_dir, args.granian))
        if args.access_log:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory())
            urls["api-accesslog"] = stack.enter_context(serve_api_access_log(alias, data_dir))
        conns = {name: Conn(url) for name, url in urls.items()}
        n_v = len(variants)
        targets = {
            "es": (
                conns["es"],
                [[conns["es"].post(p, b, b"application/x-ndjson") for p, b in es_reqs]] * n_v,
            ),
            "api": (conns["api"], [[conns["api"].get(f"/search?{qs}") for qs in v] for v in variants]),
            "floor": (conns["floor"], [[conns["floor"].get(f"/f?{i}") for i in range(len(qss))]] * n_v),
        }
        targets["static"] = (
            conns["static"],
            [[conns["static"].get(f"/s?{i}") for i in range(len(qss))]] * n_v,
        )
        for name in ("api-base", "api-accesslog", "api-granian", "api-timed"):
            if name in conns:
                targets[name] = (
                    conns[name],
                    [[conns[name].get(f"/search?{qs}") for qs in v] for v in variants],
                )
        print(
            f"paired run: {len(qss)} queries x {args.rounds} rounds, warm (request cache), one connection "
            f"per target, order rotating per query; highlight={str(args.highlight).lower()}; "
            f"{'parameter order varied per round (prepared-request cache misses)' if args.vary_order else 'same query strings every round'}; {load()}",
            flush=True,
        )
        # CPU per request of each server process (user + system, all threads, kernel work for its
        # sockets included) over the timed rounds: robust to other processes' load, unlike wall time
        ports = {name: urlsplit(url).port for name, url in urls.items() if name != "es"}
        pids = {name: listening_pid(port) for name, port in ports.items() if port}
        pids = {name: pid for name, pid in pids.items() if pid is not None}
        cpu_before: dict[str, int] = {}
        times = paired(
            targets, args.rounds, lambda: cpu_before.update({n: cpu_ns(p) for n, p in pids.items()})
        )
        cpu_per_request = {
            name: (cpu_ns(pid) - cpu_before[name]) / (args.rounds * len(qss)) / 1000
            for name, pid in pids.items()
        }
        print(f"after the paired run: {load()}")
        if cpu_per_request:
            print(
                "server process CPU per request over the rounds (user + kernel, schedstat): "
                + ", ".join(f"{name} {us:.0f} µs" for name, us in cpu_per_request.items())
            )
        if "api-timed" in urls:
            timing = orjson.loads(httpx.get(urls["api-timed"] + "/__timing", timeout=30).content)
            # the first pass (untimed here) is in the samples too: keep the rounds' requests only
            calls, posts = timing["calls"][len(qss) :], timing["posts"][len(qss) :]
            ours = [c - p for c, p in zip(calls, posts, strict=True)]
            print(
                f"inside the API process under uvicorn (api-timed, {len(calls)} requests): ASGI call median "
                f"{pct(calls, 0.5):.0f} µs, Elasticsearch round trip (es_http post) {pct(posts, 0.5):.0f} µs, "
                f"our Python (call - post) median {pct(ours, 0.5):.0f} µs, p90 {pct(ours, 0.9):.0f} µs"
            )
        es = times["es"]
        print("| target | median raw µs | p90 raw µs | median (target - es) µs | p90 (target - es) µs |")
        print("|---|---|---|---|---|")
        for name, values in times.items():
            diffs = [v - e for v, e in zip(values, es, strict=True)]
            row = f"| {name} | {pct(values, 0.5):.0f} | {pct(values, 0.9):.0f} |"
            row += " |  |" if name == "es" else f" {pct(diffs, 0.5):.0f} | {pct(diffs, 0.9):.0f} |"
            print(row)
        for name in ("api-base", "api-accesslog", "api-granian"):
            if name in times:
                other = [a - b for a, b in zip(times["api"], times[name], strict=True)]
                print(
                    f"api - {name} (paired, per query): median {pct(other, 0.5):.0f} µs, "
                    f"p10 {pct(other, 0.1):.0f} µs, p90 {pct(other, 0.9):.0f} µs"
                )
        api_floor = [a - f for a, f in zip(times["api"], times["floor"], strict=True)]
        print(
            f"api - floor (our Python beyond forwarding bytes): median {pct(api_floor, 0.5):.0f} µs, "
            f"p90 {pct(api_floor, 0.9):.0f} µs",
            flush=True,
        )
    if not args.no_in_process:
        in_process(alias, qss, args.profile, cold_caches=False)
        in_process(alias, qss, False, cold_caches=True)
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
