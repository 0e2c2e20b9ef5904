"""The Elasticsearch search backend: the reference implementation of :class:`SearchBackend`.

- One versioned index ``{alias}-v1`` behind the alias ``{alias}``; reads and writes go
  through the alias, so a rebuild is a new ``{alias}-v2`` filled from the store and an
  alias swap (no ``_reindex``: the test distribution has none, architecture.md §7).
- Settings and mappings come from ``search/mappings/items-v1.json``: server-native parts
  only. Text is analysed in Python (:mod:`search.analysis`) into ``*_a`` fields that the
  built-in ``whitespace`` analyser indexes, so Elasticsearch and the embedded backend see
  the same tokens.
- Bulk writes in chunks of 500 with per-document errors, a retry of the documents refused
  with 429/5xx, and whole-request failures turned into :class:`SearchUnavailable`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from elastic_transport import TransportError
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError
from pydantic import ValidationError

from search.analysis import analysed, query_tokens
from search.base import SearchBackend, SearchUnavailable
from search.documents import (
    FACET_FIELDS,
    FacetBucket,
    IndexError_,
    IndexReport,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
)

INDEX_VERSION = 1
MAPPING_FILE = Path(__file__).resolve().parent / "mappings" / f"items-v{INDEX_VERSION}.json"
#: Pre-analysed fields (indexed, never returned as part of a document) and their source field.
ANALYSED_FIELDS = {"title_a": "title", "summary_a": "summary", "body_a": "body"}
#: Query-time boosts of the analysed fields (the embedded backend uses the same weights).
SEARCH_FIELDS = ["title_a^3", "summary_a^2", "body_a"]
BULK_CHUNK = 500
#: Statuses worth retrying: the whole request (by the client) and single bulk items (here).
RETRY_STATUSES = (429, 502, 503, 504)
BULK_ATTEMPTS = 4
MAX_ID_BYTES = 512  # Elasticsearch's limit on _id
MAX_REASON_CHARS = 300


@cache
def index_definition() -> dict[str, Any]:
    """Settings and mappings of the current index version (the repository file)."""
    return json.loads(MAPPING_FILE.read_text(encoding="utf-8"))


def to_source(doc: SearchDocument) -> dict[str, Any]:
    """The indexed ``_source``: the document as JSON plus its pre-analysed text fields."""
    source = doc.model_dump(mode="json", exclude_none=True)
    for analysed_field, field in ANALYSED_FIELDS.items():
        text = analysed(getattr(doc, field))
        if text:
            source[analysed_field] = text
    return source


def from_source(source: dict[str, Any]) -> SearchDocument:
    """The document as upserted, from a ``_source``."""
    return SearchDocument.model_validate({k: v for k, v in source.items() if k not in ANALYSED_FIELDS})


def _short(text: object, limit: int = MAX_REASON_CHARS) -> str:
    """Elasticsearch quotes the offending value in its reasons; keep them readable."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _item_reason(error: Any) -> str:
    """One line from a bulk item's error object (type, reason and root cause)."""
    if not isinstance(error, dict):
        return _short(error)
    reason = f"{error.get('type', 'error')}: {_short(error.get('reason', ''))}".strip()
    cause = error.get("caused_by")
    if isinstance(cause, dict) and cause.get("reason") and cause.get("reason") not in reason:
        reason += f" (caused by {cause.get('type', 'error')}: {_short(cause['reason'])})"
    return reason


def _api_reason(exc: ApiError) -> str:
    """One line from a whole-request error."""
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    detail = _item_reason(error) if error else _short(exc.body or exc.message)
    return f"HTTP {exc.meta.status} {detail}"


def _validated(raw: object) -> SearchDocument:
    """Re-validate (a ``model_construct`` or a dict must not reach the index unchecked)."""
    data = dict(raw) if isinstance(raw, SearchDocument) else raw
    doc = SearchDocument.model_validate(data)
    if not doc.id.strip():
        raise ValueError("empty document id")
    if len(doc.id.encode("utf-8")) > MAX_ID_BYTES:
        raise ValueError(f"document id longer than {MAX_ID_BYTES} bytes")
    return doc


def _raw_id(raw: object, position: int) -> str:
    doc_id = raw.get("id") if isinstance(raw, dict) else getattr(raw, "id", None)
    return doc_id if isinstance(doc_id, str) and doc_id else f"#{position}"


def _invalid_reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return f"{type(exc).__name__}: {exc}"


