"""GET /search, /suggest and /items/related: the innovator's search over the unified index.

Every parameter is typed and capped (page size, depth, facet size, list lengths, text
lengths), the user's words only ever reach the backends as analysed tokens
(:mod:`search.queries`), and anything malformed is a 400 problem document. Features the
configured backend does not have are a 501 naming the backend that has them.
"""

from __future__ import annotations

import inspect
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any, Literal, get_type_hints
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
)
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import SearchDep, SettingsDep
from api.facet_labels import (
    FacetLabels,
    Tables,
    es_buckets,
    header_language,
    jsonld_facets,
    label_language,
    labelled,
    labels_of,
)
from ontology.uris import doc_path
from search.base import SearchUnavailable, Unsupported
from search.documents import (
    FACETS,
    GeoFilter,
    Location,
    SearchDocument,
    SearchQuery,
    wanted_facets,
)
from search.elasticsearch import (
    MSEARCH_HEADER_LINE,
    ElasticsearchBackend,
    page_search_body,
    split_search,
)
from search.es_http import HttpError, speaks
from search.highlight import highlight, highlight_marked, marks_keys
from search.hits import HIT_FIELD, MARKED_TEXTS, MARKS_FIELD
from search.queries import (
    InvalidCursor,
    TextPlan,
    decode_cursor,
    effective_sort,
    encode_cursor,
    text_plan,
)

try:  # the server whose answer the fast path can write in one piece (_write_at_once)
    from uvicorn.protocols.http.httptools_impl import RequestResponseCycle as _HttpToolsCycle
except ImportError:  # pragma: no cover - uvicorn without httptools
    _HttpToolsCycle = None  # type: ignore[assignment,misc]

log = logging.getLogger(__name__)
router = APIRouter(tags=["search"])
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")


def _iso_text(value: object) -> object:
    """Dates only as ISO 8601 text (not numbers pydantic would read as Unix time)."""
    if isinstance(value, str) and _ISO.match(value):
        return value
    raise ValueError("expected an ISO 8601 date or date-time, e.g. 2025-01-31 or 2025-01-31T09:00:00Z")


