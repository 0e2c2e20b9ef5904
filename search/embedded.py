"""The embedded search backend: SQLite FTS5 in one file, so the main job needs no server.

It keeps the semantics of :class:`search.base.SearchBackend` that Elasticsearch (the
reference) keeps; ``tests/search/test_contract.py`` runs the same tests against both.

Layout:

- ``documents``: one row per document, the :class:`SearchDocument` as JSON plus the facet
  columns and ``published`` as fixed-width ISO UTC text (so text order is time order).
  Its key is the document id; an ``INTEGER PRIMARY KEY`` alias ``n`` sits beside it
  because FTS5 joins on a rowid, and only an aliased rowid is stable across ``VACUUM``.
- ``documents_fts``: FTS5 over the text pre-analysed by :mod:`search.analysis` (the same
  tokens Elasticsearch's ``whitespace`` analyser indexes). ``unicode61`` with
  ``remove_diacritics 2`` only re-splits on whitespace here; ``tokenchars '_'`` keeps a
  token such as ``a_b`` whole, as ``\\w`` and Elasticsearch do.

Concurrency: one connection per thread (FastAPI calls from a thread pool), WAL mode so
a harvest in another process can write while the API reads, and a busy timeout for the
moments two writers meet.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from search.analysis import analysed, query_tokens, stemmed
from search.base import SearchBackend, SearchUnavailable, Unsupported
from search.documents import (
    FACET_FIELDS,
    FacetBucket,
    IndexError_,
    IndexReport,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
    Suggestion,
    wanted_facets,
)
from search.queries import TextPlan, distance_km, effective_sort, text_plan

#: Relevance weights of title, summary and body, folded then stemmed (the FTS5 columns' order).
COLUMN_WEIGHTS = (3.0, 2.0, 1.0, 3.0, 2.0, 1.0)
SCHEMA_VERSION = 2
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS documents (
        n INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL,
        published TEXT,
        start TEXT,
        lat REAL,
        lon REAL
    )
    """,
    "CREATE INDEX IF NOT EXISTS documents_published ON documents (published DESC, id)",
    "CREATE INDEX IF NOT EXISTS documents_start ON documents (start, id)",
    """
    CREATE TABLE IF NOT EXISTS facets (
        field TEXT NOT NULL,
        value TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (field, value, n)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS facets_n ON facets (n)",
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
        title_a, summary_a, body_a, title_s, summary_s, body_s,
        tokenize = "unicode61 remove_diacritics 2 tokenchars '_'"
    )
    """,
)
_FOLDED = "{title_a summary_a body_a}"
_STEMMED = "{title_s summary_s body_s}"


def fts_phrase(token: str) -> str:
    """One token as an FTS5 string: quoted, inner quotes doubled, so it is never syntax."""
    return '"' + token.replace('"', '""') + '"'


def fts_match_expression(tokens: Sequence[str]) -> str | None:
    """The MATCH expression requiring every token (FTS5's implicit AND), or None if none.

    Every token is quoted, so ``OR``, ``NEAR(...)``, ``*``, ``-``, ``^`` or ``col:`` in user
    text are matched as words (or dropped by analysis), never interpreted by FTS5.
    """
    quoted = [fts_phrase(t) for t in tokens if t]
    return " ".join(quoted) if quoted else None


def fts_plan_expression(plan: TextPlan) -> str | None:
    """The MATCH expression of a text plan: every group, any alternative, in its column set."""
    columns = _STEMMED if plan.stemmed else _FOLDED
    parts = [f"{columns} : ({' OR '.join(fts_phrase(a) for a in group)})" for group in plan.groups if group]
    return " AND ".join(parts) if parts else None


