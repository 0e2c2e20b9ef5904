"""A harvest run: fetch -> parse -> map -> validate -> store, for a set of sources.

Each stage is its own module; this one only sequences them and turns every problem into
a precise status on the source's report. A source that fails keeps its stored items
(nothing is deleted here), and one failing source never stops the others.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pipeline.contracts import FetchResult, RecordError, SourceReport, SourceSpec
from pipeline.fetch import fetch_sources
from pipeline.follow import finish_follow, map_for, prepare_follow
from pipeline.health import Tracker
from pipeline.heap import settle_long_lived
from pipeline.map import map_items
from pipeline.parse import parse_fetched, platform_defaults
from pipeline.registry import listed_sources, load_registry, sync_listed_sources
from pipeline.settings import Settings
from pipeline.store import store_and_publish
from pipeline.validate import validate_items
from store.partners import effective_registry
from store.repository import Store

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


def process_fetched(
    settings: Settings, store: Store, source: SourceSpec, result: FetchResult
) -> SourceReport:
    """Parse, map, validate and store one fetched source."""
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
    store_and_publish(store, valid, report, result.body_sha256, settings.base_url, settings.ldes_page_size)
    if valid:  # once per process, when mappers, shapes and store statements are loaded
        settle_long_lived()  # the long-lived heap leaves full GC passes (pipeline/heap.py)
    finish_follow(store, settings, source, result, parsed, report)  # platform ldes: deletions, state
    notes = parsed.warnings + warnings
    report.status = "partial" if report.errors or parsed.warnings else "ok"
    if notes:
        report.message = "; ".join(notes[:5]) + (f" (+{len(notes) - 5} more)" if len(notes) > 5 else "")
    return report


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
    registry = load_registry(settings)
    store = Store(settings.resolved_database_url)
    try:
        if sync:
            store.sync_registry(registry)
        registry = effective_registry(store, registry)  # + partner sources, automatic pauses
        known = {s.id for s in registry.sources}
        registry.sources += [s for s in listed_sources(store, registry) if s.id not in known]
        wanted = set(source_ids) if source_ids is not None else None
        unknown = (wanted or set()) - {s.id for s in registry.sources}
        if unknown:
            raise KeyError(f"not in the registry: {', '.join(sorted(unknown))}")
        chosen = [s for s in registry.sources if wanted is None or s.id in wanted]
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
            src = by_id[result.source_id]
            try:
                report = process_fetched(settings, store, src, result)
            except Exception as exc:  # noqa: BLE001 - one source's bug must not stop the others
                report = SourceReport(source_id=src.id, status="failed", error_code="internal_error")
                report.message = f"{type(exc).__name__}: {exc}"
                report.errors.append(
                    RecordError(
                        stage="store", source_id=src.id, code="internal_error", message=report.message
                    )
                )
            report.finished_at = datetime.now(UTC)
            store.save_run(
                report,
                etag=result.etag,
                last_modified=result.last_modified,
                http_status=result.status,
                duration_ms=result.duration_ms,
                retry_after_s=result.retry_after_s,
            )
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
