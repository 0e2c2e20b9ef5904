"""Namespaces: standard ones from rdflib, ours as a DefinedNamespace that fails on typos.

``INNONET.netwrok`` raises AttributeError in tests instead of writing a wrong triple.
Concept schemes live under ``https://w3id.org/innonet/concepts/{scheme}/{code}``: instance-independent,
so every federated instance and every partner's tag map name the same concept.
"""

from __future__ import annotations

from functools import lru_cache

from rdflib import Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, ORG, OWL, PROV, RDF, RDFS, SDO, SKOS, XSD, DefinedNamespace


@lru_cache(maxsize=4096)
def _term(namespace: str, name: str) -> URIRef:
    return URIRef(namespace + name)


class CachedNamespace(Namespace):
    """rdflib's Namespace with each term made once: ``SCHEMA.name`` would otherwise build and
    validate a new URIRef on every access (a dozen times per mapped item). Same terms, same type."""

    def term(self, name: str) -> URIRef:
        return _term(str(self), name) if isinstance(name, str) else super().term(name)


# schema.org is used with its canonical http:// IRIs (rdflib's SDO is https://).
SCHEMA = CachedNamespace("http://schema.org/")
#: SEMIC core vocabularies (CPOV, CPEV): cv:PublicOrganisation, cv:PublicEvent.
CV = Namespace("http://data.europa.eu/m8g/")
#: Core Location.
LOCN = Namespace("http://www.w3.org/ns/locn#")
#: EU authority tables (country, language).
EU_COUNTRY = Namespace("http://publications.europa.eu/resource/authority/country/")
EU_LANGUAGE = Namespace("http://publications.europa.eu/resource/authority/language/")

CONCEPTS = "https://w3id.org/innonet/concepts/"
THEME = Namespace(CONCEPTS + "theme/")
FACET = Namespace(CONCEPTS + "facet/")
STAGE = Namespace(CONCEPTS + "stage/")
LEVEL = Namespace(CONCEPTS + "level/")
BARRIER = Namespace(CONCEPTS + "barrier/")
#: scheme name -> its IRI (``https://w3id.org/innonet/concepts/theme`` etc.).
SCHEMES = {name: CONCEPTS + name for name in ("theme", "facet", "stage", "level", "barrier")}


class INNONET(DefinedNamespace):
    """innonet's own terms (ontology/vocab/innonet.ttl)."""

    _NS = Namespace("https://w3id.org/innonet/ns#")
    _fail = True

    Network: object  # A lab, city, programme or observatory publishing sources.
    Source: object  # A feed or page harvested on behalf of a network.
    InnovationCase: object  # The one new item class (subclass of schema:CreativeWork).
    Cluster: object  # Copies of the same story or event from different networks.
    network: object  # The network through which the item reached innonet.
    networkChain: object  # Ordered rdf:List of networks, origin first, last hop last.
    mappingVersion: object  # Version of the mapping that produced the record.
    classifierVersion: object  # Version of the theme classifier.
    innovationFacet: object
    lifecycleStage: object
    governmentLevel: object
    barrier: object
    implementer: object
    partner: object
    results: object
    lessonsLearned: object
    failures: object
    startYear: object
    cluster: object
    originalDate: object  # "property=text as the source wrote it"
    timeZone: object
    unmappedTag: object
    contactConsent: object


__all__ = [
    "BARRIER",
    "CONCEPTS",
    "CV",
    "DCAT",
    "DCTERMS",
    "EU_COUNTRY",
    "EU_LANGUAGE",
    "FACET",
    "FOAF",
    "INNONET",
    "LEVEL",
    "LOCN",
    "ORG",
    "OWL",
    "PROV",
    "RDF",
    "RDFS",
    "SCHEMA",
    "SCHEMES",
    "SDO",
    "SKOS",
    "STAGE",
    "THEME",
    "XSD",
]
