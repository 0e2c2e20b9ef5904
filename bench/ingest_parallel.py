"""The whole ingest path in N OS processes writing ONE store, as the harvest DAG's parallel batches do.

``python -m bench.bench_ingest N --parallel[=P]`` (P default 2; ``--rounds=R`` default 2). The same
sources as ``bench_ingest``'s whole path (distinct sources, one per corpus feed copy, until N items;
copies of one feed are syndicated copies of each other, so their items share cluster keys) are
split round-robin into P shares, one per process, like ``plan``'s batches; each process runs what
a ``harvest_batch`` task runs after the fetch: ``process_fetched`` then ``save_run`` per source.

Per run: a fresh store holding the registry and the archived payloads (the fetch stage's output);
the processes (spawned: their own interpreter, engine and connections, as Airflow task processes)
import everything, warm up on their own store (shapes, lexicons, language models, statements) and
wait at a barrier; the clock runs from the barrier to the end of the last process. The same
sources are run by 1 process and by P processes alternately (R rounds each) on each backend: SQLite
(a temp file) and PostgreSQL when ``INNONET_TEST_PG_URL`` is set (``eval "$(bash
scripts/postgres.sh start)"``; a fresh database per run). Printed per run: items/s, the ratio P / 1
(same invocation), the CPU the processes used (of 2 cores), ``pipeline.store.RETRIES`` (store
transactions run again) and the write-lock clock: per write transaction, the time its first write
statement took (on SQLite: mostly waiting for the database's single write lock) and how long it
then held the lock until the connection went back to the pool (commit included).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

SourceBody = tuple[Any, bytes]  # (SourceSpec, feed bytes)


@dataclass
class LockClock:
    """Per write transaction of one engine: its first write's duration and how long it held on after.

    SQLite (pysqlite's implicit BEGIN) takes the database's write lock at a transaction's first
    INSERT/UPDATE/DELETE and keeps it until the commit; the connection goes back to the pool
    right after, so first write start -> checkin is the lock's span for that transaction.
    """

    first_write: list[float] = field(default_factory=list)
    held: list[float] = field(default_factory=list)
    _open: dict[int, float] = field(default_factory=dict)
    _started: dict[int, float] = field(default_factory=dict)

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "checkin", self._checkin)

    def _before(self, _conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        key = id(cursor.connection)
        if key not in self._open and key not in self._started and _is_write(statement):
            self._started[key] = time.perf_counter()

    def _after(self, _conn: Any, cursor: Any, *_: Any) -> None:
        key = id(cursor.connection)
        started = self._started.pop(key, None)
        if started is not None:
            now = time.perf_counter()
            self.first_write.append(now - started)
            self._open[key] = now

    def _checkin(self, dbapi_connection: Any, _record: Any) -> None:
        opened = self._open.pop(id(dbapi_connection), None)
        if opened is not None:
            self.held.append(time.perf_counter() - opened)


def _is_write(statement: str) -> bool:
    """A statement that takes SQLite's write lock (store/write_lock.py begins with BEGIN IMMEDIATE)."""
    head = statement.lstrip()[:15].upper()
    return head[:6] in ("INSERT", "UPDATE", "DELETE") or head == "BEGIN IMMEDIATE"


@dataclass
class WorkerResult:
    items: int
    sources: int
    end: float  # time.perf_counter() at the end (CLOCK_MONOTONIC: one clock for all processes)
    cpu: float  # this process's CPU seconds over the timed part
    retries: dict[str, int]
    first_write: list[float]
    held: list[float]
    statuses: dict[str, int]


def _fetch_result(spec: Any, body: bytes, now: datetime) -> Any:
    import hashlib

    from pipeline.contracts import FetchResult

    return FetchResult(
        source_id=spec.id, url=spec.url, status=200, ok=True, content_type="application/xml",
        body_sha256=hashlib.sha256(body).hexdigest(), body_size=len(body), fetched_at=now, duration_ms=1,
    )  # fmt: skip


def _run_batch(settings: Any, store: Any, sources: list[SourceBody], now: datetime) -> tuple[int, Counter]:
    """What a harvest_batch task does per fetched source: process it, save its run (with its items, as
    ``pipeline.harvest``'s ``on_result`` does: ``RunRecord``)."""
    from pipeline.harvest import RunRecord, process_fetched

    items, statuses = 0, Counter()
    for spec, body in sources:
        result = _fetch_result(spec, body, now)
        run = RunRecord(store, result)
        report = process_fetched(settings, store, spec, result, run)
        if not run.saved:
            report.finished_at = datetime.now(UTC)
            run.save(report)
        items += report.counts.get("new", 0) + report.counts.get("updated", 0)
        statuses[report.status] += 1
    return items, statuses


def _worker(
    url: str,
    warm_url: str,
    data_dir: str,
    share: list[SourceBody],
    warm: list[SourceBody],
    start: Any,
    out: Any,
) -> None:
    """One batch process: warm up on its own store, wait for the others, run its share on the shared one."""
    try:
        from bench.bench_ingest import NOW, fresh_text_caches
        from pipeline.heap import HARVEST_GC_THRESHOLD0, fewer_collections
        from pipeline.settings import Settings
        from pipeline.store import RETRIES
        from store.repository import Store

        settings = Settings(data_dir=Path(data_dir), base_url="http://innonet.test")  # type: ignore[call-arg]
        warm_store = Store(warm_url)
        _run_batch(settings, warm_store, warm, NOW)  # imports, shapes, lexicons, models, statements
        warm_store.close()
        store = Store(url)
        store.checkpoint_in_background()  # as pipeline.harvest.harvest does
        clock = LockClock()
        clock.attach(store.engine)
        with store.engine.connect():  # one connection open (pragmas run), as a running task has
            pass
        fresh_text_caches()
        RETRIES.clear()
        start.wait(300)
        cpu0 = time.process_time()
        with fewer_collections(HARVEST_GC_THRESHOLD0):  # as pipeline.harvest.harvest runs its sources
            items, statuses = _run_batch(settings, store, share, NOW)
        end = time.perf_counter()
        cpu = time.process_time() - cpu0
        store.close()
        out.put(
            WorkerResult(
                items=items, sources=len(share), end=end, cpu=cpu, retries=dict(RETRIES),
                first_write=clock.first_write, held=clock.held, statuses=dict(statuses),
            )
        )  # fmt: skip
    except BaseException as exc:  # noqa: BLE001 - the parent prints it and stops
        import traceback

        start.abort()  # the parent and the other processes stop waiting
        out.put(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")


@contextmanager
def _pg_database(admin_url: str):  # noqa: ANN202 - a context manager of a URL
    """A fresh PostgreSQL database on the server of ``admin_url`` (a superuser URL), dropped after."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(admin_url)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"innonet_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _prepare(url: str, sources: list[SourceBody]) -> None:
    """The registry and the archived payloads: what plan and the fetch stage leave for the batches."""
    from pipeline.contracts import NetworkSpec, Registry
    from store import clusters, members
    from store.repository import Store

    store = Store(url)
    store.sync_registry(
        Registry(networks=[NetworkSpec(id="bench-net", name="bench")], sources=[s for s, _ in sources])
    )
    for spec, body in sources:
        store.save_payload(body, spec.url, "application/xml")
    clusters.ensure_tables(store.engine)
    members.ensure_tables(store.engine)
    store.close()


@dataclass
class RunResult:
    processes: int
    items: int
    wall: float
    cpu: float
    retries: Counter
    first_write: list[float]
    held: list[float]
    statuses: Counter
    load: tuple[float, float, float]
    machine: float  # cores busy on the whole machine over the run (/proc/stat: others' work included)
    server: float  # cores the PostgreSQL server's processes used over the run (0 on SQLite)
    first_done: float = 0.0  # when the first process finished, as a share of the wall time (tail imbalance)

    @property
    def rate(self) -> float:
        return self.items / self.wall

    @property
    def others(self) -> float:
        """Cores busy with work other than this run's processes and server (other helpers' work)."""
        return max(0.0, self.machine - self.cpu / self.wall - self.server)

    @property
    def clean(self) -> bool:
        return self.others < OTHERS_MAX


def run_once(
    url: str, warm_urls: list[str], tmp: str, sources: list[SourceBody], processes: int
) -> RunResult:
    """One timed run: ``sources`` split round-robin into ``processes`` shares on the store at ``url``."""
    from sqlalchemy.engine import make_url

    port = make_url(url).port if url.startswith("postgresql") else None
    _prepare(url, sources)
    for warm_url in dict.fromkeys(warm_urls):
        _prepare(warm_url, [s for i, w in enumerate(warm_urls) if w == warm_url for s in WARM[i]])
    context = multiprocessing.get_context("spawn")
    start, out = context.Barrier(processes + 1), context.Queue()
    shares = [sources[i::processes] for i in range(processes)]
    workers = [
        context.Process(
            target=_worker,
            args=(url, warm_urls[i], str(Path(tmp) / f"data{i}"), shares[i], WARM[i], start, out),
        )
        for i in range(processes)
    ]
    for w in workers:
        w.start()
    try:
        start.wait(600)
    except threading.BrokenBarrierError:
        raise RuntimeError(f"a batch process failed: {out.get(timeout=60)}") from None
    began, ticks, server = time.perf_counter(), _cpu_ticks(), _postgres_ticks(port)
    answers = [out.get(timeout=1800) for _ in workers]
    busy, total = (b - a for a, b in zip(ticks, _cpu_ticks(), strict=True))
    server = _postgres_ticks(port) - server
    for w in workers:
        w.join(60)
    for answer in answers:
        if isinstance(answer, str):
            raise RuntimeError(f"a batch process failed: {answer}")
    ends = [a.end for a in answers]
    return RunResult(
        processes=processes,
        items=sum(a.items for a in answers),
        wall=max(ends) - began,
        cpu=sum(a.cpu for a in answers),
        retries=sum((Counter(a.retries) for a in answers), Counter()),
        first_write=[x for a in answers for x in a.first_write],
        held=[x for a in answers for x in a.held],
        statuses=sum((Counter(a.statuses) for a in answers), Counter()),
        load=os.getloadavg(),
        machine=(os.cpu_count() or 1) * busy / max(total, 1),
        server=server / os.sysconf("SC_CLK_TCK") / (max(ends) - began),
        first_done=(min(ends) - began) / (max(ends) - began),
    )


def _postgres_ticks(port: int | None) -> int:
    """CPU jiffies of the PostgreSQL server listening on ``port``: the postmaster, its running
    children, and (cutime + cstime) the children it has reaped: a backend ends with its connection."""
    if port is None:
        return 0
    procs: dict[int, list[str]] = {}
    postmaster = None
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if stat[stat.index("(") + 1 : stat.rindex(")")] != "postgres":
            continue
        procs[int(pid)] = stat[stat.rindex(")") + 2 :].split()  # proc(5) fields 3, 4, ...
        if b"-p" in args[:-1] and args[args.index(b"-p") + 1] == str(port).encode():
            postmaster = int(pid)
    if postmaster is None:
        return 0
    fields = procs[postmaster]
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
    for other in procs.values():
        if int(other[1]) == postmaster:  # ppid
            ticks += int(other[11]) + int(other[12])
    return ticks


def _wait_for_quiet(limit_s: float = 30.0) -> None:
    """Wait (at most ``limit_s``) for a second in which other work keeps under ``OTHERS_MAX`` cores busy."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = _cpu_ticks()
        time.sleep(1.0)
        busy, total = (b - a for a, b in zip(before, _cpu_ticks(), strict=True))
        if (os.cpu_count() or 1) * busy / max(total, 1) < OTHERS_MAX:
            return
    print(f"  (the machine stayed busy for {limit_s:.0f} s; running anyway)")


def _cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat (idle and iowait are not busy)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values) - values[3] - values[4], sum(values)


