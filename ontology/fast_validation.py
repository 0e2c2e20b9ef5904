"""A cheap, sound proof of conformance for the common case, so pySHACL runs only where it must.

pySHACL costs ~0.6 ms per item even in batches (../shared/design/performance.md). Most harvested
items are ordinary news articles with nothing to report. This module re-implements, in plain
Python, the constraints of ``ontology/shapes/items.shacl.ttl`` that apply to such an item
(NewsArticleShape, ProvenanceShape, ConceptsShape) and answers one question: *does pySHACL
certainly find no result at all (no violation, no warning) for this item?*

* ``True`` is a proof: the item is stored without pySHACL. It is only given when every shape that
  could target any node of the item is one this module implements, every constraint holds, and the
  item's nodes are not shared with another item of the batch (``batch_proofs``).
* ``False`` means "not proven": pySHACL stays authoritative and produces the report and the
  plain-language messages exactly as before. Events, cases, organisations, places, items with
  warnings and anything unusual always take this path.

The check is bound to the shapes it was written for: ``shapes_fingerprint`` must equal
``COVERED_SHAPES_FINGERPRINT``, otherwise nothing is proven (every item goes to pySHACL) until
someone updates this module; tests/ontology/test_fast_validation.py fails in that case, and checks
the proofs against pySHACL on every corpus item and on broken variants of them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import lru_cache
from itertools import chain, filterfalse

from rdflib import Graph, Literal, URIRef
from rdflib.compare import to_canonical_graph
from rdflib.term import Node

from ontology.namespaces import DCTERMS, INNONET, ORG, PROV, RDF, RDFS, SCHEMA, XSD
from ontology.triples import ItemGraph, sorted_nt_sha256
from ontology.validation import SHAPES_DIR

Triple = tuple[Node, Node, Node]

#: sha256 of the canonical N-Triples of the shapes this module implements (see ``shapes_fingerprint``).
COVERED_SHAPES_FINGERPRINT = "8e6aa095b00187048781ec91a1c3d192e5f1e1ab2ccf1a24c710ab9e8673d68c"

#: Every class some shape targets (sh:targetClass); a node of one of these types is a focus node.
TARGET_CLASSES = frozenset(
    {SCHEMA.NewsArticle, SCHEMA.Event, INNONET.InnovationCase, ORG.Organization, SCHEMA.Place}
)
#: Every predicate some shape targets the subjects of (sh:targetSubjectsOf).
CONCEPT_PREDICATES = (
    DCTERMS.subject,
    INNONET.innovationFacet,
    INNONET.lifecycleStage,
    INNONET.governmentLevel,
    INNONET.barrier,
)
TARGET_SUBJECTS_OF = frozenset({INNONET.mappingVersion, *CONCEPT_PREDICATES})
CONCEPT_PATTERNS = {
    DCTERMS.subject: re.compile(r"^https://w3id\.org/innonet/concepts/theme/"),
    INNONET.innovationFacet: re.compile(r"^https://w3id\.org/innonet/concepts/facet/"),
    INNONET.lifecycleStage: re.compile(r"^https://w3id\.org/innonet/concepts/stage/"),
    INNONET.governmentLevel: re.compile(r"^https://w3id\.org/innonet/concepts/level/"),
    INNONET.barrier: re.compile(r"^https://w3id\.org/innonet/concepts/barrier/"),
}
_TYPE, _SUBCLASS_OF = RDF.type, RDFS.subClassOf
#: NewsArticleShape's warning for an undated item, as plain_message renders pySHACL's result.
NO_DATE_WARNING = "the item has no publication date it could be sorted by (field schema:datePublished)"
ZONE_PATTERN = re.compile(r"(Z|[+-][0-9]{2}:[0-9]{2})$")


@lru_cache(maxsize=1)
def shapes_fingerprint() -> str:
    """A hash of the shapes files that ignores blank-node labels, order and whitespace."""
    # Parsed afresh: pySHACL may add triples to the shapes graph it is given (the cached one).
    shapes = Graph()
    for path in sorted(SHAPES_DIR.glob("*.ttl")):
        shapes.parse(path, format="turtle")
    canonical = to_canonical_graph(shapes)
    return sorted_nt_sha256(canonical.serialize(format="nt"))


def enabled() -> bool:
    """True while the shapes are the ones this module implements; otherwise nothing is proven."""
    return shapes_fingerprint() == COVERED_SHAPES_FINGERPRINT


_DATETIME_TYPE, _STRING_TYPES = frozenset({XSD.dateTime}), frozenset({None, XSD.string})


def _is_datetime(value: Node) -> bool:
    # pySHACL's sh:datatype xsd:dateTime: a literal of that datatype whose value parsed as a datetime.
    if type(value) is Literal:
        # rdflib's own class: its slots, which the .datatype/.language/.value properties return.
        return (
            value._datatype in _DATETIME_TYPE  # noqa: SLF001
            and value._language is None  # noqa: SLF001
            and isinstance(value._value, datetime)  # noqa: SLF001
        )
    return (
        isinstance(value, Literal)
        and value.datatype in _DATETIME_TYPE
        and value.language is None
        and isinstance(value.value, datetime)
    )


def _is_string(value: Node) -> bool:
    # sh:or ( [sh:datatype rdf:langString] [sh:datatype xsd:string] ): a tagged or a plain string.
    if type(value) is Literal:
        # rdflib's own class: its slots, which the .datatype/.language/.value properties return.
        if not isinstance(value._value, str):  # noqa: SLF001
            return False
        if value._language:  # noqa: SLF001
            return value._datatype is None  # noqa: SLF001
        return value._datatype in _STRING_TYPES  # noqa: SLF001
    if not isinstance(value, Literal) or not isinstance(value.value, str):
        return False
    if value.language:
        return value.datatype is None
    return value.datatype in _STRING_TYPES


def _all_iris(values: Sequence[Node]) -> bool:
    """Every value an IRI (``type(...) is URIRef`` first: isinstance() on an rdflib ABC is slower)."""
    for v in values:  # noqa: SIM110 - a loop: all() of a generator costs a frame per call
        if type(v) is not URIRef and not isinstance(v, URIRef):
            return False
    return True


# Terms bound once: a DCTERMS/PROV/INNONET/RDF attribute builds a new URIRef on every access.
_HEADLINE, _URL, _DATE_PUBLISHED, _NEWS_ARTICLE = (
    SCHEMA.headline,
    SCHEMA.url,
    SCHEMA.datePublished,
    SCHEMA.NewsArticle,
)
_SOURCE, _NETWORK, _GENERATED_AT = DCTERMS.source, INNONET.network, PROV.generatedAtTime
_GENERATED_BY, _NETWORK_CHAIN, _MAPPING_VERSION = (
    PROV.wasGeneratedBy,
    INNONET.networkChain,
    INNONET.mappingVersion,
)
_LIFECYCLE_STAGE = INNONET.lifecycleStage
_CONCEPT_SEARCHES = tuple((p, pattern.search) for p, pattern in CONCEPT_PATTERNS.items())
_ZONE_SEARCH = ZONE_PATTERN.search
#: A non-item subject with one of these predicates is a focus node of some shape (or, for
#: rdfs:subClassOf, widens a class target): not proven.
_REACHING = TARGET_SUBJECTS_OF | {_SUBCLASS_OF}
_ONLY_NEWS = frozenset({_NEWS_ARTICLE})
# One-element sets: ``x in {term}`` compares strings in C unless the hashes match; ``x == term``
# always runs rdflib's Python ``__eq__``.
_TYPES = frozenset({_TYPE})


def _news_conforms(props: dict[Node, list[Node]]) -> bool:
    """NewsArticleShape with no result, including its warning (a missing publication date)."""
    headlines = props.get(_HEADLINE, ())
    if len(headlines) != 1:
        return False
    (headline,) = headlines
    if not _is_string(headline) or not 1 <= len(str(headline)) <= 2000:
        return False
    urls = props.get(_URL, ())
    if len(urls) > 1 or not _all_iris(urls):
        return False
    published = props.get(_DATE_PUBLISHED, ())
    if len(published) > 1 or (published and not _is_datetime(published[0])):
        return False
    sources = props.get(_SOURCE, ())
    if len(sources) != 1 or not _all_iris(sources):
        return False
    networks = props.get(_NETWORK, ())
    if not networks or not _all_iris(networks):
        return False
    harvested = props.get(_GENERATED_AT, ())
    return len(harvested) == 1 and _is_datetime(harvested[0])


def _provenance_conforms(props: dict[Node, list[Node]]) -> bool:
    """ProvenanceShape (targets subjects of innonet:mappingVersion)."""
    runs = props.get(_GENERATED_BY, ())
    if len(runs) > 1 or not _all_iris(runs):
        return False
    for v in props.get(_GENERATED_AT, ()):
        # a literal or an IRI whose text ends with a zone (re reads the str subclass as it is)
        if (type(v) is not Literal and not isinstance(v, Literal | URIRef)) or not _ZONE_SEARCH(v):
            return False
    return len(props.get(_NETWORK_CHAIN, ())) <= 1


def _concepts_conform(props: dict[Node, list[Node]]) -> bool:
    """ConceptsShape (targets subjects of any concept predicate): every value one of our concepts."""
    for predicate, search in _CONCEPT_SEARCHES:
        for v in props.get(predicate, ()):
            if (type(v) is not URIRef and not isinstance(v, URIRef)) or not search(v):
                return False
    return len(props.get(_LIFECYCLE_STAGE, ())) <= 1


def owned(item: URIRef, subject: Node) -> bool:
    """The item's own nodes: its IRI and its fragments (``{item}#place``)."""
    # Plain str operations: rdflib's term equality is Python code and this runs per triple.
    if not isinstance(subject, URIRef) or not str.startswith(subject, item):
        return False
    return len(subject) == len(item) or subject[len(item)] == "#"