def _utc(value: datetime) -> datetime:
    """A date-time without zone is UTC (as Elasticsearch reads it)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_utc)]
JSONLD = "application/ld+json"
#: Facet labels follow Accept-Language (when no ``lang`` is given): shared caches must know.
VARY = {"vary": "Accept-Language"}


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
    themes: list[str]
    opsi_facets: list[str]
    lifecycle_stages: list[str]
    government_levels: list[str]
    barriers: list[str]
    country: str | None
    regions: list[str]
    start: datetime | None
    end: datetime | None
    location: Location | None
    score: float | None
    distance_km: float | None = None
    shared_by: int | None = Field(None, description="With collapse: how many networks share this item.")
    highlight: dict[str, str] = Field(
        default_factory=dict, description="title/summary with <em> around matches."
    )


class FacetBucketOut(BaseModel):
    value: str = Field(
        description="What the index holds (a concept IRI, a type, a code, an id): filter with it."
    )
    count: int
    label: str = Field(
        description="The value as a person reads it, in the `lang` parameter's language, else "
        "Accept-Language's, else English: a SKOS prefLabel, a network or source name, a type or "
        "language name; a value without one: an IRI's last segment, anything else the value."
    )


class SearchOut(BaseModel):
    total: int
    offset: int
    size: int
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page (search_after).")
    hits: list[HitOut]
    facets: dict[str, list[FacetBucketOut]]


class SuggestionOut(BaseModel):
    text: str
    id: str


FacetName = Literal[
    "type",
    "theme",
    "opsi_facet",
    "lifecycle_stage",
    "government_level",
    "barrier",
    "network",
    "source",
    "country",
    "region",
    "language",
    "year",
]
FilterParam = Annotated[list[Annotated[str, Field(max_length=500)]] | None, Query(max_length=20)]
SEARCH_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {JSONLD: {"schema": {"type": "object"}}}},
    400: {"description": "Malformed request (problem+json)."},
    501: {"description": "Feature needs the Elasticsearch backend (problem+json)."},
    503: {"description": "Search index unreachable (problem+json)."},
}


#: Document fields a hit repeats as they are, in HitOut's order (after id and doc).
_HIT_FIELDS = (
    "type",
    "title",
    "summary",
    "url",
    "language",
    "network",
    "network_name",
    "source",
    "published",
)
_HIT_LISTS = ("themes", "opsi_facets", "lifecycle_stages", "government_levels", "barriers")


def _hit(d: SearchDocument, base: str, **extra: Any) -> HitOut:
    path = d.id.removeprefix(base) if d.id.startswith(base) else None
    return HitOut(
        id=d.id,
        doc=f"{base}{doc_path(path)}" if path else d.id,
        **d.model_dump(include={*_HIT_FIELDS, *_HIT_LISTS, "country", "regions", "start", "end"}),
        location=d.location,
        **extra,
    )


def _jsonld(out: SearchOut, lang: str, labels: FacetLabels) -> JSONResponse:
    """The page as a schema.org ItemList (each hit's @id dereferences to its full RDF), with the
    facet counts and their labels (:func:`api.facet_labels.jsonld_facets`)."""
    items = [
        {
            "@type": "ListItem",
            "position": i,
            "item": {
                "@id": h.id,
                "@type": h.type,
                "name": h.title,
                **({"description": h.summary} if h.summary else {}),
                **({"url": h.url} if h.url else {}),
                **({"inLanguage": h.language} if h.language else {}),
                **({"datePublished": h.published.isoformat()} if h.published else {}),
                **({"startDate": h.start.isoformat()} if h.start else {}),
            },
        }
        for i, h in enumerate(out.hits, start=out.offset + 1)
    ]
    context, facets = jsonld_facets(
        {k: [b.model_dump() for b in v] for k, v in out.facets.items()}, lang, labels
    )
    body = {
        "@context": ["http://schema.org/", context],
        "@type": "ItemList",
        "numberOfItems": out.total,
        "itemListElement": items,
        "facets": facets,
    }
    return JSONResponse(body, media_type=JSONLD, headers=VARY)


def _json(out: BaseModel) -> Response:
    """The page as JSON bytes from pydantic's serializer, bypassing FastAPI's response_model pass.

    Returning the model would make FastAPI validate it again and walk it with
    jsonable_encoder (~0.25 ms per 4 KB page, performance.md stage 5); the bytes are the
    same, and the route still declares ``response_model`` so OpenAPI documents the shape.
    """
    return Response(out.model_dump_json(), media_type="application/json", headers=VARY)


def _wants_jsonld(request: Request, format_: str | None) -> bool:
    if format_ is not None:
        return format_ == "jsonld"
    accept = request.headers.get("accept", "")
    return JSONLD in accept and "application/json" not in accept


async def search(
    request: Request,
    backend: SearchDep,
    settings: SettingsDep,
    q: Annotated[
        str | None, Query(max_length=500, description="Words to find in title, summary and body.")
    ] = None,
    type: FilterParam = None,  # noqa: A002 - the public parameter name
    theme: FilterParam = None,
    opsi_facet: FilterParam = None,
    lifecycle_stage: FilterParam = None,
    government_level: FilterParam = None,
    barrier: FilterParam = None,
    network: FilterParam = None,
    source: FilterParam = None,
    country: FilterParam = None,
    region: FilterParam = None,
    language: FilterParam = None,
    year: FilterParam = None,
    published_from: IsoDateTime | None = None,
    published_to: IsoDateTime | None = None,
    upcoming: Annotated[bool, Query(description="Only events that start from now on.")] = False,
    start_from: IsoDateTime | None = None,
    start_to: IsoDateTime | None = None,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    km: Annotated[float | None, Query(gt=0, le=20_000, description="Radius around lat/lon.")] = None,
    sort: Literal["relevance", "date", "start", "distance"] = "relevance",
    size: Annotated[int, Query(ge=0, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
    cursor: Annotated[
        str | None, Query(max_length=1000, description="next_cursor of the previous page.")
    ] = None,
    facet_size: Annotated[int, Query(ge=1, le=100)] = 20,
    facet: Annotated[
        list[FacetName] | None,
        Query(
            max_length=12,
            description="Facets to count (repeatable); default all. Each costs an aggregation over "
            "every match: ask only for those shown.",
        ),
    ] = None,
    collapse: Annotated[bool, Query(description="One hit per duplicate cluster, with shared_by.")] = False,
    highlight_: Annotated[bool, Query(alias="highlight")] = True,
    format_: Annotated[Literal["json", "jsonld"] | None, Query(alias="format")] = None,
    lang: Annotated[
        Literal["nl", "en", "fr", "de"] | None,
        Query(description="Language of the facet labels; default: Accept-Language, else English."),
    ] = None,
) -> Any:
    """The search page for the request's parameters (a dependency: the feeds reuse it)."""
    values = {
        "type": type,
        "theme": theme,
        "opsi_facet": opsi_facet,
        "lifecycle_stage": lifecycle_stage,
        "government_level": government_level,
        "barrier": barrier,
        "network": network,
        "source": source,
        "country": country,
        "region": region,
        "language": language,
        "year": year,
    }
    filters = {name: v for name, v in values.items() if v and name in FACETS}
    geo_given = [x is not None for x in (lat, lon, km)]
    if any(geo_given) and not all(geo_given):
        raise HTTPException(400, "lat, lon and km go together")
    if sort == "distance" and not all(geo_given):
        raise HTTPException(400, "sort=distance needs lat, lon and km")
    if cursor is not None and (offset or collapse):
        raise HTTPException(400, "cursor cannot be combined with offset or collapse")
    if upcoming:
        now = datetime.now(UTC)
        start_from = max(start_from, now) if start_from else now
    try:
        query = SearchQuery(
            q=q,
            filters=filters,
            published_from=published_from,
            published_to=published_to,
            start_from=start_from,
            start_to=start_to,
            near=GeoFilter(lat=lat, lon=lon, km=km) if all(geo_given) else None,  # type: ignore[arg-type]
            sort=sort,
            size=size,
            offset=offset,
            facet_size=facet_size,
            facets=facet,
            collapse=collapse,
        )
        if cursor is not None:
            query.after = decode_cursor(cursor, effective_sort(query))
        result = await run_in_threadpool(backend.search, query)
    except InvalidCursor as exc:
        raise HTTPException(400, f"cursor: {exc}") from exc
    except ValidationError as exc:
        raise HTTPException(400, "; ".join(e["msg"] for e in exc.errors())) from exc
    except Unsupported as exc:
        raise HTTPException(501, str(exc)) from exc
    except ValueError as exc:  # e.g. a cursor that does not fit this backend's sort keys
        raise HTTPException(400, str(exc)) from exc
    base = settings.base_url.rstrip("/")
    plan = text_plan(query) if highlight_ else None
    hits = []
    for hit in result.hits:
        d = hit.document
        marks = {f: highlight(getattr(d, f), plan, d.language) for f in ("title", "summary")}
        hits.append(
            _hit(
                d,
                base,
                score=hit.score,
                distance_km=hit.distance_km,
                shared_by=hit.shared_by,
                highlight={k: v for k, v in marks.items() if v},
            )
        )
    next_cursor = None
    if result.hits and len(result.hits) == size and result.hits[-1].sort and not collapse:
        next_cursor = encode_cursor(effective_sort(query), result.hits[-1].sort)
    labels = await labels_of(request.app)
    label_lang = label_language(lang, request.headers.get("accept-language"))
    tables = labels.tables(label_lang)
    facets = {
        name: labelled(name, ((b.value, b.count) for b in buckets), tables.get(name, {}))
        for name, buckets in result.facets.items()
    }
    out = SearchOut(
        total=result.total, offset=offset, size=size, next_cursor=next_cursor, hits=hits, facets=facets
    )
    return _jsonld(out, label_lang, labels) if _wants_jsonld(request, format_) else out


@router.get("/search", operation_id="search-items", response_model=SearchOut, responses=SEARCH_RESPONSES)
async def search_route(page: Annotated[SearchOut | JSONResponse, Depends(search)]) -> Any:
    """Search every harvested item: full text in nl/en/fr/de, filters and facet counts, dates,
    upcoming events, distance, sorting, cursor paging, collapsing, highlighting; JSON or JSON-LD."""
    return _json(page) if isinstance(page, SearchOut) else page


@router.get(
    "/suggest", operation_id="suggest-titles", response_model=list[SuggestionOut], responses=SEARCH_RESPONSES
)
async def suggest(
    backend: SearchDep,
    prefix: Annotated[
        str, Query(min_length=1, max_length=100, description="What the user has typed so far.")
    ],
    size: Annotated[int, Query(ge=1, le=20)] = 8,
) -> list[SuggestionOut]:
    """Titles whose words, from any word on, start with the typed words (a phrase prefix on both backends)."""
    found = await run_in_threadpool(backend.suggest, prefix, size)
    return [SuggestionOut(text=s.text, id=s.id) for s in found]


@router.get(
    "/items/related", operation_id="related-items", response_model=SearchOut, responses=SEARCH_RESPONSES
)
async def related(
    backend: SearchDep,
    settings: SettingsDep,
    id: Annotated[str, Query(min_length=1, max_length=500, description="IRI of the item being read.")],  # noqa: A002
    size: Annotated[int, Query(ge=1, le=50)] = 10,
) -> Any:
    """Items like this one (more_like_this), other networks first. Needs Elasticsearch."""
    try:
        result = await run_in_threadpool(backend.related, id, size)
    except Unsupported as exc:
        raise HTTPException(501, str(exc)) from exc
    base = settings.base_url.rstrip("/")
    hits = [_hit(h.document, base, score=h.score) for h in result.hits]
    return _json(SearchOut(total=result.total, offset=0, size=size, hits=hits, facets={}))


# -- fast path -------------------------------------------------------------------------------
#: Parameters the fast path takes: the everyday search (words, filters, facets, paging by
#: offset or cursor, relevance/date/start order). Anything else (dates, geo, collapse, format,
#: JSON-LD) goes through FastAPI's route.
_FAST_SCALARS = frozenset({"q", "size", "offset", "facet_size", "highlight", "sort", "cursor", "lang"})
_FAST_LISTS = frozenset({*FACETS, "facet"})


@cache
def _fast_model() -> type[BaseModel]:
    """The route's own parameter annotations (types, bounds, aliases) for the fast-path subset.

    Built from :func:`search`'s signature, so the fast path accepts exactly what the route
    accepts; whatever fails here falls through to the route, which answers its usual 400.
    """
    hints = get_type_hints(search, include_extras=True)
    defaults = {name: p.default for name, p in inspect.signature(search).parameters.items()}
    fields: dict[str, Any] = {}
    for name, hint in hints.items():
        key = "highlight" if name == "highlight_" else name
        if key in _FAST_SCALARS or key in _FAST_LISTS:
            fields[name] = (hint, defaults[name])
    return create_model("FastSearchParams", __config__=ConfigDict(extra="forbid"), **fields)


def _asks_jsonld(scope: Scope) -> bool:
    """Whether an ``Accept`` header names JSON-LD (content negotiation: the route decides)."""
    return any(name == b"accept" and b"ld+json" in value for name, value in scope["headers"])


def _fast_params(scope: Scope) -> dict[str, Any] | None:
    """The validated keyword arguments of :func:`search` for this request, or None (use the route)."""
    if _asks_jsonld(scope):
        return None
    raw: dict[str, Any] = {}
    for key, value in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True):
        if not value:
            return None
        if key in _FAST_LISTS:
            raw.setdefault(key, []).append(value)
        elif key in _FAST_SCALARS and key not in raw:
            raw[key] = value
        else:  # another parameter, or a scalar given twice
            return None
    try:
        params = _fast_model().model_validate(raw)
    except ValidationError:
        return None
    return {name: getattr(params, name) for name in type(params).model_fields}


