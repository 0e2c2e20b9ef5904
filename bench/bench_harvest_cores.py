"""What ``innonet harvest`` gains from the machine's cores, end to end: fetch over HTTP ... publish.

``bench_ingest --parallel`` times the processing alone (payloads already fetched, processes
warmed up before the clock starts). This bench times the user-facing path as a user meets it:
the registry's sources fetched over real HTTP by the crawler process, then parsed, mapped,
validated, clustered, stored and published, run four ways on the same registry, alternating
rounds, each into a fresh SQLite store:

1. ``pipeline.harvest.harvest(settings)``: one pipeline process (plus its crawler process);
2. ``pipeline.parallel.harvest_on_cores(settings, processes=2)``: what ``innonet harvest`` runs
   on this 2-core machine: the sources cut into batches by host, each batch in a spawned process
   with its own crawler. The clock includes what that costs: spawning, importing the pipeline
   (~0.9 s here), the lazy first-source loads (shapes, lexicons, language models) and one crawler
   start per batch;
3. and 4. the same two in a fresh interpreter each (``harvest_on_cores`` with 1 and with 2
   processes, as ``innonet harvest --processes 1`` and the default do), timed from spawn to exit:
   the CLI's own import is in the clock too.

Real parts only: the corpus feeds ``bench_ingest`` uses (``corpus_feeds``) served by K loopback
hosts (127.0.1.1..K, ``bench.loopback.serve_on_hosts``: one ``serve_directory`` each); a registry
of distinct sources, each a copy of a corpus feed under its own URL (``?s=i``), until ``--items``
items; politeness delay ``--delay`` (default 0: the processing, not the crawl's politeness,
bounds the run); the hosts allowlisted; ``harvest_min_batch_sources`` 1, so the two
batches are cut. The servers run in their own process, so serving does not take the GIL from the
one-process harvest that would otherwise share this interpreter with them.

The one-process way runs in this process after a warm-up harvest (imports, shapes, models paid
before any clock; per-text language detections forgotten before each run, as ``bench_ingest``
does), so its start-up is the crawler start only; ways 3 and 4 show what a user waits for.

Printed per run: wall time, items/s, the ratio 2 procs / 1 proc of the same round, the load
average, the cores the machine was busy over the run (/proc/stat, others' work included), the CPU
of this run's processes (this one and its reaped children: crawlers, batch processes) and of the
server process, when each batch's first and last source report arrived, statuses and item counts.
Every run must report the same status, error code and counts per source as the first run (the
reference); the bench fails loudly if one does not.

    flock -w 1500 /tmp/w/bench.lock .venv/bin/python -m bench.bench_harvest_cores \
        [--items 3000] [--rounds 2] [--hosts 8] [--processes 2] [--delay 0]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# Light imports only at module level: the spawned batch processes import this module again as
# their __main__ (multiprocessing's spawn), and a real CLI's batch processes would not pay for it.
from bench.ingest_parallel import OTHERS_MAX, _cpu_ticks, _wait_for_quiet  # noqa: E402 - after sys.path
from bench.loopback import serve_on_hosts  # noqa: E402

Signature = dict[str, tuple[str, str | None, tuple[tuple[str, int], ...]]]


@dataclass
class Run:
    """One timed harvest."""

    way: str
    wall: float
    items: int
    statuses: Counter
    signature: Signature
    load: tuple[float, float, float]
    machine: float  # cores busy on the whole machine over the run (/proc/stat)
    own_cpu: float  # CPU seconds of this process over the run
    child_cpu: float  # CPU seconds of reaped children: crawler processes, batch processes (with theirs)
    server_cpu: float  # CPU seconds of the HTTP server process
    batches: list[tuple[int, int, float, float]] = field(default_factory=list)  # sources, items, first, last

    @property
    def rate(self) -> float:
        return self.items / self.wall

    @property
    def others(self) -> float:
        """Cores busy with work that is not this run's (other helpers' benches and tests)."""
        return max(0.0, self.machine - (self.own_cpu + self.child_cpu + self.server_cpu) / self.wall)

    @property
    def clean(self) -> bool:
        return self.others < OTHERS_MAX


# --- the HTTP servers, in their own process ------------------------------------------------------


def _serve(root: str, n_hosts: int, ready: Any, stop: Any) -> None:
    """Serve ``root/served`` on 127.0.1.1..n until ``stop`` is set; send (hosts, bases) when up."""
    with ExitStack() as stack:
        ready.put(serve_on_hosts(stack, Path(root), n_hosts))
        stop.wait()


def _proc_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a running process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _probe(out: Any) -> None:
    """A spawned process that imports what a batch process needs, then says when it was ready."""
    import pipeline.parallel  # noqa: F401 - the import is what is timed

    out.put(time.perf_counter())


def spawn_import_s(repeat: int = 3) -> float:
    """Median seconds from ``Process.start()`` of a spawned process to its pipeline being imported."""
    context = multiprocessing.get_context("spawn")
    times = []
    for _ in range(repeat):
        out = context.Queue()
        proc = context.Process(target=_probe, args=(out,))
        t0 = time.perf_counter()
        proc.start()
        times.append(out.get(timeout=120) - t0)
        proc.join()
    return statistics.median(times)


# --- the registry ---------------------------------------------------------------------------------


def write_registry(
    path: Path, bases: list[str], n_items: int
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Distinct sources (one per corpus feed copy, ``bench_ingest.whole_sources``) until ``n_items``.

    Source i is feed i mod F on host i mod K under its own URL (``?s=i``; the server ignores the
    query). Returns the (id, url) pairs and each source's feed name."""
    from bench.bench_ingest import corpus_feeds, whole_sources

    lines = ["networks:", "  - {id: bench, name: Bench outlets}", "sources:"]
    pairs, feed_of = [], {}
    for i, (spec, _body) in enumerate(whole_sources(corpus_feeds(), n_items, "s")):
        sid, url = f"s{i:04d}", f"{bases[i % len(bases)]}/{spec.title}.xml?s={i}"
        lines.append(
            f"  - {{id: {sid}, network: bench, title: {sid}, url: '{url}', platform: feed, kind: news}}"
        )
        pairs.append((sid, url))
        feed_of[sid] = spec.title
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return pairs, feed_of


