"""The flat search document both backends index, and the query/result shapes.

The store holds RDF; the index holds this projection of it. Both search backends take
exactly these models, which is what lets one contract test suite run against both.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

#: Fields that can be filtered on and counted as facets (keyword fields).
FACET_FIELDS = ("type", "network", "source", "language")


class SearchDocument(BaseModel):
    """One item as indexed: its IRI is the document id."""

    id: str
    type: str
    title: str
    summary: str | None = None
    body: str | None = None
    url: str | None = None
    language: str | None = None
    network: str
    network_name: str | None = None
    source: str
    published: datetime | None = None
    themes: list[str] = Field(default_factory=list)


class SearchQuery(BaseModel):
    """A validated search request (the API builds it; backends never see raw user syntax)."""

    q: str | None = None
    filters: dict[str, list[str]] = Field(default_factory=dict)
    size: int = Field(20, ge=0, le=100)
    offset: int = Field(0, ge=0, le=10_000)
    facet_size: int = Field(20, ge=1, le=100)


class FacetBucket(BaseModel):
    value: str
    count: int


class SearchHit(BaseModel):
    id: str
    score: float | None = None
    document: SearchDocument


class SearchResult(BaseModel):
    total: int
    hits: list[SearchHit]
    facets: dict[str, list[FacetBucket]] = Field(default_factory=dict)


class IndexError_(BaseModel):
    """One document the backend refused, with its reason."""

    id: str
    reason: str


class IndexReport(BaseModel):
    """Result of a bulk write: how many went in, and which failed and why."""

    indexed: int = 0
    deleted: int = 0
    errors: list[IndexError_] = Field(default_factory=list)
