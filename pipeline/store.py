"""Stage 5, store: cluster copies, write valid item graphs to the canonical store, count outcomes.

An item is *new*, *updated* (its content hash changed) or *unchanged*; unchanged items
are not rewritten, so their first harvest time and provenance stay as they were. Only the
content graph is hashed: provenance (fetch time, run) and derived statements (cluster) are not.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

from rdflib import URIRef
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from ontology.cluster import Clusterer, ClusterInput
from ontology.mapping.common import utc
from ontology.namespaces import INNONET, RDF
from ontology.triples import ItemGraph, sorted_nt_sha256
from ontology.uris import cluster_iri
from pipeline.contracts import Outcome, RawItem, RecordError, SourceReport
from pipeline.map import MappedItem
from store import clusters as cluster_store
from store.members import MemberLog, Publication
from store.repository import Store, upsert_records_on
from store.write_lock import take_write_lock

log = logging.getLogger("innonet.store")

#: ``store_and_publish`` transactions run again in this process, by reason ("integrity": another
#: writer stored one of the IRIs or versions first; "clusters": it stored one of the new cluster
#: keys for another cluster first), and batches that fell back to one item at a time ("one_by_one").
#: Parallel harvest batches share a store; bench/bench_ingest.py reports these per process.
RETRIES: Counter[str] = Counter()


class BatchHook(Protocol):
    """More writes that belong to a source's batch (the harvest's run record: pipeline/harvest.py)."""

    def in_transaction(self, conn: Connection, outcomes: list[Outcome]) -> None:
        """Write in the batch's transaction, knowing the items' outcomes (called again on a retry)."""

    def committed(self) -> None:
        """The transaction of the last ``in_transaction`` call has committed."""


class StaleClusters(Exception):  # noqa: N818 - a condition, not an error: the batch is clustered again
    """A concurrent writer stored one of this batch's new cluster keys for another cluster first."""


def content_hash(item: MappedItem) -> str:
    """Hash of the content graph's sorted N-Triples (no blank nodes are minted by our mapping).

    The lines are rdflib's own (ontology/triples.py), split as before, so stored hashes stay valid.
    """
    if isinstance(item.content, ItemGraph):
        return item.content.sorted_nt_sha256()  # computed once for store and publish
    return sorted_nt_sha256(item.content.serialize(format="nt"))


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


def uncluster_items(items: list[MappedItem]) -> None:
    """Take back what ``cluster_items`` added, before the batch is clustered again."""
    for item in items:
        for node in list(item.derived.objects(item.iri, INNONET.cluster)):
            item.derived.remove((item.iri, INNONET.cluster, node))
            item.derived.remove((node, RDF.type, INNONET.Cluster))


#: Namespace attribute access builds a new URIRef each time (a validity check): once here.
_IN_CLUSTER, _A, _CLUSTER = INNONET.cluster, RDF.type, INNONET.Cluster


def cluster_items(items: list[MappedItem], clusterer: Clusterer, base: str) -> None:
    """Add ``innonet:cluster`` to each item's derived graph; copies share one cluster IRI."""
    assigned = clusterer.assign_all([cluster_input(item.iri, item.raw) for item in items])
    for item, (cluster, _) in zip(items, assigned, strict=True):
        node = URIRef(cluster) if cluster.startswith("http") else cluster_iri(base, cluster)
        item.derived.add((item.iri, _IN_CLUSTER, node))
        item.derived.add((node, _A, _CLUSTER))


class StoredClusterer(Clusterer):
    """A ``Clusterer`` that remembers which keys and signatures it read from the store.

    ``save_clusters`` then writes only the rest (no second read of the same keys).
    """

    def __init__(self, store: Store, base: str, conn: Connection | None = None) -> None:
        self.stored_keys: set[str] = set()
        self.stored_signatures: set[str] = set()
        new_id: Callable[[str], str] = lambda key: str(cluster_iri(base, key))  # noqa: E731
        super().__init__(new_id, lookup=self._lookup_keys, signatures=self._lookup_signatures)
        self._engine: Any = conn if conn is not None else store.engine  # reads in the caller's transaction

    def _lookup_keys(self, keys: Iterable[str]) -> dict[str, str]:
        found = cluster_store.lookup_keys(self._engine, keys)
        self.stored_keys.update(found)
        return found

    def _lookup_signatures(self, ids: Iterable[str]) -> dict[str, list[int]]:
        found = cluster_store.lookup_signatures(self._engine, ids)
        self.stored_signatures.update(found)
        return found


def store_clusterer(store: Store, base: str, conn: Connection | None = None) -> StoredClusterer:
    """A clusterer that finds copies stored by earlier runs and mints cluster IRIs under ``base``."""
    cluster_store.ensure_tables(store.engine)
    return StoredClusterer(store, base, conn)


