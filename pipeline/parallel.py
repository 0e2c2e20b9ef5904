"""A harvest on every core: the chosen sources cut into batches by host, one OS process per batch.

Why: parsing, mapping, validating, clustering and rendering are CPU-bound Python (~0.4-0.5 ms of
one core per item, docs/vocabulary.md), and one process uses one core. The Airflow DAG runs its
batches as parallel task processes; ``innonet harvest`` (no Airflow) does the same here, so the
embedded default uses the machine's cores too (``bench_ingest --parallel``: two processes on one
SQLite store process ~1.6-1.8x the items of one).

Batches are cut as the DAG's ``plan`` cuts them (``pipeline.schedule.batch_by_host``): a host's
sources are all in one batch, so per-host politeness holds across processes, and there are no more
batches than sources / ``harvest_min_batch_sources``, so a small registry stays one process and
pays no start-up (~1.5 s to import the pipeline in a fresh interpreter). Batch processes are
spawned (their own interpreter, engine and connections, as Airflow task processes) and run
``pipeline.harvest.harvest`` on their batch; each source's report comes back over a queue as soon
as it is processed, so a progress bar moves. A batch process that dies (killed, out of memory)
does not take the others down: each of its sources without a report is reported failed with the
exit code, and their open attempts are closed with that report at once (``close_abandoned``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from typing import Any

from pipeline.contracts import RecordError, SourceReport
from pipeline.harvest import Progress, chosen_sources, harvest
from pipeline.health import close_abandoned
from pipeline.schedule import batch_by_host
from pipeline.settings import Settings
from store.repository import Store

log = logging.getLogger(__name__)

#: How often the parent looks at its batch processes while no report arrives (seconds).
POLL_S = 0.2


def process_count(settings: Settings, requested: int | None = None) -> int:
    """Processes to use: ``requested``, else ``harvest_processes``, else (0) one per two usable cores.

    Each batch process runs a crawler process beside it (fetching costs ~0.2 ms of CPU per item),
    so one harvest already keeps ~1.3-1.5 cores busy: on 2 cores a second batch process made
    ``innonet harvest`` slower up to ~30,000 items (bench/bench_harvest_cores.py: x0.57-0.65 at
    3,000 items, x0.81-0.93 at 10,000, x1.01-1.05 at 30,000) — the start-up of each batch
    (interpreter, imports, crawler: ~4 s of CPU in all) is only repaid on long harvests. Cores are
    the ones this process may run on (affinity), not the machine's.
    """
    wanted = requested if requested is not None else settings.harvest_processes
    return max(1, wanted or len(os.sched_getaffinity(0)) // 2)


def harvest_batches(settings: Settings, source_ids: Sequence[str] | None, processes: int) -> list[list[str]]:
    """The chosen sources (registry written into the store first) cut into batches by host."""
    store = Store(settings.resolved_database_url)
    try:
        chosen = chosen_sources(settings, store, source_ids, sync=True)
    finally:
        store.close()
    return batch_by_host(((s.id, s.url) for s in chosen), processes, settings.harvest_min_batch_sources)


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
    batches = harvest_batches(settings, source_ids, process_count(settings, processes))
    if len(batches) <= 1:
        log.info("harvest: %d sources in this process", sum(map(len, batches)))
        return harvest(settings, batches[0] if batches else [], progress, sync=False)
    log.info("harvest: %d sources in %d batch processes (%s sources)",
             sum(map(len, batches)), len(batches), " + ".join(str(len(b)) for b in batches))  # fmt: skip
    context = multiprocessing.get_context("spawn")
    reports_queue: Any = context.Queue()
    workers = [
        context.Process(target=_run_batch, args=(settings, batch, reports_queue), name=f"innonet-harvest-{i}")
        for i, batch in enumerate(batches)
    ]
    reports: list[SourceReport] = []
    try:
        for worker in workers:
            worker.start()
        _collect(workers, reports_queue, reports, progress, {s for batch in batches for s in batch})
    finally:
        for worker in workers:  # the parent was interrupted or failed: no batch outlives it
            if worker.is_alive():
                worker.terminate()
            worker.join()
    missing = [
        r
        for w, batch in zip(workers, batches, strict=True)
        for r in missing_reports(batch, reports, w.exitcode)
    ]
    if missing:
        log.error("harvest: %d sources were not processed: %s", len(missing), missing[0].message)
        store = Store(settings.resolved_database_url)
        try:
            close_abandoned(settings, store, missing)  # their open attempts: failed now, not stuck in an hour
        finally:
            store.close()
    for report in missing:
        _take(report, reports, progress)
    return reports


def _collect(
    workers: list[BaseProcess],
    reports_queue: Any,
    reports: list[SourceReport],
    progress: Progress | None,
    expected: set[str],
) -> None:
    """Reports as they come, until every expected source has one or every batch process has ended.

    Then the batch processes are joined (they end right after their last report) and anything
    still queued is taken, so no report is lost and the parent does not idle after the last one.
    """
    waiting = set(expected)
    while waiting:
        try:
            report = reports_queue.get(timeout=POLL_S)
        except queue.Empty:
            if any(worker.is_alive() for worker in workers):
                continue
            break  # the batch processes ended (one died): their flushed reports are taken below
        waiting.discard(report.source_id)
        _take(report, reports, progress)
    for worker in workers:
        worker.join()
    while True:
        try:
            _take(reports_queue.get_nowait(), reports, progress)
        except queue.Empty:
            return


def _take(report: SourceReport, reports: list[SourceReport], progress: Progress | None) -> None:
    reports.append(report)
    if progress:
        progress(report)


def missing_reports(
    batch: Sequence[str], reports: Sequence[SourceReport], exitcode: int | None
) -> list[SourceReport]:
    """A failed report for each source of a batch whose process ended without reporting it."""
    seen = {r.source_id for r in reports}
    how = (
        f"was killed by signal {-exitcode}"
        if exitcode is not None and exitcode < 0
        else f"exited with code {exitcode}"
    )
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


def _run_batch(settings: Settings, batch: list[str], reports_queue: Any) -> None:
    """One batch process: the batch harvested, each source's report sent as soon as it is done."""
    logging.basicConfig(
        level=logging.WARNING, format=f"%(levelname)s [batch {os.getpid()}] %(name)s: %(message)s"
    )
    harvest(settings, batch, progress=reports_queue.put, sync=False)
