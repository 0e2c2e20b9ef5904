"""Map a raw innovation case to RDF: ``innonet:InnovationCase`` (a ``schema:CreativeWork``).

What (title, description), who (implementer, partners), where (``dcterms:spatial``: a municipality
IRI of the Flemish address register or an EU country), level of government, OPSI facet and
lifecycle stage, start year, results, lessons learned, failures and the structural barriers met.
Case fields come in ``RawItem.extra["case"]``; values are resolved onto our concept schemes by
notation or label in any language, and values that resolve nowhere are returned as unmapped.
A contact point is published only when the contact opted in (``consent: true``).
"""

from __future__ import annotations

from typing import Any

from rdflib import Literal, URIRef

from ontology.mapping.common import (
    GraphLike,
    MappingResult,
    add_common,
    add_concepts,
    add_date,
    add_themes,
    clean_text,
    country_iri,
    iri,
    item_graph,
    item_language,
    text,
)
from ontology.namespaces import DCTERMS, FOAF, INNONET, RDF, SCHEMA, XSD
from ontology.uris import item_iri, node_iri
from pipeline.contracts import RawItem, SourceSpec


def _organisation(g: GraphLike, subject: URIRef, value: object, part: str) -> URIRef | None:
    """An organisation named by IRI, by name, or by ``{"name":..., "iri":...}``."""
    if isinstance(value, dict):
        name, ref = value.get("name"), value.get("iri") or value.get("id")
    else:
        name, ref = (None, value) if iri(str(value)) else (value, None)
    node = iri(str(ref)) if ref else node_iri(subject, part)
    if node is None:
        return None
    g.add((node, RDF.type, SCHEMA.Organization))
    if name:
        g.add((node, FOAF.name, Literal(str(name))))
        g.add((node, SCHEMA.name, Literal(str(name))))
    return node


def _texts(g: GraphLike, subject: URIRef, prop: URIRef, value: object, language: str | None) -> None:
    values = value if isinstance(value, list) else [value] if value else []
    for entry in values:
        cleaned = clean_text(str(entry))
        if cleaned:
            g.add((subject, prop, text(cleaned, language)))


def map_case(item: RawItem, source: SourceSpec, base: str) -> MappingResult:
    """The case's IRI, content graph and the values nothing mapped."""
    subject = item_iri(base, "case", item.source_id, item.native_id)
    case: dict[str, Any] = dict(item.extra.get("case") or {})
    g = item_graph()
    g.add((subject, RDF.type, INNONET.InnovationCase))
    g.add((subject, RDF.type, SCHEMA.CreativeWork))
    title = clean_text(item.title)
    body_text = clean_text(item.body_html)  # also the themes' body: cleaned once
    summary = clean_text(item.summary) or body_text
    language = item_language(item, source, title, summary)
    if title:
        g.add((subject, DCTERMS.title, text(title, language)))
        g.add((subject, SCHEMA.name, text(title, language)))
    if summary:
        g.add((subject, DCTERMS.description, text(summary, language)))
    zone = item.timezone or source.options.get("timezone")
    add_date(g, subject, DCTERMS.issued, item.published, item.published_raw, zone)
    add_date(g, subject, DCTERMS.modified, item.updated, None, zone)
    implementer = (
        _organisation(g, subject, case.get("implementer"), "implementer") if case.get("implementer") else None
    )
    if implementer is not None:
        g.add((subject, INNONET.implementer, implementer))
    for i, partner in enumerate(case.get("partners") or []):
        node = _organisation(g, subject, partner, f"partner-{i + 1}")
        if node is not None:
            g.add((subject, INNONET.partner, node))
    for place in case.get("places") or ([case["place"]] if case.get("place") else []):
        place_iri = iri(str(place))
        if place_iri is not None:
            g.add((subject, DCTERMS.spatial, place_iri))
    country = country_iri(case.get("country"))
    if country is not None:
        g.add((subject, DCTERMS.spatial, country))
    unmapped: list[str] = []
    unmapped += add_concepts(g, subject, INNONET.governmentLevel, "level", case.get("level"))
    unmapped += add_concepts(g, subject, INNONET.innovationFacet, "facet", case.get("facet"))
    unmapped += add_concepts(g, subject, INNONET.lifecycleStage, "stage", case.get("stage"))
    unmapped += add_concepts(g, subject, INNONET.barrier, "barrier", case.get("barriers"))
    year = str(case.get("year") or "").strip()
    if year.isdigit() and len(year) == 4:
        g.add((subject, INNONET.startYear, Literal(year, datatype=XSD.gYear)))
    _texts(g, subject, INNONET.results, case.get("results"), language)
    _texts(g, subject, INNONET.lessonsLearned, case.get("lessons"), language)
    _texts(g, subject, INNONET.failures, case.get("failures"), language)
    contact = case.get("contact")
    if isinstance(contact, dict) and contact.get("consent") is True:
        point = node_iri(subject, "contact")
        g.add((subject, SCHEMA.contactPoint, point))
        g.add((point, RDF.type, SCHEMA.ContactPoint))
        g.add((point, INNONET.contactConsent, Literal(True)))
        if contact.get("name"):
            g.add((point, SCHEMA.name, Literal(str(contact["name"]))))
        if contact.get("email"):
            g.add((point, SCHEMA.email, Literal(str(contact["email"]))))
    add_common(g, subject, item, source, base, language)
    for tag in item.tags:
        g.add((subject, SCHEMA.keywords, Literal(tag)))
    themes = add_themes(g, subject, item, source, title=title, summary=summary, body=body_text)
    return MappingResult(subject, g, themes.unmapped_tags + unmapped)
