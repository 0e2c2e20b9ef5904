"""Project a stored item graph onto the flat search document.

The index is rebuilt from the store with this function alone, so anything searchable
must be derivable from the stored RDF. The predicates read are fixed by the vocabulary
(``ontology/vocab/innonet.ttl``): themes ``dcterms:subject``, OPSI facet
``innonet:innovationFacet``, stage ``innonet:lifecycleStage``, level of government
``innonet:governmentLevel``, barriers ``innonet:barrier``, duplicate cluster
``innonet:cluster``; events ``schema:startDate``/``endDate`` and ``schema:location`` (name,
address, ``schema:geo`` latitude/longitude); place ``dcterms:spatial`` (an EU country
authority IRI is the country, anything else a region), else the network's country.
Concept values are kept as their IRIs, the unambiguous facet value.
"""

from __future__ import annotations

from datetime import date, datetime

from rdflib import Graph, Namespace, URIRef
from rdflib.term import Literal, Node

from crawlers.platforms.feed import html_to_text
from search.documents import Location, SearchDocument

RDF_TYPE = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
SCHEMA = Namespace("http://schema.org/")
DCTERMS = Namespace("http://purl.org/dc/terms/")
INNONET = Namespace("https://w3id.org/innonet/ns#")
EU_COUNTRY = "http://publications.europa.eu/resource/authority/country/"
#: rdf:type local names that are item types (anything else, e.g. prov:Entity, is not).
ITEM_TYPES = ("NewsArticle", "Event", "Case", "InnovationCase", "Organization", "Organisation")


def _tail(iri: object) -> str:
    return str(iri).rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _first(g: Graph, s: Node, *predicates: URIRef) -> str | None:
    for p in predicates:
        value = g.value(s, p)
        if value is not None and str(value).strip():
            return str(value)
    return None


def _iris(g: Graph, s: URIRef, p: URIRef) -> list[str]:
    return sorted({str(o) for o in g.objects(s, p) if isinstance(o, URIRef)})


def _when(g: Graph, s: URIRef, p: URIRef) -> datetime | None:
    value = g.value(s, p)
    if not isinstance(value, Literal):
        return None
    py = value.toPython()
    if isinstance(py, datetime):
        return py
    if isinstance(py, date):
        return datetime(py.year, py.month, py.day)
    return None


def _float(g: Graph, s: Node, p: URIRef) -> float | None:
    value = g.value(s, p)
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _location(g: Graph, s: URIRef) -> Location | None:
    node = g.value(s, SCHEMA.location)
    if node is None:
        return None
    geo = g.value(node, SCHEMA.geo)
    lat = _float(g, geo, SCHEMA.latitude) if geo is not None else None
    lon = _float(g, geo, SCHEMA.longitude) if geo is not None else None
    if lat is not None and not -90 <= lat <= 90 or lon is not None and not -180 <= lon <= 180:
        lat = lon = None  # a bad coordinate is dropped, the event stays
    address = g.value(node, SCHEMA.address)
    address_text = None
    if isinstance(address, Literal):
        address_text = str(address)
    elif address is not None:
        parts = [
            _first(g, address, p)
            for p in (SCHEMA.streetAddress, SCHEMA.postalCode, SCHEMA.addressLocality, SCHEMA.addressCountry)
        ]
        address_text = ", ".join(p for p in parts if p) or None
    name = _first(g, node, SCHEMA.name) if not isinstance(node, Literal) else str(node)
    if name is None and address_text is None and lat is None:
        return None
    return Location(name=name, address=address_text, lat=lat, lon=lon)


def document_from_graph(
    iri: str,
    graph: Graph,
    network_names: dict[str, str] | None = None,
    network_countries: dict[str, str | None] | None = None,
) -> SearchDocument:
    """The search document of one item."""
    s = URIRef(iri)
    types = [_tail(t) for t in graph.objects(s, RDF_TYPE)]
    item_type = next((t for t in types if t in ITEM_TYPES), types[0] if types else "Thing")
    network = _tail(graph.value(s, INNONET.network))
    spatial = _iris(graph, s, DCTERMS.spatial)
    countries = [_tail(x) for x in spatial if x.startswith(EU_COUNTRY)]
    country = countries[0] if countries else (network_countries or {}).get(network)
    return SearchDocument(
        id=iri,
        type=item_type,
        title=_first(graph, s, SCHEMA.headline, SCHEMA.name) or "",
        summary=_first(graph, s, SCHEMA.description),
        body=html_to_text(_first(graph, s, SCHEMA.articleBody, SCHEMA.text)),
        url=_first(graph, s, SCHEMA.url),
        language=(_first(graph, s, SCHEMA.inLanguage) or "").split("-")[0].lower() or None,
        network=network,
        network_name=(network_names or {}).get(network),
        source=_tail(graph.value(s, DCTERMS.source)),
        published=_when(graph, s, SCHEMA.datePublished),
        themes=_iris(graph, s, DCTERMS.subject),
        opsi_facets=_iris(graph, s, INNONET.innovationFacet),
        lifecycle_stages=_iris(graph, s, INNONET.lifecycleStage),
        government_levels=_iris(graph, s, INNONET.governmentLevel),
        barriers=_iris(graph, s, INNONET.barrier),
        country=country,
        regions=[x for x in spatial if not x.startswith(EU_COUNTRY)],
        cluster=_first(graph, s, INNONET.cluster),
        start=_when(graph, s, SCHEMA.startDate),
        end=_when(graph, s, SCHEMA.endDate),
        location=_location(graph, s),
    )
