"""PROV-O provenance of one harvested item: source, network chain, fetch time, payload hash, mapping version.

Kept in its own graph, outside the content hash (pipeline/store.py), so re-harvesting the same
content is "unchanged". The chain of networks is an ordered ``rdf:List`` (origin first, the
network that handed it to us last): a federated instance appends its hop, nothing is lost.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from uuid import uuid4

from rdflib import BNode, Literal, URIRef
from rdflib.term import Node

from ontology.mapping.common import cached_network_iri, dt_literal, iri, item_graph
from ontology.namespaces import INNONET, PROV, RDF
from ontology.triples import ItemGraph
from ontology.uris import harvest_iri, payload_iri, source_iri

# Bound once: a namespace attribute is a method call per use (~10 per item here).
_GENERATED_AT, _DERIVED_FROM, _GENERATED_BY = PROV.generatedAtTime, PROV.wasDerivedFrom, PROV.wasGeneratedBy
_ATTRIBUTED_TO, _PRIMARY_SOURCE = PROV.wasAttributedTo, PROV.hadPrimarySource
_MAPPING_VERSION, _NETWORK_CHAIN = INNONET.mappingVersion, INNONET.networkChain
_FIRST, _REST, _NIL = RDF.first, RDF.rest, RDF.nil
_new_str = str.__new__

# Blank-node labels for the chain's list cells: a random prefix per process and a counter.
# rdflib's ``BNode()`` draws a uuid4 per node (~5 µs, one per item and network); these labels are
# as unique (the same 128 random bits, then a serial), and a forked child draws its own prefix.
_label_prefix = f"N{uuid4().hex}"
_label_serial = itertools.count()


def _new_labels() -> None:
    global _label_prefix, _label_serial  # noqa: PLW0603 - per process state
    _label_prefix, _label_serial = f"N{uuid4().hex}", itertools.count()


os.register_at_fork(after_in_child=_new_labels)


def _cell() -> BNode:
    # = BNode(label): rdflib's constructor, given a value, only calls str.__new__ with it.
    return _new_str(BNode, f"{_label_prefix}{next(_label_serial):x}")


@lru_cache(maxsize=64)
def _run_terms(
    when: datetime, raw_sha256: str | None, mapping_version: str, base: str | None, source_id: str | None
) -> tuple[Literal, URIRef | None, Literal, URIRef | None, tuple[tuple[URIRef, URIRef, Node], ...]]:
    """Terms every item of one harvest run shares, made once per run instead of once per item."""
    stamp = dt_literal(when)
    payload = payload_iri(raw_sha256) if raw_sha256 else None
    run = harvest_iri(base, source_id, when) if base and source_id else None
    run_triples: list[tuple[URIRef, URIRef, Node]] = []
    if run is not None and base and source_id:
        run_triples += [(run, RDF.type, PROV.Activity), (run, PROV.startedAtTime, stamp)]
        run_triples.append((run, PROV.used, source_iri(base, source_id)))
        if payload is not None:
            run_triples.append((run, PROV.generated, payload))
    return stamp, payload, Literal(mapping_version), run, tuple(run_triples)


def provenance(
    subject: URIRef,
    fetched_at: datetime,
    raw_sha256: str | None,
    mapping_version: str,
    *,
    base: str | None = None,
    source_id: str | None = None,
    network_id: str | None = None,
    upstream_networks: list[str] | None = None,
    primary_source: str | None = None,
) -> ItemGraph:
    """When, by which harvest run, from which bytes and through which networks the record was made."""
    return run_provenance(
        fetched_at, raw_sha256, mapping_version, base=base, source_id=source_id, network_id=network_id
    )(subject, upstream_networks, primary_source)


def run_provenance(
    fetched_at: datetime,
    raw_sha256: str | None,
    mapping_version: str,
    *,
    base: str | None = None,
    source_id: str | None = None,
    network_id: str | None = None,
) -> Callable[[URIRef, list[str] | None, str | None], ItemGraph]:
    """``provenance`` for the items of one harvest run: ``make(subject, upstream_networks, primary_source)``.

    What the run's items share (time stamp, payload, version, run activity, the source's network)
    is looked up once here instead of once per item (pipeline/map.py maps a batch with one maker);
    each call writes the same triples, in the same order, as ``provenance`` with these arguments.
    """
    when = fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC)
    stamp, payload, version, run, run_triples = _run_terms(when, raw_sha256, mapping_version, base, source_id)
    # The item triples before the chain, as (predicate, object) pairs, in the order provenance writes them.
    head: list[tuple[URIRef, Node]] = [(_GENERATED_AT, stamp)]
    if payload is not None:
        head.append((_DERIVED_FROM, payload))
    head.append((_MAPPING_VERSION, version))
    if run is not None:
        head.append((_GENERATED_BY, run))
    tail_run = list(run_triples) if run is not None else []
    own_network = cached_network_iri(base, network_id) if base and network_id else None

    def make(
        subject: URIRef, upstream_networks: list[str] | None = None, primary_source: str | None = None
    ) -> ItemGraph:
        # The triples in a list, added to the item's container at once (``+=``: one loop instead of
        # an ``add`` call per triple); the same triples in the same order as adding them one by one.
        triples: list[tuple[Node, Node, Node]] = [(subject, p, o) for p, o in head]
        triples += tail_run
        if not upstream_networks and own_network is not None:
            # The common case, a chain of the source's own network only: what the loop below writes
            # for a one-cell chain, without the list building.
            cell = _cell()
            triples += [
                (cell, _FIRST, own_network),
                (cell, _REST, _NIL),
                (subject, _NETWORK_CHAIN, cell),
                (subject, _ATTRIBUTED_TO, own_network),
            ]
            primary = iri(primary_source)
            if primary is not None:
                triples.append((subject, _PRIMARY_SOURCE, primary))
            g = item_graph()
            g += triples
            return g
        if upstream_networks:
            chain = [u for u in (iri(n) for n in upstream_networks) if u is not None]
            if own_network is not None:
                chain.append(own_network)
        else:
            chain = [own_network] if own_network is not None else []
        if chain:
            # The rdf:List written cell by cell (what rdflib's Collection writes, without its lookups).
            cells = [_cell() for _ in chain]
            for cell, network, rest in zip(cells, chain, [*cells[1:], _NIL], strict=True):
                triples.append((cell, _FIRST, network))
                triples.append((cell, _REST, rest))
            triples.append((subject, _NETWORK_CHAIN, cells[0]))
            triples += [(subject, _ATTRIBUTED_TO, network) for network in chain]
        primary = iri(primary_source)
        if primary is not None:
            triples.append((subject, _PRIMARY_SOURCE, primary))
        g = item_graph()
        g += triples
        return g

    return make
