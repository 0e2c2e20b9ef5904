"""Stage 5, store: write valid item graphs to the canonical store, counting outcomes.

An item is *new*, *updated* (its content hash changed) or *unchanged*; unchanged items
are not rewritten, so their first harvest time and provenance stay as they were.
"""

from __future__ import annotations

import hashlib

from pipeline.contracts import SourceReport
from pipeline.map import MappedItem
from store.repository import Store


def content_hash(item: MappedItem) -> str:
    """Hash of the content graph's sorted N-Triples (no blank nodes are minted by our mapping)."""
    lines = sorted(line for line in item.content.serialize(format="nt").splitlines() if line.strip())
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def store_items(store: Store, items: list[MappedItem], report: SourceReport, raw_sha256: str | None) -> None:
    """Upsert every item and count the outcome in the report."""
    for item in items:
        graph = item.content + item.provenance
        outcome = store.upsert_record(
            iri=str(item.iri),
            source_id=report.source_id,
            kind=item.kind,
            native_id=item.native_id,
            graph_nt=graph.serialize(format="nt"),
            raw_sha256=raw_sha256,
            content_hash=content_hash(item),
        )
        report.count(outcome)