def proves_conformance(item: URIRef, triples: Iterable[Triple]) -> bool:
    """True only if pySHACL, on these triples alone, reports nothing at all for any node in them."""
    return proven_warnings(item, triples) == []


def proven_warnings(item: URIRef, triples: Iterable[Triple]) -> list[str] | None:
    """None: not proven (ask pySHACL). A list: pySHACL finds no violation and exactly these warnings.

    The one warning this module reproduces is NewsArticleShape's missing publication date, with the
    text ``ontology.validation.plain_message`` makes of pySHACL's result (tests compare the two).
    """
    undated = _proven(item, triples)
    if undated is None:
        return None
    return [NO_DATE_WARNING] if undated else []


def _proven(item: URIRef, triples: Iterable[Triple]) -> bool | None:
    """None if not proven; else whether the no-publication-date warning applies.

    One pass over the triples: the item's own properties are collected, every other subject is
    only checked for what would make it a focus node (a targeted type, a targeted predicate) or
    widen a class target (rdfs:subClassOf, anywhere): any of these means "not proven".
    """
    if not isinstance(item, URIRef):
        return None
    # Objects in lists, not sets: a set hashes every literal (rdflib's Literal.__hash__ is Python
    # code). The same answer for distinct triples (``item_triples``: per subject and predicate the
    # objects are then distinct, so a list has the set's length); a repeated triple only makes a
    # list longer, which can turn a proof into "not proven" (pySHACL decides), never the reverse.
    props: dict[Node, list[Node]] = {}
    item_type = type(item)
    for s, p, o in triples:
        # the item: the same object in every triple the mappers write; else rdflib's equality
        # (same type, same string); a term of another type with the item's string: not proven
        if s is item or (type(s) is item_type and str.__eq__(s, item)):
            props.setdefault(p, []).append(o)  # rdfs:subClassOf among them: tested after the loop
        elif (
            p in _REACHING
            or (p in _TYPES and o in TARGET_CLASSES)
            or (isinstance(s, URIRef) and str.__eq__(s, item))
        ):
            return None
    if not props or _SUBCLASS_OF in props:
        return None
    if TARGET_CLASSES.intersection(props.get(_TYPE, ())) != _ONLY_NEWS:
        return None
    if not _news_conforms(props):
        return None
    if _MAPPING_VERSION in props and not _provenance_conforms(props):
        return None
    if not props.keys().isdisjoint(CONCEPT_PREDICATES) and not _concepts_conform(props):
        return None
    return _DATE_PUBLISHED not in props