def serve_corpus(served: Path) -> None:
    """Every corpus feed ``bench_ingest`` reads, next to the loopback helper's own files."""
    from bench.bench_ingest import corpus_feeds

    for name, body in corpus_feeds():
        target = served / f"{name}.xml"
        if not target.exists():
            target.write_bytes(body)


def make_settings(root: Path, name: str, registry: Path, hosts: list[str], delay_s: float = 0.0) -> Any:
    from pipeline.settings import Settings

    return Settings(  # type: ignore[call-arg]
        data_dir=root / name,
        database_url="",
        registry_path=registry,
        fetch_allow_hosts=hosts,
        fetch_delay_s=delay_s,
        harvest_min_batch_sources=1,
        search_backend="embedded",
    )


def crawl_alone(settings: Any) -> tuple[float, float]:
    """Wall and crawler-process CPU seconds of fetching every source once, without processing.

    The crawler runs beside the pipeline in either way (its own process): on 2 cores the one-process
    harvest already keeps part of the second core busy with it, which bounds what batch processes
    can add."""
    from pipeline.fetch import fetch_sources
    from pipeline.harvest import chosen_sources
    from store.repository import Store

    settings.data_dir.mkdir(parents=True)
    store = Store(settings.resolved_database_url)
    try:
        sources = chosen_sources(settings, store)
        before, t0 = os.times(), time.perf_counter()
        fetch_sources(settings, store, sources)
        wall, after = time.perf_counter() - t0, os.times()
    finally:
        store.close()
    return wall, (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


# --- one timed run --------------------------------------------------------------------------------


def _cold(settings: Any, processes: int, out: Any) -> None:
    """``innonet harvest`` without its progress bar: imports, then ``harvest_on_cores``."""
    try:
        from pipeline.parallel import harvest_on_cores

        arrived: dict[str, float] = {}

        def progress(report: Any) -> None:
            arrived.setdefault(report.source_id, time.perf_counter())  # CLOCK_MONOTONIC: one clock

        out.put((harvest_on_cores(settings, progress=progress, processes=processes), arrived))
    except BaseException as exc:  # noqa: BLE001 - the parent prints it and stops
        import traceback

        out.put(f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")


def run_once(way: str, settings: Any, processes: int, server_pid: int, batches: list[list[str]]) -> Run:
    from bench.bench_ingest import fresh_text_caches
    from pipeline.harvest import harvest
    from pipeline.parallel import harvest_on_cores

    settings.data_dir.mkdir(parents=True)
    fresh_text_caches()  # this process met the same texts in the warm-up and earlier rounds
    arrived: dict[str, float] = {}

    def progress(report: Any) -> None:
        arrived.setdefault(report.source_id, time.perf_counter())

    times0, ticks0, server0 = os.times(), _cpu_ticks(), _proc_cpu_s(server_pid)
    t0 = time.perf_counter()
    if way.endswith("cold"):  # a fresh interpreter, as `innonet harvest` is: spawn to exit timed
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        cold = context.Process(target=_cold, args=(settings, 1 if way.startswith("1 ") else processes, out))
        cold.start()
        answer = out.get(timeout=1800)
        cold.join()
        if isinstance(answer, str):
            raise RuntimeError(f"the cold harvest process failed: {answer}")
        reports, arrived = answer
    elif way == "1 proc":
        reports = harvest(settings, progress=progress)
    else:
        reports = harvest_on_cores(settings, progress=progress, processes=processes)
    wall = time.perf_counter() - t0
    times1, ticks1, server1 = os.times(), _cpu_ticks(), _proc_cpu_s(server_pid)
    busy, total = (b - a for a, b in zip(ticks0, ticks1, strict=True))
    items_of = {r.source_id: r.counts.get("new", 0) + r.counts.get("updated", 0) for r in reports}
    cut = batches if not way.startswith("1 ") else [[sid for b in batches for sid in b]]
    return Run(
        way=way,
        wall=wall,
        items=sum(items_of.values()),
        statuses=Counter(r.status for r in reports),
        signature={r.source_id: (r.status, r.error_code, tuple(sorted(r.counts.items()))) for r in reports},
        load=os.getloadavg(),
        machine=(os.cpu_count() or 1) * busy / max(total, 1),
        own_cpu=(times1.user - times0.user) + (times1.system - times0.system),
        child_cpu=(times1.children_user - times0.children_user)
        + (times1.children_system - times0.children_system),
        server_cpu=server1 - server0,
        batches=[
            (
                len(b),
                sum(items_of.get(s, 0) for s in b),
                min(arrived.get(s, wall + t0) for s in b) - t0,
                max(arrived.get(s, wall + t0) for s in b) - t0,
            )
            for b in cut
        ],
    )


def _fmt(run: Run, one: Run | None) -> str:
    ratio = f"x{run.rate / one.rate:.2f}" if one is not None else "  -  "
    spans = "  ".join(
        f"[{n} src {items} items: {first:5.2f}-{last:5.2f} s]" for n, items, first, last in run.batches
    )
    return (
        f"  {run.way}  {run.rate:6.0f} items/s  {ratio:>5}  wall {run.wall:6.2f} s  "
        f"load {run.load[0]:4.2f}  machine {run.machine:4.2f} cores busy  cpu: this {run.own_cpu / run.wall:4.2f} "
        f"+ children {run.child_cpu / run.wall:4.2f} + server {run.server_cpu / run.wall:4.2f} cores"
        f" (others {run.others:4.2f}{'' if run.clean else ' CONTAMINATED'})\n"
        f"      reports first-last {spans}  after last {run.wall - max(b[3] for b in run.batches):4.2f} s  "
        f"items {run.items}  statuses {dict(sorted(run.statuses.items()))}"
    )


def _differences(reference: Signature, got: Signature) -> list[str]:
    out = []
    for sid in sorted(reference.keys() | got.keys()):
        if reference.get(sid) != got.get(sid):
            out.append(f"{sid}: reference {reference.get(sid)} vs {got.get(sid)}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument(
        "--delay", type=float, default=0.0, help="fetch_delay_s (politeness; default 1.0 in Settings)"
    )
    args = ap.parse_args()

    from pipeline.harvest import harvest
    from pipeline.schedule import batch_by_host

    print(f"load average: {os.getloadavg()}  cores: {os.cpu_count()}")
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="innonet-bench-cores-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        ready, stop = context.Queue(), context.Event()
        server = context.Process(target=_serve, args=(str(root), args.hosts, ready, stop), daemon=True)
        server.start()
        stack.callback(server.join, 10)
        stack.callback(stop.set)
        hosts, bases = ready.get(timeout=60)
        serve_corpus(root / "served")
        assert server.pid is not None

        registry = root / "registry.yaml"
        pairs, _feeds = write_registry(registry, bases, args.items)
        batches = batch_by_host(pairs, args.processes, 1)  # as harvest_on_cores cuts them
        warm_registry = root / "warm.yaml"
        write_registry(warm_registry, bases, 200)

        t0 = time.perf_counter()
        harvest(make_settings(root, "warm", warm_registry, hosts))  # imports, shapes, models, statements
        warm_s = time.perf_counter() - t0
        one_registry = root / "one.yaml"
        write_registry(one_registry, bases, 1)  # the first corpus feed: one source
        t0 = time.perf_counter()
        harvest(make_settings(root, "one-source", one_registry, hosts))
        one_source_s = time.perf_counter() - t0
        spawn_s = spawn_import_s()
        crawl_s, crawl_cpu = crawl_alone(make_settings(root, "crawl", registry, hosts, args.delay))

        print(
            f"registry: {len(pairs)} sources (copies of {len(set(_feeds.values()))} corpus feeds, ~{args.items} items)"
            f" on {args.hosts} loopback hosts (127.0.1.x); fetch_delay_s {args.delay:g}, harvest_min_batch_sources 1; "
            f"batches by host: {' + '.join(str(len(b)) for b in batches)} sources"
        )
        print(
            f"start-up costs: warm-up harvest (first in this process, 200 items) {warm_s:.2f} s; "
            f"a one-source harvest in the warm process (crawler start + one fetch) {one_source_s:.2f} s; "
            f"spawn + import of pipeline.parallel in a fresh process {spawn_s:.2f} s (median of 3)"
        )
        print(
            f"the crawl alone (fetch_sources over the registry, bodies archived, nothing processed): wall {crawl_s:.2f} s,"
            f" crawler process CPU {crawl_cpu:.2f} s = {1000 * crawl_cpu / len(pairs):.2f} ms per fetch (its start included)"
        )
        runs: list[Run] = []
        failures: list[str] = []
        for r in range(args.rounds):
            one: Run | None = None
            for way in ("1 proc", f"{args.processes} procs", "1 proc cold", f"{args.processes} procs cold"):
                name = f"r{r}-{way.replace(' ', '')}"
                _wait_for_quiet()  # others' work (tests, benches outside the lock) skews a run
                run = run_once(
                    way,
                    make_settings(root, name, registry, hosts, args.delay),
                    args.processes,
                    server.pid,
                    batches,
                )
                print(f" round {r + 1}" + _fmt(run, one))
                one = run if way.startswith("1 ") else one
                if runs:
                    diff = _differences(runs[0].signature, run.signature)
                    if diff:
                        failures.append(
                            f"round {r + 1} {way}: {len(diff)} sources differ: " + "; ".join(diff[:5])
                        )
                runs.append(run)

        by_way: dict[str, list[Run]] = {}
        for run in runs:
            by_way.setdefault(run.way, [])
            if run.clean:
                by_way[run.way].append(run)
        for way, rs in by_way.items():
            if not rs:
                print(
                    f"  no clean run of {way} (others' work above {OTHERS_MAX} cores): medians of all its runs"
                )
                by_way[way] = [r for r in runs if r.way == way]
        print(f"medians of the clean runs ({sum(r.clean for r in runs)} of {len(runs)}):")
        rate = {way: statistics.median(r.rate for r in rs) for way, rs in by_way.items()}
        for way, rs in by_way.items():
            first = statistics.median(min(b[2] for b in r.batches) for r in rs)
            print(
                f"median {way:13s} {rate[way]:6.0f} items/s  wall {statistics.median(r.wall for r in rs):6.2f} s"
                f"  first report at {first:5.2f} s  cpu {statistics.median(r.own_cpu + r.child_cpu for r in rs):6.2f} s"
            )
        ways = list(by_way)
        for one, many in zip(ways[::2], ways[1::2], strict=True):
            print(f"ratio of medians {many} / {one}: x{rate[many] / rate[one]:.2f}")
    print(f"load average: {os.getloadavg()}")
    if failures:
        print(
            "FAILED: the two ways did not store the same thing:\n  " + "\n  ".join(failures), file=sys.stderr
        )
        return 1
    print(f"statuses and per-source counts agree across all {len(runs)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
