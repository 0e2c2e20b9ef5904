"""Store side of clustering and tag mapping: persistent cluster keys and unmapped tags.

Kept apart from store/repository.py so the vocabulary work owns its tables; every call is one
transaction and idempotent (re-running a harvest adds nothing twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from store.models import Base
from store.vocab_models import ClusterKeyRow, ClusterSignatureRow, UnmappedTagRow

_READY: set[int] = set()
_TABLES = [UnmappedTagRow.__table__, ClusterKeyRow.__table__, ClusterSignatureRow.__table__]


def ensure_tables(engine: Engine) -> None:
    """Create this module's tables on a store made before they existed."""
    if id(engine) not in _READY:
        Base.metadata.create_all(engine, tables=_TABLES)  # type: ignore[arg-type]
        _READY.add(id(engine))


def lookup_keys(engine: Engine, keys: Iterable[str]) -> dict[str, str]:
    wanted = list(dict.fromkeys(keys))
    found: dict[str, str] = {}
    with Session(engine) as s:
        for i in range(0, len(wanted), 500):
            # Columns, not ORM objects: a batch asks for a few hundred keys.
            q = select(ClusterKeyRow.key, ClusterKeyRow.cluster).where(
                ClusterKeyRow.key.in_(wanted[i : i + 500])
            )
            for key, cluster in s.execute(q):
                found[key] = cluster
    return found


def lookup_signatures(engine: Engine, clusters: Iterable[str]) -> dict[str, list[int]]:
    table = ClusterSignatureRow.__table__
    with engine.connect() as conn:
        q = select(table.c.cluster, table.c.signature).where(table.c.cluster.in_(list(clusters)))
        return {cluster: [int(v) for v in signature] for cluster, signature in conn.execute(q)}


def save_clusters(engine: Engine, keys: dict[str, str], signatures: dict[str, list[int]]) -> None:
    """Remember new keys and signatures (existing ones are never reassigned)."""
    # Core executemany inserts (one statement per table), not one ORM object per key.
    with Session(engine) as s, s.begin():
        stored = {key[:600]: cluster for key, cluster in keys.items()}  # as the column keeps them
        known = set(lookup_keys(engine, stored))
        new_keys = {key: cluster for key, cluster in stored.items() if key not in known}
        if new_keys:
            s.execute(insert(ClusterKeyRow), [{"key": k, "cluster": c} for k, c in new_keys.items()])
        have = set(lookup_signatures(engine, signatures))
        new_signatures = [
            {"cluster": cluster, "signature": [str(v) for v in signature]}
            for cluster, signature in signatures.items()
            if cluster not in have
        ]
        if new_signatures:
            s.execute(insert(ClusterSignatureRow), new_signatures)


def record_unmapped(engine: Engine, source_id: str, tags: dict[str, str]) -> None:
    """Count each unmapped tag (tag -> an example item IRI) for the source's partner.

    One SELECT for the batch's tags, then executemany insert/update (not one ORM get per tag).
    """
    now = datetime.now(UTC)
    table = UnmappedTagRow.__table__
    wanted = {tag[:300]: example[:500] for tag, example in tags.items()}
    with engine.begin() as conn:
        known: set[str] = set()
        names = list(wanted)
        for i in range(0, len(names), 500):
            q = select(table.c.tag).where(table.c.source_id == source_id, table.c.tag.in_(names[i : i + 500]))
            known.update(conn.scalars(q))
        new = [
            {"source_id": source_id, "tag": tag, "count": 1, "first_seen_at": now, "last_seen_at": now,
             "example_item": example}
            for tag, example in wanted.items()
            if tag not in known
        ]  # fmt: skip
        if new:
            conn.execute(insert(table), new)
        if known:
            conn.execute(
                update(table)
                .where(table.c.source_id == bindparam("sid"), table.c.tag == bindparam("key"))
                .values(count=table.c.count + 1, last_seen_at=bindparam("now")),
                [{"sid": source_id, "key": tag, "now": now} for tag in known],
            )


def unmapped_tags(engine: Engine, source_id: str) -> list[UnmappedTagRow]:
    """A source's unmapped tags, most frequent first (what the partner should map next)."""
    with Session(engine) as s:
        q = (
            select(UnmappedTagRow)
            .where(UnmappedTagRow.source_id == source_id)
            .order_by(UnmappedTagRow.count.desc(), UnmappedTagRow.tag)
        )
        return list(s.scalars(q))