def batch_proofs(items: Sequence[tuple[URIRef, list[Triple]]]) -> list[list[str] | None]:
    """Per item of a batch: its proven warnings (``proven_warnings``), or None when not proven.

    An item is proven only if ``proven_warnings`` proves it and its nodes are named by no other item.

    pySHACL validates the union of the batch. An item's result can only depend on another item's
    triples through shared nodes, so an item whose own nodes (``owned``) appear in another item's
    triples, as subject or object, is never proven. The remaining items are then validated by
    pySHACL on the union without the proven items' own-node triples, which no other focus node reaches.
    """
    if not enabled():
        return [None] * len(items)
    # Each item's distinct nodes (subjects, IRI objects) once.
    nodes_of: list[set[Node]] = []
    for _, triples in items:
        nodes = {s for s, _, _ in triples}
        # IRI objects: ``type(o) is URIRef`` first (rdflib's terms are ABCs: isinstance() on a literal
        # fails through ABCMeta, ~0.1 us); a literal is never one; anything else asks isinstance().
        nodes.update(
            [
                o
                for _, _, o in triples
                if type(o) is URIRef or (type(o) is not Literal and isinstance(o, URIRef))
            ]
        )
        nodes_of.append(nodes)
    # mentions[node]: how many items name it (an item's nodes are a set, so each item counts once),
    # counted in C (Counter over the chained sets) instead of a Python loop per node.
    mentions = Counter(chain.from_iterable(nodes_of))
    shared = _sharing_items(items, nodes_of, [n for n, count in mentions.items() if count > 1])
    return [
        None if index in shared else proven_warnings(item, triples)
        for index, (item, triples) in enumerate(items)
    ]


