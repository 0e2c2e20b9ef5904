"""When each source is harvested, and how a cycle's sources are cut into task batches.

Airflow wakes up every few minutes; *which* sources are due is decided here, per source,
from its health: a source that changes often is fetched every ``harvest_interval_s``, one
that keeps answering "unchanged" backs off by x1.5 per quiet run, one that keeps failing
by x2 per failure, both capped at ``harvest_max_interval_s``. The due sources are cut into
at most ``harvest_max_batches`` batches, each host's sources in one batch, so the per-host
delay of the crawler still holds when batches run in parallel (Airflow task instances cost
~0.3 s each: a cycle is a handful of batches, never one task per source).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

QUIET_FACTOR = 1.5
FAILURE_FACTOR = 2.0


def host_of(url: str) -> str:
    """The politeness key of a URL: its host name (the crawler's per-host slot), lower case."""
    return (urlsplit(url).hostname or url).lower()


def batch_by_host(
    sources: Iterable[tuple[str, str]], max_batches: int, min_batch_sources: int = 1
) -> list[list[str]]:
    """Cut ``(source_id, url)`` pairs into at most ``max_batches`` non-empty batches.

    Every host's sources land in the same batch (greedy: biggest host first into the
    lightest batch), so no two parallel batches ever hit one host. Order is deterministic.
    No more batches than ``total / min_batch_sources``: every batch pays a crawler start
    (~2 s) and its own politeness bound (its busiest host's sources x the per-host delay),
    so a small cycle is cheapest as one batch.
    """
    groups: dict[str, list[str]] = {}
    total = 0
    for source_id, url in sources:
        groups.setdefault(host_of(url), []).append(source_id)
        total += 1
    if not groups:
        return []
    by_size = -(-total // max(1, min_batch_sources))  # ceil
    n = max(1, min(max_batches, len(groups), by_size))
    heap: list[tuple[int, int]] = [(0, i) for i in range(n)]
    batches: list[list[str]] = [[] for _ in range(n)]
    for _host, ids in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        load, i = heapq.heappop(heap)
        batches[i].extend(ids)
        heapq.heappush(heap, (load + len(ids), i))
    return [b for b in batches if b]


def next_interval(
    base_s: int, max_s: int, *, failures: int, quiet_streak: int, own_interval_s: int | None = None
) -> int:
    """Seconds until the next harvest of a source after this run.

    ``failures``: consecutive failed runs; ``quiet_streak``: consecutive runs that brought
    nothing new or updated. A partner may set its own base interval (``own_interval_s``).
    """
    base = max(60, own_interval_s or base_s)
    if failures > 0:
        value = base * FAILURE_FACTOR ** min(failures, 16)
    else:
        value = base * QUIET_FACTOR ** min(quiet_streak, 32)
    return int(min(max(base, value), max(max_s, base)))


def is_due(next_due_at: datetime | None, now: datetime | None = None) -> bool:
    if next_due_at is None:
        return True
    if next_due_at.tzinfo is None:
        next_due_at = next_due_at.replace(tzinfo=UTC)
    return next_due_at <= (now or datetime.now(UTC))


def plan_cycle(
    settings: Any, now: datetime | None = None, only: Sequence[str] | None = None
) -> list[list[str]]:
    """The batches of source ids due in this cycle (the Airflow ``plan`` task's whole job)."""
    from pipeline.harvest import chosen_sources
    from store.partner_models import SourceHealthRow
    from store.repository import Store

    store = Store(settings.resolved_database_url)
    try:
        sources = chosen_sources(settings, store)  # as harvest() sees them: + partner and listed sources
        with store.session() as s:
            due_at = {h.source_id: h.next_due_at for h in s.query(SourceHealthRow)}
        wanted = set(only) if only is not None else None
        due = [
            (src.id, src.url)
            for src in sources
            if not src.paused and (wanted is None or src.id in wanted) and is_due(due_at.get(src.id), now)
        ]
        return batch_by_host(due, settings.harvest_max_batches, settings.harvest_min_batch_sources)
    finally:
        store.close()
