"""A small triple container for the ingest hot path, with rdflib's N-Triples bytes.

An item holds ~30 triples that are written once and read a few times (hash, store, publish,
validation). An rdflib ``Graph`` costs ~10 µs per ``add`` plus its construction and a namespace
manager per ``serialize`` (../shared/design/performance.md, stage 2); this container is an
insertion-ordered set of rdflib-term triples and renders N-Triples with rdflib's own row function
(``_nt_row``), so every line is byte-for-byte what ``Graph.serialize(format="nt")`` writes
(tests/ontology/test_triples.py checks it on every corpus item). Everything else an rdflib
``Graph`` offers is reached through ``graph()``: a real Graph built lazily (SHACL, content
negotiation, other formats, tests), and attribute access falls back to it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import XSD
from rdflib.plugins.serializers.nt import _nt_row
from rdflib.term import Node, _is_valid_langtag, _is_valid_uri

Triple = tuple[Node, Node, Node]

_new_str = str.__new__
_XSD_DATETIME = XSD.dateTime
#: IRI -> its N-Triples form. Predicates, classes, concepts, source and network IRIs repeat in every
#: item (and are mostly the very same objects: a dict hit is an identity check); item IRIs do not,
#: so the dict is emptied when full instead of growing (the repeated ones come back at once).
_IRI_NT: dict[Node, str] = {}
_IRI_NT_MAX = 8192
_FAST_SUBJECTS = frozenset({URIRef, BNode})
_FAST_OBJECTS = frozenset({URIRef, BNode, Literal})
#: A character ``_quoteLiteral`` escapes: most literals have none, and one search is cheaper than
#: four ``str.replace`` passes that change nothing.
_NEEDS_ESCAPE = re.compile(r'[\\\n"\r]').search


def _iri_nt(term: URIRef) -> str:
    """``<iri>`` after rdflib's validity check (an invalid IRI raises rdflib's own exception via
    ``n3()`` and is never remembered), looked up in ``_IRI_NT`` first."""
    form = _IRI_NT.get(term)
    if form is None:
        form = f"<{term}>" if _is_valid_uri(term) else term.n3()
        if len(_IRI_NT) >= _IRI_NT_MAX:
            _IRI_NT.clear()
        _IRI_NT[term] = form
    return form


def _literal_nt(term: Literal) -> str:
    """``_quoteLiteral``'s escapes and suffixes (an f-string of a Literal writes its plain text)."""
    if _NEEDS_ESCAPE(term) is None:
        encoded: str = term
    else:
        encoded = term.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"').replace("\r", "\\r")
    lang, datatype = term._language, term._datatype  # noqa: SLF001 - the slots .language/.datatype read
    if lang:
        if datatype:
            raise Exception("Literal has datatype AND language!")  # rdflib's own error  # noqa: TRY002
        return f'"{encoded}"@{lang}'
    if datatype:
        return f'"{encoded}"^^<{datatype}>'
    return f'"{encoded}"'


def _term_nt(term: Node) -> str:
    """rdflib's N-Triples form of one term (``_nt_row``'s rules), for the exact rdflib classes.

    IRIs: ``_iri_nt``; literals: ``_literal_nt``; anything else (subclasses, other node kinds) goes
    to rdflib. tests/ontology/test_triples.py compares every corpus line.
    """
    cls = type(term)
    if cls is URIRef:
        return _iri_nt(term)  # type: ignore[arg-type]
    if cls is Literal:
        return _literal_nt(term)  # type: ignore[arg-type]
    if cls is BNode:
        return f"_:{term}"
    return term.n3()


def nt_line(triple: Triple) -> str:
    """One N-Triples line with its newline, exactly as rdflib's NT serializer (``_nt_row``) writes it.

    ~4x cheaper than ``_nt_row``: no method dispatch per term, IRI forms remembered.
    """
    s, p, o = triple
    if type(s) not in _FAST_SUBJECTS or type(o) not in _FAST_OBJECTS or type(p) is not URIRef:
        return _nt_row(triple)  # other shapes (subclasses, literal subjects): rdflib itself
    return f"{_term_nt(s)} {_iri_nt(p)} {_term_nt(o)} .\n"  # type: ignore[arg-type]


