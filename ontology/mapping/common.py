"""Helpers every item mapper shares: language-tagged text, sanitised HTML, UTC dates, IRIs.

Content graphs mint no blank nodes (pipeline/store.py hashes sorted N-Triples to decide
unchanged/updated), so nested nodes (place, address, offer) get fragment IRIs of the item.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from functools import lru_cache
from types import EllipsisType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rdflib import Graph, Literal, URIRef
from rdflib.term import _is_valid_uri

from ontology import sanitisers
from ontology.concepts import collapsed, resolve
from ontology.language import detect_language, normalise_tag
from ontology.namespaces import DCTERMS, EU_COUNTRY, EU_LANGUAGE, INNONET, SCHEMA
from ontology.themes import CLASSIFIER_VERSION, Classification, classify
from ontology.triples import ItemGraph, lang_literal, plain_literal, utc_datetime_literal
from ontology.uris import network_iri, source_iri
from pipeline.contracts import RawItem, SourceSpec


class TripleList(list):  # type: ignore[type-arg]
    """An item's triples in the order a mapper writes them, added to its container at the end.

    ``add`` is ``list.append`` itself (a C call): ``ItemGraph.add`` is a Python method that also
    forgets three cached renderings per triple. ``container += triples`` keeps the first occurrence
    of a repeated triple in its place, as adding them one by one does: the same graph, same order.
    """

    __slots__ = ()
    add = list.append


#: What the helpers below write to: an item's container, an rdflib Graph or a TripleList (same ``add``).
GraphLike = Graph | ItemGraph | TripleList

# Terms every item writes, bound once (a namespace attribute is a method call and a cache lookup).
_IDENTIFIER, _SOURCE, _LANGUAGE, _SUBJECT = (
    DCTERMS.identifier,
    DCTERMS.source,
    DCTERMS.language,
    DCTERMS.subject,
)
_NETWORK, _ORIGINAL_DATE, _CLASSIFIER_VERSION = (
    INNONET.network,
    INNONET.originalDate,
    INNONET.classifierVersion,
)
_URL, _IN_LANGUAGE = SCHEMA.url, SCHEMA.inLanguage
_CLASSIFIER_LITERAL = Literal(CLASSIFIER_VERSION)

_new_str = str.__new__
# Sanitisers made once (ontology/sanitisers.py says why).
_TEXT_ONLY, _SAFE = sanitisers.TEXT_ONLY, sanitisers.SAFE

#: ISO 639-1 -> EU language authority table code.
EU_LANGUAGE_CODES = {
    "nl": "NLD",
    "en": "ENG",
    "fr": "FRA",
    "de": "DEU",
    "es": "SPA",
    "it": "ITA",
    "pt": "POR",
}
#: ISO 3166-1 alpha-2 -> EU country authority table code (the countries our networks are in first).
EU_COUNTRY_CODES = {
    "BE": "BEL", "NL": "NLD", "FR": "FRA", "DE": "DEU", "LU": "LUX", "GB": "GBR", "UK": "GBR",
    "AT": "AUT", "CH": "CHE", "DK": "DNK", "SE": "SWE", "FI": "FIN", "ES": "ESP", "IT": "ITA",
    "PT": "PRT", "IE": "IRL", "EE": "EST", "US": "USA", "CA": "CAN",
}  # fmt: skip


def item_language(item: RawItem, source: SourceSpec, *texts: str | None) -> str | None:
    """Declared language (item, then source), else detected from the item's own text."""
    declared = normalise_tag(item.language) or normalise_tag(source.language)
    if declared:
        return declared
    return detect_language(" ".join(t for t in texts if t))


def text(value: str, language: str | None) -> Literal:
    """A language-tagged literal when the language is known, a plain string otherwise."""
    lang = normalise_tag(language)
    return lang_literal(value, lang) if lang else plain_literal(value)


def clean_text(value: str | None) -> str | None:
    """HTML reduced to plain text (titles, names, summaries are never markup)."""
    if not value:
        return None
    if "<" in value or "&" in value or "\x00" in value or "\ufeff" in value:
        out = " ".join(html.unescape(_TEXT_ONLY.clean(value)).split())
    else:
        # No tag, entity, NUL or BOM (html5ever drops a leading one; the parse stage's html_to_text
        # sends it to nh3 too): the sanitiser and unescape change nothing that split() keeps
        # (tests/ontology/test_terms.py checks it on generated text), and cost ~10 µs per field.
        out = collapsed(value)  # = " ".join(value.split()), without them when already collapsed
    return out or None