#: What the fast path asks Elasticsearch to send back (``filter_path``): the fields
#: :func:`_es_page` reads, so Elasticsearch does not serialise, and we do not parse, each
#: hit's ``_index`` and ``_id``, ``took``, ``_shards``, ``max_score``, the total's relation and
#: the buckets' error bounds (~10 % of a 20-hit page). An item's ``error`` stays (it raises).
ES_FILTER_PATH = ",".join(
    [
        "responses.error",
        "responses.status",
        "responses.hits.total.value",
        "responses.hits.hits._score",
        "responses.hits.hits._source",
        "responses.hits.hits.sort",
        "responses.aggregations.*.buckets.key",
        "responses.aggregations.*.buckets.doc_count",
    ]
)


@dataclass(frozen=True, slots=True)
class EsRequest:
    """What the fast path sends to Elasticsearch for one set of parameters, and what it needs
    to shape the answer."""

    query: SearchQuery
    #: ``/{alias}/_msearch?filter_path=...``.
    path: str
    #: The NDJSON ``_msearch`` payload: header line + body per search (one, or counting + page).
    payload: bytes
    #: The words to mark in titles and summaries (None: no highlighting asked, or no text).
    plan: TextPlan | None
    #: The ``lang`` parameter (facet labels; None: from Accept-Language).
    lang: str | None = None
    #: What :func:`search.highlight.highlight_marked` looks up for ``plan`` (prepared once).
    keys: tuple[str, ...] = ()


