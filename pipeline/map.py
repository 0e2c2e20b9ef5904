"""Stage 3, map to RDF: raw items become item graphs in the shared vocabulary.

Dispatch on ``RawItem.kind`` to one mapper per item type (ontology/mapping/). Each item yields a
*content* graph (hashed for change detection), a *provenance* graph and a *derived* graph
(cluster membership, which depends on other items); only the content is hashed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from rdflib import URIRef

from ontology.mapping.case import map_case
from ontology.mapping.common import MappingResult
from ontology.mapping.event import map_event
from ontology.mapping.news import map_news_item
from ontology.mapping.organisation import map_organisation
from ontology.mapping.provenance import run_provenance
from ontology.triples import ItemGraph
from pipeline.contracts import RawItem, RecordError, SourceSpec

Mapper = Callable[[RawItem, SourceSpec, str], MappingResult]
#: RawItem.kind -> mapper. A kind without a mapper is a RecordError, never a crash.
MAPPERS: dict[str, Mapper] = {
    "news": map_news_item,
    "event": map_event,
    "case": map_case,
    "organisation": map_organisation,
}


@dataclass
class MappedItem:
    """An item's IRI, content graph (hashed for change detection) and provenance graph."""

    iri: URIRef
    native_id: str
    kind: str
    content: ItemGraph
    provenance: ItemGraph
    #: Source tags (and case values) that map onto none of our concepts; recorded for the partner.
    unmapped: list[str] = field(default_factory=list)
    #: Derived statements (cluster membership): stored and published, not hashed.
    derived: ItemGraph = field(default_factory=ItemGraph)
    #: The raw item, for clustering (title, URL, dates) without re-reading the graph.
    raw: RawItem | None = None


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
    # What every item of this run shares in its provenance, looked up once for the batch.
    make_provenance = run_provenance(
        fetched_at, raw_sha256, mapping_version, base=base, source_id=source.id, network_id=source.network
    )
    for item in items:
        mapper = MAPPERS.get(item.kind)
        try:
            if mapper is None:
                raise ValueError(f"no mapping for item kind {item.kind!r}")
            result = mapper(item, source, base)
        except (ValueError, TypeError, KeyError) as exc:
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
        if result.iri in seen:
            # Feeds sometimes repeat an entry; the first occurrence wins.
            continue
        seen.add(result.iri)
        upstream = item.extra.get("network_chain")
        mapped.append(
            MappedItem(
                result.iri,
                item.native_id,
                item.kind,
                result.graph,
                make_provenance(result.iri, upstream if isinstance(upstream, list) else None, item.url),
                unmapped=result.unmapped,
                raw=item,
            )
        )
    return mapped, errors