#: A tag in nh3's output: html5ever writes every attribute value in double quotes with '"' escaped
#: and '<' in text as '&lt;'; nh3 0.3.8 also escapes '<' and '>' in attribute values, older
#: html5ever versions left '>' as is, hence the quoted-value form.
_SERIALISED_TAG = re.compile(r'<[^>"]*(?:"[^"]*"[^>"]*)*>')


def html_text(cleaned: str | None) -> str | None:
    """``clean_text`` of a body from ``clean_html``'s output of it, without a second nh3 parse.

    nh3's output is serialised HTML (no comments, no script/style content, text escaped), so dropping
    its tags and unescaping leaves the text nodes in document order: the text ``nh3.clean(raw,
    tags=set())`` keeps. Equal to ``clean_text(raw)`` on every corpus body and on generated markup
    (tests/ontology/test_html_text.py); ~15 instead of ~40 µs per corpus body.
    """
    if not cleaned:
        return None
    if "<" in cleaned or "&" in cleaned:
        cleaned = html.unescape(_SERIALISED_TAG.sub("", cleaned))
    return collapsed(cleaned) or None  # = " ".join(cleaned.split())


def clean_html(value: str | None) -> str | None:
    """HTML sanitised with nh3's safe allow-list (no script, style, event handlers)."""
    if not value:
        return None
    return _SAFE.clean(value).strip() or None


def iri(value: str | None) -> URIRef | None:
    """An absolute http(s) IRI, or None (relative or malformed links never become IRIs)."""
    global _last_iri  # noqa: PLW0603 - the one-entry memo below
    last = _last_iri
    if value is last[0] and value is not None:
        # The same string object as the previous call: an item's link, read by ``add_common`` and
        # again by ``provenance`` (primary source). Identity, not equality: a per-item memo, never
        # a cache across items' texts (each parsed item has its own string objects).
        return last[1]
    out = None
    if value and value.startswith(("http://", "https://")) and _is_valid_uri(value):
        # = URIRef(value): its constructor only repeats the validity check (to log a warning).
        out = _new_str(URIRef, value)
    _last_iri = (value, out)
    return out


#: ``iri``'s previous (argument, result); replaced as one tuple, so a reader never sees a mix.
_last_iri: tuple[str | None, URIRef | None] = (None, None)


