"""The flat search document both backends index, and the query/result shapes.

The store holds RDF; the index holds this projection of it (:mod:`search.project`). Both
search backends take exactly these models, which is what lets one contract test suite run
against both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

#: Public facet/filter name -> document field. Keyword fields: exact filters (OR within a
#: field, AND across fields) and terms counts. ``year`` is derived (published, else event start).
FACETS: dict[str, str] = {
    "type": "type",
    "theme": "themes",
    "opsi_facet": "opsi_facets",
    "lifecycle_stage": "lifecycle_stages",
    "government_level": "government_levels",
    "barrier": "barriers",
    "network": "network",
    "source": "source",
    "country": "country",
    "region": "regions",
    "language": "language",
    "year": "year",
}
#: The facet names, in the order results list them.
FACET_FIELDS = tuple(FACETS)
#: Document fields that hold several values.
MULTI_VALUED = ("themes", "opsi_facets", "lifecycle_stages", "government_levels", "barriers", "regions")


class Location(BaseModel):
    """Where an event takes place (schema:location)."""

    name: str | None = None
    address: str | None = None
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)


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
    opsi_facets: list[str] = Field(default_factory=list)
    lifecycle_stages: list[str] = Field(default_factory=list)
    government_levels: list[str] = Field(default_factory=list)
    barriers: list[str] = Field(default_factory=list)
    country: str | None = None
    regions: list[str] = Field(default_factory=list)
    cluster: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    location: Location | None = None

    def year(self) -> str | None:
        """The year facet: of publication, else of the event's start."""
        when = self.published or self.start
        return str(when.year) if when else None

    def collapse_key(self) -> str:
        """Items of one duplicate cluster share this key; an item without cluster is its own."""
        return self.cluster or self.id

    def facet_values(self, facet: str) -> list[str]:
        """The values of one public facet."""
        if facet == "year":
            year = self.year()
            return [year] if year else []
        value = getattr(self, FACETS[facet])
        if isinstance(value, list):
            return [v for v in value if v]
        return [value] if value else []


class GeoFilter(BaseModel):
    """Items within ``km`` of a point (events with a location)."""

    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    km: float = Field(gt=0, le=20_000)


class SearchQuery(BaseModel):
    """A validated search request (the API builds it; backends never see raw user syntax)."""

    q: str | None = None
    filters: dict[str, list[str]] = Field(default_factory=dict)
    published_from: datetime | None = None
    published_to: datetime | None = None
    start_from: datetime | None = Field(None, description="Events starting at or after (upcoming: now).")
    start_to: datetime | None = None
    near: GeoFilter | None = None
    sort: Literal["relevance", "date", "start", "distance"] = "relevance"
    size: int = Field(20, ge=0, le=100)
    offset: int = Field(0, ge=0, le=10_000)
    after: list[Any] | None = Field(None, description="search_after: the sort values of the last hit.")
    facet_size: int = Field(20, ge=1, le=100)
    facets: list[str] | None = Field(
        None,
        description="Facets to count (names of FACETS); None = all. Each one is an aggregation over "
        "every match, the main cost of a search on a large index, so a page asks for those it shows.",
    )
    collapse: bool = False
    analysis: Literal["stem", "fold"] = "stem"


def wanted_facets(query: SearchQuery) -> tuple[str, ...]:
    """The facets a query counts, in result order (unknown names were refused by the API)."""
    if query.facets is None:
        return FACET_FIELDS
    return tuple(f for f in FACET_FIELDS if f in query.facets)


class FacetBucket(BaseModel):
    value: str
    count: int


class SearchHit(BaseModel):
    id: str
    score: float | None = None
    document: SearchDocument
    sort: list[Any] = Field(default_factory=list, description="Sort values, for search_after.")
    shared_by: int | None = Field(None, description="Collapsed: networks that share this cluster.")
    distance_km: float | None = None


class SearchResult(BaseModel):
    total: int
    hits: list[SearchHit]
    facets: dict[str, list[FacetBucket]] = Field(default_factory=dict)


class Suggestion(BaseModel):
    text: str
    id: str


class IndexError_(BaseModel):
    """One document the backend refused, with its reason."""

    id: str
    reason: str


class IndexReport(BaseModel):
    """Result of a bulk write: how many went in, and which failed and why."""

    indexed: int = 0
    deleted: int = 0
    errors: list[IndexError_] = Field(default_factory=list)
