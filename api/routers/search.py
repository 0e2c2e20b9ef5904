"""GET /search: full text, filters and facets over the unified index."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from api.deps import SearchDep, SettingsDep
from ontology.uris import doc_path
from search.documents import FacetBucket, SearchQuery

router = APIRouter(tags=["search"])


class HitOut(BaseModel):
    id: str
    doc: str
    type: str
    title: str
    summary: str | None
    url: str | None
    language: str | None
    network: str
    network_name: str | None
    source: str
    published: datetime | None
    score: float | None


class SearchOut(BaseModel):
    total: int
    offset: int
    size: int
    hits: list[HitOut]
    facets: dict[str, list[FacetBucket]]


FilterParam = Annotated[list[str] | None, Query(max_length=20)]


@router.get("/search", operation_id="search-items", response_model=SearchOut)
async def search(
    backend: SearchDep,
    settings: SettingsDep,
    q: Annotated[
        str | None, Query(max_length=500, description="Words to find in title, summary and body.")
    ] = None,
    type: FilterParam = None,  # noqa: A002 - the public parameter name
    network: FilterParam = None,
    source: FilterParam = None,
    language: FilterParam = None,
    size: Annotated[int, Query(ge=0, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> SearchOut:
    """Search every harvested item; facets count type, network, source and language."""
    filters = {
        name: values
        for name, values in (("type", type), ("network", network), ("source", source), ("language", language))
        if values
    }
    query = SearchQuery(q=q, filters=filters, size=size, offset=offset)
    result = await run_in_threadpool(backend.search, query)
    base = settings.base_url.rstrip("/")
    hits = []
    for hit in result.hits:
        d = hit.document
        path = d.id.removeprefix(base) if d.id.startswith(base) else None
        hits.append(
            HitOut(
                id=d.id,
                doc=f"{base}{doc_path(path)}" if path else d.id,
                type=d.type,
                title=d.title,
                summary=d.summary,
                url=d.url,
                language=d.language,
                network=d.network,
                network_name=d.network_name,
                source=d.source,
                published=d.published,
                score=hit.score,
            )
        )
    return SearchOut(total=result.total, offset=offset, size=size, hits=hits, facets=result.facets)
