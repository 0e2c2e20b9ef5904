"""The append-only member log behind the event stream (LDES), and its page bookkeeping.

Every change of an item becomes one *version object* with its own IRI
(``{item}/versie/{yyyyMMddTHHmmssZ}``), ``dcterms:isVersionOf`` the item and
``prov:generatedAtTime`` its place in the stream; a withdrawal becomes an ``as:Delete``
version. Rows are only ever inserted, and timestamps never go backwards (a new member is
stamped ``max(now, newest member)``), so once a UTC day is over nothing can be added to
its pages: that is what lets the API serve them as immutable.

Pages: the stream is cut by UTC day, and each day into chunks of ``page_size`` members in
log order. A chunk that is full, or whose day is over, never changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from rdflib import Graph, Literal, Namespace, URIRef
from sqlalchemy import Connection, Engine, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ontology.namespaces import DCTERMS, INNONET, PROV, RDF, SCHEMA, XSD
from ontology.triples import ItemGraph, nt_line
from store.append_lock import serialize_appends
from store.ldes_models import (
    LdesFollowItemRow,
    LdesFollowStateRow,
    LdesHeadRow,
    LdesMemberFacetRow,
    LdesMemberRow,
)
from store.repository import Store, aware, driver_execute, driver_executemany, driver_select_in

AS = Namespace("https://www.w3.org/ns/activitystreams#")
DCAT = Namespace("http://www.w3.org/ns/dcat#")
_THEME_PREDICATES = frozenset({DCTERMS.subject, DCAT.theme})

#: The facets a filtered view can select on (the same names as /search's filters, plus theme).
FACETS = ("type", "theme", "network", "source", "language")

_TABLES = [
    LdesMemberRow.__table__,
    LdesMemberFacetRow.__table__,
    LdesHeadRow.__table__,
    LdesFollowStateRow.__table__,
    LdesFollowItemRow.__table__,
]
_READY: set[int] = set()


def ensure_tables(engine: Engine) -> None:
    """Create the stream's tables on this engine once (Store() creates only the core ones)."""
    if id(engine) not in _READY:
        from store.models import Base

        Base.metadata.create_all(engine, tables=_TABLES)
        _READY.add(id(engine))


@lru_cache(maxsize=256)  # a batch stamps its members with one or a few timestamps
def compact(ts: datetime) -> str:
    """``2026-11-25T09:00:00Z`` -> ``20261125T090000Z`` (the version IRI's timestamp)."""
    return ts.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@lru_cache(maxsize=256)
def day_of(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d")


def day_start(day: str) -> datetime:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)


def version_iri(base: str, item_iri: str, ts: datetime) -> str:
    """A version IRI minted under this instance's base, whoever minted the item's IRI."""
    base = base.rstrip("/")
    if item_iri.startswith(base + "/id/"):
        return f"{item_iri}/versie/{compact(ts)}"
    digest = hashlib.sha256(item_iri.encode()).hexdigest()[:24]
    return f"{base}/id/mirror/{digest}/versie/{compact(ts)}"


