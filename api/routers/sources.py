"""GET /sources: what partners see about how their sources are harvested."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.deps import StoreDep
from store.models import FetchStateRow, SourceRow
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


def _status(store: Any, src: SourceRow, state: FetchStateRow | None) -> SourceStatus:
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
        items=store.count_records(src.id),
    )


def _all(store: Any) -> list[SourceStatus]:
    with store.session() as s:
        sources = list(s.query(SourceRow).order_by(SourceRow.id))
        states = {st.source_id: st for st in s.query(FetchStateRow)}
    return [_status(store, src, states.get(src.id)) for src in sources]


@router.get("/sources", operation_id="sources-list", response_model=list[SourceStatus])
async def list_sources(store: StoreDep) -> list[SourceStatus]:
    """Every registered source with its harvest status and item count."""
    return await run_in_threadpool(_all, store)


@router.get("/sources/{source_id}", operation_id="sources-get", response_model=SourceStatus)
async def get_source(source_id: str, store: StoreDep) -> SourceStatus:
    """One source's status, with its last error in plain words."""
    for status in await run_in_threadpool(_all, store):
        if status.id == source_id:
            return status
    raise HTTPException(404, f"no source {source_id!r}")
