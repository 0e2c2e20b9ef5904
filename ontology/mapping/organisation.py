"""Map a raw organisation (lab, city, network, public body) to RDF.

Typed ``org:Organization`` and ``schema:Organization``; public bodies also ``cv:PublicOrganisation``
(CPOV) when the source says so (``extra["public"]``) or a level of government is given, and
networks ``innonet:Network``. Names are language-tagged ``skos:prefLabel`` (CPOV) with
``foaf:name`` (DCAT-AP publishers) and ``schema:name``.
"""

from __future__ import annotations

from rdflib import Literal

from ontology.mapping.common import (
    MappingResult,
    add_common,
    add_concepts,
    add_themes,
    clean_text,
    country_iri,
    iri,
    item_graph,
    item_language,
    text,
)
from ontology.mapping.event import _i18n
from ontology.namespaces import CV, DCTERMS, FOAF, INNONET, LOCN, ORG, OWL, RDF, SCHEMA, SKOS
from ontology.uris import item_iri, node_iri
from pipeline.contracts import RawItem, SourceSpec


def map_organisation(item: RawItem, source: SourceSpec, base: str) -> MappingResult:
    """The organisation's IRI, content graph and unmapped values."""
    subject = item_iri(base, "organisation", item.source_id, item.native_id)
    extra = item.extra
    g = item_graph()
    g.add((subject, RDF.type, ORG.Organization))
    g.add((subject, RDF.type, SCHEMA.Organization))
    if extra.get("public") or extra.get("level"):
        g.add((subject, RDF.type, CV.PublicOrganisation))
    if extra.get("network"):
        g.add((subject, RDF.type, INNONET.Network))
    name = clean_text(item.title)
    summary = clean_text(item.summary)
    language = item_language(item, source, name, summary)
    if not _i18n(g, subject, SKOS.prefLabel, extra.get("title_i18n")) and name:
        g.add((subject, SKOS.prefLabel, text(name, language)))
    if name:
        g.add((subject, FOAF.name, Literal(name)))
        g.add((subject, SCHEMA.name, text(name, language)))
    if summary:
        g.add((subject, DCTERMS.description, text(summary, language)))
    homepage = iri(extra.get("homepage") or item.url)
    if homepage is not None:
        g.add((subject, FOAF.homepage, homepage))
    same = iri(extra.get("same_as"))
    if same is not None:
        g.add((subject, OWL.sameAs, same))
    if item.location_address:
        address = node_iri(subject, "address")
        g.add((subject, LOCN.address, address))
        g.add((address, RDF.type, LOCN.Address))
        g.add((address, LOCN.fullAddress, Literal(item.location_address)))
    country = country_iri(extra.get("country"))
    if country is not None:
        g.add((subject, DCTERMS.spatial, country))
    unmapped = add_concepts(g, subject, INNONET.governmentLevel, "level", extra.get("level"))
    add_common(g, subject, item, source, base, language)
    themes = add_themes(g, subject, item, source, title=name, summary=summary)
    return MappingResult(subject, g, themes.unmapped_tags + unmapped)
