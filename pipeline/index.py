"""Stage 6, index: project stored records onto search documents and bulk-upsert them.

Only records whose stored content differs from what the index holds are sent (the
store remembers the indexed content hash), so indexing is idempotent and cheap to
repeat. A document the backend refuses stays pending and is reported against its
source; the rest go in. ``rebuild=True`` is a real rebuild (:func:`rebuild_index`): on
Elasticsearch a new index filled from the store and an atomic alias swap
(:mod:`search.reindex`), then a catch-up of what changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from rdflib import Graph
from sqlalchemy import select

from pipeline.heap import fewer_collections
from pipeline.nt_read import read_record
from pipeline.settings import Settings
from search import make_backend
from search.base import SearchBackend
from search.documents import IndexError_, SearchDocument
from search.project import document_from_graph
from store.models import NetworkRow, RecordRow
from store.repository import Store


def _networks(store: Store) -> tuple[dict[str, str], dict[str, str | None]]:
    with store.session() as s:
        networks = list(s.query(NetworkRow))
    return {n.id: n.name for n in networks}, {n.id: n.country for n in networks}


def _documents(
    rows: list[RecordRow], names: dict[str, str], countries: dict[str, str | None]
) -> list[SearchDocument]:
    docs = []
    for row in rows:
        triples = read_record(row.graph)  # _documents ~3x faster than with rdflib's parser
        if triples is None:
            triples = Graph().parse(data=row.graph, format="nt")
        docs.append(document_from_graph(row.iri, triples, names, countries))  # type: ignore[arg-type]
    return docs


#: ``records.indexed_hash`` of an item that was withdrawn and removed from the index.
WITHDRAWN = "withdrawn"


def _withdrawn(store: Store) -> set[str]:
    """Items whose latest published version is an ``as:Delete`` (the member log decides)."""
    from store.ldes_models import LdesHeadRow
    from store.members import ensure_tables

    ensure_tables(store.engine)
    with store.session() as s:
        return set(s.scalars(select(LdesHeadRow.item_iri).where(LdesHeadRow.deleted.is_(True))))


def remove_withdrawn(store: Store, backend: SearchBackend, withdrawn: set[str]) -> int:
    """Delete withdrawn items from the index once, remembering it in the store; returns how many."""
    with store.session() as s:
        rows = (
            s.query(RecordRow.iri, RecordRow.indexed_hash).filter(RecordRow.iri.in_(withdrawn)).all()
            if withdrawn
            else []
        )
    todo = [iri for iri, indexed in rows if indexed != WITHDRAWN]
    if not todo:
        return 0
    report = backend.delete(todo)
    failed = {e.id for e in report.errors}
    store.mark_indexed([(iri, WITHDRAWN) for iri in todo if iri not in failed])
    return len(todo) - len(failed)


def _errors_with_source(errors: list[IndexError_], rows: list[RecordRow]) -> list[dict[str, Any]]:
    """Per-item failures, each recorded against the source its record came from."""
    source_of = {row.iri: row.source_id for row in rows}
    return [{**e.model_dump(), "source": source_of.get(e.id)} for e in errors]


def index_records(
    store: Store,
    backend: SearchBackend,
    *,
    rebuild: bool = False,
    progress: Callable[[int], None] | None = None,
    merge_timeout_s: float | None = None,
) -> dict[str, Any]:
    """Index pending records (or, with ``rebuild``, rebuild the index); returns counts and errors.

    ``merge_timeout_s``: the rebuild's force-merge limit (``Settings.es_merge_timeout_s``)."""
    if rebuild:
        return rebuild_index(store, backend, progress=progress, merge_timeout_s=merge_timeout_s)
    names, countries = _networks(store)
    backend.ensure_index()
    indexed, errors = 0, []
    withdrawn = _withdrawn(store)
    for batch in store.records_to_index(all_records=False):
        rows = [r for r in batch if r.iri not in withdrawn]
        if not rows:
            continue
        report = backend.upsert(_documents(rows, names, countries))
        failed = {e.id for e in report.errors}
        errors.extend(_errors_with_source(report.errors, rows))
        done = [(row.iri, row.content_hash) for row in rows if row.iri not in failed]
        store.mark_indexed(done)
        indexed += len(done)
        if progress:
            progress(len(rows))
    removed = remove_withdrawn(store, backend, withdrawn)
    backend.refresh()
    return {
        "indexed": indexed,
        "removed": removed,
        "failed": len(errors),
        "errors": errors[:100],
        "backend": backend.name,
    }