def nt_lines_of(triples: Iterable[Triple]) -> list[str]:
    """``[nt_line(t) for t in triples]`` in one loop: the per-line calls and type dispatch inlined.

    An item's ~30 triples mostly share one subject object (its form is made once per run of equal
    subjects) and a few dozen IRIs (``_IRI_NT``); literals are the only per-item work.
    """
    iris = _IRI_NT
    out: list[str] = []
    last_subject: Node | None = None
    subject = ""
    for triple in triples:
        s, p, o = triple
        s_cls, o_cls = type(s), type(o)
        if type(p) is not URIRef or (s_cls is not URIRef and s_cls is not BNode):
            out.append(_nt_row(triple))  # other shapes (subclasses, literal subjects): rdflib itself
            continue
        if s is not last_subject:
            subject = _iri_nt(s) if s_cls is URIRef else f"_:{s}"  # type: ignore[arg-type]
            last_subject = s
        pred = iris.get(p) or _iri_nt(p)  # type: ignore[arg-type]
        if o_cls is Literal:
            obj = _literal_nt(o)  # type: ignore[arg-type]
        elif o_cls is URIRef:
            obj = iris.get(o) or _iri_nt(o)  # type: ignore[arg-type]
        elif o_cls is BNode:
            obj = f"_:{o}"
        else:
            out.append(_nt_row(triple))
            continue
        out.append(f"{subject} {pred} {obj} .\n")
    return out


# --- terms without rdflib's cast round trip -----------------------------------------------------------
# ``Literal(value)`` parses its lexical form back to a Python value and re-serialises it (~1-6 µs per
# literal, ten or more per item). For the three shapes the mappers write most, the functions below set
# the same four slots rdflib's ``Literal.__new__`` sets for these inputs (tests/ontology/test_terms.py
# compares every slot against rdflib's constructor on corpus values and edge cases).


def plain_literal(value: str) -> Literal:
    """``Literal(value)`` for a ``str`` value."""
    if type(value) is not str:
        return Literal(value)
    lit = _new_str(Literal, value)
    lit._language = None  # noqa: SLF001
    lit._datatype = None  # noqa: SLF001
    lit._value = value  # noqa: SLF001
    lit._ill_typed = None  # noqa: SLF001
    return lit


@lru_cache(maxsize=512)
def _valid_lang(lang: str) -> bool:
    return _is_valid_langtag(lang)


def lang_literal(value: str, lang: str) -> Literal:
    """``Literal(value, lang=lang)`` for a ``str`` value and a non-empty tag (invalid tags raise as rdflib does)."""
    if type(value) is not str or type(lang) is not str or not lang or not _valid_lang(lang):
        return Literal(value, lang=lang)
    lit = _new_str(Literal, value)
    lit._language = lang  # noqa: SLF001
    lit._datatype = None  # noqa: SLF001
    lit._value = value  # noqa: SLF001
    lit._ill_typed = None  # noqa: SLF001
    return lit


def utc_datetime_literal(value: datetime) -> Literal:
    """``Literal(<value in UTC, ISO, Z>, datatype=xsd:dateTime)``: what rdflib makes of that text.

    rdflib parses ``...Z`` to an aware datetime in ``datetime.timezone.utc`` and, normalising,
    writes it back with ``isoformat()`` (``+00:00``). Years outside 1000-9999 and datetime
    subclasses take rdflib's own path.
    """
    utc = value.astimezone(UTC)
    if type(utc) is not datetime or not 1000 <= utc.year <= 9999:
        return Literal(utc.replace(tzinfo=None).isoformat() + "Z", datatype=_XSD_DATETIME)
    lit = _new_str(Literal, utc.isoformat())
    lit._language = None  # noqa: SLF001
    lit._datatype = _XSD_DATETIME  # noqa: SLF001
    lit._value = utc  # noqa: SLF001
    lit._ill_typed = False  # noqa: SLF001
    return lit


#: Graph methods that change a graph: never forwarded to the lazily built copy.
_MUTATORS = frozenset({"parse", "bind", "update", "remove_graph", "__isub__", "__ior__", "__iand__"})


def sorted_nt_sha256(nt: str) -> str:
    """sha256 of N-Triples text's non-blank lines, sorted and joined by newlines: the content hash.

    str.splitlines as the store always did (it also splits at U+2028 etc., which N-Triples leaves
    unescaped), so stored hashes stay valid. ``filter(str.strip, ...)`` is ``if line.strip()``
    without a Python frame per line.
    """
    lines = sorted(filter(str.strip, nt.splitlines()))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