def es_request(alias_path: str, timeout: str, p: dict[str, Any]) -> EsRequest | None:
    """The ``_msearch`` the fast path sends for validated parameters ``p`` (:func:`_fast_params`),
    or None when :func:`search` must answer (the query can match nothing, or needs the route's
    400). ``alias_path``: the backend's ``_msearch`` path. The bench
    (``bench/bench_api_overhead.py``) sends these very bytes straight to Elasticsearch.
    InvalidCursor for a cursor that is not ours (the route answers its 400)."""
    if p["sort"] == "distance":
        return None  # needs lat/lon/km: search() gives the route's 400
    filters = {name: p[name] for name in FACETS if p.get(name)}
    query = SearchQuery(
        q=p["q"],
        filters=filters,
        sort=p["sort"],
        size=p["size"],
        offset=p["offset"],
        facet_size=p["facet_size"],
        facets=p["facet"],
    )
    if p["cursor"] is not None:
        if p["offset"]:
            return None  # search() gives the route's 400
        query.after = decode_cursor(p["cursor"], effective_sort(query))  # InvalidCursor: the route's 400
    body = page_search_body(query, highlight=bool(p["highlight_"]))
    if body is None:
        return None
    payload = b"".join(MSEARCH_HEADER_LINE + orjson.dumps(b) + b"\n" for b in split_search(body, timeout))
    plan = text_plan(query) if p["highlight_"] else None
    return EsRequest(
        query=query,
        path=f"{alias_path}?filter_path={ES_FILTER_PATH}",
        payload=payload,
        plan=plan,
        keys=marks_keys(plan),
        lang=p.get("lang"),
    )


