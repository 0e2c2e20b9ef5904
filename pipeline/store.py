"""Stage 5, store: cluster copies, write valid item graphs to the canonical store, count outcomes.

An item is *new*, *updated* (its content hash changed) or *unchanged*; unchanged items
are not rewritten, so their first harvest time and provenance stay as they were. Only the
content graph is hashed: provenance (fetch time, run) and derived statements (cluster) are not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from rdflib import URIRef

from ontology.cluster import Clusterer, ClusterInput
from ontology.mapping.common import utc
from ontology.namespaces import INNONET, RDF
from ontology.triples import ItemGraph
from ontology.uris import cluster_iri
from pipeline.contracts import RawItem, SourceReport
from pipeline.map import MappedItem
from store import clusters as cluster_store
from store.repository import Store


def content_hash(item: MappedItem) -> str:
    """Hash of the content graph's sorted N-Triples (no blank nodes are minted by our mapping).

    The lines are rdflib's own (ontology/triples.py), split as before, so stored hashes stay valid.
    """
    if isinstance(item.content, ItemGraph):
        return item.content.sorted_nt_sha256()  # computed once for store and publish
    lines = sorted(line for line in item.content.serialize(format="nt").splitlines() if line.strip())
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def record_nt(item: MappedItem) -> str:
    """What the store keeps of an item: content, provenance and derived statements as N-Triples."""
    return (item.content + item.provenance + item.derived).serialize(format="nt")


def cluster_input(iri: URIRef, raw: RawItem | None) -> ClusterInput:
    """What clustering compares, from the raw item (cheaper than reading the graph back)."""
    if raw is None:
        return ClusterInput(str(iri))
    start = utc(raw.start, raw.timezone) if raw.start is not None else None
    return ClusterInput(
        str(iri),
        title=raw.title,
        summary=raw.summary,
        url=raw.url,
        start=start.isoformat() if start else None,
        place=raw.location_name,
        latitude=raw.latitude,
        longitude=raw.longitude,
    )


def base_of(iri: URIRef) -> str:
    return str(iri).split("/id/", 1)[0]


def cluster_items(items: list[MappedItem], clusterer: Clusterer, base: str) -> None:
    """Add ``innonet:cluster`` to each item's derived graph; copies share one cluster IRI."""
    assigned = clusterer.assign_all([cluster_input(item.iri, item.raw) for item in items])
    for item, (cluster, _) in zip(items, assigned, strict=True):
        node = URIRef(cluster) if cluster.startswith("http") else cluster_iri(base, cluster)
        item.derived.add((item.iri, INNONET.cluster, node))
        item.derived.add((node, RDF.type, INNONET.Cluster))


class StoredClusterer(Clusterer):
    """A ``Clusterer`` that remembers which keys and signatures it read from the store.

    ``save_clusters`` then writes only the rest (no second read of the same keys).
    """

    def __init__(self, store: Store, base: str) -> None:
        self.stored_keys: set[str] = set()
        self.stored_signatures: set[str] = set()
        new_id: Callable[[str], str] = lambda key: str(cluster_iri(base, key))  # noqa: E731
        super().__init__(new_id, lookup=self._lookup_keys, signatures=self._lookup_signatures)
        self._engine = store.engine

    def _lookup_keys(self, keys: Iterable[str]) -> dict[str, str]:
        found = cluster_store.lookup_keys(self._engine, keys)
        self.stored_keys.update(found)
        return found

    def _lookup_signatures(self, ids: Iterable[str]) -> dict[str, list[int]]:
        found = cluster_store.lookup_signatures(self._engine, ids)
        self.stored_signatures.update(found)
        return found


def store_clusterer(store: Store, base: str) -> StoredClusterer:
    """A clusterer that finds copies stored by earlier runs and mints cluster IRIs under ``base``."""
    cluster_store.ensure_tables(store.engine)
    return StoredClusterer(store, base)


def store_items(store: Store, items: list[MappedItem], report: SourceReport, raw_sha256: str | None) -> None:
    """Cluster, upsert every item, count the outcome and record unmapped tags for the partner."""
    if items:
        base = base_of(items[0].iri)
        clusterer = store_clusterer(store, base)
        cluster_items(items, clusterer, base)
        cluster_store.save_clusters(
            store.engine,
            clusterer.index,
            clusterer.signatures,
            stored_keys=clusterer.stored_keys,
            stored_signatures=clusterer.stored_signatures,
        )
        unmapped = {tag: str(item.iri) for item in items for tag in item.unmapped}
        if unmapped:
            cluster_store.record_unmapped(store.engine, report.source_id, unmapped)
    for item in items:
        # Render the provenance lines once on the graph itself: record_nt here and publish's
        # content + provenance are new graphs that copy cached lines, so each rendered them anew.
        item.provenance.nt_lines()
    outcomes = store.upsert_records(
        [
            {
                "iri": str(item.iri),
                "source_id": report.source_id,
                "kind": item.kind,
                "native_id": item.native_id,
                "graph_nt": record_nt(item),
                "raw_sha256": raw_sha256,
                "content_hash": content_hash(item),
            }
            for item in items
        ]
    )
    for outcome in outcomes:
        report.count(outcome)