def _sharing_items(
    items: Sequence[tuple[URIRef, list[Triple]]], nodes_of: list[set[Node]], named_twice: list[Node]
) -> set[int]:
    """The items one of whose own nodes (as their triples name them) another item names too.

    Read from the few nodes two or more items name (a batch's source, run, network, classes ...)
    instead of testing every node of every item: a node is owned (``owned``) by the item whose IRI
    is the node's text or the node's text up to one of its '#' characters, so those are the only
    items a node can make shared; each is shared if its own triples name that node.
    """
    by_iri: dict[str, list[int]] = {}
    for index, (item, _) in enumerate(items):
        by_iri.setdefault(str(item), []).append(index)
    shared: set[int] = set()
    for node in named_twice:
        if not isinstance(node, URIRef):
            continue  # ``owned``: only IRIs
        text = str(node)
        owners = [text]
        cut = text.find("#")
        while cut != -1:
            owners.append(text[:cut])
            cut = text.find("#", cut + 1)
        for owner in owners:
            for index in by_iri.get(owner, ()):
                if node in nodes_of[index]:
                    shared.add(index)
    return shared


def item_triples(*graphs: Graph) -> list[Triple]:
    """The distinct triples of an item's graphs (content + provenance), as pySHACL sees their union."""
    if len(graphs) == 2 and type(graphs[0]) is ItemGraph and type(graphs[1]) is ItemGraph:
        # Each ItemGraph's triples are distinct already: hash only the second graph's (a triple's
        # hash calls rdflib's Python Literal.__hash__), against the first one's own dict.
        # filterfalse with the dict's own __contains__: the same filter without a Python frame per triple.
        first = graphs[0]._triples  # noqa: SLF001 - the container's own set
        return [*first, *filterfalse(first.__contains__, graphs[1]._triples)]  # noqa: SLF001
    seen: set[Triple] = set()
    for graph in graphs:
        # An ItemGraph iterates its triples directly (the same ones, in the same order, as the
        # all-None pattern, without testing each against it).
        seen.update(graph if isinstance(graph, ItemGraph) else graph.triples((None, None, None)))
    return list(seen)
