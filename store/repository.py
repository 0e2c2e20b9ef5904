"""Reads and writes of the canonical store, one transaction per call.

Every write is an upsert keyed by a stable id (source id, payload hash, item IRI), so
re-running a stage never duplicates anything, and a failed run never removes what an
earlier run stored.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

import store.partner_models  # noqa: F401  (registers the partner and health tables)
from pipeline.contracts import Outcome, Registry, SourceReport
from store.checkpoint import BackgroundCheckpoints
from store.models import (
    Base,
    FetchStateRow,
    HarvestRunRow,
    NetworkRow,
    RawPayloadRow,
    RecordRow,
    SourceRow,
)


def _now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; everything we store is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL and a busy timeout so the API can read while a harvest writes."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit no longer waits for an fsync (~0.7 ms each, one per source batch).
            # Durable against a crash of the process (the WAL is in the OS); an OS crash or power
            # loss can lose the last commits, never corrupt the database (docs/vocabulary.md "Speed").
            cur.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint every ~40 MB of WAL (10,000 pages) instead of ~4 MB: a harvest writes ~10 KB
            # per item, and each checkpoint's fsyncs were most of the commit time. An OS crash or power
            # loss can then lose up to ~40 MB of the last commits (docs/vocabulary.md "Speed").
            cur.execute("PRAGMA wal_autocheckpoint=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


#: Columns added after the first release: (table, column, SQL type) added to older stores.
_LATER_COLUMNS = (
    ("fetch_states", "retry_after_until", "TIMESTAMP"),
    ("fetch_states", "http_status", "INTEGER"),
    ("harvest_runs", "http_status", "INTEGER"),
    ("harvest_runs", "duration_ms", "INTEGER"),
)


def _add_missing_columns(engine: Engine) -> None:
    """Add fetch-state/history columns to a store created before they existed (no data changes)."""
    from sqlalchemy import inspect, text

    inspector = inspect(engine)
    for table, column, sql_type in _LATER_COLUMNS:
        if column not in {c["name"] for c in inspector.get_columns(table)}:
            with engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))


#: Indexes of older stores that no query reads: (table, index). Each cost a write per row (the
#: cluster key index: ~12 % of a cluster key insert, on a page of its own; 9-15 keys per new item).
_UNUSED_INDEXES = (("cluster_keys", "ix_cluster_keys_cluster"),)


def _drop_unused_indexes(engine: Engine) -> None:
    """Drop ``_UNUSED_INDEXES`` from a store created with them (no data changes), once: the first
    time the store is opened after the upgrade (docs/operations.md, "Upgrading").

    PostgreSQL: ``DROP INDEX CONCURRENTLY``, outside a transaction (autocommit), so the table's
    readers and writers are not queued behind an ACCESS EXCLUSIVE lock while the drop waits for
    the transactions using it; SQLite: a plain drop (the database's write lock, briefly).
    """
    from sqlalchemy import inspect, text

    inspector = inspect(engine)
    for table, index in _UNUSED_INDEXES:
        if inspector.has_table(table) and index in {i["name"] for i in inspector.get_indexes(table)}:
            if engine.dialect.name == "postgresql":
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {index}"))
            else:
                with engine.begin() as conn:
                    conn.execute(text(f"DROP INDEX IF EXISTS {index}"))


_DRIVER_SQL: dict[tuple[str, int], tuple[Any, str, tuple[str, ...] | None, dict[str, Any]]] = {}


def _driver_sql(conn: Connection, stmt: Any, keys: Sequence[str]) -> tuple[str, tuple[str, ...] | None, dict]:
    """The statement's SQL in the dialect's own parameter style, its parameter order (positional
    styles) and the bind processors of its typed parameters; compiled once per dialect."""
    key = (conn.dialect.name, id(stmt))
    cached = _DRIVER_SQL.get(key)
    if cached is None or cached[0] is not stmt:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup) if compiled.positional else None  # type: ignore[arg-type]
        processors = dict(compiled._bind_processors)  # noqa: SLF001 - SQLAlchemy's own per-type converters
        cached = _DRIVER_SQL[key] = (stmt, str(compiled), order, processors)
    return cached[1], cached[2], cached[3]


def driver_executemany(
    conn: Connection,
    stmt: Any,
    rows: Sequence[dict[str, Any]] | Sequence[tuple],
    columns: Sequence[str] | None = None,
) -> int:
    """``conn.execute(stmt, rows)`` straight to the driver's executemany: the same stored values.

    ``columns``: the rows are tuples of these columns' values, in this order; with a positional
    parameter style in that order and no typed column they go to the driver as they are (no dict
    made per row and taken apart again), otherwise they become dicts first.

    SQLAlchemy processes every parameter set in Python (~6 µs a row, plus per-statement setup);
    here the statement is compiled once per dialect, with the dialect's own parameter style
    (SQLite ``?``, psycopg ``%(name)s``), and only the typed columns go through SQLAlchemy's own
    bind processors (e.g. a datetime on SQLite becomes the same text ``conn.execute`` writes).
    Returns the driver's row count, summed over the rows (sqlite3 and psycopg both sum it; an
    ON CONFLICT DO NOTHING row that found its key taken counts 0), -1 if the driver cannot tell.
    """
    if not rows:
        return 0
    if columns is not None:
        sql, order, processors = _driver_sql(conn, stmt, columns)
        if order == tuple(columns) and not processors:
            return driver_execute(conn, sql, rows, many=True)
        rows = [dict(zip(columns, row, strict=True)) for row in rows]
    sql, order, processors = _driver_sql(conn, stmt, list(rows[0]))  # type: ignore[arg-type]
    if order is None:  # named parameters (psycopg): the dicts themselves
        if processors:
            rows = [{k: (processors[k](v) if k in processors else v) for k, v in row.items()} for row in rows]
        return driver_execute(conn, sql, list(rows), many=True)
    pick = itemgetter(*order)
    params: list[Any] = [pick(row) for row in rows] if len(order) > 1 else [(row[order[0]],) for row in rows]
    typed = [(i, processors[name]) for i, name in enumerate(order) if name in processors]
    if typed:
        # A batch stamps its rows with one time: each typed column converts a value it has just
        # converted (the same object) once.
        memo: dict[int, tuple[Any, Any]] = {}
        converted = []
        for values in params:
            row = list(values)
            for i, process in typed:
                value = row[i]
                last = memo.get(i)
                if last is None or last[0] is not value:
                    last = memo[i] = (value, process(value))
                row[i] = last[1]
            converted.append(tuple(row))
        params = converted
    return driver_execute(conn, sql, params, many=True)


def driver_execute(conn: Connection, sql: str, params: Any, *, many: bool) -> Any:
    """Run SQL in the driver's style on a cursor of ``conn``'s own DBAPI connection (its transaction):
    the driver's summed row count (``many``), else the fetched rows as tuples.

    ``conn.exec_driver_sql`` set up an execution context and a result object per statement
    (~20 µs a select, ~10 µs an executemany, a dozen statements per harvested source). A driver
    error is raised as SQLAlchemy's, as ``exec_driver_sql`` raises it (an ``IntegrityError`` stays
    one, which the harvest's retries catch). An engine that logs its SQL (echo) or has cursor
    event listeners (tests that interleave writers, bench/ingest_parallel.py's lock clock) keeps
    ``exec_driver_sql``, so they see every statement.
    """
    if conn._echo or conn.dispatch.before_cursor_execute or conn.dispatch.after_cursor_execute:  # noqa: SLF001
        result = conn.exec_driver_sql(sql, params)
        return result.rowcount if many else [tuple(row) for row in result]
    dbapi = conn.dialect.loaded_dbapi
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, params)
            return cursor.rowcount
        cursor.execute(sql, params)
        return cursor.fetchall()
    except dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, dbapi.Error, dialect=conn.dialect) from exc
    finally:
        cursor.close()


_IN_SQL: dict[tuple[str, int], tuple[Any, str, str, str]] = {}
_POSTCOMPILE = re.compile(r"\(__\[POSTCOMPILE_(\w+)\]\)")


def driver_select_in(conn: Connection, stmt: Any, values: Sequence[Any], chunk: int = 500) -> list[tuple]:
    """Rows of ``stmt``, a select whose only parameter is one expanding IN, for ``values``.

    One query per ``chunk`` values, straight to the driver: SQLAlchemy's expansion of the IN list
    (``_process_parameters_for_postcompile``) cost more than the query. Only for columns whose
    values need no result processing (strings, integers).
    """
    if not values:
        return []
    key = (conn.dialect.name, id(stmt))
    cached = _IN_SQL.get(key)
    if cached is None or cached[0] is not stmt:
        sql = str(stmt.compile(dialect=conn.dialect))
        found = _POSTCOMPILE.search(sql)
        if found is None or "?" in sql.replace(found.group(0), "") or "%(" in sql:
            raise ValueError("driver_select_in: the statement must have exactly one expanding parameter")
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        cached = _IN_SQL[key] = (stmt, sql[: found.start()], sql[found.end() :], mark)
    _, head, tail, mark = cached
    rows: list[tuple] = []
    for i in range(0, len(values), chunk):
        part = tuple(values[i : i + chunk])
        sql = f"{head}({', '.join([mark] * len(part))}){tail}"
        rows.extend(driver_execute(conn, sql, part, many=False))
    return rows


_RECORDS = RecordRow.__table__
# Built once: statement construction (coercions) cost more than SQLite's work for a source's batch.
_RECORD_HASHES = select(_RECORDS.c.iri, _RECORDS.c.content_hash).where(
    _RECORDS.c.iri.in_(bindparam("iris", expanding=True))
)
_INSERT_RECORDS = insert(_RECORDS)
_UPDATE_RECORDS = (
    update(_RECORDS)
    .where(_RECORDS.c.iri == bindparam("key"))
    .values(
        content_hash=bindparam("content_hash"),
        graph=bindparam("graph"),
        raw_sha256=bindparam("raw_sha256"),
        updated_at=bindparam("updated_at"),
    )
)


def upsert_records_on(
    conn: Connection, records: Sequence[dict[str, Any]], now: datetime | None = None
) -> list[Outcome]:
    """``Store.upsert_records``' work inside the caller's transaction (no retry, no commit).

    One SELECT per 500 IRIs, then one driver executemany for the new and one for the changed
    records (statements built once, see ``driver_executemany``). ``now``: the time stamped on
    new and changed records (default: the current time).
    """
    now = now or _now()
    known: dict[str, str] = dict(driver_select_in(conn, _RECORD_HASHES, [r["iri"] for r in records]))  # type: ignore[arg-type]
    outcomes: list[Outcome] = []
    new, changed = [], []
    for r in records:
        stored = known.get(r["iri"])
        if stored is None:
            new.append(
                {
                    "iri": r["iri"], "source_id": r["source_id"], "kind": r["kind"],
                    "native_id": r["native_id"], "content_hash": r["content_hash"],
                    "graph": r["graph_nt"], "raw_sha256": r["raw_sha256"],
                    "first_seen_at": now, "updated_at": now, "indexed_hash": None,
                }
            )  # fmt: skip
            known[r["iri"]] = r["content_hash"]  # a repeated IRI in the batch is then unchanged
            outcomes.append(Outcome.NEW)
        elif stored == r["content_hash"]:
            outcomes.append(Outcome.UNCHANGED)
        else:
            changed.append(
                {
                    "key": r["iri"], "content_hash": r["content_hash"], "graph": r["graph_nt"],
                    "raw_sha256": r["raw_sha256"], "updated_at": now,
                }
            )  # fmt: skip
            known[r["iri"]] = r["content_hash"]
            outcomes.append(Outcome.UPDATED)
    driver_executemany(conn, _INSERT_RECORDS, new)
    driver_executemany(conn, _UPDATE_RECORDS, changed)
    return outcomes


def dialect_insert(dialect: str) -> Any:
    """The dialect's ``insert`` construct, which has ON CONFLICT (SQLite and PostgreSQL only; the
    store's upserts here and in store/clusters.py)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise ValueError(f"unsupported database dialect for the store: {dialect}")
    return insert


_RUNS, _STATES = HarvestRunRow.__table__, FetchStateRow.__table__
_INSERT_RUN = insert(_RUNS)
_SAVE_STATE: dict[tuple[str, bool, bool, bool], Any] = {}


def _save_state(dialect: str, ok: bool, validators: bool, retry: bool) -> Any:
    """The fetch-state upsert for one kind of run, built once per dialect and kind.

    Inserts the state of a source that has none; else sets what the run changes: always its
    time, status, error, message and counts; the HTTP status and Retry-After unless the run was
    deferred by one (``retry``); on success the success time, the failure count back to 0 and,
    for a fetched body (``validators``), the ETag and Last-Modified; on failure the count + 1.
    """
    key = (dialect, ok, validators, retry)
    if key not in _SAVE_STATE:
        stmt = dialect_insert(dialect)(_STATES)
        columns = ["last_attempt_at", "status", "error_code", "message", "counts"]
        columns += ["http_status", "retry_after_until"] if not retry else []
        columns += ["last_success_at", "consecutive_failures"] if ok else []
        columns += ["etag", "last_modified"] if ok and validators else []
        changes: dict[str, Any] = {c: stmt.excluded[c] for c in columns}
        if not ok:  # a literal SQL expression: the rows carry 1, the stored count is what counts
            changes["consecutive_failures"] = literal_column(
                "COALESCE(fetch_states.consecutive_failures, 0) + 1"
            )
        _SAVE_STATE[key] = stmt.on_conflict_do_update(index_elements=[_STATES.c.source_id], set_=changes)
    return _SAVE_STATE[key]


def save_run_on(
    conn: Connection,
    report: SourceReport,
    etag: str | None = None,
    last_modified: str | None = None,
    *,
    http_status: int | None = None,
    duration_ms: int | None = None,
    retry_after_s: float | None = None,
) -> None:
    """Record one source's run in its history and update its current state, in ``conn``'s transaction.

    A Retry-After (seconds) becomes ``retry_after_until``, which the next run honours; a run
    deferred by it (``retry_later``) leaves it as it was. Two driver statements (the run row, one
    fetch-state upsert; no read first): the ORM's get + merge + flush cost ~0.4 ms per source.
    """
    ok = report.status in ("ok", "partial", "not_modified")
    retry = report.error_code == "retry_later"
    validators = ok and report.status != "not_modified"
    attempt = report.finished_at or _now()
    counts = dict(report.counts)
    run = {
        "source_id": report.source_id, "started_at": report.started_at, "finished_at": report.finished_at,
        "status": report.status, "error_code": report.error_code, "message": report.message,
        "counts": counts, "errors": [e.model_dump(mode="json") for e in report.errors[:200]],
        "http_status": http_status, "duration_ms": duration_ms,
    }  # fmt: skip
    state = {
        "source_id": report.source_id, "last_attempt_at": attempt, "status": report.status,
        "error_code": report.error_code, "message": report.message, "counts": counts,
        "consecutive_failures": 0 if ok else 1,
        "http_status": None if retry else http_status,
        "retry_after_until": (attempt + timedelta(seconds=retry_after_s)) if retry_after_s and not retry else None,
        "last_success_at": attempt if ok else None,
        "etag": etag if validators else None,
        "last_modified": last_modified if validators else None,
    }  # fmt: skip
    driver_executemany(conn, _INSERT_RUN, [run])
    driver_executemany(conn, _save_state(conn.dialect.name, ok, validators, retry), [state])


#: What a successful run sets in a source's fetch state that a failed run leaves as it was.
_SUCCESS_ONLY = ("etag", "last_modified", "last_success_at", "consecutive_failures")
_READ_SUCCESS_ONLY = select(*(_STATES.c[c] for c in _SUCCESS_ONLY)).where(
    _STATES.c.source_id == bindparam("source_id")
)
_NEVER_SUCCEEDED = {"etag": None, "last_modified": None, "last_success_at": None, "consecutive_failures": 0}


def success_only_state_on(conn: Connection, source_id: str) -> dict[str, Any]:
    """The fetch-state columns a successful run changes and a failed one keeps, as they are in
    ``conn``'s transaction (before a run is written): what ``replace_run_on`` puts back."""
    row = conn.execute(_READ_SUCCESS_ONLY, {"source_id": source_id}).first()
    return dict(row._mapping) if row is not None else dict(_NEVER_SUCCEEDED)


def replace_run_on(
    conn: Connection,
    written: SourceReport,
    before: dict[str, Any],
    report: SourceReport,
    etag: str | None = None,
    last_modified: str | None = None,
    **http: Any,
) -> None:
    """Replace a committed run (``written``, with the fetch state's ``before`` values read in its
    transaction: ``success_only_state_on``) by ``report``, as if only ``report`` had been written.

    For a source that fails after its run was committed with its items: one run row, and a failed
    run's state keeps the earlier ETag and Last-Modified, so the next harvest fetches it in full.
    """
    runs = _RUNS.c
    conn.execute(
        delete(_RUNS).where(runs.source_id == written.source_id, runs.finished_at == written.finished_at)
    )
    conn.execute(update(_STATES).where(_STATES.c.source_id == written.source_id).values(**before))
    save_run_on(conn, report, etag, last_modified, **http)


#: At most this many bytes of recently archived bodies stay in a Store's memory for ``payload``: a
#: harvest archives each body as the crawler hands it over and parses it right after (the largest
#: corpus feed is 1.6 MB); re-reading it from the database cost ~0.9 ms per source.
RECENT_PAYLOAD_BYTES = 32 * 2**20

_RAW = RawPayloadRow.__table__
_PAYLOAD_BODY = select(_RAW.c.body).where(_RAW.c.sha256.in_(bindparam("sha256", expanding=True)))
_INSERT_PAYLOAD: dict[str, Any] = {}


def _insert_payload(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (sha256) DO NOTHING for the dialect (SQLite or PostgreSQL), built once."""
    if dialect not in _INSERT_PAYLOAD:
        _INSERT_PAYLOAD[dialect] = dialect_insert(dialect)(_RAW).on_conflict_do_nothing(
            index_elements=[_RAW.c.sha256]
        )
    return _INSERT_PAYLOAD[dialect]


class Store:
    """The store behind one database URL."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        Base.metadata.create_all(self.engine)
        _add_missing_columns(self.engine)
        _drop_unused_indexes(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: Bodies archived by this process lately, by hash (``save_payload``, ``payload``).
        self._recent: OrderedDict[str, bytes] = OrderedDict()
        self._recent_bytes = 0
        self._checkpoints: BackgroundCheckpoints | None = None

    def session(self) -> Session:
        return self._sessions()

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.stop()
            self._checkpoints = None
        self.engine.dispose()

    def checkpoint_in_background(self) -> None:
        """A SQLite file store's WAL checkpoints in a thread of this process until ``close``
        (store/checkpoint.py): for the harvest, whose commits otherwise wait for them."""
        url = self.engine.url
        if (
            self._checkpoints is None
            and url.get_backend_name() == "sqlite"
            and url.database not in (None, "", ":memory:")
        ):
            self._checkpoints = BackgroundCheckpoints(url.database).start()

    # --- registry -------------------------------------------------------------------------------
    def sync_registry(self, registry: Registry) -> None:
        """Insert or update networks and sources from the registry (removal is explicit, not here)."""
        with self.session() as s, s.begin():
            for n in registry.networks:
                s.merge(NetworkRow(id=n.id, name=n.name, homepage=n.homepage, country=n.country))
            s.flush()
            for src in registry.sources:
                s.merge(
                    SourceRow(
                        id=src.id,
                        network_id=src.network,
                        title=src.title,
                        url=src.url,
                        platform=src.platform,
                        kind=src.kind,
                        language=src.language,
                        licence=src.licence,
                        paused=src.paused,
                    )
                )

    def network(self, network_id: str) -> NetworkRow | None:
        with self.session() as s:
            return s.get(NetworkRow, network_id)

    def source(self, source_id: str) -> SourceRow | None:
        with self.session() as s:
            return s.get(SourceRow, source_id)

    # --- fetch state ----------------------------------------------------------------------------
    def fetch_state(self, source_id: str) -> FetchStateRow | None:
        with self.session() as s:
            return s.get(FetchStateRow, source_id)

    def fetch_states(self) -> list[FetchStateRow]:
        with self.session() as s:
            return list(s.scalars(select(FetchStateRow).order_by(FetchStateRow.source_id)))

    def save_run(
        self,
        report: SourceReport,
        etag: str | None = None,
        last_modified: str | None = None,
        *,
        http_status: int | None = None,
        duration_ms: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        """Record one source's run in its history and update its current state (``save_run_on``,
        in a transaction of its own)."""
        with self.engine.begin() as conn:
            save_run_on(
                conn, report, etag, last_modified,
                http_status=http_status, duration_ms=duration_ms, retry_after_s=retry_after_s,
            )  # fmt: skip

    def runs(self, source_id: str, limit: int = 20) -> list[HarvestRunRow]:
        with self.session() as s:
            q = (
                select(HarvestRunRow)
                .where(HarvestRunRow.source_id == source_id)
                .order_by(HarvestRunRow.id.desc())
                .limit(limit)
            )
            return list(s.scalars(q))

    # --- raw payloads ---------------------------------------------------------------------------
    def save_payload(self, body: bytes, url: str, content_type: str | None) -> str:
        """Store a body once by its SHA-256; returns the hash.

        One INSERT ... ON CONFLICT DO NOTHING (no read first; a body fetched again, or archived by a
        parallel batch meanwhile, stays as it was). Once committed, the body is also kept in this
        process's ``_recent`` for ``payload``: the harvest parses what it has just archived.
        """
        digest = hashlib.sha256(body).hexdigest()
        row = {
            "sha256": digest, "size": len(body), "content_type": content_type, "url": url,
            "first_fetched_at": _now(), "body": body,
        }  # fmt: skip
        with self.engine.begin() as conn:
            driver_executemany(conn, _insert_payload(conn.dialect.name), [row])
        self._remember(digest, body)
        return digest

    def payload(self, sha256: str) -> bytes | None:
        """The archived body with this hash (None if there is none).

        A body this process archived lately comes from ``_recent`` (the same bytes: the key is
        their hash, and they were committed first); the rest is one select straight to the driver.
        """
        body = self._recent.get(sha256)
        if body is not None:
            self._recent.move_to_end(sha256)
            return body
        with self.engine.connect() as conn:
            rows = driver_select_in(conn, _PAYLOAD_BODY, [sha256])
        return bytes(rows[0][0]) if rows else None

    def _remember(self, sha256: str, body: bytes) -> None:
        """Keep a just-archived body for ``payload``, within ``RECENT_PAYLOAD_BYTES`` (oldest out first)."""
        if len(body) > RECENT_PAYLOAD_BYTES or sha256 in self._recent:
            return
        self._recent[sha256] = body
        self._recent_bytes += len(body)
        while self._recent_bytes > RECENT_PAYLOAD_BYTES:
            self._recent_bytes -= len(self._recent.popitem(last=False)[1])

    # --- records --------------------------------------------------------------------------------
    def upsert_record(
        self,
        *,
        iri: str,
        source_id: str,
        kind: str,
        native_id: str,
        graph_nt: str,
        raw_sha256: str | None,
        content_hash: str,
    ) -> Outcome:
        """Insert or update one item; unchanged content is not rewritten (``upsert_records`` of one)."""
        record = {
            "iri": iri, "source_id": source_id, "kind": kind, "native_id": native_id,
            "graph_nt": graph_nt, "raw_sha256": raw_sha256, "content_hash": content_hash,
        }  # fmt: skip
        return self.upsert_records([record])[0]

    def upsert_records(self, records: Sequence[dict[str, Any]]) -> list[Outcome]:
        """``upsert_record`` for a whole batch in one transaction: one SELECT per 500 IRIs, executemany.

        Each record is a dict of ``upsert_record``'s keyword arguments; outcomes come back in order.
        A concurrent writer that inserts one of the IRIs first makes the batch read again (retry).
        """
        if not records:
            return []
        for _attempt in range(5):
            try:
                return self._upsert_records(records)
            except IntegrityError:
                continue  # another writer inserted one of these IRIs meanwhile: read again
        raise RuntimeError(f"could not store {len(records)} records after 5 attempts")

    def _upsert_records(self, records: Sequence[dict[str, Any]]) -> list[Outcome]:
        with self.engine.begin() as conn:
            return upsert_records_on(conn, records)

    def record(self, iri: str) -> RecordRow | None:
        with self.session() as s:
            row = s.get(RecordRow, iri)
            if row is not None:
                row.first_seen_at = aware(row.first_seen_at)  # type: ignore[assignment]
                row.updated_at = aware(row.updated_at)  # type: ignore[assignment]
            return row

    def count_records(self, source_id: str | None = None) -> int:
        from sqlalchemy import func

        with self.session() as s:
            q = select(func.count()).select_from(RecordRow)
            if source_id:
                q = q.where(RecordRow.source_id == source_id)
            return int(s.scalar(q) or 0)

    def records_to_index(self, batch: int = 500, all_records: bool = False) -> Iterable[list[RecordRow]]:
        """Records whose indexed version differs from the stored one, in batches (keyset paging)."""
        last = ""
        while True:
            with self.session() as s:
                q = select(RecordRow).where(RecordRow.iri > last).order_by(RecordRow.iri).limit(batch)
                if not all_records:
                    q = q.where(
                        (RecordRow.indexed_hash.is_(None))
                        | (RecordRow.indexed_hash != RecordRow.content_hash)
                    )
                rows = list(s.scalars(q))
            if not rows:
                return
            yield rows
            last = rows[-1].iri

    def mark_indexed(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Remember which content hash of each record the index now holds."""
        with self.session() as s, s.begin():
            for iri, content_hash in pairs:
                row = s.get(RecordRow, iri)
                if row is not None:
                    row.indexed_hash = content_hash
