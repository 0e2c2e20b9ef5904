"""The Elasticsearch search backend: the reference implementation of :class:`SearchBackend`.

- One versioned index ``{alias}-v5`` behind the alias ``{alias}``; reads and writes go
  through the alias, so a rebuild is a new ``{alias}-v5-{stamp}`` filled from the store and
  an atomic alias swap (:mod:`search.reindex`; no ``_reindex``: the test distribution has
  none, architecture.md §7). Writes refuse an alias on an index of another version, with
  the command that rebuilds it (``innonet index --rebuild``).
- Settings and mappings come from ``search/mappings/items-v5.json``: server-native parts
  only. Text is analysed in Python (:mod:`search.analysis`) into ``*_a`` (folded) and
  ``*_s`` (stemmed) fields that the built-in ``whitespace`` analyser indexes, so
  Elasticsearch and the embedded backend see the same tokens.
- Bulk writes in chunks of 1,000 with per-document errors, a retry of the documents refused
  with 429/5xx, and whole-request failures turned into :class:`SearchUnavailable`. Each
  chunk is NDJSON bytes built with orjson, and two chunks are in flight at once (one is
  analysed in Python while Elasticsearch indexes the other: the measured best on 2 cores,
  see ``docs/search.md`` and ``bench/bench_search_load.py``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import orjson
from elastic_transport import TransportError
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError, OrjsonSerializer
from pydantic import ValidationError

from search.analysis import analysed_pair, query_tokens, stemmed
from search.base import SearchBackend, SearchUnavailable
from search.documents import (
    FACETS,
    FacetBucket,
    IndexError_,
    IndexReport,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
    Suggestion,
    wanted_facets,
)
from search.es_http import HttpError, KeepAliveClient
from search.hits import HIT_FIELD, MARKS_FIELD, hit_json, marks_of
from search.queries import distance_km, effective_sort, text_plan

INDEX_VERSION = 5
MAPPING_FILE = Path(__file__).resolve().parent / "mappings" / f"items-v{INDEX_VERSION}.json"
#: Folded fields (indexed, never returned as part of a document) and their source field.
ANALYSED_FIELDS = {"title_a": "title", "summary_a": "summary", "body_a": "body"}
#: Stemmed fields and their source field (analysed in the document's language).
STEMMED_FIELDS = {"title_s": "title", "summary_s": "summary", "body_s": "body"}
#: Each text field and its folded and stemmed fields.
TEXT_FIELDS = {field: (f"{field}_a", f"{field}_s") for field in ("title", "summary", "body")}
#: Fields computed from the document for the index only.
DERIVED_FIELDS = {*ANALYSED_FIELDS, *STEMMED_FIELDS, "year", "collapse_key", "geo"}
#: Fields stored for display only, not part of the document (:mod:`search.hits`, since version 5).
DISPLAY_FIELDS = {HIT_FIELD, MARKS_FIELD}
#: Query-time boosts (the embedded backend uses the same weights).
SEARCH_FIELDS = ["title_a^3", "summary_a^2", "body_a"]
STEM_FIELDS = ["title_s^3", "summary_s^2", "body_s"]
#: Where the exact (folded) words of a stemmed query add to the score: the title only. Over
#: the three folded fields the boost clause cost Elasticsearch ~12 % more CPU per query at
#: 1M items (docs/search.md, query shapes) and changed no answer of the relevance set.
EXACT_FIELDS = ["title_a^3"]
#: Terms the last (partial) word of a suggestion prefix may expand to (match_phrase_prefix).
SUGGEST_EXPANSIONS = 50
DEFAULT_SEARCH_TIMEOUT = "2s"
BULK_CHUNK = 1000
#: Bulk requests in flight at once (bench/bench_search_load.py --ceiling measured 1 vs 2).
BULK_SENDERS = 2
#: Only what _bulk reads from a bulk response (a 1,000-item response shrinks ~3x).
BULK_FILTER = ["errors", "items.*.status", "items.*.result", "items.*.error"]
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
    """The indexed document: the document as JSON plus its analysed and derived fields.

    The derived fields are indexed but not kept in the stored ``_source`` (the mapping's
    ``_source.excludes``): nothing reads them back.
    """
    source = doc.model_dump(mode="json", exclude_none=True)
    source[HIT_FIELD] = hit_json(source)  # the API's hit, ready to splice (search.hits)
    source[MARKS_FIELD] = marks_of(doc)  # the words' spans per form, for highlighting
    for field, (analysed_field, stemmed_field) in TEXT_FIELDS.items():
        folded, stems = analysed_pair(getattr(doc, field), doc.language)
        if folded:
            source[analysed_field] = folded
        if stems:
            source[stemmed_field] = stems
    year = doc.year()
    if year:
        source["year"] = year
    source["collapse_key"] = doc.collapse_key()
    if doc.location and doc.location.lat is not None and doc.location.lon is not None:
        source["geo"] = {"lat": doc.location.lat, "lon": doc.location.lon}
    return source


def ndjson_index(doc: SearchDocument) -> bytes:
    """The two NDJSON lines that index a document by its id (orjson: ~10x the stdlib's speed)."""
    return b"%b\n%b\n" % (orjson.dumps({"index": {"_id": doc.id}}), orjson.dumps(to_source(doc)))


def from_source(source: dict[str, Any]) -> SearchDocument:
    """The document as upserted, from a ``_source``."""
    return SearchDocument.model_validate(
        {k: v for k, v in source.items() if k not in DERIVED_FIELDS and k not in DISPLAY_FIELDS}
    )


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
    # A model's field values are its __dict__ (no extras allowed): copying it is C-level,
    # dict(model) iterates fields in Python (~15 µs per document).
    data = dict(raw.__dict__) if isinstance(raw, SearchDocument) else raw
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


K = TypeVar("K")


@dataclass
class _Batch(Generic[K]):
    """One caller batch of :meth:`ElasticsearchBackend.upsert_batches`: its report so far and
    how many of its chunks are still in flight (``sealed``: all its chunks were sent)."""

    key: K
    report: IndexReport = dataclasses.field(default_factory=IndexReport)
    chunks: int = 0
    sealed: bool = False


class ElasticsearchBackend(SearchBackend):
    """SearchBackend on an Elasticsearch 8.19 server (official Python client)."""

    name = "elasticsearch"

    def __init__(
        self, url: str, alias: str, timeout_s: float = 10.0, search_timeout: str = DEFAULT_SEARCH_TIMEOUT
    ) -> None:
        self.url = url.rstrip("/")
        self.alias = alias
        self.index = f"{alias}-v{INDEX_VERSION}"
        self.search_timeout = search_timeout
        self._ensured = False
        self._client = Elasticsearch(
            self.url,
            request_timeout=timeout_s,
            max_retries=3,
            retry_on_status=RETRY_STATUSES,
            retry_on_timeout=True,
            serializer=OrjsonSerializer(),
        )
        self._senders: ThreadPoolExecutor | None = None
        self._timeout_s = timeout_s
        #: The async hot path's keep-alive HTTP client and the event loop it belongs to.
        self._session: KeepAliveClient | None = None
        self._msearch_path = f"/{quote(alias, safe='')}/_msearch"
        self._session_loop: asyncio.AbstractEventLoop | None = None

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
        """Release the client's connections (and the bulk sender threads)."""
        if self._senders is not None:
            self._senders.shutdown(wait=True)
            self._senders = None
        self._client.close()

    async def post_async(self, path: str, payload: bytes) -> bytes:
        """The answer bytes of an NDJSON POST to ``path`` (e.g. :attr:`_msearch_path`) over this
        event loop's keep-alive client; SearchUnavailable when unreachable or not HTTP 200.
        The API's fast path sends its prepared ``_msearch`` bytes with this.

        No thread: a small keep-alive HTTP/1.1 client on asyncio (:class:`search.es_http.KeepAliveClient`),
        one per event loop (bench/search_breakdown.py: the sync client's serialisation, urllib3 and the
        thread hop cost more than Elasticsearch's own answer at 1 connection; aiohttp, used before, still
        cost ~0.1-0.2 ms of Python per request). No compression asked (Elasticsearch would gzip every
        answer: ~0.45 ms per 17 KB page). No retries: any failure raises SearchUnavailable and the caller
        falls back to the sync path, which retries and words the error as before."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session_loop is not loop or self._session.closed:
            self._session = KeepAliveClient(self.url, self._timeout_s)
            self._session_loop = loop
        try:
            status, raw = await self._session.post(path, payload, b"application/x-ndjson")
        except HttpError as exc:
            raise SearchUnavailable(f"Elasticsearch not reachable at {self.url} (search): {exc}") from exc
        if status != 200:
            raise SearchUnavailable(
                f"Elasticsearch at {self.url} refused search on {self.alias!r}: HTTP {status}"
            )
        return raw

    async def aclose(self) -> None:
        """Close the async hot path's connections (the app's shutdown; :meth:`close` closes the rest)."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    # -- index ---------------------------------------------------------------------------

    def ensure_index(self) -> None:
        """Create ``{alias}-v{INDEX_VERSION}`` with the alias in one request; when the alias
        exists, check that its index has this version's mapping.

        Two processes racing: one creates it, the other gets ``resource_already_exists``
        and only makes sure the alias is there (adding an existing alias is a no-op).
        """
        with self._errors("ensure_index"):
            if self._client.indices.exists_alias(name=self.alias):
                self._check_version()
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

    def _check_version(self) -> None:
        """Refuse to write into an index of another mapping version (SearchUnavailable).

        Its fields would be indexed the old way (version 2 kept positions and stored the
        analysed text; version 3 had a completion field and no positions in title_a, which
        suggestions now need), so the fix is a rebuild: a new index from the store and an
        alias swap, searches served by the old index meanwhile.

        A field of this code's mapping the index lacks is refused the same way: a strict mapping
        would reject every document that carries it (the version 5 file gained ``marks`` on the
        day it was made, so an index built between the two states says version 5 too).
        """
        mappings = self._client.indices.get_mapping(index=self.alias)
        wanted = set(index_definition()["mappings"]["properties"])
        for name, body in sorted(mappings.items()):
            version = body.get("mappings", {}).get("_meta", {}).get("version")
            missing = sorted(wanted - set(body.get("mappings", {}).get("properties", {})))
            if version != INDEX_VERSION or missing:
                what = f"mapping version {version}" + (
                    f" without the field(s) {', '.join(missing)}" if missing else ""
                )
                raise SearchUnavailable(
                    f"the index {name!r} behind {self.alias!r} has {what}; this "
                    f"code writes version {INDEX_VERSION} ({MAPPING_FILE.name}): rebuild it from the "
                    "store with `innonet index --rebuild` (a new index and an alias swap; searches "
                    "keep working meanwhile)"
                )

    def _ensure_once(self) -> None:
        if not self._ensured:
            self.ensure_index()

    # -- writes --------------------------------------------------------------------------

    def upsert(self, docs: Sequence[SearchDocument], target: str | None = None) -> IndexReport:
        """Index by id in chunks; a refused document is reported, the others go in.

        ``target``: a concrete index instead of the alias (a rebuild fills its new index so).
        """
        ((_, report),) = self.upsert_batches([(None, docs)], target)
        return report

    def upsert_batches(
        self, batches: Iterable[tuple[K, Sequence[SearchDocument]]], target: str | None = None
    ) -> Iterator[tuple[K, IndexReport]]:
        """:meth:`upsert` for each ``(key, docs)`` batch, yielding ``(key, report)`` in order as soon
        as every chunk of the batch is answered, with chunks kept in flight across batches.

        Why: a caller that upserts batch after batch (a rebuild reads the store 500 records at a
        time) drained the pipeline at the end of every batch, so Elasticsearch idled while the
        next batch was read and prepared (measured: ~4,700 vs ~8,000 documents/s, docs/search.md).
        Nothing is reported before Elasticsearch answered for it: a batch's report is complete
        when it is yielded. Each chunk is validated and encoded just before it is sent, so
        Elasticsearch starts on the first chunk while Python prepares the next ones. Closing the
        generator early waits for the chunks in flight (they are not cancelled half-sent).
        """
        in_flight: deque[tuple[Future[tuple[int, list[IndexError_]]], _Batch[K]]] = deque()
        waiting: deque[_Batch[K]] = deque()

        def collect() -> None:
            future, batch = in_flight.popleft()
            done, errors = future.result()
            batch.report.indexed += done
            batch.report.errors.extend(errors)
            batch.chunks -= 1

        def finished() -> Iterator[tuple[K, IndexReport]]:
            while waiting and waiting[0].sealed and not waiting[0].chunks:
                batch = waiting.popleft()
                yield batch.key, batch.report

        try:
            for key, docs in batches:
                batch = _Batch(key)
                waiting.append(batch)
                for start in range(0, len(docs), BULK_CHUNK):
                    chunk = self._encoded(docs[start : start + BULK_CHUNK], start, batch.report)
                    if not chunk:
                        continue
                    if target is None:
                        self._ensure_once()
                    if self._senders is None:
                        self._senders = ThreadPoolExecutor(BULK_SENDERS, thread_name_prefix="es-bulk")
                    if len(in_flight) >= BULK_SENDERS:
                        collect()
                    in_flight.append(
                        (
                            self._senders.submit(
                                self._bulk, chunk, "upsert", ok_results=("created", "updated"), target=target
                            ),
                            batch,
                        )
                    )
                    batch.chunks += 1
                batch.sealed = True
                yield from finished()
            while in_flight:
                collect()
                yield from finished()
        finally:
            for future, _ in in_flight:  # an exception or an early close: let the chunks sent finish
                future.cancel()
                if not future.cancelled():
                    future.exception()

    @staticmethod
    def _encoded(docs: Sequence[object], first: int, report: IndexReport) -> list[tuple[str, bytes]]:
        """(id, NDJSON lines) of the valid, encodable documents; the others go to ``report.errors``."""
        chunk = []
        for position, raw in enumerate(docs, first):
            try:
                doc = _validated(raw)
            except (ValidationError, ValueError, TypeError) as exc:
                report.errors.append(IndexError_(id=_raw_id(raw, position), reason=_invalid_reason(exc)))
                continue
            try:
                chunk.append((doc.id, ndjson_index(doc)))
            except orjson.JSONEncodeError as exc:  # e.g. a lone surrogate in the text
                report.errors.append(IndexError_(id=doc.id, reason=f"not encodable as JSON: {exc}"))
        return chunk

    def delete(self, ids: Sequence[str]) -> IndexReport:
        """Remove by id; ``deleted`` counts documents that existed, unknown ids are no error."""
        report = IndexReport()
        wanted = [i for i in dict.fromkeys(ids) if isinstance(i, str) and i]
        if not wanted:
            return report
        self._ensure_once()
        for start in range(0, len(wanted), BULK_CHUNK):
            chunk = [
                (doc_id, orjson.dumps({"delete": {"_id": doc_id}}) + b"\n")
                for doc_id in wanted[start : start + BULK_CHUNK]
            ]
            done, errors = self._bulk(chunk, "delete", ok_results=("deleted",), not_found_ok=True)
            report.deleted += done
            report.errors.extend(errors)
        return report

    def _bulk(
        self,
        items: list[tuple[str, bytes]],
        action: str,
        ok_results: tuple[str, ...],
        not_found_ok: bool = False,
        target: str | None = None,
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
            operations = b"".join(lines for _, lines in pending)  # NDJSON bytes, passed through as is
            try:
                if target is None:
                    response = self._client.bulk(
                        operations=operations,  # type: ignore[arg-type]
                        index=self.alias,
                        require_alias=True,
                        filter_path=BULK_FILTER,
                    )
                else:
                    response = self._client.bulk(
                        operations=operations,  # type: ignore[arg-type]
                        index=target,
                        filter_path=BULK_FILTER,
                    )
            except ApiError as exc:
                if exc.meta.status in RETRY_STATUSES and attempt + 1 < BULK_ATTEMPTS:
                    continue
                reason = f"bulk {action} refused: {_api_reason(exc)}"
                return done, errors + [IndexError_(id=doc_id, reason=reason) for doc_id, _ in pending]
            except TransportError as exc:
                raise SearchUnavailable(
                    f"Elasticsearch not reachable at {self.url} (bulk {action}): {type(exc).__name__}: {exc}"
                ) from exc
            retry: list[tuple[str, bytes]] = []
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
        """Text plan, filters, ranges, distance; facets over the filtered matches; search_after."""
        body = build_search_body(query)
        if body is None:  # nothing searchable in q, or a filter on an unknown field
            return SearchResult(total=0, hits=[], facets={f: [] for f in wanted_facets(query)})
        response = self._search_split(body)
        hits = []
        for hit in response["hits"]["hits"]:
            doc = from_source(hit["_source"])
            loc = doc.location
            hits.append(
                SearchHit(
                    id=hit["_id"],
                    score=hit.get("_score"),
                    document=doc,
                    sort=list(hit.get("sort", [])),
                    distance_km=distance_km(loc.lat, loc.lon, query.near.lat, query.near.lon)
                    if query.near and loc
                    else None,
                )
            )
        if query.collapse and hits:
            shared = self._networks_per_cluster([h.document.collapse_key() for h in hits])
            for h in hits:
                h.shared_by = shared.get(h.document.collapse_key(), 1)
        aggregations = response.get("aggregations", {})
        facets = {
            field: [
                FacetBucket(value=str(b["key"]), count=int(b["doc_count"]))
                for b in aggregations.get(field, {}).get("buckets", [])
            ]
            for field in wanted_facets(query)
        }
        return SearchResult(total=int(response["hits"]["total"]["value"]), hits=hits, facets=facets)

    def _search_split(self, body: dict[str, Any]) -> dict[str, Any]:
        """Run a search body as :func:`split_search` says, in one ``_msearch``.

        Returns one response shaped like a single ``_search``'s (total and aggregations
        from the counting request, hits from the page request).
        """
        return merge_split(self._msearch(split_search(body, self.search_timeout)))

    def _msearch(self, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The responses of searches sent in one ``_msearch``; any failed one raises SearchUnavailable."""
        searches: list[dict[str, Any]] = []
        for body in bodies:
            searches += [MSEARCH_HEADER, body]
        with self._errors("search"):
            response = self._client.msearch(index=self.alias, searches=searches)
        out = []
        for item in response["responses"]:
            if "error" in item:
                raise SearchUnavailable(
                    f"Elasticsearch at {self.url} refused search on {self.alias!r}: "
                    f"HTTP {item.get('status', 0)} {_item_reason(item['error'])}"
                )
            out.append(item)
        return out

    def _networks_per_cluster(self, keys: list[str]) -> dict[str, int]:
        """How many networks share each collapsed cluster (one terms + cardinality aggregation)."""
        with self._errors("search"):
            response = self._client.search(
                index=self.alias,
                size=0,
                timeout=self.search_timeout,
                query={"terms": {"collapse_key": keys}},
                aggregations={
                    "clusters": {
                        "terms": {"field": "collapse_key", "size": len(keys)},
                        "aggregations": {"networks": {"cardinality": {"field": "network"}}},
                    }
                },
            )
        buckets = response["aggregations"]["clusters"]["buckets"]
        return {b["key"]: int(b["networks"]["value"]) for b in buckets}

    def suggest(self, prefix: str, size: int = 10) -> list[Suggestion]:
        """Titles whose folded words, from any word on, start with the folded prefix words.

        A ``match_phrase_prefix`` on ``title_a`` (the one analysed field that keeps
        positions): the embedded backend's FTS5 phrase prefix, same semantics. It replaced
        a ``completion`` field with one input per title word, which was a third of
        Elasticsearch's indexing CPU (docs/search.md, indexing cost) and only knew the
        first 8 words. Shortest titles first, like the embedded backend.
        """
        words = query_tokens(prefix)
        if not words or size <= 0:
            return []
        with self._errors("suggest"):
            response = self._client.search(
                index=self.alias,
                source=["title"],
                size=size,
                timeout=self.search_timeout,
                query={
                    "match_phrase_prefix": {
                        "title_a": {"query": " ".join(words), "max_expansions": SUGGEST_EXPANSIONS}
                    }
                },
                sort=[{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}],
            )
        return [Suggestion(id=h["_id"], text=h["_source"]["title"]) for h in response["hits"]["hits"]]

    def related(self, doc_id: str, size: int = 10) -> SearchResult:
        """more_like_this on the stemmed fields; items of other networks score twice as high."""
        doc = self.get(doc_id)
        if doc is None:
            return SearchResult(total=0, hits=[])
        # The stemmed fields are not in _source (mapping _source.excludes), so the document
        # goes as an artificial one: the same text the index holds, analysed the same way.
        like = {
            stemmed_field: stems
            for field, (_, stemmed_field) in TEXT_FIELDS.items()
            if (stems := stemmed(getattr(doc, field), doc.language))
        }
        if not like:
            return SearchResult(total=0, hits=[])
        mlt = {
            "more_like_this": {
                "fields": ["title_s", "summary_s", "body_s"],
                "like": [{"doc": like}],
                "min_term_freq": 1,
                "min_doc_freq": 1,
                "max_query_terms": 25,
                "minimum_should_match": "10%",
            }
        }
        query = {
            "function_score": {
                "query": {"bool": {"must": [mlt], "must_not": [{"ids": {"values": [doc_id]}}]}},
                "functions": [
                    {"filter": {"bool": {"must_not": [{"term": {"network": doc.network}}]}}, "weight": 2}
                ],
                "boost_mode": "multiply",
            }
        }
        with self._errors("related"):
            response = self._client.search(
                index=self.alias,
                query=query,
                size=size,
                timeout=self.search_timeout,
                sort=[{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}],
                track_total_hits=True,
            )
        hits = [
            SearchHit(id=h["_id"], score=h.get("_score"), document=from_source(h["_source"]))
            for h in response["hits"]["hits"]
        ]
        return SearchResult(total=int(response["hits"]["total"]["value"]), hits=hits)


def _sort_clause(query: SearchQuery) -> list[Any]:
    sort = effective_sort(query)
    if sort == "distance" and query.near is None:
        sort = "date"
    if sort == "relevance":
        return [{"_score": {"order": "desc"}}, {"id": {"order": "asc"}}]
    if sort == "start":
        return [{"start": {"order": "asc", "missing": "_last"}}, {"id": {"order": "asc"}}]
    if sort == "distance":
        assert query.near is not None
        point = {"lat": query.near.lat, "lon": query.near.lon}
        return [
            {"_geo_distance": {"geo": point, "order": "asc", "unit": "km", "distance_type": "arc"}},
            {"id": {"order": "asc"}},
        ]
    return [{"published": {"order": "desc", "missing": "_last"}}, {"id": {"order": "asc"}}]


def build_search_body(query: SearchQuery) -> dict[str, Any] | None:
    """The search request for a query, or None when it can match nothing.

    The user's text never reaches a query parser: it is reduced to analysed word tokens
    first (:func:`search.queries.text_plan`), and each ``simple_query_string`` gets one
    group of them with only whitespace splitting enabled.
    """
    must: list[dict[str, Any]] = []
    should: list[dict[str, Any]] = []
    plan = text_plan(query)
    if plan is not None:
        if not plan.groups:
            return None  # q given but only punctuation/symbols: no hits, not everything
        fields = STEM_FIELDS if plan.stemmed else SEARCH_FIELDS
        for group in plan.groups:
            must.append(
                {
                    "simple_query_string": {
                        "query": " ".join(group),
                        "fields": fields,
                        "default_operator": "or",
                        "flags": "WHITESPACE",
                    }
                }
            )
        if plan.stemmed:  # exact (folded) words in the title score higher than other forms
            should.append(
                {
                    "simple_query_string": {
                        "query": " ".join(plan.exact),
                        "fields": EXACT_FIELDS,
                        "default_operator": "or",
                        "flags": "WHITESPACE",
                    }
                }
            )
    filters: list[dict[str, Any]] = []
    for name, values in query.filters.items():
        if not values:
            continue  # an empty value list is no constraint
        if name not in FACETS:
            return None  # like a term query on an unmapped field: matches nothing
        filters.append({"terms": {FACETS[name]: list(values)}})
    for field, low, high in (
        ("published", query.published_from, query.published_to),
        ("start", query.start_from, query.start_to),
    ):
        bounds = {k: v.isoformat() for k, v in (("gte", low), ("lte", high)) if v is not None}
        if bounds:
            filters.append({"range": {field: bounds}})
    if query.near is not None:
        filters.append(
            {
                "geo_distance": {
                    "distance": f"{query.near.km}km",
                    "distance_type": "arc",
                    "geo": {"lat": query.near.lat, "lon": query.near.lon},
                }
            }
        )
    if query.collapse and query.after is not None:
        raise ValueError("collapse cannot be combined with a cursor")
    body: dict[str, Any] = {
        "query": {"bool": {"must": must or [{"match_all": {}}], "should": should, "filter": filters}},
        "sort": _sort_clause(query),
        "size": query.size,
        "_source": {"excludes": sorted({*DERIVED_FIELDS, *DISPLAY_FIELDS})},  # ~half the bytes of a hit
        "track_total_hits": True,
        "aggregations": {
            name: {
                "terms": {
                    "field": FACETS[name],
                    "size": query.facet_size,
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            }
            for name in wanted_facets(query)
        },
    }
    if query.after is not None:
        body["search_after"] = query.after
    else:
        body["from_"] = query.offset
    if query.collapse:
        body["collapse"] = {"field": "collapse_key"}
    return body


#: What a page of the API's hits takes from ``_source``: the id and the hit's display JSON
#: (:mod:`search.hits`); with highlighting also the texts to mark and their language.
PAGE_INCLUDES = ["id", HIT_FIELD]
PAGE_INCLUDES_HIGHLIGHT = ["id", HIT_FIELD, "language", MARKS_FIELD, "summary", "title"]


def page_search_body(query: SearchQuery, highlight: bool = False) -> dict[str, Any] | None:
    """:func:`build_search_body` for the API's hit list (``api.routers.search``): same query,
    sort and aggregations, with only the ``_source`` fields the page reads."""
    body = build_search_body(query)
    if body is not None:
        body["_source"] = {"includes": PAGE_INCLUDES_HIGHLIGHT if highlight else PAGE_INCLUDES}
    return body


#: The header of every ``_msearch`` body: the shard request cache on, also for bodies with
#: hits (by default it only keeps ``size`` 0 answers). It holds the query phase's answer
#: (top hit ids, total, aggregations; a few KB), dropped at the next refresh that changed
#: the index; the hits' ``_source`` is still fetched each time.
MSEARCH_HEADER: dict[str, Any] = {"request_cache": True}
MSEARCH_HEADER_LINE = orjson.dumps(MSEARCH_HEADER) + b"\n"


def merge_split(responses: list[dict[str, Any]]) -> dict[str, Any]:
    """One ``_search``-shaped answer from :func:`split_search`'s responses: total and
    aggregations from the counting request, hits from the page request."""
    if len(responses) == 1:
        return responses[0]
    counted, page = responses
    page["hits"]["total"] = counted["hits"]["total"]
    page["aggregations"] = counted.get("aggregations", {})
    return page


def split_search(
    body: dict[str, Any], timeout: str = DEFAULT_SEARCH_TIMEOUT, split_first_page: bool = False
) -> list[dict[str, Any]]:
    """A :func:`build_search_body` body as the ``_msearch`` bodies the backend sends.

    The rule (measured at 1,000,000 items, ``docs/search.md`` "One body or two"):

    * a **first page** (no ``from``, no ``search_after``) is **one** body: hits, total and
      facet aggregations in one pass over the matches. Sent with the request cache on
      (:data:`MSEARCH_HEADER`), so an exact repeat is answered from Elasticsearch's shard
      request cache until the next refresh that changed the index;
    * a **later page** of the same query is **two**: a counting body (``size`` 0: total and
      facets; the same for every page, so from the third page on it comes from the request
      cache) and a page body that does not count (``track_total_hits`` false, so Lucene may
      skip documents that cannot reach the top ``size``);
    * one body when there is nothing to count, only counting (``size`` 0), or collapsing
      (whose counts come from the same request).

    Splitting every query (``split_first_page``, the previous rule, kept for the bench's
    A/B) made Elasticsearch run a cold query twice: at 1M items ~30 % fewer queries/s.
    """
    body = {("from" if k == "from_" else k): v for k, v in body.items()}
    body["timeout"] = timeout
    aggregations = body.pop("aggregations", None)
    if not aggregations or body.get("collapse"):
        return [{**body, "aggregations": aggregations or {}}]
    counts = {
        "query": body["query"],
        "size": 0,
        "track_total_hits": True,
        "aggregations": aggregations,
        "timeout": timeout,
    }
    if body.get("size", 10) == 0:
        return [counts]
    if not split_first_page and not body.get("from") and "search_after" not in body:
        return [{**body, "aggregations": aggregations}]
    return [counts, {**body, "track_total_hits": False}]
