"""Stage 3, map to RDF: raw items become item graphs in the shared vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rdflib import Graph, URIRef

from ontology.mapping.news import map_news, provenance
from pipeline.contracts import RawItem, RecordError, SourceSpec


@dataclass
class MappedItem:
    """An item's IRI, content graph (hashed for change detection) and provenance graph."""

    iri: URIRef
    native_id: str
    kind: str
    content: Graph
    provenance: Graph


def map_items(
    items: list[RawItem],
    source: SourceSpec,
    *,
    base: str,
    fetched_at: datetime,
    raw_sha256: str | None,
    mapping_version: str,
) -> tuple[list[MappedItem], list[RecordError]]:
    """Map every item; one that cannot be mapped is an error record, not a crash."""
    mapped: list[MappedItem] = []
    errors: list[RecordError] = []
    seen: set[URIRef] = set()
    for item in items:
        try:
            iri, content = map_news(item, source, base)
        except (ValueError, TypeError) as exc:
            errors.append(
                RecordError(
                    stage="map",
                    source_id=source.id,
                    code="mapping_failed",
                    message=str(exc),
                    item=item.native_id,
                )
            )
            continue
        if iri in seen:
            # Feeds sometimes repeat an entry; the first occurrence wins.
            continue
        seen.add(iri)
        mapped.append(
            MappedItem(
                iri,
                item.native_id,
                item.kind,
                content,
                provenance(iri, fetched_at, raw_sha256, mapping_version),
            )
        )
    return mapped, errors