def utc(value: datetime, zone: str | None = None) -> datetime | None:
    """Aware -> UTC. Naive values are read in ``zone`` (IANA) when given, else None (never guessed)."""
    if value.tzinfo is None:
        if not zone:
            return None
        try:
            value = value.replace(tzinfo=ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            return None
    return value.astimezone(UTC)


def dt_literal(value: datetime) -> Literal:
    """xsd:dateTime in UTC with an explicit ``Z`` (LDES and search need a zone on every time)."""
    # = Literal(<UTC ISO with Z>, datatype=XSD.dateTime), without rdflib's parse and re-serialisation.
    return utc_datetime_literal(value)


def add_date(
    g: GraphLike,
    subject: URIRef,
    prop: URIRef,
    value: datetime | None,
    raw: str | None,
    zone: str | None,
) -> bool:
    """Add ``prop`` as UTC and keep what the source wrote in ``innonet:originalDate``; True if normalised."""
    normalised = utc(value, zone) if value is not None else None
    literal = utc_datetime_literal(normalised) if normalised is not None else None  # = dt_literal
    if literal is not None:
        g.add((subject, prop, literal))
        if not raw and literal.toPython() is value:
            # The original would be value.isoformat(), compared below with the literal's value's
            # isoformat(): the same object (an aware UTC datetime is its own UTC form), so equal.
            return True
    original = raw or (value.isoformat() if value is not None else None)
    # An ISO string starts with the year's first digit: any other original differs without isoformat().
    if original and (
        literal is None or not original[:1].isdigit() or original != literal.toPython().isoformat()
    ):
        g.add((subject, _ORIGINAL_DATE, plain_literal(f"{_local_name(prop)}={original}")))
    return normalised is not None


@lru_cache(maxsize=64)
def _local_name(prop: URIRef) -> str:
    """The last path segment of a date property (``datePublished``): a handful of properties, ever."""
    return str(prop).rsplit("/", 1)[-1]


def add_common(
    g: GraphLike,
    subject: URIRef,
    item: RawItem,
    source: SourceSpec,
    base: str,
    language: str | None,
) -> None:
    """Identifier, source, network, link, language and country: the same on every item type."""
    g.add((subject, _IDENTIFIER, plain_literal(item.native_id)))
    g.add((subject, _SOURCE, _source_iri(base, source.id)))
    g.add((subject, _NETWORK, cached_network_iri(base, source.network)))
    url = iri(item.url)
    if url is not None:
        g.add((subject, _URL, url))
    if language:
        g.add((subject, _IN_LANGUAGE, plain_literal(language)))
        code = _eu_language(language)
        if code is not None:
            g.add((subject, _LANGUAGE, code))


@lru_cache(maxsize=256)
def _source_iri(base: str, source_id: str) -> URIRef:
    return source_iri(base, source_id)


@lru_cache(maxsize=256)
def cached_network_iri(base: str, network_id: str) -> URIRef:
    """``network_iri`` made once per (base, network): every item of a network names it."""
    return network_iri(base, network_id)


@lru_cache(maxsize=256)
def _eu_language(language: str) -> URIRef | None:
    code = EU_LANGUAGE_CODES.get(language.split("-")[0])
    return EU_LANGUAGE[code] if code else None


def item_graph() -> ItemGraph:
    """An empty container for one item's statements (ontology/triples.py).

    Item graphs hold ~30 triples and are never queried by context: a plain insertion-ordered set
    adds a triple in a fraction of an rdflib store's time, renders rdflib's exact N-Triples lines,
    and builds a real rdflib Graph only when one is asked for (``.graph()``).
    """
    return ItemGraph()


def country_iri(code: str | None) -> URIRef | None:
    """ISO alpha-2 (or alpha-3) -> EU country authority IRI."""
    value = (code or "").strip().upper()
    if len(value) == 3 and value.isalpha():
        return EU_COUNTRY[value]
    mapped = EU_COUNTRY_CODES.get(value)
    return EU_COUNTRY[mapped] if mapped else None


def add_themes(
    g: GraphLike,
    subject: URIRef,
    item: RawItem,
    source: SourceSpec,
    *,
    title: str | None,
    summary: str | None,
    body: str | None | EllipsisType = ...,
) -> Classification:
    """Themes as ``dcterms:subject`` (tags through the source's tag map first); returns the classification.

    ``body`` is the item's body as plain text when the mapper already has it (``clean_text`` or
    ``html_text`` of ``item.body_html``); by default it is made here.
    """
    result = classify(
        title=title,
        summary=summary,
        body=clean_text(item.body_html) if isinstance(body, EllipsisType) else body,
        tags=item.tags,
        tag_map=source.tag_map,
    )
    for concept in result.concepts:
        g.add((subject, _SUBJECT, concept))
    if result.concepts:
        g.add((subject, _CLASSIFIER_VERSION, _CLASSIFIER_LITERAL))
    return result


def add_concepts(g: GraphLike, subject: URIRef, prop: URIRef, scheme: str, values: object) -> list[str]:
    """Resolve source values onto a scheme's concepts; returns the values that resolved to none."""
    unresolved: list[str] = []
    items = values if isinstance(values, list | tuple) else [values] if values else []
    for value in items:
        concept = resolve(scheme, str(value))
        if concept is None:
            unresolved.append(f"{scheme}:{value}")
        else:
            g.add((subject, prop, concept))
    return unresolved


class MappingResult:
    """What a mapper returns: the item IRI, its content graph and the values nothing mapped."""

    __slots__ = ("graph", "iri", "unmapped")

    def __init__(self, iri: URIRef, graph: ItemGraph, unmapped: list[str] | None = None) -> None:
        self.iri = iri
        self.graph = graph
        self.unmapped = unmapped or []
