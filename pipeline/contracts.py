"""The data handed from one pipeline stage to the next.

Each stage reads and writes these small pydantic models, so every stage can be run,
re-run and tested on its own. Problems in data are data: a :class:`RecordError`
names the stage it happened in and never stops the other records.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

STAGES = ("fetch", "parse", "map", "validate", "store", "index", "publish")
Stage = Literal["fetch", "parse", "map", "validate", "store", "index", "publish"]

#: Item types innonet knows; each maps to one module in ontology/mapping.
ItemKind = Literal["news", "event", "case", "organisation"]
#: Source platforms; each is one module in crawlers/platforms (PLATFORMS in pipeline/parse.py).
Platform = Literal[
    "feed", "ical", "jsonld", "html", "sitemap", "opml", "uitdatabank", "ldes", "innonet-registry"
]


class NetworkSpec(BaseModel):
    """A network (lab, city, programme, observatory) that owns sources."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    homepage: str | None = None
    country: str | None = None


class SourceSpec(BaseModel):
    """One registered source: registry data, never code."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    network: str
    title: str
    url: str
    platform: Platform = "feed"
    kind: ItemKind = "news"
    language: str | None = None
    licence: str | None = None
    paused: bool = False
    #: Platform options (e.g. CSS/XPath selectors for pages without markup, a window for iCal).
    options: dict[str, Any] = Field(default_factory=dict)
    #: The source's own tags mapped onto our theme concepts (tag -> concept IRI or notation).
    tag_map: dict[str, str] = Field(default_factory=dict)
    #: False for an entry whose URL and platform nobody has seen harvested yet (the production
    #: registry ships that way); its first successful harvest (fetch_states.last_success_at) proves it.
    verified: bool = True


class Registry(BaseModel):
    """The registry file: networks and their sources."""

    networks: list[NetworkSpec]
    sources: list[SourceSpec]


class FetchedPage(BaseModel):
    """A follow-up page fetched for a multi-page source (a sitemap's pages, a listing's links)."""

    url: str
    status: int | None = None
    content_type: str | None = None
    body_sha256: str | None = None
    error_code: str | None = None
    error_message: str | None = None


class FetchResult(BaseModel):
    """What the fetch stage learned about one source URL (one line of the crawler's output)."""

    source_id: str
    url: str
    final_url: str | None = None
    status: int | None = None
    ok: bool = False
    not_modified: bool = False
    error_code: str | None = None
    error_message: str | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_sha256: str | None = None
    body_size: int = 0
    fetched_at: datetime
    #: Seconds the server asked us to wait (Retry-After on 429/503); honoured by the next run.
    retry_after_s: float | None = None
    #: Follow-up pages (archived like the main body), in the order they were asked for.
    pages: list[FetchedPage] = Field(default_factory=list)
    duration_ms: int | None = None


class RawItem(BaseModel):
    """One item as a platform adapter read it, before any mapping.

    Common fields first; event fields are used when ``kind == "event"``; anything else a
    platform knows (case facets, structured data as found) goes in ``extra`` for the mapper.
    """

    source_id: str
    native_id: str
    kind: ItemKind = "news"
    title: str | None = None
    summary: str | None = None
    body_html: str | None = None
    url: str | None = None
    published: datetime | None = None
    published_raw: str | None = None
    updated: datetime | None = None
    language: str | None = None
    authors: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    image: str | None = None
    # events
    start: datetime | None = None
    end: datetime | None = None
    start_raw: str | None = None
    end_raw: str | None = None
    timezone: str | None = None
    all_day: bool = False
    location_name: str | None = None
    location_address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    online_url: str | None = None
    organizer: str | None = None
    registration_url: str | None = None
    status: str | None = None
    # anything else the platform read (e.g. JSON-LD as found, case facets)
    extra: dict[str, Any] = Field(default_factory=dict)


class Outcome(StrEnum):
    """Tri-state outcome of one record in one run."""

    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


class RecordError(BaseModel):
    """A problem with one record (or one whole source), with the stage it happened in."""

    stage: Stage
    source_id: str
    code: str
    message: str
    item: str | None = None


class SourceReport(BaseModel):
    """The status of one source after one harvest run."""

    source_id: str
    status: Literal["ok", "partial", "not_modified", "failed", "paused"] = "ok"
    error_code: str | None = None
    message: str | None = None
    counts: dict[str, int] = Field(default_factory=lambda: {o.value: 0 for o in Outcome})
    errors: list[RecordError] = Field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None

    def count(self, outcome: Outcome, n: int = 1) -> None:
        self.counts[outcome.value] = self.counts.get(outcome.value, 0) + n

    def fail_record(self, error: RecordError) -> None:
        self.errors.append(error)
        self.count(Outcome.FAILED)
