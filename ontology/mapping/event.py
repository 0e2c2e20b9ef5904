"""Map a raw event to RDF: ``schema:Event`` and ``cv:PublicEvent`` (CPEV).

Start and end are normalised to UTC (the source's text and IANA zone are kept); the place is a
node with name, address (Core Location + schema.org) and coordinates, or a virtual location for
online events; the organiser and the registration link are kept. Multilingual names from the
source (``extra["title_i18n"]``, e.g. UiTdatabank) become one literal per language.
"""

from __future__ import annotations

from typing import Any

from rdflib import Literal

from ontology.mapping.common import (
    GraphLike,
    MappingResult,
    add_common,
    add_date,
    add_themes,
    clean_text,
    country_iri,
    iri,
    item_graph,
    item_language,
    text,
)
from ontology.namespaces import CV, DCTERMS, INNONET, LOCN, RDF, SCHEMA, XSD
from ontology.triples import plain_literal
from ontology.uris import item_iri, node_iri
from pipeline.contracts import RawItem, SourceSpec

#: Source status words -> schema.org event status.
STATUS = {
    "cancelled": SCHEMA.EventCancelled,
    "canceled": SCHEMA.EventCancelled,
    "unavailable": SCHEMA.EventCancelled,
    "postponed": SCHEMA.EventPostponed,
    "temporarilyunavailable": SCHEMA.EventPostponed,
    "rescheduled": SCHEMA.EventRescheduled,
    "movedonline": SCHEMA.EventMovedOnline,
    "scheduled": SCHEMA.EventScheduled,
    "available": SCHEMA.EventScheduled,
    "confirmed": SCHEMA.EventScheduled,
    "tentative": SCHEMA.EventScheduled,
}


def _i18n(g: GraphLike, subject: Any, prop: Any, values: object) -> bool:
    """``{"nl": "...", "fr": "..."}`` -> one literal per language; True if any was added."""
    added = False
    if isinstance(values, dict):
        for lang, value in sorted(values.items()):
            cleaned = clean_text(str(value)) if value else None
            if cleaned:
                g.add((subject, prop, text(cleaned, str(lang))))
                added = True
    return added


def _status_key(value: str | None) -> str:
    return (value or "").rsplit("/", 1)[-1].replace("_", "").replace("-", "").replace(" ", "").lower()


def map_event(item: RawItem, source: SourceSpec, base: str) -> MappingResult:
    """The event's IRI, content graph and unmapped source tags."""
    subject = item_iri(base, "event", item.source_id, item.native_id)
    extra = item.extra
    g = item_graph()
    g.add((subject, RDF.type, SCHEMA.Event))
    g.add((subject, RDF.type, CV.PublicEvent))
    title = clean_text(item.title)
    body_text = clean_text(item.body_html)  # also the themes' body: cleaned once
    summary = clean_text(item.summary) or body_text
    language = item_language(item, source, title, summary)
    # Multilingual values: ours (title_i18n) or as the adapter found them (UiTdatabank JSON-LD in extra["jsonld"]).
    found = extra.get("jsonld") if isinstance(extra.get("jsonld"), dict) else {}
    if not _i18n(g, subject, SCHEMA.name, extra.get("title_i18n") or found.get("name")) and title:
        g.add((subject, SCHEMA.name, text(title, language)))
    if (
        not _i18n(g, subject, SCHEMA.description, extra.get("description_i18n") or found.get("description"))
        and summary
    ):
        g.add((subject, SCHEMA.description, text(summary, language)))
    zone = item.timezone or source.options.get("timezone")
    if zone:
        g.add((subject, INNONET.timeZone, plain_literal(zone)))
    if item.all_day and item.start is not None and item.start.tzinfo is None and not zone:
        # An all-day event without a zone is a calendar date, not an instant.
        g.add((subject, SCHEMA.startDate, Literal(item.start.date().isoformat(), datatype=XSD.date)))
        if item.end is not None:
            g.add((subject, SCHEMA.endDate, Literal(item.end.date().isoformat(), datatype=XSD.date)))
    else:
        add_date(g, subject, SCHEMA.startDate, item.start, item.start_raw, zone)
        add_date(g, subject, SCHEMA.endDate, item.end, item.end_raw, zone)
    add_date(g, subject, SCHEMA.datePublished, item.published, item.published_raw, zone)
    _place(g, subject, item, source)
    if item.organizer:
        organiser = node_iri(subject, "organizer")
        g.add((subject, SCHEMA.organizer, organiser))
        g.add((organiser, RDF.type, SCHEMA.Organization))
        same = iri(extra.get("organizer_id"))
        if same is not None:
            g.add((organiser, SCHEMA.sameAs, same))
        g.add((organiser, SCHEMA.name, plain_literal(clean_text(item.organizer) or item.organizer)))
    registration = iri(item.registration_url)
    if registration is not None:
        offer = node_iri(subject, "registration")
        g.add((subject, SCHEMA.offers, offer))
        g.add((offer, RDF.type, SCHEMA.Offer))
        g.add((offer, SCHEMA.url, registration))
    status = STATUS.get(_status_key(item.status))
    if status is not None:
        g.add((subject, SCHEMA.eventStatus, status))
    image = iri(item.image)
    if image is not None:
        g.add((subject, SCHEMA.image, image))
    add_common(g, subject, item, source, base, language)
    for tag in item.tags:
        g.add((subject, SCHEMA.keywords, plain_literal(tag)))
    themes = add_themes(g, subject, item, source, title=title, summary=summary, body=body_text)
    return MappingResult(subject, g, themes.unmapped_tags)


