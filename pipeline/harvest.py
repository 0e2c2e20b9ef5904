"""A harvest run: fetch -> parse -> map -> validate -> store, for a set of sources.

Each stage is its own module; this one only sequences them and turns every problem into
a precise status on the source's report. A source that fails keeps its stored items
(nothing is deleted here), and one failing source never stops the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from crawlers.platforms.base import ParseOutcome
from pipeline.contracts import FetchResult, Outcome, RecordError, SourceReport, SourceSpec
from pipeline.fetch import fetch_sources
from pipeline.follow import finish_follow, map_for, prepare_follow
from pipeline.health import Tracker
from pipeline.heap import HARVEST_GC_THRESHOLD0, fewer_collections, settle_long_lived
from pipeline.map import map_items
from pipeline.parse import parse_fetched, platform_defaults
from pipeline.registry import listed_sources, load_registry, sync_listed_sources
from pipeline.settings import Settings
from pipeline.store import store_and_publish
from pipeline.validate import validate_items
from store.partners import effective_registry
from store.repository import Store, replace_run_on, save_run_on, success_only_state_on

Progress = Callable[[SourceReport], None]

#: Processed sources' attempts and health are written in groups (one transaction), at the
#: latest after this many sources or seconds.
CLOSE_EVERY = 50
CLOSE_AFTER_S = 2.0


def _failed(result: FetchResult, report: SourceReport) -> SourceReport:
    report.status = "failed"
    report.error_code = result.error_code
    report.message = result.error_message
    report.errors.append(
        RecordError(
            stage="fetch",
            source_id=result.source_id,
            code=result.error_code or "fetch_error",
            message=result.error_message or "",
        )
    )
    return report


@dataclass
class RunRecord:
    """One source's run (history row and fetch state), written once.

    In the transaction that stores the source's items when there is one (``store_and_publish``'s
    hook: one commit per source instead of two, and in parallel batches one wait for SQLite's write
    lock instead of two), else on its own (``save``). The run and its items then commit together:
    nothing is lost that was not lost before, and a source that fails still gets its run. A source
    that fails after that commit gets its failed run instead of the committed one (``save``
    replaces it: one run row, and the fetch state keeps its earlier ETag and Last-Modified, so the
    next harvest fetches it in full), as when runs were written after the items.
    """

    store: Store
    result: FetchResult
    report: SourceReport | None = None  # as written in the batch's transaction
    saved: bool = False
    #: The state's success-only columns before the batch's transaction wrote the run.
    before: dict[str, Any] | None = None

    def write_on(self, conn: Connection, report: SourceReport) -> None:
        r = self.result
        save_run_on(
            conn, report, r.etag, r.last_modified,
            http_status=r.status, duration_ms=r.duration_ms, retry_after_s=r.retry_after_s,
        )  # fmt: skip

    def save(self, report: SourceReport) -> None:
        """Write the run in a transaction of its own (replacing the one committed with the items)."""
        with self.store.engine.begin() as conn:
            if self.saved and self.report is not None and self.before is not None:
                r = self.result
                replace_run_on(
                    conn, self.report, self.before, report, r.etag, r.last_modified,
                    http_status=r.status, duration_ms=r.duration_ms, retry_after_s=r.retry_after_s,
                )  # fmt: skip
            else:
                self.write_on(conn, report)
        self.report, self.saved = report, True


@dataclass
class _RunWithItems:
    """``store_and_publish``'s hook: the run as it will be once the batch has committed."""

    run: RunRecord
    report: SourceReport
    parsed: ParseOutcome
    warnings: list[str]

    def in_transaction(self, conn: Connection, outcomes: list[Outcome]) -> None:
        final = self.report.model_copy(update={"counts": dict(self.report.counts)})  # errors: not changed
        for outcome in outcomes:
            final.count(outcome)
        _finish(final, self.parsed, self.warnings)
        final.finished_at = datetime.now(UTC)
        self.run.before = success_only_state_on(conn, final.source_id)
        self.run.write_on(conn, final)
        self.run.report = final

    def committed(self) -> None:
        self.run.saved = True


def _finish(report: SourceReport, parsed: ParseOutcome, warnings: list[str]) -> None:
    """A stored source's status and message, from its errors and the parse and validation notes."""
    notes = parsed.warnings + warnings
    report.status = "partial" if report.errors or parsed.warnings else "ok"
    if notes:
        report.message = "; ".join(notes[:5]) + (f" (+{len(notes) - 5} more)" if len(notes) > 5 else "")