#: Prepared requests kept per (``_msearch`` path, timeout, query string): the same query string
#: always gives the same parameters, body and plan (the fast path takes no clock-dependent
#: parameter such as ``upcoming``), so a repeated search (a popular query, a reload, the next
#: facet click back) skips parsing, validation and body building. Oldest out first.
PREPARED_MAX = 2048
_prepared: dict[tuple[str, str, bytes], EsRequest] = {}


def _prepare(backend: ElasticsearchBackend, scope: Scope) -> EsRequest | dict[str, Any] | None:
    """The request to send (cached), or the validated parameters when :func:`search` must
    answer instead, or None (the route answers: a parameter the fast path does not take, an
    invalid value, a cursor that is not ours, an ``Accept`` asking for JSON-LD)."""
    key = (backend._msearch_path, backend.search_timeout, scope["query_string"])
    found = _prepared.get(key)
    if found is not None:
        if _asks_jsonld(scope):
            return None
        return found
    params = _fast_params(scope)
    if params is None:
        return None
    try:
        request = es_request(backend._msearch_path, backend.search_timeout, params)
    except Exception:  # noqa: BLE001 - e.g. InvalidCursor: the route answers in its own shape
        return None
    if request is None:
        return params
    if len(_prepared) >= PREPARED_MAX:
        del _prepared[next(iter(_prepared))]
    _prepared[key] = request
    return request