def published_key(value: datetime | None) -> str | None:
    """``published`` as fixed-width ISO UTC text, so SQLite's text order is time order.

    A naive datetime is taken as UTC, as Elasticsearch does with a date without zone.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


class EmbeddedBackend(SearchBackend):
    """SearchBackend on a SQLite file with FTS5 (stdlib ``sqlite3``)."""

    name = "embedded"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.ensure_index()

    # -- connections -------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        """This thread's connection (created on first use; autocommit, explicit transactions)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,  # close() may run on another thread
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.create_function("km", 4, distance_km, deterministic=True)
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"cannot open search index {self.path}: {exc}") from exc
        self._local.conn = conn
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction: IMMEDIATE for writes (no lock upgrade deadlock), a snapshot for reads."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"search index {self.path} busy or unreadable: {exc}") from exc
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise SearchUnavailable(f"search index {self.path}: commit failed: {exc}") from exc

    def close(self) -> None:
        """Close every thread's connection; a later call opens fresh ones."""
        with self._conns_lock:
            conns, self._conns = self._conns, []
            self._local = threading.local()
        for conn in conns:
            conn.close()

    # -- schema --------------------------------------------------------------------------

    def ensure_index(self) -> None:
        """Create the tables if missing (idempotent; also run on construction)."""
        try:
            with self._transaction(write=True) as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, SCHEMA_VERSION):
                    raise SearchUnavailable(
                        f"search index {self.path} has schema version {version}, expected "
                        f"{SCHEMA_VERSION}: rebuild it from the store"
                    )
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"cannot create search index {self.path}: {exc}") from exc

    # -- writes --------------------------------------------------------------------------

    def upsert(self, docs: Sequence[SearchDocument]) -> IndexReport:
        """Insert or replace by id; a bad document is reported and skipped, the rest go in."""
        report = IndexReport()
        try:
            with self._transaction(write=True) as conn:
                for i, raw in enumerate(docs):
                    conn.execute("SAVEPOINT doc")
                    try:
                        doc = _validated(raw)
                        self._write_one(conn, doc)
                    except Exception as exc:
                        if _is_whole_index_failure(exc):
                            raise
                        conn.execute("ROLLBACK TO doc")
                        conn.execute("RELEASE doc")
                        report.errors.append(IndexError_(id=_doc_id(raw, i), reason=_reason(exc)))
                        continue
                    conn.execute("RELEASE doc")
                    report.indexed += 1
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"search index {self.path}: upsert failed: {exc}") from exc
        return report

    @staticmethod
    def _write_one(conn: sqlite3.Connection, doc: SearchDocument) -> None:
        """Replace one document's row, facet rows and FTS row, keeping its rowid."""
        loc = doc.location
        row = conn.execute(
            """
            INSERT INTO documents (id, doc, published, start, lat, lon)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                doc = excluded.doc, published = excluded.published, start = excluded.start,
                lat = excluded.lat, lon = excluded.lon
            RETURNING n
            """,
            (
                doc.id,
                doc.model_dump_json(),
                published_key(doc.published),
                published_key(doc.start),
                loc.lat if loc and loc.lon is not None else None,
                loc.lon if loc and loc.lat is not None else None,
            ),
        ).fetchone()
        n = row[0]
        conn.execute("DELETE FROM facets WHERE n = ?", (n,))
        conn.executemany(
            "INSERT OR IGNORE INTO facets (field, value, n) VALUES (?, ?, ?)",
            [(facet, value, n) for facet in FACET_FIELDS for value in doc.facet_values(facet)]
            + [("_collapse", doc.collapse_key(), n)],
        )
        conn.execute("DELETE FROM documents_fts WHERE rowid = ?", (n,))
        conn.execute(
            "INSERT INTO documents_fts (rowid, title_a, summary_a, body_a, title_s, summary_s, body_s) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                n,
                analysed(doc.title),
                analysed(doc.summary),
                analysed(doc.body),
                stemmed(doc.title, doc.language),
                stemmed(doc.summary, doc.language),
                stemmed(doc.body, doc.language),
            ),
        )

    def delete(self, ids: Sequence[str]) -> IndexReport:
        """Remove by id; ``deleted`` counts documents that existed, unknown ids are no error."""
        report = IndexReport()
        try:
            with self._transaction(write=True) as conn:
                for doc_id in dict.fromkeys(ids):
                    row = conn.execute("DELETE FROM documents WHERE id = ? RETURNING n", (doc_id,)).fetchone()
                    if row is not None:
                        conn.execute("DELETE FROM documents_fts WHERE rowid = ?", (row[0],))
                        conn.execute("DELETE FROM facets WHERE n = ?", (row[0],))
                        report.deleted += 1
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"search index {self.path}: delete failed: {exc}") from exc
        return report

    def refresh(self) -> None:
        """Nothing to do: every write is committed, hence visible, when it returns."""

    # -- reads ---------------------------------------------------------------------------

    def get(self, doc_id: str) -> SearchDocument | None:
        """One document by id, as it was upserted."""
        with self._reading() as conn:
            row = conn.execute("SELECT doc FROM documents WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else SearchDocument.model_validate_json(row[0])

    def count(self) -> int:
        """Number of documents."""
        with self._reading() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0])

    unsupported = ("collapse",)

    def search(self, query: SearchQuery) -> SearchResult:
        """Text plan, filters, ranges and distance; facets over the filtered matches; keyset paging."""
        if query.collapse:
            raise Unsupported("collapsing duplicate clusters", self.name)
        clause = _match_clause(query)
        if clause is None:  # q given but nothing searchable in it, or an unknown filter field
            return SearchResult(total=0, hits=[], facets={f: [] for f in wanted_facets(query)})
        from_sql, where, params, ranked = clause
        base = f"FROM {from_sql} WHERE {where}"
        sort = effective_sort(query)
        if sort == "distance" and query.near is None:
            sort = "date"
        near = query.near
        dist_sql = "km(d.lat, d.lon, ?, ?)" if near else "NULL"
        dist_params = [near.lat, near.lon] if near else []
        with self._reading() as conn:
            total = int(conn.execute(f"SELECT COUNT(*) {base}", params).fetchone()[0])
            facets = {
                facet: [
                    FacetBucket(value=value, count=count)
                    for value, count in conn.execute(
                        f"SELECT f.value, COUNT(*) AS c FROM facets AS f WHERE f.field = ? "
                        f"AND f.n IN (SELECT d.n {base}) GROUP BY f.value ORDER BY c DESC, f.value ASC LIMIT ?",
                        [facet, *params, query.facet_size],
                    )
                ]
                for facet in wanted_facets(query)
            }
            weights = ", ".join(str(w) for w in COLUMN_WEIGHTS)
            rank_sql = f"bm25(documents_fts, {weights})" if ranked else "NULL"
            keys, order = _sort_sql(sort, rank_sql, dist_sql)
            select = f"SELECT d.doc, {rank_sql} AS rank, {dist_sql} AS dist, {', '.join(keys)} {base}"
            key_params = dist_params if sort == "distance" else []
            page_params: list[Any] = [*dist_params, *key_params, *params]
            outer = ""
            if query.after is not None:
                outer, after_params = _after_sql(sort, query.after)
                page_params += after_params
            sql = f"SELECT * FROM ({select}) AS page {outer} ORDER BY {order} LIMIT ? OFFSET ?"
            offset = 0 if query.after is not None else query.offset
            rows = conn.execute(sql, [*page_params, query.size, offset]).fetchall()
        hits = []
        for doc_json, rank, dist, *sort_values in rows:
            doc = SearchDocument.model_validate_json(doc_json)
            hits.append(
                SearchHit(
                    document=doc,
                    id=doc.id,
                    score=None if rank is None else -float(rank),  # bm25 is lower-is-better
                    sort=list(sort_values),
                    distance_km=dist,
                )
            )
        return SearchResult(total=total, hits=hits, facets=facets)

    def suggest(self, prefix: str, size: int = 10) -> list[Suggestion]:
        """Titles whose words, from some word on, start with the folded prefix (FTS5 phrase prefix)."""
        words = query_tokens(prefix)
        if not words or size <= 0:
            return []
        phrase = fts_phrase(" ".join(words))
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT d.id, d.doc FROM documents_fts JOIN documents AS d ON d.n = documents_fts.rowid "
                "WHERE documents_fts MATCH ? ORDER BY length(documents_fts.title_a), d.id LIMIT ?",
                (f"{{title_a}} : {phrase} *", size),
            ).fetchall()
        return [Suggestion(id=i, text=json.loads(doc)["title"]) for i, doc in rows]

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read snapshot, so total, facets and page agree even while another process writes."""
        try:
            with self._transaction(write=False) as conn:
                yield conn
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"search index {self.path}: read failed: {exc}") from exc


#: Sort keys (selected as k0, k1, ...) and ORDER BY of each sort, id always the last tie-breaker.
def _sort_sql(sort: str, rank_sql: str, dist_sql: str) -> tuple[list[str], str]:
    if sort == "relevance":
        return [f"{rank_sql} AS k0", "d.id AS k1"], "k0 ASC, k1 ASC"
    if sort == "start":
        return ["d.start AS k0", "d.id AS k1"], "k0 IS NULL, k0 ASC, k1 ASC"
    if sort == "distance":
        return [f"{dist_sql} AS k0", "d.id AS k1"], "k0 IS NULL, k0 ASC, k1 ASC"
    return ["d.published AS k0", "d.id AS k1"], "k0 IS NULL, k0 DESC, k1 ASC"


def _after_sql(sort: str, after: list[Any]) -> tuple[str, list[Any]]:
    """WHERE of keyset paging: rows strictly after (k0, k1) in the sort's order (NULLs last)."""
    if len(after) != 2 or not isinstance(after[1], str):
        raise ValueError("cursor does not fit this sort")
    k0, k1 = after
    if k0 is None:  # in the NULL tail: only later ids with NULL
        return "WHERE k0 IS NULL AND k1 > ?", [k1]
    cmp = "<" if sort == "date" else ">"
    return f"WHERE (k0 {cmp} ? OR (k0 = ? AND k1 > ?) OR k0 IS NULL)", [k0, k0, k1]