class ElasticsearchBackend(SearchBackend):
    """SearchBackend on an Elasticsearch 8.19 server (official Python client)."""

    name = "elasticsearch"

    def __init__(self, url: str, alias: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.alias = alias
        self.index = f"{alias}-v{INDEX_VERSION}"
        self._ensured = False
        self._client = Elasticsearch(
            self.url,
            request_timeout=timeout_s,
            max_retries=3,
            retry_on_status=RETRY_STATUSES,
            retry_on_timeout=True,
        )

    # -- plumbing ------------------------------------------------------------------------

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn transport and whole-request failures into SearchUnavailable, naming URL and cause."""
        try:
            yield
        except ApiError as exc:
            raise SearchUnavailable(
                f"Elasticsearch at {self.url} refused {action} on {self.alias!r}: {_api_reason(exc)}"
            ) from exc
        except TransportError as exc:
            raise SearchUnavailable(
                f"Elasticsearch not reachable at {self.url} ({action}): {type(exc).__name__}: {exc}"
            ) from exc

    def close(self) -> None:
        """Release the client's connections."""
        self._client.close()

    # -- index ---------------------------------------------------------------------------

    def ensure_index(self) -> None:
        """Create ``{alias}-v1`` with the alias in one request; no-op when the alias exists.

        Two processes racing: one creates it, the other gets ``resource_already_exists``
        and only makes sure the alias is there (adding an existing alias is a no-op).
        """
        with self._errors("ensure_index"):
            if self._client.indices.exists_alias(name=self.alias):
                self._ensured = True
                return
            definition = index_definition()
            try:
                self._client.indices.create(
                    index=self.index,
                    settings=definition["settings"],
                    mappings=definition["mappings"],
                    aliases={self.alias: {"is_write_index": True}},
                )
            except BadRequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
                self._client.indices.put_alias(index=self.index, name=self.alias, is_write_index=True)
        self._ensured = True

    def _ensure_once(self) -> None:
        if not self._ensured:
            self.ensure_index()

    # -- writes --------------------------------------------------------------------------

    def upsert(self, docs: Sequence[SearchDocument]) -> IndexReport:
        """Index by id in chunks; a refused document is reported, the others go in."""
        report = IndexReport()
        ready: list[SearchDocument] = []
        for position, raw in enumerate(docs):
            try:
                ready.append(_validated(raw))
            except (ValidationError, ValueError, TypeError) as exc:
                report.errors.append(IndexError_(id=_raw_id(raw, position), reason=_invalid_reason(exc)))
        if not ready:
            return report
        self._ensure_once()
        for start in range(0, len(ready), BULK_CHUNK):
            chunk = [
                (doc.id, [{"index": {"_id": doc.id}}, to_source(doc)])
                for doc in ready[start : start + BULK_CHUNK]
            ]
            done, errors = self._bulk(chunk, "upsert", ok_results=("created", "updated"))
            report.indexed += done
            report.errors.extend(errors)
        return report

    def delete(self, ids: Sequence[str]) -> IndexReport:
        """Remove by id; ``deleted`` counts documents that existed, unknown ids are no error."""
        report = IndexReport()
        wanted = [i for i in dict.fromkeys(ids) if isinstance(i, str) and i]
        if not wanted:
            return report
        self._ensure_once()
        for start in range(0, len(wanted), BULK_CHUNK):
            chunk = [(doc_id, [{"delete": {"_id": doc_id}}]) for doc_id in wanted[start : start + BULK_CHUNK]]
            done, errors = self._bulk(chunk, "delete", ok_results=("deleted",), not_found_ok=True)
            report.deleted += done
            report.errors.extend(errors)
        return report

    def _bulk(
        self,
        items: list[tuple[str, list[dict[str, Any]]]],
        action: str,
        ok_results: tuple[str, ...],
        not_found_ok: bool = False,
    ) -> tuple[int, list[IndexError_]]:
        """Send one chunk; retry the items refused with 429/5xx with backoff.

        Returns (items applied, item errors). A whole-chunk refusal (after the client's own
        retries) becomes one error per item, so the caller still sends the next chunk; a
        connection failure raises SearchUnavailable.
        """
        done = 0
        errors: list[IndexError_] = []
        pending = items
        for attempt in range(BULK_ATTEMPTS):
            if attempt:
                time.sleep(min(0.25 * 2**attempt, 4.0))
            operations = [line for _, lines in pending for line in lines]
            try:
                response = self._client.bulk(operations=operations, index=self.alias, require_alias=True)
            except ApiError as exc:
                if exc.meta.status in RETRY_STATUSES and attempt + 1 < BULK_ATTEMPTS:
                    continue
                reason = f"bulk {action} refused: {_api_reason(exc)}"
                return done, errors + [IndexError_(id=doc_id, reason=reason) for doc_id, _ in pending]
            except TransportError as exc:
                raise SearchUnavailable(
                    f"Elasticsearch not reachable at {self.url} (bulk {action}): {type(exc).__name__}: {exc}"
                ) from exc
            retry: list[tuple[str, list[dict[str, Any]]]] = []
            for (doc_id, lines), item in zip(pending, response["items"], strict=True):
                result = next(iter(item.values()))
                status = result.get("status", 0)
                if "error" not in result and result.get("result") in ok_results:
                    done += 1
                elif not_found_ok and (status == 404 or result.get("result") == "not_found"):
                    continue
                elif status in RETRY_STATUSES and attempt + 1 < BULK_ATTEMPTS:
                    retry.append((doc_id, lines))
                else:
                    reason = _item_reason(result.get("error") or f"status {status}")
                    errors.append(IndexError_(id=doc_id, reason=reason))
            if not retry:
                break
            pending = retry
        return done, errors

    def refresh(self) -> None:
        """Make all writes so far visible to search."""
        with self._errors("refresh"):
            self._client.indices.refresh(index=self.alias)

    # -- reads ---------------------------------------------------------------------------

    def get(self, doc_id: str) -> SearchDocument | None:
        """One document by id, as it was upserted."""
        with self._errors("get"):
            try:
                response = self._client.get(index=self.alias, id=doc_id)
            except NotFoundError:
                return None
        return from_source(response["_source"])

    def count(self) -> int:
        """Number of documents (as of the last refresh)."""
        with self._errors("count"):
            return int(self._client.count(index=self.alias)["count"])

    def search(self, query: SearchQuery) -> SearchResult:
        """AND of the query's analysed tokens, exact filters, facets over the filtered matches."""
        body = build_search_body(query)
        if body is None:  # nothing searchable in q, or a filter on an unknown field
            return SearchResult(total=0, hits=[], facets={f: [] for f in FACET_FIELDS})
        with self._errors("search"):
            response = self._client.search(index=self.alias, **body)
        hits = [
            SearchHit(id=hit["_id"], score=hit.get("_score"), document=from_source(hit["_source"]))
            for hit in response["hits"]["hits"]
        ]
        aggregations = response.get("aggregations", {})
        facets = {
            field: [
                FacetBucket(value=str(b["key"]), count=int(b["doc_count"]))
                for b in aggregations.get(field, {}).get("buckets", [])
            ]
            for field in FACET_FIELDS
        }
        return SearchResult(total=int(response["hits"]["total"]["value"]), hits=hits, facets=facets)


def build_search_body(query: SearchQuery) -> dict[str, Any] | None:
    """The search request for a query, or None when it can match nothing.

    The user's text never reaches a query parser: it is reduced to analysed word tokens
    first, and ``simple_query_string`` gets them with only whitespace splitting enabled.
    """
    must: list[dict[str, Any]] = []
    relevance = False
    if query.q is not None and query.q.strip():
        terms = query_tokens(query.q)
        if not terms:
            return None  # q given but only punctuation/symbols: no hits, not everything
        must.append(
            {
                "simple_query_string": {
                    "query": " ".join(terms),
                    "fields": SEARCH_FIELDS,
                    "default_operator": "and",
                    "flags": "WHITESPACE",
                }
            }
        )
        relevance = True
    filters: list[dict[str, Any]] = []
    for field, values in query.filters.items():
        if not values:
            continue  # an empty value list is no constraint
        if field not in FACET_FIELDS:
            return None  # like a term query on an unmapped field: matches nothing
        filters.append({"terms": {field: list(values)}})
    if relevance:
        sort: list[Any] = [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}]
    else:
        sort = [{"published": {"order": "desc", "missing": "_last"}}, {"id": {"order": "asc"}}]
    return {
        "query": {"bool": {"must": must or [{"match_all": {}}], "filter": filters}},
        "sort": sort,
        "from_": query.offset,
        "size": query.size,
        "track_total_hits": True,
        "aggregations": {
            field: {
                "terms": {
                    "field": field,
                    "size": query.facet_size,
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
            for field in FACET_FIELDS
        },
    }