class NotPrerendered(Exception):
    """A hit without its display JSON (an index built before mapping version 5): the route answers."""


#: How long the fast path leaves searches to the route after meeting such a hit.
ROUTE_WHILE_NOT_PRERENDERED_S = 60.0


#: A hit's JSON after ``location`` when nothing is highlighted (the fast path has no distance
#: and no collapse).
_HIT_END = b',"distance_km":null,"shared_by":null,"highlight":{}}'
_HIT_END_MARKED = b',"distance_km":null,"shared_by":null,"highlight":'


async def _es_page(
    backend: ElasticsearchBackend, base: str, request: EsRequest, labels: Tables | None = None
) -> bytes:
    """The JSON bytes :func:`search` + ``_json`` give for the fast-path parameters ``request``
    was made of (:func:`es_request`), built straight from Elasticsearch's response.

    No thread hop (:meth:`ElasticsearchBackend.post_async`) and no model or dict per hit:
    each hit's fields from ``type`` to ``location`` are the JSON text stored with it at
    indexing (:mod:`search.hits`), spliced in as they are (``orjson.Fragment``); only
    ``id``, ``doc``, ``score`` and the highlights are written here, the highlights from the
    words' spans stored per form at indexing (:func:`search.highlight.highlight_marked`).
    ``tests/api/test_search_api.py`` compares the bytes with the route's for words, filters,
    facets, highlights, sorts, offsets and cursors. Any error in Elasticsearch's answer, or a
    hit without its stored text (:class:`NotPrerendered`), raises (the caller falls back to
    the route). ``labels``: the facet label tables of the answer's language (None: no names,
    English).
    """
    query = request.query
    if labels is None:
        labels = FacetLabels(None).tables("en")
    responses = orjson.loads(await backend.post_async(request.path, request.payload))["responses"]
    for item in responses:
        if "error" in item:
            raise SearchUnavailable(f"Elasticsearch refused the search: {str(item['error'])[:300]}")
    # filter_path drops what is empty: no "hits" object for a page past the last hit, no
    # "aggregations" when no bucket; the counting response (first of two) has total and facets
    counted, page = responses[0], responses[-1]
    plan, keys = request.plan, request.keys
    hits = []
    raw_hits = page.get("hits", {}).get("hits", [])
    dumps = orjson.dumps
    for hit in raw_hits:
        src = hit["_source"]
        fields = src.get(HIT_FIELD)
        if fields is None:
            raise NotPrerendered(src.get("id"))
        doc_id = src["id"]
        path = doc_id.removeprefix(base) if doc_id.startswith(base) else None
        doc = f"{base}{doc_path(path)}" if path else doc_id
        end = _HIT_END
        if plan is not None:
            marks = {}
            stored = src.get(MARKS_FIELD) or {}
            for name in MARKED_TEXTS:
                text = src.get(name)
                found = stored.get(name)
                mark = (
                    highlight_marked(text, found, keys)
                    if found is not None
                    else highlight(text, plan, src.get("language"))
                )
                if mark:
                    marks[name] = mark
            if marks:
                end = _HIT_END_MARKED + dumps(marks) + b"}"
        hits.append(
            orjson.Fragment(
                b'{"id":%b,"doc":%b,%b,"score":%b%b'
                % (dumps(doc_id), dumps(doc), fields.encode(), dumps(hit.get("_score")), end)
            )
        )
    next_cursor = None
    if raw_hits and len(raw_hits) == query.size and raw_hits[-1].get("sort"):
        next_cursor = encode_cursor(effective_sort(query), list(raw_hits[-1]["sort"]))
    aggregations = counted.get("aggregations", {})
    out = {
        "total": int(counted["hits"]["total"]["value"]),
        "offset": query.offset,
        "size": query.size,
        "next_cursor": next_cursor,
        "hits": hits,
        "facets": {
            field: es_buckets(field, aggregations.get(field, {}).get("buckets", []), labels.get(field, {}))
            for field in wanted_facets(query)
        },
    }
    return orjson.dumps(out)