def _match_clause(query: SearchQuery) -> tuple[str, str, list[Any], bool] | None:
    """FROM, WHERE, parameters, and whether FTS ranks; None means no hits at all.

    Filter names are checked against FACET_FIELDS and only ever bound as values; a name
    outside it matches nothing, like an Elasticsearch term query on an unmapped field.
    """
    where: list[str] = []
    params: list[Any] = []
    from_sql = "documents AS d"
    ranked = False
    plan = text_plan(query)
    if plan is not None:
        match = fts_plan_expression(plan)
        if match is None:
            return None
        from_sql = "documents_fts JOIN documents AS d ON d.n = documents_fts.rowid"
        where.append("documents_fts MATCH ?")
        params.append(match)
        ranked = True
    for field, values in query.filters.items():
        if not values:
            continue  # an empty value list is no constraint
        if field not in FACET_FIELDS:
            return None
        where.append(
            f"d.n IN (SELECT n FROM facets WHERE field = ? AND value IN ({', '.join('?' for _ in values)}))"
        )
        params.extend([field, *values])
    for column, low, high in (
        ("published", query.published_from, query.published_to),
        ("start", query.start_from, query.start_to),
    ):
        if low is not None:
            where.append(f"d.{column} >= ?")
            params.append(published_key(low))
        if high is not None:
            where.append(f"d.{column} <= ?")
            params.append(published_key(high))
    if query.near is not None:
        where.append("km(d.lat, d.lon, ?, ?) <= ?")
        params.extend([query.near.lat, query.near.lon, query.near.km])
    return from_sql, " AND ".join(where) if where else "1", params, ranked


def _validated(raw: object) -> SearchDocument:
    """Re-validate, so a document built with ``model_construct`` or a dict cannot corrupt the index."""
    data = dict(raw) if isinstance(raw, SearchDocument) else raw  # fields as they are, unserialised
    doc = SearchDocument.model_validate(data)
    if not doc.id.strip():
        raise ValueError("empty document id")
    return doc


def _is_whole_index_failure(exc: Exception) -> bool:
    """True for errors of the database itself (locked, disk full, corrupt), which stop the batch.

    Anything else (validation, a constraint, a value SQLite cannot bind) is that document's fault.
    """
    return isinstance(exc, sqlite3.Error) and not isinstance(
        exc, sqlite3.IntegrityError | sqlite3.DataError | sqlite3.InterfaceError | sqlite3.ProgrammingError
    )


def _doc_id(raw: object, position: int) -> str:
    """The id to report a failed document under (its position when it has none)."""
    doc_id = raw.get("id") if isinstance(raw, dict) else getattr(raw, "id", None)
    return doc_id if isinstance(doc_id, str) and doc_id else f"#{position}"


def _reason(exc: Exception) -> str:
    """A one-line reason for IndexReport.errors."""
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return f"{type(exc).__name__}: {exc}"
