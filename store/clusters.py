"""Store side of clustering and tag mapping: persistent cluster keys and unmapped tags.

Kept apart from store/repository.py so the vocabulary work owns its tables; every call is one
transaction and idempotent (re-running a harvest adds nothing twice).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, literal_column, select
from sqlalchemy.orm import Session

from store.models import Base
from store.repository import dialect_insert, driver_executemany, driver_select_in
from store.vocab_models import ClusterKeyRow, ClusterSignatureRow, UnmappedTagRow

_READY: set[int] = set()
_TABLES = [UnmappedTagRow.__table__, ClusterKeyRow.__table__, ClusterSignatureRow.__table__]


def ensure_tables(engine: Engine) -> None:
    """Create this module's tables on a store made before they existed."""
    if id(engine) not in _READY:
        Base.metadata.create_all(engine, tables=_TABLES)  # type: ignore[arg-type]
        _READY.add(id(engine))


_KEYS = ClusterKeyRow.__table__
_SIGS = ClusterSignatureRow.__table__
# Statements built once (an expanding IN takes the list at execution): building a select per call
# was most of the SQLAlchemy time of a harvest's store step. Plain Core, so SQLite and PostgreSQL alike.
_LOOKUP_KEYS = select(_KEYS.c.key, _KEYS.c.cluster).where(_KEYS.c.key.in_(bindparam("keys", expanding=True)))
_LOOKUP_SIGNATURES = select(_SIGS.c.cluster, _SIGS.c.signature).where(
    _SIGS.c.cluster.in_(bindparam("clusters", expanding=True))
)


@contextmanager
def _transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """The caller's connection as it is (its transaction, its commit), or a new transaction."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.begin() as conn:
            yield conn


def lookup_keys(bind: Engine | Connection, keys: Iterable[str]) -> dict[str, str]:
    """Stored cluster of each key that has one (one query per 500 keys)."""
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    with _transaction(bind) as conn:
        return dict(driver_select_in(conn, _LOOKUP_KEYS, wanted))  # type: ignore[arg-type]


def lookup_signatures(bind: Engine | Connection, clusters: Iterable[str]) -> dict[str, list[int]]:
    wanted = list(dict.fromkeys(clusters))
    found: dict[str, list[int]] = {}
    if not wanted:
        return found
    with _transaction(bind) as conn:
        for i in range(0, len(wanted), 500):
            rows = conn.execute(_LOOKUP_SIGNATURES, {"clusters": wanted[i : i + 500]})
            found.update((cluster, [int(v) for v in signature]) for cluster, signature in rows)
    return found


def save_clusters(
    bind: Engine | Connection,
    keys: dict[str, str],
    signatures: dict[str, list[int]],
    *,
    stored_keys: Iterable[str] | None = None,
    stored_signatures: Iterable[str] | None = None,
) -> list[str]:
    """Remember new keys and signatures (existing ones are never reassigned).

    ``stored_keys``/``stored_signatures``: what the caller has just read from the store (the
    clusterer's lookups); those are left out before the store is asked which of the rest it has.

    Returns the new keys that a concurrent writer stored first for ANOTHER cluster (empty when
    every new key was inserted, which the insert's row count tells without a read): the caller's
    clustering read the store before that writer's commit and must be redone. Rows go in key order,
    so two PostgreSQL writers with shared keys wait for each other instead of deadlocking.
    """
    # Core executemany inserts (one statement per table), not one ORM object per key.
    read = {key[:600] for key in stored_keys or ()}
    candidates: dict[str, str] = {}
    for key, cluster in keys.items():
        key = key[:600]  # as the column keeps it (a later key with the same 600 characters wins)
        if key not in read:
            candidates[key] = cluster
    have_sigs = set(stored_signatures or ())
    sig_candidates = {c: sig for c, sig in signatures.items() if c not in have_sigs}
    if not candidates and not sig_candidates:
        return []
    new_keys = [{"key": k, "cluster": c} for k, c in sorted(candidates.items())]
    new_signatures = [
        {"cluster": cluster, "signature": list(map(str, signature))}
        for cluster, signature in sorted(sig_candidates.items())
    ]
    keys_stmt, sigs_stmt = _inserts(bind.dialect.name)
    with _transaction(bind) as conn:
        inserted = driver_executemany(conn, keys_stmt, new_keys)  # hundreds of string rows per batch
        driver_executemany(conn, sigs_stmt, new_signatures)  # JSON through its bind processor
        if inserted == len(new_keys):
            return []
        # Some key was there already: ours unless a concurrent writer's (it has committed: SQLite
        # holds our write lock now, PostgreSQL's ON CONFLICT waited for that writer's transaction).
        now_stored = lookup_keys(conn, candidates)
        return sorted(k for k, cluster in now_stored.items() if cluster != candidates[k])


def _inserts(dialect: str) -> tuple[Any, Any]:
    """Inserts that leave an existing key or signature as it is (no read first; safe against a
    concurrent harvest storing the same key): ON CONFLICT DO NOTHING on SQLite and PostgreSQL."""
    if dialect not in _CONFLICT_FREE:
        insert = dialect_insert(dialect)
        _CONFLICT_FREE[dialect] = (
            insert(_KEYS).on_conflict_do_nothing(index_elements=[_KEYS.c.key]),
            insert(_SIGS).on_conflict_do_nothing(index_elements=[_SIGS.c.cluster]),
        )
    return _CONFLICT_FREE[dialect]


_CONFLICT_FREE: dict[str, tuple[Any, Any]] = {}


def record_unmapped(bind: Engine | Connection, source_id: str, tags: dict[str, str]) -> None:
    """Count each unmapped tag (tag -> an example item IRI) for the source's partner.

    One upsert per tag in one executemany (no read first): a new tag is stored with count 1, this
    batch's time as first and last seen, and its example; a known one gets count + 1 and a new
    last seen time (first seen and example stay). Rows go in tag order, so two PostgreSQL writers
    with shared tags wait for each other instead of deadlocking.
    """
    now = datetime.now(UTC)
    wanted = {tag[:300]: example[:500] for tag, example in tags.items()}
    rows = [
        {"source_id": source_id, "tag": tag, "count": 1, "first_seen_at": now, "last_seen_at": now,
         "example_item": example}
        for tag, example in sorted(wanted.items())
    ]  # fmt: skip
    with _transaction(bind) as conn:
        driver_executemany(conn, _count_tags(bind.dialect.name), rows)


def _count_tags(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (source_id, tag) DO UPDATE: count + 1 and the last seen time."""
    if dialect not in _COUNT_TAGS:
        stmt = dialect_insert(dialect)(_TAGS)
        _COUNT_TAGS[dialect] = stmt.on_conflict_do_update(
            index_elements=[_TAGS.c.source_id, _TAGS.c.tag],
            # A literal SQL expression: a bound 1 would be a parameter the rows do not carry.
            set_={
                "count": literal_column("unmapped_tags.count + 1"),
                "last_seen_at": stmt.excluded.last_seen_at,
            },
        )
    return _COUNT_TAGS[dialect]


_TAGS = UnmappedTagRow.__table__
_COUNT_TAGS: dict[str, Any] = {}


def unmapped_tags(engine: Engine, source_id: str) -> list[UnmappedTagRow]:
    """A source's unmapped tags, most frequent first (what the partner should map next)."""
    with Session(engine) as s:
        q = (
            select(UnmappedTagRow)
            .where(UnmappedTagRow.source_id == source_id)
            .order_by(UnmappedTagRow.count.desc(), UnmappedTagRow.tag)
        )
        return list(s.scalars(q))
