"""Namespaces: standard ones from rdflib, ours as a DefinedNamespace that fails on typos.

``INNONET.netwrok`` raises AttributeError in tests instead of writing a wrong triple.
"""

from __future__ import annotations

from rdflib import Namespace
from rdflib.namespace import DCTERMS, PROV, RDF, SDO, XSD, DefinedNamespace

# schema.org is used with its canonical http:// IRIs (rdflib's SDO is https://).
SCHEMA = Namespace("http://schema.org/")


class INNONET(DefinedNamespace):
    """innonet's own terms (ontology/vocab/innonet.ttl)."""

    _NS = Namespace("https://w3id.org/innonet/ns#")
    _fail = True

    Network: object  # A lab, city, programme or observatory publishing sources.
    Source: object  # A feed or page harvested on behalf of a network.
    network: object  # The network through which the item reached innonet.
    mappingVersion: object  # Version of the mapping that produced the record.


__all__ = ["DCTERMS", "INNONET", "PROV", "RDF", "SCHEMA", "SDO", "XSD"]