def rendered(item: MappedItem) -> tuple[str, list[str] | None, str]:
    """(record N-Triples, the member's lines, content hash) of a clustered item, each line rendered once.

    The record is content + provenance + derived, the member is made of content + provenance
    (``version_nt``), the hash is the content's: each graph's own lines joined in order without
    repeats, which is what summing the graphs and serialising wrote (a triple has one line and a
    line one triple), without building the sums and looking every triple up again in each.
    Graphs other than ``ItemGraph`` take rdflib's path (``record_nt``, ``content_hash``; member
    lines None: the member is rendered from its graph).
    """
    content, provenance, derived = item.content, item.provenance, item.derived
    if type(content) is not ItemGraph or type(provenance) is not ItemGraph or type(derived) is not ItemGraph:
        return record_nt(item), None, content_hash(item)
    content_lines = content.nt_lines()
    member = list(dict.fromkeys(content_lines + provenance.nt_lines()))
    record = "".join(dict.fromkeys(member + derived.nt_lines()))
    return record, member, content.sorted_nt_sha256()  # the content hash, kept on the graph


def record_rows(
    items: list[MappedItem],
    source_id: str,
    raw_sha256: str | None,
    lines: list[tuple[str, list[str] | None, str]] | None = None,
) -> list[dict[str, Any]]:
    """The records ``Store.upsert_records`` takes for these (clustered) items.

    ``lines``: the items' ``rendered`` forms, when the caller has them (publications uses them too).
    """
    lines = lines if lines is not None else [rendered(item) for item in items]
    return [
        {
            "iri": str(item.iri),
            "source_id": source_id,
            "kind": item.kind,
            "native_id": item.native_id,
            "graph_nt": graph_nt,
            "raw_sha256": raw_sha256,
            "content_hash": chash,
        }
        for item, (graph_nt, _, chash) in zip(items, lines, strict=True)
    ]


def publications(
    items: list[MappedItem], source_id: str, lines: list[tuple[str, list[str] | None, str]] | None = None
) -> list[Publication]:
    """The members ``MemberLog.publish_many`` takes for these items: content + provenance.

    The member's graph is given as its triples (for the facets) and its rendered lines.
    """
    lines = lines if lines is not None else [rendered(item) for item in items]
    return [
        Publication(
            item_iri=str(item.iri),
            kind=item.kind,
            source_id=source_id,
            graph=item.content + item.provenance if member is None else [*item.content, *item.provenance],
            content_hash=chash,
            lines=member,
        )
        for item, (_, member, chash) in zip(items, lines, strict=True)
    ]


def store_and_publish(
    store: Store,
    items: list[MappedItem],
    report: SourceReport,
    raw_sha256: str | None,
    base: str,
    page_size: int = 250,
    now: datetime | None = None,
    hook: BatchHook | None = None,
) -> list[str]:
    """Stages 5 and 7 for one source in ONE transaction: clusters, records, unmapped tags, members.

    A record and its member are written together, so a crash never leaves a stored record without
    its member (or cluster keys without records). The same rules and bytes as the earlier
    store-then-publish path in four transactions (tests/store/test_store_publish_once.py compares
    it with a frozen copy of that path on the corpus). A concurrent harvest that stores one of these IRIs or versions first
    (IntegrityError) makes the writes run again on a fresh read; the clustering itself is not
    redone, unless that harvest stored one of this batch's new cluster keys for another cluster
    (``StaleClusters``: clustered again, so copies of one story from parallel batches meet;
    tests/store/test_concurrent_store.py). Any other failure is logged and the items go one by one (``_one_by_one``), so one bad
    item stays alone and is reported as a RecordError. Returns the new members' version IRIs.

    ``hook``: its writes go into the same transaction, after the batch's (the harvest records the
    source's run there: one commit per source); when the batch goes one by one, it is not called.
    """
    if not items:
        return []
    base_iri = base_of(items[0].iri)
    cluster_store.ensure_tables(store.engine)
    member_log = MemberLog(store, base, page_size)
    clustered: StoredClusterer | None = None
    try:
        for _attempt in range(5):
            try:
                with store.engine.begin() as conn:
                    if clustered is None:  # reads of stored keys in this transaction
                        clusterer = store_clusterer(store, base_iri, conn)
                        cluster_items(items, clusterer, base_iri)
                        clustered = clusterer
                    outcomes, versions = _write(conn, member_log, clustered, items, report, raw_sha256, now)
                    if hook is not None:
                        hook.in_transaction(conn, outcomes)
                if hook is not None:
                    hook.committed()
                for outcome in outcomes:  # counted once the batch is committed
                    report.count(outcome)
                return versions
            except IntegrityError:
                RETRIES["integrity"] += 1
                continue  # another writer stored one of these IRIs or versions meanwhile: read again
            except StaleClusters:
                RETRIES["clusters"] += 1
                uncluster_items(items)  # cluster again on a fresh read, as if this writer came second
                clustered = None
        raise RuntimeError(f"could not store {len(items)} items after 5 attempts")
    except Exception as exc:  # noqa: BLE001 - fall back to one item at a time, so one bad item stays alone
        RETRIES["one_by_one"] += 1
        log.warning("source %s: storing %d items in one transaction failed (%s: %s); storing one by one",
                    report.source_id, len(items), type(exc).__name__, exc)  # fmt: skip
        if clustered is None:  # clustering itself failed: unclustered items are never stored
            raise
        return _one_by_one(store, member_log, clustered, items, report, raw_sha256, now)