def _place(g: GraphLike, subject: Any, item: RawItem, source: SourceSpec) -> None:
    """Physical place (name, address, geo) and/or online location, and the country."""
    extra = item.extra
    online = iri(item.online_url)
    physical = bool(item.location_name or item.location_address or item.latitude is not None)
    if physical:
        # Our own node (fragment IRI): the item's graph stays self-contained; the source's id is sameAs.
        place = node_iri(subject, "place")
        g.add((subject, SCHEMA.location, place))
        g.add((place, RDF.type, SCHEMA.Place))
        same = iri(extra.get("location_id"))
        if same is not None:
            g.add((place, SCHEMA.sameAs, same))
        if not _i18n(g, place, SCHEMA.name, extra.get("location_name_i18n")) and item.location_name:
            g.add((place, SCHEMA.name, plain_literal(clean_text(item.location_name) or item.location_name)))
        address_parts = extra.get("address") if isinstance(extra.get("address"), dict) else {}
        if item.location_address or address_parts:
            address = node_iri(subject, "address")
            g.add((place, SCHEMA.address, address))
            g.add((address, RDF.type, SCHEMA.PostalAddress))
            g.add((address, RDF.type, LOCN.Address))
            full = item.location_address or ", ".join(
                str(address_parts[k])
                for k in ("streetAddress", "postalCode", "addressLocality", "addressCountry")
                if address_parts.get(k)
            )
            g.add((address, LOCN.fullAddress, plain_literal(full)))
            for key, props in (
                ("streetAddress", (SCHEMA.streetAddress, LOCN.thoroughfare)),
                ("postalCode", (SCHEMA.postalCode, LOCN.postCode)),
                ("addressLocality", (SCHEMA.addressLocality, LOCN.postName)),
                ("addressCountry", (SCHEMA.addressCountry,)),
            ):
                if address_parts.get(key):
                    for prop in props:
                        g.add((address, prop, plain_literal(str(address_parts[key]))))
        if item.latitude is not None and item.longitude is not None:
            geo = node_iri(subject, "geo")
            g.add((place, SCHEMA.geo, geo))
            g.add((geo, RDF.type, SCHEMA.GeoCoordinates))
            g.add((geo, SCHEMA.latitude, Literal(repr(float(item.latitude)), datatype=XSD.decimal)))
            g.add((geo, SCHEMA.longitude, Literal(repr(float(item.longitude)), datatype=XSD.decimal)))
    if online is not None:
        virtual = node_iri(subject, "online")
        g.add((subject, SCHEMA.location, virtual))
        g.add((virtual, RDF.type, SCHEMA.VirtualLocation))
        g.add((virtual, SCHEMA.url, online))
    if online is not None and physical:
        g.add((subject, SCHEMA.eventAttendanceMode, SCHEMA.MixedEventAttendanceMode))
    elif online is not None:
        g.add((subject, SCHEMA.eventAttendanceMode, SCHEMA.OnlineEventAttendanceMode))
    elif physical:
        g.add((subject, SCHEMA.eventAttendanceMode, SCHEMA.OfflineEventAttendanceMode))
    country = country_iri(extra.get("country") or (extra.get("address") or {}).get("addressCountry"))
    if country is not None:
        g.add((subject, DCTERMS.spatial, country))
