"""Parse + map + validate of a harvest's sources in worker processes, store in the parent.

Why: those three stages are pure functions of (source, fetched bytes, a few settings) and take
about half of a source's time; the store, clustering (stateful), publish and health bookkeeping
need the one store connection and stay in the parent. With a pool, source N+1 is parsed and
mapped on the second core while the parent stores source N (docs/vocabulary.md "Speed").

Sources keep their order: every fetched source enters one FIFO, and the parent finishes them in
arrival order, so reports, progress calls and stored outcomes are the same with and without
workers (tests/pipeline/test_workers.py). A followed stream (platform ``ldes``) maps against the
store's state and is prepared in the parent. Workers are started with ``forkserver`` (the
parent has threads; ``fork`` would copy their locks), import the mapping modules once and
``gc.freeze()`` what they loaded, so collections do not walk the vocabulary and shapes graphs.
"""

from __future__ import annotations

import copyreg
import gc
import multiprocessing
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rdflib import Literal, URIRef

from crawlers.platforms.feed import ParseOutcome
from pipeline.contracts import FetchResult, RecordError, SourceSpec
from pipeline.map import MappedItem, map_items
from pipeline.parse import parse_fetched
from pipeline.validate import validate_items

#: Modules the fork server imports once, so each worker starts with them loaded.
PRELOAD = ["pipeline.workers", "pipeline.map", "pipeline.validate", "pipeline.parse", "ontology.validation"]


