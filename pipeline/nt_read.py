"""Stored records read back for indexing without rdflib's N-Triples parser.

A rebuild projects every stored record onto a search document
(:func:`search.project.document_from_graph`), which only asks ``value(s, p)`` and
``objects(s, p)``. Parsing each record into an rdflib ``Graph`` cost ~250 µs per record
(more than analysing and encoding the document for Elasticsearch), because rdflib's parser
and in-memory store work term by term in Python. The store's records are written by rdflib's
own serializer (one triple per line, single spaces, `` .`` at the end), so the common lines
are matched here with one regular expression and indexed by (subject, predicate).

Escapes in literals are undone by rdflib's own ``unquote``. Anything outside those shapes
— an escape in an IRI, a comment, other spacing — makes
:func:`read_record` return None and the caller parses the record with rdflib as before, so
the terms are always the ones rdflib would build (tests/pipeline/test_nt_read.py projects
every corpus item both ways).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from rdflib import BNode, Literal, URIRef
from rdflib.plugins.parsers.ntriples import unquote
from rdflib.term import Node

_IRI = r'<([^<>"{}|^`\\\x00-\x20]*)>'
_LINE = re.compile(
    rf"(?:{_IRI}|_:([A-Za-z0-9_][A-Za-z0-9_.-]*)) {_IRI} "
    rf'(?:{_IRI}|_:([A-Za-z0-9_][A-Za-z0-9_.-]*)|"((?:[^"\\\r\n]|\\.)*)"'
    rf"(?:@([A-Za-z]+(?:-[A-Za-z0-9]+)*)|\^\^{_IRI})?) \."
)


class RecordTriples:
    """One record's triples indexed by (subject, predicate), objects in line order."""

    __slots__ = ("_index",)

    def __init__(self) -> None:
        self._index: dict[tuple[Node, Node], dict[Node, None]] = {}

    def add(self, s: Node, p: Node, o: Node) -> None:
        self._index.setdefault((s, p), {})[o] = None

    def objects(self, subject: Node, predicate: Node) -> Iterator[Node]:
        """The objects of (subject, predicate), first written first (rdflib's memory store order)."""
        return iter(self._index.get((subject, predicate), ()))

    def value(self, subject: Node, predicate: Node) -> Node | None:
        """The first object of (subject, predicate), or None (``Graph.value`` for that case)."""
        return next(iter(self._index.get((subject, predicate), ())), None)


def read_record(nt: str) -> RecordTriples | None:
    """The record's triples, or None when a line is not in the plain shapes (use rdflib)."""
    out = RecordTriples()
    bnodes: dict[str, BNode] = {}
    for line in nt.splitlines():
        if not line:
            continue
        m = _LINE.fullmatch(line)
        if m is None:
            return None
        s_iri, s_blank, p_iri, o_iri, o_blank, lexical, lang, datatype = m.groups()
        s: Node = URIRef(s_iri) if s_iri is not None else bnodes.setdefault(s_blank, BNode())
        if lexical is not None and "\\" in lexical:
            lexical = unquote(lexical)  # rdflib's own unescaping (backslash escapes)
        o: Node
        if o_iri is not None:
            o = URIRef(o_iri)
        elif o_blank is not None:
            o = bnodes.setdefault(o_blank, BNode())
        elif datatype is not None:
            o = Literal(lexical, datatype=URIRef(datatype))
        else:
            o = Literal(lexical, lang=lang)
        out.add(s, URIRef(p_iri), o)
    return out