def _write_at_once(send: Send, headers: list[tuple[bytes, bytes]], data: bytes) -> bool:
    """Write a 200 answer's head and body to uvicorn's transport in one ``write`` (one send
    syscall, one TCP segment train) and complete the request as uvicorn's own ``send`` would;
    False (nothing written) unless ``send`` is uvicorn's httptools request cycle in the state
    where its ``send`` would write both at once too.

    Why: uvicorn writes the head and the body of an answer separately, two send syscalls and two
    segments the client reads apart (``bench/bench_api_overhead.py``: uvicorn's hop alone 48.5
    -> 39.6 µs per request for an 11 KB answer). The head is the one uvicorn would write
    (status line, its default ``server``/``date`` headers, ours, ``connection: close`` when
    the connection ends); with an access log on, a paused or closed transport, or another
    server, the usual two messages are sent. ``tests/api/test_search_fast_write.py`` compares
    the raw bytes with uvicorn's on keep-alive and closing connections.
    """
    cycle = getattr(send, "__self__", None)
    if _HttpToolsCycle is None or type(cycle) is not _HttpToolsCycle:
        return False
    try:
        if cycle.response_started or cycle.disconnected or cycle.access_log or cycle.flow.write_paused:
            return False
        keep_alive = cycle.keep_alive
        transport = cycle.transport
        parts = [b"HTTP/1.1 200 OK\r\n"]
        for name, value in (*cycle.default_headers, *headers):
            parts += (name.lower(), b": ", value, b"\r\n")
        message_event = cycle.message_event
        on_response = cycle.on_response
    except AttributeError:  # another uvicorn version: its own send
        return False
    if not keep_alive:
        parts.append(b"connection: close\r\n")
    parts += (b"\r\n", data)
    cycle.response_started = True
    cycle.waiting_for_100_continue = False
    transport.write(b"".join(parts))
    cycle.response_complete = True
    message_event.set()
    if not keep_alive:
        transport.close()
    on_response()
    return True


async def send_json_bytes(send: Send, data: bytes) -> bool:
    """Answer 200 with JSON ``data``: what ``Response(data, media_type="application/json")``
    sends, without building a Response and its header list: in one write under uvicorn
    (:func:`_write_at_once`: True), else as two raw ASGI messages (False)."""
    headers = [
        (b"vary", b"Accept-Language"),
        (b"content-length", str(len(data)).encode()),
        (b"content-type", b"application/json"),
    ]
    if _write_at_once(send, headers, data):
        return True
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})
    return False


#: Exceptions the fast path expects (Elasticsearch or the network failing, an answer it cannot
#: read, input the route will refuse): the route answers them in its own shape, nothing to log.
_EXPECTED = (HttpError, SearchUnavailable, OSError, ValueError, HTTPException)
#: At most one log line per exception type per this many seconds (a bug hit by every search).
_LOG_EVERY_S = 60.0
_last_logged: dict[type, float] = {}