@dataclass
class Prepared:
    """What parse + map + validate made of one fetched source (crosses the process boundary)."""

    parsed: ParseOutcome
    mapped: bool = False  # False: the source stops at parse (fatal, unreadable), as process_fetched does
    map_errors: list[RecordError] = field(default_factory=list)
    valid: list[MappedItem] = field(default_factory=list)
    invalid: list[RecordError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Payloads:
    """The ``store.payload`` reads parse needs, answered from bytes the parent sent along."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies

    def payload(self, sha256: str) -> bytes | None:
        return self.bodies.get(sha256)


def stops_at_parse(parsed: ParseOutcome) -> bool:
    """process_fetched's rule: a fatal or unreadable parse ends the source before mapping."""
    return bool(parsed.fatal) or (not parsed.items and bool(parsed.warnings) and not parsed.sources)


def prepare(
    source: SourceSpec,
    result: FetchResult,
    store: Any,
    defaults: dict[str, Any],
    base: str,
    mapping_version: str,
    mapper: Callable[..., Any] = map_items,
) -> Prepared:
    """Parse, map and validate one fetched source; ``store`` is only asked for payloads."""
    parsed = parse_fetched(store, source, result, defaults)
    if stops_at_parse(parsed):
        return Prepared(parsed)
    mapped, map_errors = mapper(
        parsed.items,
        source,
        base=base,
        fetched_at=result.fetched_at,
        raw_sha256=result.body_sha256,
        mapping_version=mapping_version,
    )
    valid, invalid, warnings = validate_items(mapped, source.id)
    return Prepared(parsed, True, map_errors, valid, invalid, warnings)


def _prepare_remote(
    source: SourceSpec,
    result: FetchResult,
    bodies: dict[str, bytes],
    defaults: dict[str, Any],
    base: str,
    mapping_version: str,
) -> Prepared:
    """In a worker: ``prepare``, plus the N-Triples lines and content hash the parent will need.

    Rendering them here (they travel with the pickled graphs) takes that work off the parent.
    """
    prepared = prepare(source, result, Payloads(bodies), defaults, base, mapping_version)
    for item in prepared.valid:
        item.content.sorted_nt_sha256()
        item.provenance.nt_lines()
    return prepared


def _uriref(value: str) -> URIRef:
    """A URIRef as it was in the worker: it was checked there, so no second check (plain ``str``)."""
    return str.__new__(URIRef, value)


def _literal(
    lexical: str, language: str | None, datatype: URIRef | None, value: Any, ill_typed: Any
) -> Literal:
    """A Literal with the worker's parsed value: rdflib's own pickling re-parses the lexical form
    (``Literal(lexical, lang, datatype)``), which cost the parent ~0.15 ms per item."""
    literal = str.__new__(Literal, lexical)
    literal._language, literal._datatype, literal._value, literal._ill_typed = (
        language,
        datatype,
        value,
        ill_typed,
    )
    return literal


def _reduce_uriref(term: URIRef) -> tuple[Any, tuple[str]]:
    return _uriref, (str(term),)


def _reduce_literal(term: Literal) -> tuple[Any, tuple[Any, ...]]:
    return _literal, (str(term), term._language, term._datatype, term._value, term._ill_typed)


def _ready() -> bool:
    return True


def _worker_init() -> None:
    """Load what every source needs once, then keep it out of the garbage collector's walks."""
    from ontology.validation import shapes_graph

    # Only in the worker (the results' sender): terms travel as their state, not re-parsed.
    copyreg.pickle(URIRef, _reduce_uriref)
    copyreg.pickle(Literal, _reduce_literal)
    shapes_graph()
    gc.collect()
    gc.freeze()


Finish = Callable[[SourceSpec, FetchResult, "Prepared | None", "BaseException | None"], None]


@dataclass
class _Entry:
    source: SourceSpec
    result: FetchResult
    future: Future[Prepared] | None
    queued_at: datetime | None = None


class SourceQueue:
    """Fetched sources in arrival order; prepared in workers when there are any, finished in order.

    ``finish(source, result, prepared, error)`` runs in the parent for every source, in the order
    they were put: ``prepared`` is None when the source is to be processed in the parent as before
    (no pool, a followed stream, a failed fetch, a broken pool); ``error`` is a worker's exception.
    """

    def __init__(
        self,
        finish: Finish,
        store: Any,
        *,
        workers: int,
        defaults: dict[str, Any],
        base: str,
        mapping_version: str,
    ) -> None:
        self.finish, self.store = finish, store
        self.defaults, self.base, self.mapping_version = defaults, base, mapping_version
        self.pending: deque[_Entry] = deque()
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self.started: list[Future[bool]] = []
        if workers > 0:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            self.pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init)
            # Start the workers now (a pool starts them at submit): their ~0.5-1 s start then overlaps
            # the crawler's start instead of delaying the first source.
            self.started = [self.pool.submit(_ready) for _ in range(workers)]
        #: Sources queued ahead of the parent: enough to keep every worker busy, few enough to bound memory.
        self.ahead = 2 * workers + 2

    def __enter__(self) -> SourceQueue:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _eligible(self, source: SourceSpec, result: FetchResult) -> bool:
        return (
            self.pool is not None
            and result.ok
            and not result.not_modified
            and source.platform != "ldes"  # maps against the stream state in the store
        )

    def put(self, source: SourceSpec, result: FetchResult) -> None:
        """Queue a fetched source (its preparation starts now) and finish whatever is ready."""
        future = None
        if self._eligible(source, result):
            shas = [result.body_sha256 or ""] + [p.body_sha256 for p in result.pages if p.body_sha256]
            bodies = {sha: body for sha in shas if (body := self.store.payload(sha)) is not None}
            try:
                assert self.pool is not None
                future = self.pool.submit(
                    _prepare_remote, source, result, bodies, self.defaults, self.base, self.mapping_version
                )
            except (BrokenProcessPool, RuntimeError):
                self.close()  # the pool is gone: this source and the next ones in the parent
        self.pending.append(_Entry(source, result, future))
        self._finish_ready(block=len(self.pending) > self.ahead)

    def drain(self) -> None:
        """Finish every queued source (waits for the workers)."""
        while self.pending:
            self._finish_next()

    def _finish_ready(self, block: bool) -> None:
        while self.pending:
            head = self.pending[0]
            if head.future is not None and not head.future.done() and not block:
                return
            self._finish_next()
            block = block and len(self.pending) > self.ahead

    def _finish_next(self) -> None:
        entry = self.pending.popleft()
        prepared: Prepared | None = None
        error: BaseException | None = None
        if entry.future is not None:
            try:
                prepared = entry.future.result()
            except BrokenProcessPool:
                self.close()  # a worker died (killed, out of memory): prepare in the parent
            except Exception as exc:  # noqa: BLE001 - reported on the source, as in the parent
                error = exc
        self.finish(entry.source, entry.result, prepared, error)