def _write(
    conn: Connection,
    member_log: MemberLog,
    clusterer: StoredClusterer,
    items: list[MappedItem],
    report: SourceReport,
    raw_sha256: str | None,
    now: datetime | None,
) -> tuple[list[Outcome], list[str]]:
    """Every write of ``store_and_publish`` on one connection (the caller's transaction).

    Clustering read the stored keys before this transaction wrote (SQLite takes its write lock at
    the first write); a key a parallel batch stored since, for another cluster, makes the batch's
    clusters stale (two copies of one story would stay apart): ``StaleClusters`` rolls back.
    """
    # Rendered once for records and members, BEFORE the first write: SQLite holds its one write lock
    # from there to the commit, and parallel batches wait for it (bench_ingest --parallel). The
    # members most likely appended (new or changed items, by their heads) are rendered here too.
    lines = [rendered(item) for item in items]
    records = record_rows(items, report.source_id, raw_sha256, lines)
    entries = publications(items, report.source_id, lines)
    ready = member_log.prepare(conn, entries, now)
    take_write_lock(conn)  # SQLite: polled finely, instead of the busy handler's 1, 2, 5 ... ms sleeps
    taken = _save_clusters(conn, clusterer, items, report.source_id)
    if taken:
        raise StaleClusters(f"{len(taken)} new cluster keys were stored meanwhile, e.g. {taken[0]}")
    outcomes = upsert_records_on(conn, records, now)
    versions = member_log.publish_many_on(conn, entries, now, ready)
    return outcomes, [v for v in versions if v]


def _save_clusters(
    bind: Engine | Connection, clusterer: StoredClusterer, items: list[MappedItem], source_id: str
) -> list[str]:
    """A batch's new cluster keys and signatures, and its unmapped tags for the partner.

    Returns the new keys a concurrent writer stored first for another cluster (``save_clusters``).
    """
    taken = cluster_store.save_clusters(
        bind,
        clusterer.index,
        clusterer.signatures,
        stored_keys=clusterer.stored_keys,
        stored_signatures=clusterer.stored_signatures,
    )
    unmapped = {tag: str(item.iri) for item in items for tag in item.unmapped}
    if unmapped:
        cluster_store.record_unmapped(bind, source_id, unmapped)
    return taken


def _one_by_one(
    store: Store,
    member_log: MemberLog,
    clusterer: StoredClusterer,
    items: list[MappedItem],
    report: SourceReport,
    raw_sha256: str | None,
    now: datetime | None,
) -> list[str]:
    """After a failed batch: cluster keys first, then each item's record and member together.

    An item whose record or member cannot be written is a RecordError (stage ``store`` or
    ``publish``) and leaves nothing behind; the others are stored and published.
    """
    with store.engine.begin() as conn:
        _save_clusters(conn, clusterer, items, report.source_id)
    published: list[str] = []
    for item in items:
        stage = "store"
        try:
            with store.engine.begin() as conn:
                [outcome] = upsert_records_on(conn, record_rows([item], report.source_id, raw_sha256), now)
                stage = "publish"
                [version] = member_log.publish_many_on(conn, publications([item], report.source_id), now)
        except Exception as exc:  # noqa: BLE001 - one item's problem must not stop the others
            log.warning(
                "source %s: item %s not stored (%s): %s", report.source_id, item.native_id, stage, exc
            )
            report.fail_record(
                RecordError(
                    stage=stage,
                    source_id=report.source_id,
                    code=f"{stage}_failed",
                    message=f"{type(exc).__name__}: {exc}",
                    item=item.native_id,
                )
            )
            continue
        report.count(outcome)
        if version:
            published.append(version)
    return published
