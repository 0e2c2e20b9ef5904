"""Store side of clustering and tag mapping: persistent cluster keys and unmapped tags.

Kept apart from store/repository.py so the vocabulary work owns its tables; every call is one
transaction and idempotent (re-running a harvest adds nothing twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select
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
    with Session(engine) as s:
        q = select(ClusterSignatureRow).where(ClusterSignatureRow.cluster.in_(list(clusters)))
        return {row.cluster: [int(v) for v in row.signature] for row in s.scalars(q)}


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
    """Count each unmapped tag (tag -> an example item IRI) for the source's partner."""
    now = datetime.now(UTC)
    with Session(engine) as s, s.begin():
        for tag, example in tags.items():
            row = s.get(UnmappedTagRow, (source_id, tag[:300]))
            if row is None:
                s.add(
                    UnmappedTagRow(
                        source_id=source_id,
                        tag=tag[:300],
                        count=1,
                        first_seen_at=now,
                        last_seen_at=now,
                        example_item=example[:500],
                    )
                )
            else:
                row.count += 1
                row.last_seen_at = now


def unmapped_tags(engine: Engine, source_id: str) -> list[UnmappedTagRow]:
    """A source's unmapped tags, most frequent first (what the partner should map next)."""
    with Session(engine) as s:
        q = (
            select(UnmappedTagRow)
            .where(UnmappedTagRow.source_id == source_id)
            .order_by(UnmappedTagRow.count.desc(), UnmappedTagRow.tag)
        )
        return list(s.scalars(q))
