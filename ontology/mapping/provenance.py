"""PROV-O provenance of one harvested item: source, network chain, fetch time, payload hash, mapping version.

Kept in its own graph, outside the content hash (pipeline/store.py), so re-harvesting the same
content is "unchanged". The chain of networks is an ordered ``rdf:List`` (origin first, the
network that handed it to us last): a federated instance appends its hop, nothing is lost.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.collection import Collection

from ontology.mapping.common import dt_literal, iri
from ontology.namespaces import INNONET, PROV, RDF
from ontology.uris import harvest_iri, network_iri, payload_iri, source_iri


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
) -> Graph:
    """When, by which harvest run, from which bytes and through which networks the record was made."""
    g = Graph()
    when = fetched_at if fetched_at.tzinfo else fetched_at.replace(tzinfo=UTC)
    g.add((subject, PROV.generatedAtTime, dt_literal(when)))
    if raw_sha256:
        g.add((subject, PROV.wasDerivedFrom, payload_iri(raw_sha256)))
    g.add((subject, INNONET.mappingVersion, Literal(mapping_version)))
    if base and source_id:
        run = harvest_iri(base, source_id, when)
        g.add((subject, PROV.wasGeneratedBy, run))
        g.add((run, RDF.type, PROV.Activity))
        g.add((run, PROV.startedAtTime, dt_literal(when)))
        g.add((run, PROV.used, source_iri(base, source_id)))
        if raw_sha256:
            g.add((run, PROV.generated, payload_iri(raw_sha256)))
    chain: list[URIRef] = [u for u in (iri(n) for n in upstream_networks or []) if u is not None]
    if base and network_id:
        chain.append(network_iri(base, network_id))
    if chain:
        head = BNode()
        Collection(g, head, list(chain))
        g.add((subject, INNONET.networkChain, head))
        for network in chain:
            g.add((subject, PROV.wasAttributedTo, network))
    primary = iri(primary_source)
    if primary is not None:
        g.add((subject, PROV.hadPrimarySource, primary))
    return g
