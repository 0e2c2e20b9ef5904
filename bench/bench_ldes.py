"""Event-stream benchmark: a fresh ldes-client replicating 100,000 members, and closed pages per second.

Run: ``.venv/bin/python bench/bench_ldes.py [--members 100000] [--seconds 10]``. Members are
bulk-inserted into a temporary store (the shape of what the publish stage writes, over past
days so their pages are closed); the API runs under uvicorn on 127.0.0.1 in its own process.
Closed-page throughput is measured with ``wrk`` (C, outside Python, so the load generator does
not share the server's interpreter: a Python generator in-process measured its own limits),
against 1 and 2 uvicorn workers, with a baseline (``/health``, the cheapest FastAPI route)
measured the same way in the same run, and their ratio. The load average is printed because
other work on the 2 cores skews every number. Goals from issue 6: replication under 60 s,
closed pages at 5,000/s or more.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.uvicorn_proc import serve_api  # noqa: E402
from pipeline.settings import Settings  # noqa: E402
from store.ldes_models import LdesHeadRow, LdesMemberFacetRow, LdesMemberRow  # noqa: E402
from store.members import compact, ensure_tables  # noqa: E402
from store.repository import Store  # noqa: E402
from tests.api.ldes_support import ldes_client_path  # noqa: E402

BASE = "http://innonet.test"


def fill(store: Store, n: int) -> None:
    """n members over the past days (10,000 a day), one item each, in the publish stage's format."""
    ensure_tables(store.engine)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=n // 10_000 + 2
    )
    members, facets, heads = [], [], []
    for i in range(n):
        ts = start + timedelta(days=i // 10_000, seconds=(i % 10_000) * 8)
        item = f"{BASE}/id/news/bench/{i:07d}"
        version = f"{item}/versie/{compact(ts)}"
        graph = (
            f"<{version}> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/NewsArticle> .\n"
            f'<{version}> <http://schema.org/headline> "Benchmark item {i}"@en .\n'
            f"<{version}> <https://w3id.org/innonet/ns#network> <{BASE}/id/network/bench> .\n"
            f"<{version}> <http://purl.org/dc/terms/isVersionOf> <{item}> .\n"
            f'<{version}> <http://www.w3.org/ns/prov#generatedAtTime> "{ts.strftime("%Y-%m-%dT%H:%M:%SZ")}"'
            "^^<http://www.w3.org/2001/XMLSchema#dateTime> .\n"
        )
        members.append(
            {
                "seq": i + 1,
                "version_iri": version,
                "item_iri": item,
                "generated_at": ts,
                "day": ts.strftime("%Y-%m-%d"),
                "deleted": False,
                "content_hash": "h",
                "graph": graph,
            }
        )
        facets.append({"seq": i + 1, "facet": "type", "value": "news"})
        heads.append(
            {"item_iri": item, "seq": i + 1, "content_hash": "h", "deleted": False, "source_id": "bench"}
        )
    with store.session() as s, s.begin():
        s.execute(LdesMemberRow.__table__.insert(), members)
        s.execute(LdesMemberFacetRow.__table__.insert(), facets)
        s.execute(LdesHeadRow.__table__.insert(), heads)


def wrk(url: str, seconds: float, accept: str = "application/n-quads") -> tuple[float, str]:
    """(requests/s, transfer/s) from ``wrk -t2 -c32``; any non-2xx answer or socket error fails the run."""
    cmd = ["wrk", "-t2", "-c32", f"-d{seconds:g}s", "-H", f"Accept: {accept}", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or errors:
        raise SystemExit(f"wrk saw failures on {url}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rate, re.search(r"Transfer/sec:\s+(\S+)", out).group(1)


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} ({os.cpu_count()} cores)"


@contextmanager
def serve(settings: Settings, workers: int = 1) -> Iterator[str]:
    """The API in its own uvicorn process (the load generator must not share its GIL)."""
    with serve_api({"INNONET_DATA_DIR": str(settings.data_dir), "INNONET_BASE_URL": BASE}, workers) as url:
        yield url


def closed_rates(url: str, page_path: str, seconds: float) -> tuple[float, str, float]:
    """(closed page requests/s and transfer/s, /health requests/s) on one server, measured the same way."""
    page = f"{url}{page_path}"
    first = httpx.get(page, headers={"Accept": "application/n-quads"})
    first.raise_for_status()
    assert "immutable" in first.headers["cache-control"], first.headers
    wrk(page, 2)  # warm-up: every worker renders the page once; later requests come from its cache
    closed, transfer = wrk(page, seconds)
    health, _ = wrk(f"{url}/health", seconds, accept="application/json")
    return closed, transfer, health


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    client = ldes_client_path()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (apt-get install -y wrk)")
    print(f"before: {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), base_url=BASE)
        store = Store(settings.resolved_database_url)
        t0 = time.perf_counter()
        fill(store, args.members)
        print(f"filled {args.members} members in {time.perf_counter() - t0:.1f} s")
        day = (datetime.now(UTC) - timedelta(days=args.members // 10_000 + 1)).strftime("%Y-%m-%d")
        page_path = f"/ldes/feed/by-time?day={day}&page=1"
        with serve(settings) as url:
            t0 = time.perf_counter()
            done = subprocess.run(
                [str(client), f"{url}/ldes/feed"], capture_output=True, text=True, timeout=1800
            )
            took = time.perf_counter() - t0
            got = sum(1 for line in done.stdout.splitlines() if "/terms/isVersionOf>" in line)
            print(f"ldes-client replicated {got:,} members in {took:.1f} s (exit {done.returncode})")
            size = len(httpx.get(f"{url}{page_path}", headers={"Accept": "application/n-quads"}).content)
        print(f"closed page: 250 members, N-Quads, {size:,} bytes; wrk -t2 -c32 -d{args.seconds:g}s")
        for workers in (1, 2):
            with serve(settings, workers) as url:
                closed, transfer, health = closed_rates(url, page_path, args.seconds)
            print(
                f"uvicorn workers={workers}: closed page {closed:,.0f} req/s ({transfer}/s); baseline /health "
                f"{health:,.0f} req/s; ratio closed/baseline = {closed / health:.2f}"
            )
        store.close()
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