#: The youngest generation's threshold while a rebuild runs (CPython's default: 700; None: leave
#: it). A rebuild allocates and drops millions of containers (store rows, parsed triples, documents,
#: bulk lines) that almost all die by reference counting; at 700 the collector ran ~800 young and 6
#: full passes per 25,000 records, 39 us per record. At 50,000 (bench/bench_rebuild_gc.py, rebuild_index
#: from a store of corpus records, fresh process per run, 3 rounds): 2 young passes, none full, 3 us per
#: record, process CPU 444 -> 405 us per record; a one-time gc.freeze() (the harvest's way) gave 24 us.
REBUILD_GC_THRESHOLD0: int | None = 50_000


def rebuild_index(
    store: Store,
    backend: SearchBackend,
    progress: Callable[[int], None] | None = None,
    merge_timeout_s: float | None = None,
) -> dict[str, Any]:
    """Rebuild the whole index from the store.

    Elasticsearch: a new index, loaded while searches go on against the old one, an atomic
    alias swap, then every record updated since the rebuild began is sent again through
    the alias (the writes the old index took meanwhile). Embedded: the same records
    re-sent into the same file (it is the offline demo index; no swap needed). The garbage
    collector runs less often meanwhile (:data:`REBUILD_GC_THRESHOLD0`).
    """
    with fewer_collections(REBUILD_GC_THRESHOLD0):
        return _rebuild(store, backend, progress, merge_timeout_s)


def _rebuild(
    store: Store,
    backend: SearchBackend,
    progress: Callable[[int], None] | None,
    merge_timeout_s: float | None,
) -> dict[str, Any]:
    names, countries = _networks(store)
    began = datetime.now(UTC)
    errors: list[dict[str, Any]] = []
    indexed = 0
    rebuild = None
    if backend.name == "elasticsearch":
        from search.reindex import MERGE_TIMEOUT_S, AliasRebuild

        timeout = MERGE_TIMEOUT_S if merge_timeout_s is None else merge_timeout_s
        rebuild = AliasRebuild(backend, merge_timeout_s=timeout)  # type: ignore[arg-type]
        rebuild.begin()
    else:
        backend.ensure_index()
    try:
        withdrawn = _withdrawn(store)

        def prepared() -> Iterator[tuple[list[RecordRow], list[SearchDocument]]]:
            for batch in store.records_to_index(all_records=True):
                rows = [r for r in batch if r.iri not in withdrawn]
                if rows:
                    yield rows, _documents(rows, names, countries)

        # Elasticsearch: bulk chunks stay in flight across batches (the next batch is read from
        # the store and projected while the last one is indexed); each batch's report comes
        # back complete, so only what Elasticsearch accepted is marked indexed.
        reports = (
            rebuild.load_batches(prepared())
            if rebuild is not None
            else ((rows, backend.upsert(docs)) for rows, docs in prepared())
        )
        try:
            for rows, report in reports:
                errors.extend(_errors_with_source(report.errors, rows))
                failed = {e.id for e in report.errors}
                store.mark_indexed([(r.iri, r.content_hash) for r in rows if r.iri not in failed])
                indexed += len(rows) - len(failed)
                if progress:
                    progress(len(rows))
        finally:
            reports.close()  # on an early exit: the chunks in flight finish before any abort
    except BaseException:
        if rebuild is not None:
            rebuild.abort()
        raise
    if rebuild is not None:
        rebuild.swap()
    else:
        # the embedded index is rebuilt in place: withdrawn items must leave it too
        store.mark_indexed([(iri, "") for iri in withdrawn])
        remove_withdrawn(store, backend, withdrawn)
    # catch-up: records the harvest wrote while the new index was being loaded
    with store.session() as s:
        late = [r for r in s.query(RecordRow).filter(RecordRow.updated_at >= began) if r.iri not in withdrawn]
    if late:
        report = backend.upsert(_documents(late, names, countries))
        errors.extend(_errors_with_source(report.errors, late))
        failed = {e.id for e in report.errors}
        store.mark_indexed([(r.iri, r.content_hash) for r in late if r.iri not in failed])
    backend.refresh()
    return {"indexed": indexed, "failed": len(errors), "errors": errors[:100], "backend": backend.name}


def index_pending(settings: Settings, rebuild: bool = False) -> dict[str, Any]:
    """Index into the configured backend (the entry point for the CLI and Airflow)."""
    store = Store(settings.resolved_database_url)
    backend = make_backend(settings)
    try:
        return index_records(store, backend, rebuild=rebuild, merge_timeout_s=settings.es_merge_timeout_s)
    finally:
        backend.close()
        store.close()