def process_fetched(
    settings: Settings,
    store: Store,
    source: SourceSpec,
    result: FetchResult,
    run: RunRecord | None = None,
) -> SourceReport:
    """Parse, map, validate and store one fetched source.

    ``run``: the source's run is written with its items (``RunRecord``) when they are stored in
    one transaction; ``run.saved`` says so, else the caller saves it. A followed stream (platform
    ``ldes``) writes its follow state after its items, so its run is saved by the caller.
    """
    report = SourceReport(source_id=source.id, started_at=result.fetched_at)
    if not result.ok:
        return _failed(result, report)
    if result.not_modified:
        report.status = "not_modified"
        report.message = "the server says the feed has not changed since the last harvest (HTTP 304)"
        return report
    parsed = parse_fetched(store, source, result, platform_defaults(settings))
    if parsed.sources and not parsed.fatal:
        listed = sync_listed_sources(store, source, parsed.sources, list(settings.fetch_allow_hosts))
        report.message = "listed sources: " + ", ".join(f"{v} {k}" for k, v in listed.items() if v)
    if parsed.fatal:
        report.status, report.error_code, report.message = "failed", parsed.fatal.code, parsed.fatal.message
        report.errors.append(parsed.fatal)
        return report
    if not parsed.items and parsed.warnings and not parsed.sources:
        report.status, report.error_code = "failed", "malformed_feed"
        report.message = parsed.warnings[0] + "; no item could be read"
        report.errors.append(
            RecordError(stage="parse", source_id=source.id, code="malformed_feed", message=report.message)
        )
        return report
    for error in parsed.errors:
        report.fail_record(error)
    mapped, map_errors = map_for(store, source, map_items)(
        parsed.items,
        source,
        base=settings.base_url,
        fetched_at=result.fetched_at,
        raw_sha256=result.body_sha256,
        mapping_version=settings.mapping_version,
    )
    for error in map_errors:
        report.fail_record(error)
    valid, invalid, warnings = validate_items(mapped, source.id)
    for error in invalid:
        report.fail_record(error)
    # stored and published in one transaction: a record never without its member
    hook = None if run is None or source.platform == "ldes" else _RunWithItems(run, report, parsed, warnings)
    store_and_publish(
        store, valid, report, result.body_sha256, settings.base_url, settings.ldes_page_size, hook=hook
    )
    if valid:  # once per process, when mappers, shapes and store statements are loaded
        settle_long_lived()  # the long-lived heap leaves full GC passes (pipeline/heap.py)
    finish_follow(store, settings, source, result, parsed, report)  # platform ldes: deletions, state
    _finish(report, parsed, warnings)
    if run is not None and run.saved and run.report is not None:
        report.finished_at = run.report.finished_at  # the report is the run as written
    return report


def run_source(settings: Settings, store: Store, src: SourceSpec, result: FetchResult) -> SourceReport:
    """One fetched source processed and its run saved (once): its report, failed if it raised."""
    run = RunRecord(store, result)
    try:
        report = process_fetched(settings, store, src, result, run)
    except Exception as exc:  # noqa: BLE001 - one source's bug must not stop the others
        report = SourceReport(source_id=src.id, status="failed", error_code="internal_error")
        report.message = f"{type(exc).__name__}: {exc}"
        report.errors.append(
            RecordError(stage="store", source_id=src.id, code="internal_error", message=report.message)
        )
    else:
        if run.saved:  # written with the source's items, its finish time included
            return report
    report.finished_at = datetime.now(UTC)
    run.save(report)  # failed after its items were stored: replaces the run written with them
    return report


def chosen_sources(
    settings: Settings, store: Store, source_ids: Sequence[str] | None = None, *, sync: bool = True
) -> list[SourceSpec]:
    """The sources a harvest of ``source_ids`` (default: all) runs, as the store sees the registry.

    The registry file (written into the store when ``sync``), plus partner sources and automatic
    pauses, plus the sources that list sources (OPML) name. An id in none of them is an error
    (KeyError), before anything is fetched.
    """
    registry = load_registry(settings)
    if sync:
        store.sync_registry(registry)
    registry = effective_registry(store, registry)  # + partner sources, automatic pauses
    known = {s.id for s in registry.sources}
    registry.sources += [s for s in listed_sources(store, registry) if s.id not in known]
    wanted = set(source_ids) if source_ids is not None else None
    unknown = (wanted or set()) - {s.id for s in registry.sources}
    if unknown:
        raise KeyError(f"not in the registry: {', '.join(sorted(unknown))}")
    return [s for s in registry.sources if wanted is None or s.id in wanted]


def harvest(
    settings: Settings,
    source_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
    *,
    sync: bool = True,
) -> list[SourceReport]:
    """Harvest the registry's sources (all, or those named); returns one report per source.

    ``sync=False`` skips writing the registry file into the store: for a batch of a cycle
    whose ``plan`` task has just done it (~0.4 s per batch for 1,000 sources).
    """
    store = Store(settings.resolved_database_url)
    store.checkpoint_in_background()  # SQLite: commits do not wait for WAL checkpoints
    with fewer_collections(HARVEST_GC_THRESHOLD0):  # fewer young-generation passes (pipeline/heap.py)
        try:
            chosen = chosen_sources(settings, store, source_ids, sync=sync)
            reports: list[SourceReport] = []
            active = []
            for src in chosen:
                if src.paused:
                    now = datetime.now(UTC)
                    report = SourceReport(
                        source_id=src.id, status="paused", message="source is paused", started_at=now
                    )
                    report.finished_at = now
                    reports.append(report)
                    if progress:
                        progress(report)
                else:
                    active.append(src)
            active = prepare_follow(store, settings, active)  # followed streams: saved state
            by_id = {src.id: src for src in active}

            def on_result(result: FetchResult) -> None:
                report = run_source(settings, store, by_id[result.source_id], result)
                closing.append((report, result))
                if len(closing) >= CLOSE_EVERY or time.monotonic() - closed_at[0] > CLOSE_AFTER_S:
                    close_attempts()
                reports.append(report)
                if progress:
                    progress(report)

            closing: list[tuple[SourceReport, FetchResult]] = []
            closed_at = [time.monotonic()]

            def close_attempts() -> None:
                """Health of the sources processed since the last call: attempts closed, back-off, pauses."""
                if closing:
                    tracker.finish_many(closing)
                    closing.clear()
                closed_at[0] = time.monotonic()

            with Tracker(settings, store, active) as tracker:
                try:
                    fetch_sources(settings, store, active, on_result=on_result)
                finally:
                    close_attempts()
                for report in tracker.close():  # sources the crawl never answered: failed, not "running"
                    reports.append(report)
                    if progress:
                        progress(report)
            return reports
        finally:
            store.close()
