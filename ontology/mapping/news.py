"""Map a raw news item to RDF: schema:NewsArticle plus provenance.

The mapping returns two graphs: the *content* (what the item says) and its *provenance*
(where and when it was harvested). Only the content is hashed to decide whether an item
changed, so a re-harvest of the same feed is "unchanged", not a new version.
"""

from __future__ import annotations

from datetime import datetime

from rdflib import Graph, Literal, URIRef
from rdflib.term import _is_valid_uri

from ontology.namespaces import DCTERMS, INNONET, PROV, RDF, SCHEMA, XSD
from ontology.uris import item_iri, network_iri, payload_iri, source_iri
from pipeline.contracts import RawItem, SourceSpec


def _text(value: str, language: str | None) -> Literal:
    lang = (language or "").strip().replace("_", "-")
    return Literal(value, lang=lang) if lang and lang.replace("-", "").isalnum() else Literal(value)


def _iri(value: str | None) -> URIRef | None:
    if value and value.startswith(("http://", "https://")) and _is_valid_uri(value):
        return URIRef(value)
    return None


def _datetime(value: datetime) -> Literal:
    return Literal(value.isoformat(), datatype=XSD.dateTime)


def map_news(item: RawItem, source: SourceSpec, base: str) -> tuple[URIRef, Graph]:
    """The item's IRI and its content graph."""
    subject = item_iri(base, item.kind, item.source_id, item.native_id)
    g = Graph()
    g.add((subject, RDF.type, SCHEMA.NewsArticle))
    language = (item.language or source.language or "").lower() or None
    if item.title:
        g.add((subject, SCHEMA.headline, _text(item.title, language)))
    if item.summary:
        g.add((subject, SCHEMA.description, _text(item.summary, language)))
    if item.body_html:
        g.add((subject, SCHEMA.articleBody, _text(item.body_html, language)))
    url = _iri(item.url)
    if url is not None:
        g.add((subject, SCHEMA.url, url))
    if item.published:
        g.add((subject, SCHEMA.datePublished, _datetime(item.published)))
    elif item.published_raw:
        # Unparseable dates are kept as the source wrote them, never guessed.
        g.add((subject, DCTERMS.date, Literal(item.published_raw)))
    if item.updated:
        g.add((subject, SCHEMA.dateModified, _datetime(item.updated)))
    if language:
        g.add((subject, SCHEMA.inLanguage, Literal(language)))
    for author in item.authors:
        g.add((subject, DCTERMS.creator, Literal(author)))
    for tag in item.tags:
        g.add((subject, SCHEMA.keywords, Literal(tag)))
    g.add((subject, DCTERMS.identifier, Literal(item.native_id)))
    g.add((subject, DCTERMS.source, source_iri(base, source.id)))
    g.add((subject, INNONET.network, network_iri(base, source.network)))
    return subject, g


def provenance(subject: URIRef, fetched_at: datetime, raw_sha256: str | None, mapping_version: str) -> Graph:
    """When and from which bytes the record was made (not part of the content hash)."""
    g = Graph()
    g.add((subject, PROV.generatedAtTime, _datetime(fetched_at)))
    if raw_sha256:
        g.add((subject, PROV.wasDerivedFrom, payload_iri(raw_sha256)))
    g.add((subject, INNONET.mappingVersion, Literal(mapping_version)))
    return g
