"""A harvest on every core: the chosen sources cut into batches by host, one OS process per batch.

Why: parsing, mapping, validating, clustering and rendering are CPU-bound Python (~0.4-0.5 ms of
one core per item, docs/vocabulary.md), and one process uses one core. The Airflow DAG runs its
batches as parallel task processes; ``innonet harvest`` (no Airflow) can do the same here. A
harvest's crawler already runs beside it, so by default there is one batch process per two usable
cores (``process_count``): on a 2-core machine the CLI stays one process.

Batches are cut as the DAG's ``plan`` cuts them (``pipeline.schedule.batch_by_host``): a host's
sources are all in one batch, so per-host politeness holds across processes, and there are no more
batches than sources / ``harvest_min_batch_sources``, so a small registry stays one process and
pays no start-up (~1 s to import the pipeline in a fresh interpreter). Batch processes are
spawned (their own interpreter, engine and connections, as Airflow task processes) and run
``pipeline.harvest.harvest`` on their batch; each source's report comes back over the batch's own
pipe as soon as it is processed, so a progress bar moves. A batch process that dies (killed, out
of memory) does not take the others down (its pipe is its own: a process killed mid-message
cannot jam another's channel): each of its sources without a report is reported failed with the
exit code, and the attempts it left open are closed at once (``health.close_abandoned``). On
Ctrl-C or an error in this process, the batch processes are interrupted too and given
``GRACE_S`` to close their attempts themselves before they are terminated. A batch process that
sends no report for ``stall_limit_s`` (a deadlock, a stopped process) is taken as hung: killed and
handled as a dead one, its sources' reports saying it hung, so a harvest does not wait forever (not
covered: a process stopped halfway through writing a report larger than the pipe's buffer, as the
read of a started message blocks). Its crawler process exits by itself once orphaned
(``crawlers.fetching.run.exit_when_orphaned``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Iterable, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

from pipeline.contracts import RecordError, SourceReport, SourceSpec
from pipeline.harvest import Progress, chosen_sources, harvest
from pipeline.health import close_abandoned, worker_name
from pipeline.schedule import batch_by_host
from pipeline.settings import Settings
from store.repository import Store

log = logging.getLogger(__name__)

#: How long interrupted batch processes get to close their attempts before they are terminated (s).
GRACE_S = 10.0


def process_count(settings: Settings, requested: int | None = None) -> int:
    """Processes to use: ``requested``, else ``harvest_processes``, else (0) one per two usable cores.

    Each batch process runs a crawler process beside it (fetching costs ~0.2 ms of CPU per item),
    so one harvest already keeps ~1.3-1.5 cores busy: on 2 cores a second batch process made
    ``innonet harvest`` slower up to ~30,000 items (bench/bench_harvest_cores.py: x0.57-0.65 at
    3,000 items, x0.81-0.93 at 10,000, x1.01-1.05 at 30,000) — the start-up of each batch
    (interpreter, imports, crawler: ~4 s of CPU in all) is only repaid on long harvests. Cores are
    the ones this process may run on (affinity), not the machine's.
    """
    if requested is not None and requested < 1:
        raise ValueError(f"processes must be 1 or more, not {requested}")
    wanted = requested if requested is not None else settings.harvest_processes
    return max(1, wanted or len(os.sched_getaffinity(0)) // 2)


def stall_limit_s(settings: Settings) -> float:
    """How long a batch process may send no report before it is taken as hung (``harvest_stall_s``).

    0 (the default): the longer of the health page's "stuck" time and two crawl deadlines. Between two
    reports a healthy batch waits for its crawl (killed at ``fetch_process_timeout_s``) and one
    source's processing, so the default does not cut a healthy batch short; a ``harvest_stall_s``
    set lower than a crawl's deadline can.
    """
    if settings.harvest_stall_s:
        return settings.harvest_stall_s
    return max(float(settings.health_stuck_after_s), 2 * settings.fetch_process_timeout_s)


def harvest_batches(
    settings: Settings, source_ids: Sequence[str] | None, processes: int
) -> tuple[list[list[str]], dict[str, SourceSpec]]:
    """The chosen sources (registry written into the store first) cut into batches by host, and their specs."""
    store = Store(settings.resolved_database_url)
    try:
        chosen = chosen_sources(settings, store, source_ids, sync=True)
    finally:
        store.close()
    batches = batch_by_host(((s.id, s.url) for s in chosen), processes, settings.harvest_min_batch_sources)
    return batches, {s.id: s for s in chosen}


def harvest_on_cores(
    settings: Settings,
    source_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
    processes: int | None = None,
) -> list[SourceReport]:
    """Harvest the sources (all, or those named) in up to ``processes`` batch processes.

    One report per source, in the order they finished. One batch (a small registry, or
    ``processes`` 1) runs in this process, exactly as ``harvest`` does.
    """
    batches, specs = harvest_batches(settings, source_ids, process_count(settings, processes))
    if len(batches) <= 1:
        log.info("harvest: %d sources in this process", sum(map(len, batches)))
        return harvest(settings, batches[0] if batches else [], progress, sync=False)
    log.info("harvest: %d sources in %d batch processes (%s sources)",
             sum(map(len, batches)), len(batches), " + ".join(str(len(b)) for b in batches))  # fmt: skip
    context = multiprocessing.get_context("spawn")
    channels = [context.Pipe(duplex=False) for _ in batches]  # (receive, send) per batch
    workers = [
        context.Process(target=_run_batch, args=(settings, batch, send), name=f"innonet-harvest-{i}")
        for i, (batch, (_, send)) in enumerate(zip(batches, channels, strict=True))
    ]
    reports: dict[str, SourceReport] = {}
    stall_s = stall_limit_s(settings)
    stalled: set[int] = set()  # filled by _collect as it stops batches, kept if it raises after that
    interrupted, by_terminal = True, False
    try:
        for worker, (_, send) in zip(workers, channels, strict=True):
            worker.start()
            send.close()  # the batch process holds the only sending end: its exit ends the channel
        _collect([receive for receive, _ in channels], reports, progress, workers, stall_s, stalled)
        interrupted = False
    except KeyboardInterrupt:
        by_terminal = True  # Ctrl-C reaches the whole process group: the batch processes have it too
        raise
    finally:
        _stop(workers, GRACE_S if interrupted else 0.0, interrupt=interrupted and not by_terminal)
        for receive, _ in channels:
            receive.close()
        _close_dead(settings, workers, batches, specs, reports, progress, stalled, stall_s)
    return list(reports.values())


def _collect(
    channels: list[Connection],
    reports: dict[str, SourceReport],
    progress: Progress | None,
    workers: list[BaseProcess],
    stall_s: float,
    stalled: set[int],
) -> None:
    """Reports as they come, until every batch's channel has ended (its process exited or died).

    A batch whose channel stays silent for ``stall_s`` is hung: its process is killed (a hung process
    cannot be trusted to close its attempts; ``_close_dead`` does that) and its index added to
    ``stalled``.
    """
    open_channels = {channel: i for i, channel in enumerate(channels)}
    last = [time.monotonic()] * len(channels)
    while open_channels:
        first_due = min(last[i] for i in open_channels.values()) + stall_s
        # At most a minute per wait: wait() refuses timeouts past ~24 days, and the loop recomputes it.
        ready = wait(list(open_channels), timeout=min(60.0, max(0.0, first_due - time.monotonic())))
        now = time.monotonic()
        for channel in ready:
            i = open_channels[channel]  # type: ignore[index]
            last[i] = now
            try:
                report = channel.recv()  # type: ignore[union-attr]
            except (EOFError, OSError):
                del open_channels[channel]  # type: ignore[arg-type]
                continue
            except Exception as exc:  # noqa: BLE001 - a process killed mid-message: its batch is over
                log.error("harvest: a batch process's channel broke (%s: %s)", type(exc).__name__, exc)
                del open_channels[channel]  # type: ignore[arg-type]
                continue
            reports[report.source_id] = report
            if progress:
                progress(report)
        for channel, i in list(open_channels.items()):
            if now - last[i] >= stall_s and not channel.poll(0):  # not a report or an end just arriving
                log.error(
                    "harvest: batch process %s sent no report for %.0f s: stopped as hung",
                    workers[i].pid,
                    stall_s,
                )
                workers[i].kill()
                stalled.add(i)
                del open_channels[channel]


def _stop(workers: list[BaseProcess], grace_s: float, *, interrupt: bool = False) -> None:
    """Every batch process ended: waited for when they finish on their own; after a failure here, given
    ``grace_s`` (``interrupt``: sent SIGINT first, so their harvests close their attempts), then terminated."""
    if interrupt:
        for worker in workers:
            if worker.is_alive() and worker.pid:
                os.kill(worker.pid, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    for worker in workers:
        if worker.pid is None:  # never started (an earlier start failed)
            continue
        worker.join(max(0.0, deadline - time.monotonic()) if grace_s else None)
        if worker.is_alive():
            worker.terminate()
            worker.join()


def _close_dead(
    settings: Settings,
    workers: list[BaseProcess],
    batches: list[list[str]],
    specs: dict[str, SourceSpec],
    reports: dict[str, SourceReport],
    progress: Progress | None,
    stalled: set[int],
    stall_s: float,
) -> None:
    """For each batch process that did not end well: failed reports for its unprocessed sources, and
    the attempts it left open closed (``close_abandoned``) with the reports that did arrive.
    ``stalled``: the batches stopped as hung after ``stall_s`` without a report."""
    for i, (worker, batch) in enumerate(zip(workers, batches, strict=True)):
        if worker.exitcode == 0 and i not in stalled:
            continue
        missing = missing_reports(batch, reports.values(), worker.exitcode, stall_s if i in stalled else None)
        if missing:
            log.error("harvest: %d sources were not processed: %s", len(missing), missing[0].message)
        store = Store(settings.resolved_database_url)
        try:
            reported = [reports[s] for s in batch if s in reports]
            close_abandoned(
                settings, store, [specs[s] for s in batch], worker_name(worker.pid), reported, missing
            )
        finally:
            store.close()
        for report in missing:
            reports[report.source_id] = report
            if progress:
                progress(report)


def missing_reports(
    batch: Sequence[str],
    reports: Iterable[SourceReport],
    exitcode: int | None,
    stalled_s: float | None = None,
) -> list[SourceReport]:
    """A failed report for each source of a batch whose process ended without reporting it.

    ``stalled_s``: the process was stopped as hung after that long without a report.
    """
    seen = {r.source_id for r in reports}
    if stalled_s is not None:
        how = f"sent no report for {stalled_s:.0f} s and was stopped as hung"
    elif exitcode is None:
        how = "could not be started"
    elif exitcode < 0:
        how = f"was killed by signal {-exitcode}"
    else:
        how = f"exited with code {exitcode}"
    out = []
    for source_id in batch:
        if source_id in seen:
            continue
        message = f"the harvest process of this source's batch {how} before the source was processed"
        report = SourceReport(
            source_id=source_id, status="failed", error_code="internal_error", message=message
        )
        report.errors.append(
            RecordError(stage="fetch", source_id=source_id, code="internal_error", message=message)
        )
        out.append(report)
    return out


def _run_batch(settings: Settings, batch: list[str], channel: Connection) -> None:
    """One batch process: the batch harvested, each source's report sent as soon as it is done."""
    logging.basicConfig(
        level=logging.WARNING, format=f"%(levelname)s [batch {os.getpid()}] %(name)s: %(message)s"
    )
    try:
        harvest(settings, batch, progress=channel.send, sync=False)
    except KeyboardInterrupt:  # interrupted: harvest closed its attempts on the way out
        raise SystemExit(130) from None
    finally:
        channel.close()
