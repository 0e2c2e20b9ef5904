"""GET /sources: what partners see about how their sources are harvested."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from sqlalchemy import func

from api.deps import StoreDep
from store.models import FetchStateRow, RecordRow, SourceRow
from store.repository import aware

router = APIRouter(tags=["sources"])


class SourceStatus(BaseModel):
    id: str
    network: str
    title: str
    url: str
    platform: str
    paused: bool
    status: str | None
    error_code: str | None
    message: str | None
    last_attempt_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    counts: dict[str, Any]
    items: int


def _status(src: SourceRow, state: FetchStateRow | None, items: int) -> SourceStatus:
    return SourceStatus(
        id=src.id,
        network=src.network_id,
        title=src.title,
        url=src.url,
        platform=src.platform,
        paused=src.paused,
        status=state.status if state else "never harvested",
        error_code=state.error_code if state else None,
        message=state.message if state else None,
        last_attempt_at=aware(state.last_attempt_at) if state else None,
        last_success_at=aware(state.last_success_at) if state else None,
        consecutive_failures=state.consecutive_failures if state else 0,
        counts=state.counts if state else {},
        items=items,
    )


def _statuses(store: Any, source_id: str | None = None) -> list[SourceStatus]:
    """Sources with their state and item counts in three queries, whatever the number of sources."""
    with store.session() as s:
        sources = s.query(SourceRow).order_by(SourceRow.id)
        states = s.query(FetchStateRow)
        counts = s.query(RecordRow.source_id, func.count()).group_by(RecordRow.source_id)
        if source_id is not None:
            sources = sources.filter(SourceRow.id == source_id)
            states = states.filter(FetchStateRow.source_id == source_id)
            counts = counts.filter(RecordRow.source_id == source_id)
        by_source = {st.source_id: st for st in states}
        items = dict(counts.all())
        return [_status(src, by_source.get(src.id), items.get(src.id, 0)) for src in sources]


@router.get("/sources", operation_id="sources-list", response_model=list[SourceStatus])
async def list_sources(store: StoreDep) -> list[SourceStatus]:
    """Every registered source with its harvest status and item count."""
    return await run_in_threadpool(_statuses, store)


@router.get("/sources/{source_id}", operation_id="sources-get", response_model=SourceStatus)
async def get_source(source_id: str, store: StoreDep) -> SourceStatus:
    """One source's status, with its last error in plain words."""
    found = await run_in_threadpool(_statuses, store, source_id)
    if not found:
        raise HTTPException(404, f"no source {source_id!r}")
    return found[0]
