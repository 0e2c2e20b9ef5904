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

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from search.analysis import analysed, query_tokens
from search.base import SearchBackend, SearchUnavailable
from search.documents import (
    FACET_FIELDS,
    FacetBucket,
    IndexError_,
    IndexReport,
    SearchDocument,
    SearchHit,
    SearchQuery,
    SearchResult,
)

#: Relevance weights of title, summary and body (the order of the FTS5 columns).
COLUMN_WEIGHTS = (3.0, 2.0, 1.0)
SCHEMA_VERSION = 1
_BUSY_TIMEOUT_S = 30.0

_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS documents (
        n INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        doc TEXT NOT NULL,
        type TEXT NOT NULL,
        network TEXT NOT NULL,
        source TEXT NOT NULL,
        language TEXT,
        published TEXT
    )
    """,
    "CREATE INDEX IF NOT EXISTS documents_published ON documents (published DESC, id)",
    "CREATE INDEX IF NOT EXISTS documents_type ON documents (type)",
    "CREATE INDEX IF NOT EXISTS documents_network ON documents (network)",
    "CREATE INDEX IF NOT EXISTS documents_source ON documents (source)",
    "CREATE INDEX IF NOT EXISTS documents_language ON documents (language)",
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
        title_a, summary_a, body_a,
        tokenize = "unicode61 remove_diacritics 2 tokenchars '_'"
    )
    """,
)


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
        """Replace one document's row and FTS row, keeping its rowid."""
        row = conn.execute(
            """
            INSERT INTO documents (id, doc, type, network, source, language, published)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET
                doc = excluded.doc, type = excluded.type, network = excluded.network,
                source = excluded.source, language = excluded.language,
                published = excluded.published
            RETURNING n
            """,
            (
                doc.id,
                doc.model_dump_json(),
                doc.type,
                doc.network,
                doc.source,
                doc.language,
                published_key(doc.published),
            ),
        ).fetchone()
        n = row[0]
        conn.execute("DELETE FROM documents_fts WHERE rowid = ?", (n,))
        conn.execute(
            "INSERT INTO documents_fts (rowid, title_a, summary_a, body_a) VALUES (?, ?, ?, ?)",
            (n, analysed(doc.title), analysed(doc.summary), analysed(doc.body)),
        )

    def delete(self, ids: Sequence[str]) -> IndexReport:
        """Remove by id; ``deleted`` counts documents that existed, unknown ids are no error."""
        report = IndexReport()
        try:
            with self._transaction(write=True) as conn:
                for doc_id in ids:
                    row = conn.execute("DELETE FROM documents WHERE id = ? RETURNING n", (doc_id,)).fetchone()
                    if row is not None:
                        conn.execute("DELETE FROM documents_fts WHERE rowid = ?", (row[0],))
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

    def search(self, query: SearchQuery) -> SearchResult:
        """AND of the query's analysed tokens, exact filters, facets over the filtered matches."""
        from_sql, where, params, ranked = _match_clause(query)
        if where is None:  # q given but nothing searchable in it: no hits, not everything
            return SearchResult(total=0, hits=[], facets={f: [] for f in FACET_FIELDS})
        base = f"FROM {from_sql} WHERE {where}"
        with self._reading() as conn:
            total = int(conn.execute(f"SELECT COUNT(*) {base}", params).fetchone()[0])
            facets = {
                field: [
                    FacetBucket(value=value, count=count)
                    for value, count in conn.execute(
                        f"SELECT d.{field}, COUNT(*) AS c {base} AND d.{field} IS NOT NULL "
                        f"GROUP BY d.{field} ORDER BY c DESC, d.{field} ASC LIMIT ?",
                        [*params, query.facet_size],
                    )
                ]
                for field in FACET_FIELDS
            }
            if ranked:
                weights = ", ".join(str(w) for w in COLUMN_WEIGHTS)
                page_sql = (
                    f"SELECT d.doc, bm25(documents_fts, {weights}) AS rank {base} "
                    "ORDER BY rank ASC, d.id ASC LIMIT ? OFFSET ?"
                )
            else:
                page_sql = (
                    f"SELECT d.doc, NULL {base} "
                    "ORDER BY d.published IS NULL, d.published DESC, d.id ASC LIMIT ? OFFSET ?"
                )
            rows = conn.execute(page_sql, [*params, query.size, query.offset]).fetchall()
        hits = [
            SearchHit(
                document=(doc := SearchDocument.model_validate_json(doc_json)),
                id=doc.id,
                score=None if rank is None else -float(rank),  # bm25 is lower-is-better
            )
            for doc_json, rank in rows
        ]
        return SearchResult(total=total, hits=hits, facets=facets)

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """A read snapshot, so total, facets and page agree even while another process writes."""
        try:
            with self._transaction(write=False) as conn:
                yield conn
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"search index {self.path}: read failed: {exc}") from exc


def _match_clause(query: SearchQuery) -> tuple[str, str | None, list[Any], bool]:
    """FROM, WHERE, parameters, and whether FTS ranks; WHERE None means no hits at all.

    Filter field names are checked against FACET_FIELDS before they reach SQL; a field
    outside it matches nothing, like an Elasticsearch term query on an unmapped field.
    """
    where: list[str] = []
    params: list[Any] = []
    from_sql = "documents AS d"
    ranked = False
    if query.q is not None and query.q.strip():
        match = fts_match_expression(query_tokens(query.q))
        if match is None:
            return from_sql, None, [], False
        from_sql = "documents_fts JOIN documents AS d ON d.n = documents_fts.rowid"
        where.append("documents_fts MATCH ?")
        params.append(match)
        ranked = True
    for field, values in query.filters.items():
        if not values:
            continue  # an empty value list is no constraint
        if field not in FACET_FIELDS:
            return from_sql, None, [], False
        where.append(f"d.{field} IN ({', '.join('?' for _ in values)})")
        params.extend(values)
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