#: A run during which other work kept more than this many cores busy is marked and left out of
#: the best-of summary (the machine has 2 cores; a contaminated run says nothing about scaling).
OTHERS_MAX = 0.2

#: Each worker's warm-up sources (set by ``parallel_mode``; passed to the spawned processes).
WARM: list[list[SourceBody]] = []


def _fmt(run: RunResult, base: RunResult | None) -> str:
    ratio = f"x{run.rate / base.rate:.2f}" if base is not None else "  -  "
    held, first = sum(run.held), sum(run.first_write)
    n = max(1, len(run.held))
    retries = ", ".join(f"{k} {v}" for k, v in sorted(run.retries.items())) or "none"
    return (
        f"  {run.processes} proc  {run.rate:7.0f} items/s  {ratio:>6}  wall {run.wall:6.2f} s"
        f"  cpu {run.cpu / run.wall:4.2f} cores"
        + (f" (first done at {100 * run.first_done:3.0f} %)" if run.processes > 1 else "")
        + (f" + server {run.server:4.2f}" if run.server else "")
        + f" (others {run.others:4.2f}{'' if run.clean else ' CONTAMINATED'})"
        f"  | write txns {len(run.held):4d}  first write {1000 * first / n:6.2f} ms avg (sum {first:5.2f} s)"
        f"  held {1000 * held / n:5.2f} ms avg (max {1000 * max(run.held, default=0):6.1f}, sum {held:5.2f} s"
        f" = {held / run.wall:4.2f} of wall)"
        f"  | retries: {retries}  | load {run.load[0]:.2f}"
    )


