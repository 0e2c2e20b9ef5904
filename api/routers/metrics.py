"""GET /metrics: Prometheus exposition of harvest health, read from the store at scrape time.

A custom collector (no counters kept in process memory) so every API worker reports the
same truth, and a scrape after a restart is still right. Per-source series are bounded by
the registry (hundreds of sources, not per item).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from store.models import RecordRow, SourceRow
from store.partner_models import HarvestAttemptRow, SourceHealthRow
from store.repository import Store, aware

router = APIRouter(tags=["operations"])


class StoreCollector(Collector):
    """Gauges of sources, attempts and records, computed from the store on each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        with self.store.session() as s:
            sources = {r.id: r for r in s.scalars(select(SourceRow))}
            health = {h.source_id: h for h in s.scalars(select(SourceHealthRow))}
            attempts = dict(
                s.execute(
                    select(HarvestAttemptRow.state, func.count()).group_by(HarvestAttemptRow.state)
                ).all()
            )
            records = int(s.scalar(select(func.count()).select_from(RecordRow)) or 0)
        by_status = GaugeMetricFamily("innonet_sources", "Sources by last harvest status", labels=["status"])
        counts: dict[str, int] = {}
        for sid, src in sources.items():
            h = health.get(sid)
            status = "paused" if src.paused or (h and h.auto_paused) else (h.last_status if h else None)
            counts[status or "never"] = counts.get(status or "never", 0) + 1
        for status, n in sorted(counts.items()):
            by_status.add_metric([status], n)
        yield by_status
        failures = GaugeMetricFamily(
            "innonet_source_consecutive_failures", "Consecutive failed harvests", labels=["source", "network"]
        )
        last_ok = GaugeMetricFamily(
            "innonet_source_last_success_timestamp_seconds",
            "Unix time of the last successful harvest",
            labels=["source", "network"],
        )
        duration = GaugeMetricFamily(
            "innonet_source_harvest_duration_seconds",
            "Duration of the last harvest",
            labels=["source", "network"],
        )
        for sid, h in sorted(health.items()):
            network = sources[sid].network_id if sid in sources else ""
            failures.add_metric([sid, network], h.consecutive_failures or 0)
            if h.last_success_at:
                last_ok.add_metric([sid, network], aware(h.last_success_at).timestamp())  # type: ignore[union-attr]
            if h.duration_s is not None:
                duration.add_metric([sid, network], h.duration_s)
        yield failures
        yield last_ok
        yield duration
        att = GaugeMetricFamily("innonet_harvest_attempts", "Harvest attempts by state", labels=["state"])
        for state in ("running", "done", "failed", "stuck"):
            att.add_metric([state], attempts.get(state, 0))
        yield att
        dead = sum(1 for h in health.values() if h.dead_since is not None)
        yield GaugeMetricFamily("innonet_sources_dead", "Sources reported dead", value=dead)
        yield GaugeMetricFamily("innonet_records", "Items in the store", value=records)
        yield GaugeMetricFamily(
            "innonet_scrape_timestamp_seconds", "Time of this scrape", value=now.timestamp()
        )


def _registry(request: Request) -> CollectorRegistry:
    registry = getattr(request.app.state, "metrics_registry", None)
    if registry is None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(StoreCollector(request.app.state.store))
        request.app.state.metrics_registry = registry
    return registry


@router.get("/metrics", operation_id="metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text exposition format."""
    body = await run_in_threadpool(generate_latest, _registry(request))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
