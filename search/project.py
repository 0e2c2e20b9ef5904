"""Project a stored item graph onto the flat search document.

The index is rebuilt from the store with this function alone, so anything searchable
must be derivable from the stored RDF.
"""

from __future__ import annotations

from datetime import datetime

from rdflib import Graph, URIRef
from rdflib.term import Literal

from crawlers.platforms.feed import html_to_text
from ontology.namespaces import DCTERMS, INNONET, RDF, SCHEMA
from search.documents import SearchDocument


def _tail(iri: object) -> str:
    return str(iri).rstrip("/").rsplit("/", 1)[-1]


def _first(g: Graph, s: URIRef, p: URIRef) -> str | None:
    value = g.value(s, p)
    return str(value) if value is not None else None


def document_from_graph(
    iri: str, graph: Graph, network_names: dict[str, str] | None = None
) -> SearchDocument:
    """The search document of one item."""
    s = URIRef(iri)
    rdf_type = graph.value(s, RDF.type)
    network = _tail(graph.value(s, INNONET.network))
    published = graph.value(s, SCHEMA.datePublished)
    published_at = published.toPython() if isinstance(published, Literal) else None
    return SearchDocument(
        id=iri,
        type=_tail(rdf_type) if rdf_type is not None else "Thing",
        title=_first(graph, s, SCHEMA.headline) or "",
        summary=_first(graph, s, SCHEMA.description),
        body=html_to_text(_first(graph, s, SCHEMA.articleBody)),
        url=_first(graph, s, SCHEMA.url),
        language=(_first(graph, s, SCHEMA.inLanguage) or "").split("-")[0] or None,
        network=network,
        network_name=(network_names or {}).get(network),
        source=_tail(graph.value(s, DCTERMS.source)),
        published=published_at if isinstance(published_at, datetime) else None,
    )