def _last_segment(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


@dataclass(frozen=True)
class ViewFilter:
    """A filtered view: OR within a facet, AND across facets (the semantics of /search)."""

    values: tuple[tuple[str, tuple[str, ...]], ...] = field(default=())

    @classmethod
    def of(cls, **facets: Iterable[str] | None) -> ViewFilter:
        pairs = []
        for name in FACETS:
            vals = tuple(sorted({v for v in (facets.get(name) or ()) if v}))
            if vals:
                pairs.append((name, vals))
        return cls(tuple(pairs))

    def __bool__(self) -> bool:
        return bool(self.values)

    def query_pairs(self) -> list[tuple[str, str]]:
        """Canonical query parameters (fixed facet order, sorted values)."""
        return [(name, v) for name, vals in self.values for v in vals]


#: The predicates a member's facets come from, by their IRI text (a dict lookup per triple in C,
#: instead of rdflib's Python-level ``__eq__`` against each predicate).
_FACET_PREDICATES = {
    str(INNONET.network): "network",
    str(SCHEMA.inLanguage): "language",
    **{str(p): "theme" for p in _THEME_PREDICATES},
}


def member_facets(kind: str, source_id: str | None, graph: Graph, item: URIRef) -> set[tuple[str, str]]:
    """The facet values a member is filed under, read from the item's graph."""
    out = {("type", kind)}
    if source_id:
        out.add(("source", source_id))
    # One pass over the graph's triples; the item's own with a facet predicate (an IRI) count.
    for subject, pred, obj in graph:
        facet = _FACET_PREDICATES.get(str(pred))
        if facet is None or type(pred) is not URIRef or subject != item:
            continue
        if facet == "network":
            out.add(("network", _last_segment(str(obj))))
        elif facet == "language":
            out.add(("language", str(obj).lower()))
        elif isinstance(obj, URIRef):
            out.add(("theme", str(obj)))
    return out


def _version_nt_lines(record: Iterable[str], item: URIRef, version: URIRef, ts: datetime) -> str:
    """``version_nt`` from the record's N-Triples lines (each with its newline): a line whose subject
    is the item (it starts with ``<item> ``) gets ``<version> `` instead; the rest is unchanged.

    One ``startswith`` per line (~30 per item) instead of edits of the joined text: that text is
    ~4.4 KB and non-ASCII for about half of the corpus items, and every find, ``in`` and
    ``replace`` over it (five passes and two copies) cost more than the loop (13.8 vs 8.6 µs per
    item, same bytes). When the record already has a line about the version, moving could make two
    lines equal: the line by line path with its seen set (``_version_lines_one_by_one``) keeps the
    first of each, as ``version_nt`` does.
    """
    lines = list(dict.fromkeys(record))
    item_prefix, version_prefix = item.n3() + " ", version.n3() + " "
    skip = item_prefix + _GENERATED_AT + " "
    cut = len(item_prefix)
    # The version's own two lines from the forms above (``<iri>``: what nt_line writes for an IRI).
    tail = [
        f"{version_prefix}{_IS_VERSION_OF} {item_prefix}.\n",
        f"{version_prefix}{_GENERATED_AT} {_stamp_nt(ts)} .\n",
    ]
    out: list[str] = []
    for line in lines:
        if line.startswith(item_prefix):
            if line.startswith(skip):
                continue  # the harvest time: the version's time is its place in the stream
            line = version_prefix + line[cut:]
            if line in tail:  # the record said it already: written once, here
                tail.remove(line)
        elif line.startswith(version_prefix):
            return _version_lines_one_by_one(lines, item, version, ts)
        out.append(line)
    out += tail
    return "".join(out)


_GENERATED_AT, _IS_VERSION_OF = PROV.generatedAtTime.n3(), DCTERMS.isVersionOf.n3()


def _version_tail(item: URIRef, version: URIRef, ts: datetime) -> tuple[str, str]:
    """The version's own two lines: ``dcterms:isVersionOf`` the item, ``prov:generatedAtTime``."""
    return nt_line((version, DCTERMS.isVersionOf, item)), nt_line((version, PROV.generatedAtTime, _stamp(ts)))


@lru_cache(maxsize=256)  # a batch stamps its members with one or a few timestamps
def _stamp(ts: datetime) -> Literal:
    return Literal(_iso(ts), datatype=XSD.dateTime)


@lru_cache(maxsize=256)
def _stamp_nt(ts: datetime) -> str:
    """The stamp literal's N-Triples form (nt_line's object), once per timestamp."""
    line = nt_line((DCTERMS.isVersionOf, PROV.generatedAtTime, _stamp(ts)))
    return line[line.index("> ", line.index("> ") + 2) + 2 : -3]


def _version_lines_one_by_one(record: Iterable[str], item: URIRef, version: URIRef, ts: datetime) -> str:
    """``_version_nt_lines`` line by line, keeping the first of lines that moving makes equal."""
    item_prefix, version_prefix = item.n3() + " ", version.n3() + " "
    skip = item_prefix + _GENERATED_AT + " "
    cut = len(item_prefix)
    seen: set[str] = set()
    lines: list[str] = []
    for line in record:
        if line.startswith(item_prefix):
            if line.startswith(skip):
                continue
            line = version_prefix + line[cut:]
        if line not in seen:
            seen.add(line)
            lines.append(line)
    for line in _version_tail(item, version, ts):
        if line not in seen:
            seen.add(line)
            lines.append(line)
    return "".join(lines)


def version_nt(record: Iterable[tuple], item: URIRef, version: URIRef, ts: datetime) -> str:
    """``version_graph(...).serialize(format="nt")`` without building a Graph: the same lines.

    The record's triples (an ItemGraph or any triple iterable) with the item's own triples moved
    onto the version IRI; each line is rdflib's N-Triples row (ontology/triples.py).
    """
    if isinstance(record, ItemGraph):
        return _version_nt_lines(record.nt_lines(), item, version, ts)
    seen: set[tuple] = set()
    lines: list[str] = []
    for s, p, o in record:
        if s == item:
            if p == PROV.generatedAtTime:
                continue
            s = version
        triple = (s, p, o)
        if triple not in seen:
            seen.add(triple)
            lines.append(nt_line(triple))
    for triple in (
        (version, DCTERMS.isVersionOf, item),
        (version, PROV.generatedAtTime, Literal(_iso(ts), datatype=XSD.dateTime)),
    ):
        if triple not in seen:
            seen.add(triple)
            lines.append(nt_line(triple))
    return "".join(lines)


@dataclass
class Publication:
    """One item to publish with ``MemberLog.publish_many``."""

    item_iri: str
    kind: str
    source_id: str | None
    graph: Iterable[tuple]
    content_hash: str | None
    #: The graph's N-Triples lines in its order, when the caller has rendered them (the harvest):
    #: the member is then made from them (``version_nt``'s bytes, no second pass over the triples).
    lines: Sequence[str] | None = None


def version_graph(record: Graph, item: URIRef, version: URIRef, ts: datetime) -> Graph:
    """The item's graph with the item's own triples moved onto the version IRI."""
    g = Graph()
    for s, p, o in record:
        if s == item:
            if p == PROV.generatedAtTime:
                continue  # the harvest time; the version's time is its place in the stream
            g.add((version, p, o))
        else:
            g.add((s, p, o))
    g.add((version, DCTERMS.isVersionOf, item))
    g.add((version, PROV.generatedAtTime, Literal(_iso(ts), datatype=XSD.dateTime)))
    return g


def tombstone_graph(item: URIRef, version: URIRef, ts: datetime) -> Graph:
    g = Graph()
    g.add((version, RDF.type, AS.Delete))
    g.add((version, DCTERMS.isVersionOf, item))
    g.add((version, PROV.generatedAtTime, Literal(_iso(ts), datatype=XSD.dateTime)))
    return g


@lru_cache(maxsize=256)
def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Chunk:
    """One page of a day: its number, first and last timestamps and member count."""

    page: int
    first: datetime
    last: datetime
    count: int


_MEMBERS, _HEADS_T = LdesMemberRow.__table__, LdesHeadRow.__table__
# publish_many's statements, built once (their construction was a large part of a batch's time).
_HEADS = select(_HEADS_T.c.item_iri, _HEADS_T.c.seq, _HEADS_T.c.content_hash, _HEADS_T.c.deleted).where(
    _HEADS_T.c.item_iri.in_(bindparam("iris", expanding=True))
)
_TAKEN = select(_MEMBERS.c.version_iri).where(
    _MEMBERS.c.version_iri.in_(bindparam("versions", expanding=True))
)
_NEWEST = select(_MEMBERS.c.generated_at).order_by(_MEMBERS.c.seq.desc()).limit(1)
_INSERT_MEMBERS = insert(_MEMBERS)
_SEQS = select(_MEMBERS.c.version_iri, _MEMBERS.c.seq).where(
    _MEMBERS.c.version_iri.in_(bindparam("versions", expanding=True))
)
_INSERT_FACETS = insert(LdesMemberFacetRow.__table__)
_INSERT_HEADS = insert(_HEADS_T)
_UPDATE_HEADS = (
    update(_HEADS_T)
    .where(_HEADS_T.c.item_iri == bindparam("key"))
    .values(
        seq=bindparam("seq"),
        content_hash=bindparam("content_hash"),
        deleted=bindparam("deleted"),
        source_id=bindparam("source_id"),
    )
)


_NEWEST_SQL: dict[str, tuple[str, object]] = {}
#: The newest member's time and sequence number (``_newest_on``).
_NEWEST_SEQ = select(_MEMBERS.c.generated_at, _MEMBERS.c.seq).order_by(_MEMBERS.c.seq.desc()).limit(1)


def _newest_on(conn: Connection) -> tuple[datetime | None, int]:
    """The newest member's ``generated_at`` (as ``conn.scalar(_NEWEST)`` reads it) and its ``seq``
    (0 and None for an empty stream), straight to the driver.

    Through SQLAlchemy the one-row query cost ~0.1-0.2 ms per harvested source (execution
    context, result object); here the SQL is compiled once per dialect and the time converted by
    the column type's own result processor (SQLite keeps datetimes as text), as ``scalar`` does.
    """
    dialect = conn.dialect
    cached = _NEWEST_SQL.get(dialect.name)
    if cached is None:
        processor = _MEMBERS.c.generated_at.type.dialect_impl(dialect).result_processor(dialect, None)
        sql = str(_NEWEST_SEQ.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # LIMIT 1
        cached = _NEWEST_SQL[dialect.name] = (sql, processor)
    sql, processor = cached
    rows = driver_execute(conn, sql, (), many=False)
    if not rows:
        return None, 0
    value, seq = rows[0]
    return (processor(value) if processor is not None else value), int(seq)  # type: ignore[operator]


def _appended_seqs(conn: Connection, rows: Sequence[dict], newest_seq: int) -> list[int]:
    """The ``seq`` of each member row just inserted (in order) by one executemany.

    SQLite: the rows took the sequence numbers after the newest one in order (an INTEGER PRIMARY KEY
    without AUTOINCREMENT is the largest rowid + 1, and a write transaction is the only writer:
    a stale read snapshot cannot write at all), which ``last_insert_rowid()`` confirms, instead of a
    query by version IRI while the write lock is held. Otherwise, and if it does not confirm: by
    version IRI (unique).
    """
    if conn.dialect.name == "sqlite":
        [(last,)] = driver_execute(conn, "SELECT last_insert_rowid()", (), many=False)
        if last == newest_seq + len(rows):
            return list(range(newest_seq + 1, last + 1))
    seq_of = dict(driver_select_in(conn, _SEQS, [row["version_iri"] for row in rows]))
    return [seq_of[row["version_iri"]] for row in rows]


_FACET_COLUMNS = ("seq", "facet", "value")


@dataclass(frozen=True)
class Prepared:
    """``MemberLog.prepare``'s members: per entry (by ``id``), (version IRI, N-Triples, facet rows'
    (facet, value) pairs)."""

    members: dict[int, tuple[str, str, list[tuple[str, str]]]]


def _changed(
    conn: Connection, entries: Sequence[Publication]
) -> tuple[list[str | None], list[tuple[int, Publication]], set[str]]:
    """Which entries get a member, from their items' heads: (per entry None (unchanged) or "" (to
    append), the entries to append with their index, the items that have a head).

    A member only for a new or changed item (its content hash differs from its head's, or the head
    is a withdrawal); an item repeated in the batch gets one member.
    """
    iris = list(dict.fromkeys(e.item_iri for e in entries))
    out: list[str | None] = []
    heads: dict[str, tuple[int, str | None, bool]] = {
        iri: (seq, chash, bool(deleted)) for iri, seq, chash, deleted in driver_select_in(conn, _HEADS, iris)
    }
    had_head = set(heads)
    todo = []
    for entry in entries:
        head = heads.get(entry.item_iri)
        if head is not None and not head[2] and head[1] == entry.content_hash:
            out.append(None)
            continue
        todo.append((len(out), entry))
        out.append("")
        heads[entry.item_iri] = (0, entry.content_hash, False)  # a repeat in the batch adds nothing
    return out, todo, had_head


def _member_of(entry: Publication, version: str, ts: datetime) -> tuple[str, list[tuple[str, str]]]:
    """An entry's member as version ``version`` stamped ``ts``: its N-Triples and its facets as
    the facet rows store them ((facet, value) sorted, values cut at 500 characters)."""
    item = URIRef(entry.item_iri)
    graph = (
        version_nt(entry.graph, item, URIRef(version), ts)
        if entry.lines is None
        else _version_nt_lines(entry.lines, item, URIRef(version), ts)
    )
    facets = member_facets(entry.kind, entry.source_id, entry.graph, item)  # type: ignore[arg-type]
    return graph, [(facet, value[:500]) for facet, value in sorted(facets)]


class MemberLog:
    """Append and read members of this instance's stream, in the store's database."""

    def __init__(self, store: Store, base: str, page_size: int = 250) -> None:
        self.store = store
        self.base = base.rstrip("/")
        self.page_size = page_size
        ensure_tables(store.engine)

    # --- writing -----------------------------------------------------------------------------------
    def publish(
        self,
        *,
        item_iri: str,
        kind: str,
        source_id: str | None,
        graph: Graph | str,
        content_hash: str | None,
        now: datetime | None = None,
    ) -> str | None:
        """Append a version if the item is new or its content changed; returns its IRI, else None.

        ``publish_many`` of one entry: one implementation of the rules. ``graph`` is the item's
        graph or its N-Triples; the member's lines follow the graph's triple order.
        """
        record = graph if isinstance(graph, Graph) else Graph().parse(data=graph, format="nt")
        entry = Publication(item_iri, kind, source_id, record, content_hash)
        return self.publish_many([entry], now=now)[0]

    def publish_many(self, entries: Sequence[Publication], now: datetime | None = None) -> list[str | None]:
        """Per entry its version IRI, or None if unchanged; the batch in one transaction.

        The rules: a member only for a new or changed item (its content hash differs from its
        head's, or the head is a withdrawal), one version per item per second, timestamps never
        going backwards in log order (each member is stamped ``max(now, the newest member)``).
        A concurrent writer (IntegrityError) makes the batch read again.
        """
        if not entries:
            return []
        for _attempt in range(5):
            try:
                with self.store.engine.begin() as conn:
                    return self.publish_many_on(conn, entries, now)
            except IntegrityError:
                continue  # another writer took one of these version IRIs or heads: read again
        raise RuntimeError(f"could not append {len(entries)} members after 5 attempts")

    def prepare(
        self, conn: Connection, entries: Sequence[Publication], now: datetime | None = None
    ) -> Prepared:
        """The members ``publish_many_on`` will most likely append, rendered before the transaction writes.

        SQLite holds its one write lock from a transaction's first write to its commit, and parallel
        harvest batches wait for it: the harvest calls this before its first write. The heads read
        here only choose what to render; ``publish_many_on`` reads them again and decides, and uses
        a member rendered here only for the same version IRI (the same item and second).
        """
        _, todo, _ = _changed(conn, entries)
        ts = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        members = {}
        for _, entry in todo:
            version = version_iri(self.base, entry.item_iri, ts)
            members[id(entry)] = (version, *_member_of(entry, version, ts))
        return Prepared(members)

    def publish_many_on(
        self,
        conn: Connection,
        entries: Sequence[Publication],
        now: datetime | None = None,
        ready: Prepared | None = None,
    ) -> list[str | None]:
        """``publish_many``'s work inside the caller's transaction (no retry, no commit).

        For the harvest, which writes a source's records, cluster keys and members atomically
        (pipeline/store.py ``store_and_publish``). Reads are one query per 500 IRIs; writes are
        driver executemany calls with statements compiled once (``driver_executemany``).
        ``ready``: what ``prepare`` rendered for these entries before the transaction's first write.
        """
        out, todo, had_head = _changed(conn, entries)
        if not todo:
            return out
        serialize_appends(conn)  # PostgreSQL: seqs become visible in log order (store/append_lock.py)
        newest, newest_seq = _newest_on(conn)
        ts = self._stamp_after(now, newest)
        first = {e.item_iri: version_iri(self.base, e.item_iri, ts) for _, e in todo}
        # Only an item with a head can have a member (every member moves its item's head), so a
        # batch of new items cannot collide with a stored version IRI: no query for them.
        asked = [v for iri, v in first.items() if iri in had_head]
        taken: set[str] = {v for (v,) in driver_select_in(conn, _TAKEN, asked)}
        rows, facets = [], []
        first_ts = ts
        for _, entry in todo:
            version = first[entry.item_iri] if ts == first_ts else version_iri(self.base, entry.item_iri, ts)
            while version in taken or (
                version != first[entry.item_iri]
                and entry.item_iri in had_head
                and driver_select_in(conn, _TAKEN, [version])
            ):
                ts += timedelta(seconds=1)  # one version per item per second
                version = version_iri(self.base, entry.item_iri, ts)
            taken.add(version)
            early = ready.members.get(id(entry)) if ready is not None else None
            if early is not None and early[0] == version:  # rendered before the lock, for this version
                graph, entry_facets = early[1], early[2]
            else:
                graph, entry_facets = _member_of(entry, version, ts)
            rows.append(
                {
                    "version_iri": version,
                    "item_iri": entry.item_iri,
                    "generated_at": ts,
                    "day": day_of(ts),
                    "deleted": False,
                    "content_hash": entry.content_hash,
                    "graph": graph,
                }
            )
            facets.append(entry_facets)
        # executemany, then the sequence numbers by version IRI (unique): an INSERT ... RETURNING
        # in parameter order is one statement per row on SQLite.
        driver_executemany(conn, _INSERT_MEMBERS, rows)
        seqs = _appended_seqs(conn, rows, newest_seq)
        facet_rows = [(seq, *pair) for seq, pairs in zip(seqs, facets, strict=True) for pair in pairs]
        driver_executemany(conn, _INSERT_FACETS, facet_rows, _FACET_COLUMNS)  # ~5 string rows per member
        latest: dict[str, dict] = {}  # per item, its last member of this batch
        for seq, (_, entry) in zip(seqs, todo, strict=True):
            latest[entry.item_iri] = {
                "seq": seq,
                "content_hash": entry.content_hash,
                "deleted": False,
                "source_id": entry.source_id,
            }
        new_heads = [{"item_iri": iri, **v} for iri, v in latest.items() if iri not in had_head]
        old_heads = [{"key": iri, **v} for iri, v in latest.items() if iri in had_head]
        for row, (index, _) in zip(rows, todo, strict=True):
            out[index] = row["version_iri"]
        driver_executemany(conn, _INSERT_HEADS, new_heads)
        driver_executemany(conn, _UPDATE_HEADS, old_heads)
        return out

    def withdraw(self, item_iri: str, now: datetime | None = None) -> str | None:
        """Append an ``as:Delete`` version for a published, not yet withdrawn item."""
        with self.store.session() as s:
            head = s.get(LdesHeadRow, item_iri)
            if head is None or head.deleted:
                return None
            facets = {
                (f.facet, f.value)
                for f in s.scalars(select(LdesMemberFacetRow).where(LdesMemberFacetRow.seq == head.seq))
            }
            source_id = head.source_id

        def build(ts: datetime, version: URIRef) -> Graph:
            return tombstone_graph(URIRef(item_iri), version, ts)

        return self._append(item_iri, source_id, None, True, facets, build, now)

    def withdraw_source(self, source_id: str, now: datetime | None = None) -> list[str]:
        """Withdraw every published item of a source (the owner removed it): one tombstone each."""
        with self.store.session() as s:
            items = list(
                s.scalars(
                    select(LdesHeadRow.item_iri)
                    .where(LdesHeadRow.source_id == source_id, LdesHeadRow.deleted.is_(False))
                    .order_by(LdesHeadRow.item_iri)
                )
            )
        return [v for v in (self.withdraw(i, now) for i in items) if v]

    def _append(
        self,
        item_iri: str,
        source_id: str | None,
        content_hash: str | None,
        deleted: bool,
        facets: set[tuple[str, str]],
        build,
        now: datetime | None,
    ) -> str | None:
        for _attempt in range(5):
            try:
                with self.store.session() as s, s.begin():
                    serialize_appends(s.connection())  # before the head is read (store/append_lock.py)
                    head = s.get(LdesHeadRow, item_iri)
                    unchanged = head is not None and not head.deleted and head.content_hash == content_hash
                    if not deleted and unchanged:
                        return None
                    ts = self._next_timestamp(s, now)
                    version = version_iri(self.base, item_iri, ts)
                    while s.scalar(select(LdesMemberRow.seq).where(LdesMemberRow.version_iri == version)):
                        ts += timedelta(seconds=1)  # one version per item per second
                        version = version_iri(self.base, item_iri, ts)
                    g = build(ts, URIRef(version))
                    row = LdesMemberRow(
                        version_iri=version,
                        item_iri=item_iri,
                        generated_at=ts,
                        day=day_of(ts),
                        deleted=deleted,
                        content_hash=content_hash,
                        graph=g.serialize(format="nt"),
                    )
                    s.add(row)
                    s.flush()
                    for facet, value in sorted(facets):
                        s.add(LdesMemberFacetRow(seq=row.seq, facet=facet, value=value[:500]))
                    if head is None:
                        head = LdesHeadRow(item_iri=item_iri)
                        s.add(head)
                    head.seq, head.content_hash, head.deleted = row.seq, content_hash, deleted
                    head.source_id = source_id
                    return version
            except IntegrityError:
                continue  # another writer took the same version IRI or head: read again
        raise RuntimeError(f"could not append a member for {item_iri} after 5 attempts")

    @staticmethod
    def _next_timestamp(s: Session | Connection, now: datetime | None) -> datetime:
        newest = _newest_on(s)[0] if isinstance(s, Connection) else s.scalar(_NEWEST)
        return MemberLog._stamp_after(now, newest)

    @staticmethod
    def _stamp_after(now: datetime | None, newest: datetime | None) -> datetime:
        """A new member's time: ``now`` (whole seconds, UTC), never before the newest member's."""
        ts = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        last = aware(newest)
        return max(ts, last) if last is not None else ts

    # --- reading -----------------------------------------------------------------------------------
    def _where(self, flt: ViewFilter) -> list:
        conds = []
        for facet, vals in flt.values:
            match = LdesMemberFacetRow.value.in_(vals)
            if facet == "theme":
                match = or_(match, *[LdesMemberFacetRow.value.like(f"%/{v}") for v in vals])
            conds.append(
                LdesMemberRow.seq.in_(
                    select(LdesMemberFacetRow.seq).where(and_(LdesMemberFacetRow.facet == facet, match))
                )
            )
        return conds

    def head(self, item_iri: str) -> LdesHeadRow | None:
        with self.store.session() as s:
            return s.get(LdesHeadRow, item_iri)

    def current_day(self, now: datetime | None = None) -> str:
        """The day new members go to: today, or later if the newest member is stamped later."""
        today = day_of(now or datetime.now(UTC))
        with self.store.session() as s:
            last = s.scalar(select(LdesMemberRow.day).order_by(LdesMemberRow.seq.desc()).limit(1))
        return max(today, last or today)

    def days(self, flt: ViewFilter) -> list[tuple[str, int]]:
        """Every day that has members in this view, with its member count, oldest first."""
        with self.store.session() as s:
            q = (
                select(LdesMemberRow.day, func.count())
                .where(*self._where(flt))
                .group_by(LdesMemberRow.day)
                .order_by(LdesMemberRow.day)
            )
            return [(d, int(n)) for d, n in s.execute(q)]

    def chunks(self, flt: ViewFilter, day: str) -> list[Chunk]:
        """The pages of one day: boundaries every ``page_size`` members in log order."""
        with self.store.session() as s:
            q = (
                select(LdesMemberRow.generated_at)
                .where(LdesMemberRow.day == day, *self._where(flt))
                .order_by(LdesMemberRow.seq)
            )
            stamps = [aware(t) for t in s.scalars(q)]
        out = []
        for i in range(0, len(stamps), self.page_size):
            part = stamps[i : i + self.page_size]
            out.append(Chunk(i // self.page_size + 1, part[0], part[-1], len(part)))  # type: ignore[arg-type]
        return out

    def page(self, flt: ViewFilter, day: str, page: int) -> list[LdesMemberRow]:
        """The members of one page of a day, in log (= time) order."""
        with self.store.session() as s:
            q = (
                select(LdesMemberRow)
                .where(LdesMemberRow.day == day, *self._where(flt))
                .order_by(LdesMemberRow.seq)
                .offset((page - 1) * self.page_size)
                .limit(self.page_size)
            )
            return list(s.scalars(q))

    def members(self, after_seq: int = 0, limit: int = 1000) -> list[LdesMemberRow]:
        """The log itself, for replication checks and the SPARQL dataset."""
        with self.store.session() as s:
            q = select(LdesMemberRow).where(LdesMemberRow.seq > after_seq).order_by(LdesMemberRow.seq)
            return list(s.scalars(q.limit(limit)))

    def count(self) -> int:
        with self.store.session() as s:
            return int(s.scalar(select(func.count()).select_from(LdesMemberRow)) or 0)


def withdraw_items(store: Store, base: str, item_iris: Sequence[str]) -> list[str]:
    """Withdraw items (a full-snapshot source dropped them): one ``as:Delete`` member each.

    For the crawler side: call this, or :func:`withdraw_source` when the owner removes a source.
    """
    log = MemberLog(store, base)
    return [v for v in (log.withdraw(i) for i in item_iris) if v]


def withdraw_source(store: Store, base: str, source_id: str) -> list[str]:
    """Withdraw every published item of a removed source."""
    return MemberLog(store, base).withdraw_source(source_id)


def follow_state(store: Store, source_id: str) -> LdesFollowStateRow | None:
    """Saved state of a followed stream (platform ``ldes``): the nodes finished for good."""
    ensure_tables(store.engine)
    with store.session() as s:
        return s.get(LdesFollowStateRow, source_id)


def save_follow_state(store: Store, source_id: str, done_pages: Sequence[str], members_seen: int) -> None:
    """Record the finished nodes after a harvest of a followed stream stored its members."""
    ensure_tables(store.engine)
    with store.session() as s, s.begin():
        row = s.get(LdesFollowStateRow, source_id) or LdesFollowStateRow(source_id=source_id, members_seen=0)
        row.done_pages = list(done_pages)
        row.members_seen = (row.members_seen or 0) + members_seen
        row.last_run_at = datetime.now(UTC)
        s.merge(row)


def followed_versions(store: Store, source_id: str, item_iris: Sequence[str]) -> dict[str, tuple[str, str]]:
    """item IRI -> (version time, version IRI) last taken from this followed stream."""
    ensure_tables(store.engine)
    out: dict[str, tuple[str, str]] = {}
    iris = list(item_iris)
    with store.session() as s:
        for i in range(0, len(iris), 500):
            q = select(LdesFollowItemRow).where(
                LdesFollowItemRow.source_id == source_id, LdesFollowItemRow.item_iri.in_(iris[i : i + 500])
            )
            for row in s.scalars(q):
                out[row.item_iri] = (row.version_time, row.version_iri)
    return out


def save_followed_versions(
    store: Store, source_id: str, versions: Sequence[tuple[str, str, str, bool]]
) -> None:
    """Record (item IRI, version IRI, version time, deleted) as the newest taken from this stream."""
    ensure_tables(store.engine)
    with store.session() as s, s.begin():
        for item_iri, version_iri, version_time, deleted in versions:
            s.merge(
                LdesFollowItemRow(
                    source_id=source_id,
                    item_iri=item_iri,
                    version_iri=version_iri,
                    version_time=version_time,
                    deleted=deleted,
                )
            )
