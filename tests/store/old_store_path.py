"""The store and publish steps as they were before they shared one transaction (commit 0af4f56).

Frozen here, on plain SQLAlchemy Core with ``conn.execute`` (no driver shortcuts), so that
tests/store/test_store_publish_once.py can store the same items both ways and compare every
stored value. Only change: the clock is a parameter (``now``), so both runs stamp the same times.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rdflib import URIRef
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ontology.cluster import Clusterer
from ontology.uris import cluster_iri
from pipeline.contracts import Outcome, SourceReport
from pipeline.map import MappedItem
from pipeline.store import base_of, cluster_items, content_hash, record_nt
from store.clusters import ensure_tables as ensure_cluster_tables
from store.ldes_models import LdesHeadRow, LdesMemberFacetRow, LdesMemberRow
from store.members import ensure_tables as ensure_member_tables
from store.members import member_facets, version_iri, version_nt
from store.models import RecordRow
from store.repository import Store, aware
from store.vocab_models import ClusterKeyRow, ClusterSignatureRow, UnmappedTagRow

_REC, _KEYS, _SIGS = RecordRow.__table__, ClusterKeyRow.__table__, ClusterSignatureRow.__table__
_MEM, _HEADS, _TAGS = LdesMemberRow.__table__, LdesHeadRow.__table__, UnmappedTagRow.__table__


def old_store_items(
    store: Store, items: list[MappedItem], report: SourceReport, raw: str | None, now: datetime
) -> None:
    """Cluster (reads in their own connections), save keys, unmapped tags, upsert: four transactions."""
    ensure_cluster_tables(store.engine)
    if items:
        base = base_of(items[0].iri)

        def lookup(keys):  # noqa: ANN001, ANN202
            with store.engine.connect() as conn:
                return dict(
                    conn.execute(
                        select(_KEYS.c.key, _KEYS.c.cluster).where(_KEYS.c.key.in_(list(keys)))
                    ).all()
                )

        def signatures(ids):  # noqa: ANN001, ANN202
            with store.engine.connect() as conn:
                rows = conn.execute(
                    select(_SIGS.c.cluster, _SIGS.c.signature).where(_SIGS.c.cluster.in_(list(ids)))
                )
                return {c: [int(v) for v in sig] for c, sig in rows}

        clusterer = Clusterer(lambda k: str(cluster_iri(base, k)), lookup=lookup, signatures=signatures)
        cluster_items(items, clusterer, base)
        ins = pg_insert if store.engine.dialect.name == "postgresql" else sqlite_insert
        with store.engine.begin() as conn:
            keys = [{"key": k[:600], "cluster": c} for k, c in clusterer.index.items()]
            conn.execute(ins(_KEYS).on_conflict_do_nothing(index_elements=[_KEYS.c.key]), keys)
            sigs = [{"cluster": c, "signature": [str(v) for v in s]} for c, s in clusterer.signatures.items()]
            if sigs:
                conn.execute(ins(_SIGS).on_conflict_do_nothing(index_elements=[_SIGS.c.cluster]), sigs)
        unmapped = {tag[:300]: str(item.iri)[:500] for item in items for tag in item.unmapped}
        if unmapped:
            with store.engine.begin() as conn:
                known = set(
                    conn.scalars(
                        select(_TAGS.c.tag).where(
                            _TAGS.c.source_id == report.source_id, _TAGS.c.tag.in_(list(unmapped))
                        )
                    )
                )
                new = [
                    {"source_id": report.source_id, "tag": t, "count": 1, "first_seen_at": now,
                     "last_seen_at": now, "example_item": e}
                    for t, e in unmapped.items() if t not in known
                ]  # fmt: skip
                if new:
                    conn.execute(insert(_TAGS), new)
                if known:
                    conn.execute(
                        update(_TAGS)
                        .where(_TAGS.c.source_id == bindparam("sid"), _TAGS.c.tag == bindparam("key"))
                        .values(count=_TAGS.c.count + 1, last_seen_at=bindparam("now")),
                        [{"sid": report.source_id, "key": t, "now": now} for t in known],
                    )
    with store.engine.begin() as conn:
        query = select(_REC.c.iri, _REC.c.content_hash).where(_REC.c.iri.in_([str(i.iri) for i in items]))
        known_hashes = dict(conn.execute(query).all())
        new, changed = [], []
        for item in items:
            iri, chash, graph = str(item.iri), content_hash(item), record_nt(item)
            stored = known_hashes.get(iri)
            if stored is None:
                new.append({"iri": iri, "source_id": report.source_id, "kind": item.kind, "native_id": item.native_id,
                            "content_hash": chash, "graph": graph, "raw_sha256": raw, "first_seen_at": now,
                            "updated_at": now, "indexed_hash": None})  # fmt: skip
                report.count(Outcome.NEW)
            elif stored == chash:
                report.count(Outcome.UNCHANGED)
            else:
                changed.append(
                    {"key": iri, "content_hash": chash, "graph": graph, "raw_sha256": raw, "updated_at": now}
                )
                report.count(Outcome.UPDATED)
            known_hashes[iri] = chash
        if new:
            conn.execute(insert(_REC), new)
        if changed:
            conn.execute(
                update(_REC)
                .where(_REC.c.iri == bindparam("key"))
                .values(content_hash=bindparam("content_hash"), graph=bindparam("graph"),
                        raw_sha256=bindparam("raw_sha256"), updated_at=bindparam("updated_at")),
                changed,
            )  # fmt: skip


def old_publish_items(
    store: Store, base: str, items: list[MappedItem], source_id: str, now: datetime
) -> None:
    """MemberLog.publish_many as it was: one transaction, INSERT ... RETURNING seq per member."""
    ensure_member_tables(store.engine)
    base = base.rstrip("/")
    with store.engine.begin() as s:
        heads = {
            iri: (seq, chash, bool(deleted))
            for iri, seq, chash, deleted in s.execute(
                select(_HEADS.c.item_iri, _HEADS.c.seq, _HEADS.c.content_hash, _HEADS.c.deleted).where(
                    _HEADS.c.item_iri.in_([str(i.iri) for i in items])
                )
            )
        }
        had_head = set(heads)
        todo = []
        for item in items:
            head = heads.get(str(item.iri))
            if head is not None and not head[2] and head[1] == content_hash(item):
                continue
            todo.append(item)
            heads[str(item.iri)] = (0, content_hash(item), False)
        if not todo:
            return
        ts = now.replace(microsecond=0)
        last = aware(s.scalar(select(_MEM.c.generated_at).order_by(_MEM.c.seq.desc()).limit(1)))
        ts = max(ts, last) if last is not None else ts
        rows, facets = [], []
        for item in todo:
            version = version_iri(base, str(item.iri), ts)
            while s.scalar(select(_MEM.c.seq).where(_MEM.c.version_iri == version)) or any(
                r["version_iri"] == version for r in rows
            ):
                ts += timedelta(seconds=1)
                version = version_iri(base, str(item.iri), ts)
            graph = item.content + item.provenance
            rows.append({"version_iri": version, "item_iri": str(item.iri), "generated_at": ts, "day": ts.strftime("%Y-%m-%d"),
                         "deleted": False, "content_hash": content_hash(item),
                         "graph": version_nt(graph, item.iri, URIRef(version), ts)})  # fmt: skip
            facets.append(member_facets(item.kind, source_id, graph, item.iri))  # type: ignore[arg-type]
        seqs = list(
            s.execute(insert(_MEM).returning(_MEM.c.seq, sort_by_parameter_order=True), rows).scalars()
        )
        s.execute(
            insert(LdesMemberFacetRow.__table__),
            [
                {"seq": q, "facet": f, "value": v[:500]}
                for q, vals in zip(seqs, facets, strict=True)
                for f, v in sorted(vals)
            ],
        )
        latest = {
            str(item.iri): {
                "seq": q,
                "content_hash": content_hash(item),
                "deleted": False,
                "source_id": source_id,
            }
            for q, item in zip(seqs, todo, strict=True)
        }
        new_heads = [{"item_iri": i, **v} for i, v in latest.items() if i not in had_head]
        old_heads = [{"key": i, **v} for i, v in latest.items() if i in had_head]
        if new_heads:
            s.execute(insert(_HEADS), new_heads)
        if old_heads:
            s.execute(
                update(_HEADS)
                .where(_HEADS.c.item_iri == bindparam("key"))
                .values(seq=bindparam("seq"), content_hash=bindparam("content_hash"),
                        deleted=bindparam("deleted"), source_id=bindparam("source_id")),
                old_heads,
            )  # fmt: skip
