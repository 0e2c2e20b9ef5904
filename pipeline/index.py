"""Stage 6, index: project stored records onto search documents and bulk-upsert them.

Only records whose stored content differs from what the index holds are sent (the
store remembers the indexed content hash), so indexing is idempotent and cheap to
repeat. A document the backend refuses stays pending and is reported; the rest go in.
``rebuild=True`` re-sends everything (after a mapping change or into a fresh index).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rdflib import Graph

from pipeline.settings import Settings
from search import make_backend
from search.base import SearchBackend
from search.project import document_from_graph
from store.models import NetworkRow
from store.repository import Store


def index_records(
    store: Store,
    backend: SearchBackend,
    *,
    rebuild: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Index pending (or, with ``rebuild``, all) records; returns counts and errors."""
    with store.session() as s:
        networks = list(s.query(NetworkRow))
        names = {n.id: n.name for n in networks}
        countries = {n.id: n.country for n in networks}
    backend.ensure_index()
    indexed, errors = 0, []
    for rows in store.records_to_index(all_records=rebuild):
        docs = []
        for row in rows:
            g = Graph()
            g.parse(data=row.graph, format="nt")
            docs.append(document_from_graph(row.iri, g, names, countries))
        report = backend.upsert(docs)
        failed = {e.id for e in report.errors}
        errors.extend(e.model_dump() for e in report.errors)
        done = [(row.iri, row.content_hash) for row in rows if row.iri not in failed]
        store.mark_indexed(done)
        indexed += len(done)
        if progress:
            progress(len(rows))
    backend.refresh()
    return {"indexed": indexed, "failed": len(errors), "errors": errors[:100], "backend": backend.name}


def index_pending(settings: Settings, rebuild: bool = False) -> dict[str, Any]:
    """Index into the configured backend (the entry point for the CLI and Airflow)."""
    store = Store(settings.resolved_database_url)
    backend = make_backend(settings)
    try:
        return index_records(store, backend, rebuild=rebuild)
    finally:
        backend.close()
        store.close()