def parallel_mode(n: int, processes: int, rounds: int, fresh: bool = False) -> None:
    from bench.bench_ingest import copies_note, corpus_feeds, whole_sources

    feeds = corpus_feeds()
    sources = whole_sources(feeds, n, "src", fresh)
    WARM.clear()
    WARM.extend(whole_sources(feeds, 60, f"warm{i}") for i in range(max(processes, 1)))
    backends = [("sqlite", None)]
    pg = os.environ.get("INNONET_TEST_PG_URL")
    if pg:
        backends.append(("postgresql", pg))
    total = sum(1 for _ in sources)
    print(f"load average: {os.getloadavg()}  cores: {os.cpu_count()}")
    print(
        f"whole ingest path per source (process_fetched + save_run), {total} sources, ~{n} items, "
        f"1 process vs {processes} processes on one store, {rounds} rounds alternating"
    )
    print("  " + copies_note(feeds, sources, fresh))
    if not pg:
        print(
            '  (INNONET_TEST_PG_URL not set: SQLite only; eval "$(bash scripts/postgres.sh start)" for PostgreSQL)'
        )
    for backend, admin in backends:
        print(f"{backend}:")
        best: dict[int, RunResult] = {}
        for r in range(rounds):
            one: RunResult | None = None
            for procs in (1, processes):
                _wait_for_quiet()
                with tempfile.TemporaryDirectory() as tmp:
                    if admin is None:
                        url = f"sqlite:///{tmp}/store.sqlite3"
                        warm_urls = [f"sqlite:///{tmp}/warm{i}.sqlite3" for i in range(procs)]
                        run = run_once(url, warm_urls, tmp, sources, procs)
                    else:
                        with _pg_database(admin) as url, _pg_database(admin) as warm_url:
                            run = run_once(url, [warm_url] * procs, tmp, sources, procs)
                if run.statuses.keys() - {"ok", "partial"}:
                    print(f"  !! statuses: {dict(run.statuses)}")
                print(f" round {r + 1}" + _fmt(run, one if procs != 1 else None))
                one = run if procs == 1 else one
                if run.clean and (procs not in best or run.rate > best[procs].rate):
                    best[procs] = run
        if processes in best and 1 in best:
            print(
                f"  best of the clean runs: 1 proc {best[1].rate:.0f} items/s, {processes} procs"
                f" {best[processes].rate:.0f} items/s  (x{best[processes].rate / best[1].rate:.2f})"
            )
        else:
            print(f"  no clean pair of runs (others' work above {OTHERS_MAX} cores): run again")
    print(f"load average: {os.getloadavg()}")


def main(argv: list[str]) -> None:
    numbers = [int(a) for a in argv if a.isdigit()]
    n = numbers[0] if numbers else 1000
    processes, rounds = 2, 2
    for a in argv:
        if a.startswith("--parallel="):
            processes = int(a.split("=", 1)[1])
        if a.startswith("--rounds="):
            rounds = int(a.split("=", 1)[1])
    parallel_mode(n, processes, rounds, "--fresh" in argv)


if __name__ == "__main__":
    main(sys.argv[1:])