class ItemGraph:
    """An insertion-ordered set of triples with the few Graph methods the pipeline uses."""

    __slots__ = ("_graph", "_lines", "_sha", "_triples")

    def __init__(self, triples: Iterable[Triple] = ()) -> None:
        self._triples: dict[Triple, None] = dict.fromkeys(triples)
        #: The N-Triples lines of the current triples, in order (None: not rendered since the last change).
        self._lines: list[str] | None = None
        self._graph: Graph | None = None
        self._sha: str | None = None

    # --- writing -----------------------------------------------------------------------------------
    def add(self, triple: Triple) -> ItemGraph:
        self._triples[triple] = None
        self._graph = self._sha = self._lines = None
        return self

    def addN(self, quads: Iterable[tuple[Node, Node, Node, Any]]) -> ItemGraph:  # noqa: N802 - rdflib's name
        for s, p, o, _ in quads:
            self._triples[(s, p, o)] = None
        self._graph = self._sha = self._lines = None
        return self

    def remove(self, pattern: tuple[Node | None, Node | None, Node | None]) -> ItemGraph:
        """Remove every triple matching the pattern (None matches anything), as rdflib does."""
        for triple in list(self.triples(pattern)):
            del self._triples[triple]
        self._graph = self._sha = self._lines = None
        return self

    def set(self, triple: Triple) -> ItemGraph:
        """Replace the object(s) of (subject, predicate) with this one (rdflib's ``Graph.set``)."""
        s, p, o = triple
        self.remove((s, p, None))
        return self.add((s, p, o))

    def __iadd__(self, other: Iterable[Triple]) -> ItemGraph:
        for triple in other:
            self._triples[triple] = None
        self._graph = self._sha = self._lines = None
        return self

    def __add__(self, other: Iterable[Triple]) -> ItemGraph:
        out = ItemGraph(self._triples)
        out += other
        if (
            isinstance(other, ItemGraph)
            and self._lines is not None
            and other._lines is not None
            and len(out) == len(self) + len(other)  # no triple in both: the lines follow each other
        ):
            out._lines = self._lines + other._lines
        return out

    # --- reading -----------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[Triple]:
        return iter(self._triples)

    def __len__(self) -> int:
        return len(self._triples)

    def __contains__(self, triple: object) -> bool:
        if isinstance(triple, tuple) and None in triple:
            return next(self.triples(triple), None) is not None  # type: ignore[arg-type]
        return triple in self._triples

    def triples(self, pattern: tuple[Node | None, Node | None, Node | None]) -> Iterator[Triple]:
        s, p, o = pattern
        for triple in self._triples:
            if (
                (s is None or triple[0] == s)
                and (p is None or triple[1] == p)
                and (o is None or triple[2] == o)
            ):
                yield triple

    def objects(self, subject: Node | None = None, predicate: Node | None = None) -> Iterator[Node]:
        return (o for _, _, o in self.triples((subject, predicate, None)))

    def subjects(self, predicate: Node | None = None, obj: Node | None = None) -> Iterator[Node]:
        return (s for s, _, _ in self.triples((None, predicate, obj)))

    def value(
        self, subject: Node | None = None, predicate: Node | None = None, object: Node | None = None
    ) -> Any:  # noqa: A002
        """The first matching missing term (rdflib's ``Graph.value`` for the one-unknown case)."""
        for s, p, o in self.triples((subject, predicate, object)):
            return o if object is None else s if subject is None else p
        return None

    def namespaces(self) -> Iterator[tuple[str, Any]]:
        """No prefixes (rdflib's ``Graph.__add__`` asks the other operand for them)."""
        return iter(())

    # --- N-Triples ---------------------------------------------------------------------------------
    def nt_lines(self) -> list[str]:
        """Each triple's N-Triples line (with newline), in insertion order; rendered once per state.

        The list is the graph's own (record, member and hash all read it): do not change it.
        """
        if self._lines is None:
            self._lines = nt_lines_of(self._triples)
        return self._lines

    def nt(self) -> str:
        """The graph as N-Triples (the same lines as rdflib's serializer; order is insertion order)."""
        return "".join(self.nt_lines())

    def sorted_nt_sha256(self) -> str:
        """sha256 of the sorted N-Triples lines joined by newlines (the content hash), once per state.

        The store and publish stages both need it; any change to the graph forgets it.
        """
        if self._sha is None:
            self._sha = sorted_nt_sha256(self.nt())
        return self._sha

    def serialize(self, format: str = "turtle", **kwargs: Any) -> Any:  # noqa: A002
        """N-Triples directly; any other format (or options) through a real rdflib Graph."""
        if format in ("nt", "ntriples", "nt11") and not kwargs:
            return self.nt()
        return self.graph().serialize(format=format, **kwargs)

    # --- rdflib --------------------------------------------------------------------------------------
    def graph(self) -> Graph:
        """A real rdflib Graph with these triples (built once until the next change)."""
        if self._graph is None:
            g = Graph()
            g += self._triples
            self._graph = g
        return self._graph

    def __getattr__(self, name: str) -> Any:
        # Anything else a caller expects of a Graph (isomorphism helpers, query, ...).
        if name.startswith("__") or name in _MUTATORS:
            raise AttributeError(f"ItemGraph has no {name!r} (a change to a built copy would be lost)")
        return getattr(self.graph(), name)