def _handed_to_route(exc: Exception) -> None:
    """Log an unexpected failure of the fast path (a bug in it): the route still answers, but
    every such search then asks Elasticsearch twice, which only a log line would reveal."""
    if isinstance(exc, _EXPECTED):
        return
    now = time.monotonic()
    if now - _last_logged.get(type(exc), float("-inf")) >= _LOG_EVERY_S:
        _last_logged[type(exc)] = now
        log.warning("search fast path failed, the route answers instead", exc_info=exc)


class SearchFastPath:
    """Pure ASGI middleware: an everyday ``GET /search`` runs :func:`search` without FastAPI's
    routing and per-parameter dependency solving (measured: most of the API's overhead over
    Elasticsearch; ``bench/bench_search_load.py``). Same function, same validation model, same
    bytes (``_json``); any other request, a parameter it does not take, or any error goes
    through the route unchanged (``tests/api/test_search_api.py`` compares both byte for byte).
    On Elasticsearch the page is built by :func:`_es_page` instead (no thread, no models).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.served = 0  # answers given here (the tests check the path is really taken)
        self.direct = 0  # of those, built straight from Elasticsearch's response (_es_page)
        self.at_once = 0  # of those, written to uvicorn's transport in one piece (_write_at_once)
        #: Until when searches go straight to the route: the index answered hits without their
        #: stored text (built before mapping version 5), and asking it first only costs a round trip.
        self.route_until = float("-inf")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/search":
            app = scope.get("app")
            backend = app.state.backend if app is not None else None
            params: dict[str, Any] | None
            if isinstance(backend, ElasticsearchBackend) and speaks(backend.url):
                try:
                    prepared = _prepare(backend, scope)
                except Exception as exc:  # noqa: BLE001 - outside Starlette's error layer: the route decides
                    _handed_to_route(exc)
                    prepared = None
                params = prepared if isinstance(prepared, dict) else None
                if isinstance(prepared, EsRequest) and time.monotonic() >= self.route_until:
                    try:
                        tables = (await labels_of(app)).tables(prepared.lang or header_language(scope))
                        data = await _es_page(
                            backend, app.state.settings.base_url.rstrip("/"), prepared, tables
                        )
                    except NotPrerendered:  # until `innonet index --rebuild`: ask again a minute later
                        self.route_until = time.monotonic() + ROUTE_WHILE_NOT_PRERENDERED_S
                        data = None
                    except Exception as exc:  # noqa: BLE001 - the route retries and answers errors in its own shape
                        _handed_to_route(exc)
                        data = None
                    if data is not None:
                        self.served += 1
                        self.direct += 1
                        self.at_once += await send_json_bytes(send, data)
                        return
            else:
                params = _fast_params(scope)
            if params is not None and app is not None:
                try:
                    page = await search(Request(scope), app.state.backend, app.state.settings, **params)
                except Exception:  # noqa: BLE001 - the route answers errors in its own shape
                    page = None
                if isinstance(page, SearchOut):
                    self.served += 1
                    await _json(page)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


async def close_fast_path(app: FastAPI) -> None:
    """The app's shutdown: close the Elasticsearch backend's async session (the fast path's)."""
    backend = getattr(app.state, "backend", None)
    if isinstance(backend, ElasticsearchBackend):
        await backend.aclose()


def install_fast_path(app: FastAPI) -> None:
    """Put :class:`SearchFastPath` in front of the app's whole middleware stack, outside even
    Starlette's error layer (``ServerErrorMiddleware``, which wraps ``send``): the fast path
    then gets the server's own ``send`` (:func:`_write_at_once` writes through it in one piece)
    and passes two layers fewer. It catches its own errors and hands those requests to the
    stack (route answers, error pages, logging as before)."""
    build = app.build_middleware_stack

    def build_with_fast_path() -> ASGIApp:
        return SearchFastPath(build())

    app.build_middleware_stack = build_with_fast_path  # type: ignore[method-assign]
