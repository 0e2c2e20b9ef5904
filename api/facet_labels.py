"""Labels for the facet values of ``GET /search``, in the reader's language.

Facet values are what the index holds: concept IRIs (theme, OPSI facet, lifecycle stage,
level of government, barrier), schema.org type names, language codes, network and source ids.
A UI built on the JSON API should not have to look each one up, so every bucket carries a
``label``, from the same sources the HTML pages use (:mod:`api.web.labels`): the SKOS
prefLabels of ``ontology/vocab/concepts.ttl``, the message catalogues (types, languages), and
the store's network names and source titles (the registry and the partners' sources).

Why precomputed: the search fast path answers in ~0.2-0.3 ms of our own time, so a label
must cost one dict lookup per bucket. The vocabulary and catalogue labels are built once per
language (:func:`static_tables`); the names from the store are read again at most every
:data:`NAMES_TTL_S` seconds, in a worker thread, and joined into one table per language
(:class:`FacetLabels`).

Which language: the ``lang`` parameter, else the best supported match in ``Accept-Language``,
else English (the HTML pages' default). Within a language the fallbacks are the pages' own:
a concept's prefLabel in that language, else English, else an untagged one, else any
(:func:`api.web.labels.concept_label`); types and languages from the catalogue of that
language, else English (there is no German catalogue: German gets English type names but
German concept labels). A value nobody labelled keeps a readable label instead of none:
a concept IRI its last path segment (the pages show the same, and our concept IRIs end in a
readable code such as ``.../theme/participation``; the full IRI is still in ``value``), any
other value itself (a network or source id, a country code, a region, a year).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from starlette.concurrency import run_in_threadpool

from api.web import i18n
from api.web.labels import CONCEPT_FACETS, concept_pref, concepts_of
from search.documents import FACETS

log = logging.getLogger(__name__)

#: Languages a label can be asked in (the HTML pages' three, and German, which the vocabulary has).
LANGUAGES = ("nl", "en", "fr", "de")
DEFAULT = i18n.DEFAULT
#: How long the network names and source titles read from the store are used before reading them again.
NAMES_TTL_S = 60.0
#: Facets whose values the message catalogues name (``type.Event``, ``language.nl``, ...).
CATALOGUE_FACETS = ("type", "language", "country")

#: facet -> value -> label, for one language.
Tables = Mapping[str, Mapping[str, str]]


@lru_cache(maxsize=len(LANGUAGES))
def static_tables(lang: str) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    """(labels, tags) for one language: facet -> value -> label from the vocabulary and the
    catalogues, and facet -> value -> language tag of each label that is not in ``lang`` (a
    fallback; "" = untagged), so that JSON-LD can tag every label with its real language."""
    labels: dict[str, dict[str, str]] = {facet: {} for facet in FACETS}
    tags: dict[str, dict[str, str]] = {facet: {} for facet in FACETS}
    for facet, scheme in CONCEPT_FACETS.items():
        for iri in concepts_of(scheme):
            labels[facet][iri], tag = concept_pref(iri, lang)
            if tag != lang:
                tags[facet][iri] = tag
    catalogue_lang = lang if lang in i18n.LANGUAGES else DEFAULT
    own = i18n.catalogue(catalogue_lang)
    for key in i18n.catalogue(DEFAULT):
        facet, _, value = key.partition(".")
        if facet in CATALOGUE_FACETS and value:
            labels[facet][value] = i18n.translate(catalogue_lang, key)
            in_lang = catalogue_lang == lang and bool(own.get(key))
            if not in_lang:
                tags[facet][value] = DEFAULT
    return labels, tags


@lru_cache(maxsize=4096)
def unlabelled(facet: str, value: str) -> str:
    """The label of a value no table names: a concept IRI's last segment, anything else itself.
    (Kept per value: a facet can show 20 such values on every page, e.g. an index of test data.)"""
    if facet in CONCEPT_FACETS:
        return value.rstrip("/").rsplit("/", 1)[-1] or value
    return value


def labelled(
    facet: str, buckets: Iterable[tuple[str, int]], table: Mapping[str, str]
) -> list[dict[str, Any]]:
    """``{"value", "count", "label"}`` per ``(value, count)``, in :class:`FacetBucketOut`'s order."""
    return [
        {"value": value, "count": count, "label": table.get(value) or unlabelled(facet, value)}
        for value, count in buckets
    ]


def es_buckets(facet: str, buckets: list[dict[str, Any]], table: Mapping[str, str]) -> list[dict[str, Any]]:
    """:func:`labelled` for an Elasticsearch terms aggregation's buckets (the search fast path)."""
    return [
        {
            "value": (value := str(b["key"])),
            "count": int(b["doc_count"]),
            "label": table.get(value) or unlabelled(facet, value),
        }
        for b in buckets
    ]


def read_names(store: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(network id -> name, source id -> title) from the store."""
    from store.models import NetworkRow, SourceRow

    with store.session() as s:
        networks = {row.id: row.name for row in s.query(NetworkRow.id, NetworkRow.name)}
        sources = {row.id: row.title for row in s.query(SourceRow.id, SourceRow.title)}
    return networks, sources


class FacetLabels:
    """The label tables of one app: per language, the static tables with the store's names.

    :meth:`tables` is the hot path (a dict lookup); :meth:`refresh` reads the store (blocking:
    the API calls it in a worker thread when :meth:`stale`). A store that cannot be read leaves
    the previous names (or none) in place: labels never fail a search.
    """

    def __init__(self, store: Any | None, ttl_s: float = NAMES_TTL_S) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.loaded_at = float("-inf")
        self._tables: dict[str, Tables] = {lang: static_tables(lang)[0] for lang in LANGUAGES}
        self.refreshing = False

    def stale(self) -> bool:
        return self.store is not None and time.monotonic() - self.loaded_at > self.ttl_s

    def refresh(self) -> None:
        """Read the names again and rebuild every language's table (replaced whole: readers
        in other threads see the old table or the new one, never half of one)."""
        try:
            networks, sources = read_names(self.store)
        except Exception:  # noqa: BLE001 - a label is not worth a failed search
            log.warning("facet labels: could not read network/source names", exc_info=True)
            return
        finally:
            self.loaded_at = time.monotonic()
            self.refreshing = False
        tables = {}
        for lang in LANGUAGES:
            static = static_tables(lang)[0]
            tables[lang] = {**static, "network": networks, "source": sources}
        self._tables = tables

    def tables(self, lang: str) -> Tables:
        return self._tables.get(lang) or self._tables[DEFAULT]

    def label(self, facet: str, value: str, lang: str) -> str:
        return self.tables(lang).get(facet, {}).get(value) or unlabelled(facet, value)

    def tag(self, facet: str, value: str, lang: str) -> str:
        """The language of ``value``'s label in ``lang``: ``lang``, a fallback's tag, or "" (a
        name from the store, or a value nobody labelled: no language)."""
        labels, tags = static_tables(lang if lang in LANGUAGES else DEFAULT)
        if value in labels.get(facet, {}):
            return tags[facet].get(value, lang)
        return ""


def label_language(lang: str | None, accept_language: str | None) -> str:
    """The labels' language: ``lang``, else ``Accept-Language``'s best supported match, else English."""
    if lang in LANGUAGES:
        return lang  # type: ignore[return-value]
    return _from_header(accept_language) if accept_language else DEFAULT


@lru_cache(maxsize=256)
def _from_header(header: str) -> str:
    return i18n.from_accept_language(header, LANGUAGES) or DEFAULT


def header_language(scope: Mapping[str, Any]) -> str:
    """:func:`label_language` of an ASGI request's ``Accept-Language`` (no ``lang`` given)."""
    for name, value in scope["headers"]:
        if name == b"accept-language":
            return _from_header(value.decode("latin-1"))
    return DEFAULT


async def labels_of(app: Any) -> FacetLabels:
    """The app's :class:`FacetLabels` (made on first use), its names read again when stale."""
    state = app.state
    labels = getattr(state, "facet_labels", None)
    if labels is None:
        labels = state.facet_labels = FacetLabels(getattr(state, "store", None))
    if labels.stale() and (not labels.refreshing or labels.loaded_at == float("-inf")):
        # one refresh at a time; until the first has read the names, every request waits for one
        labels.refreshing = True
        await run_in_threadpool(labels.refresh)
    return labels


def jsonld_facets(
    facets: Mapping[str, list[Mapping[str, Any]]], lang: str, labels: FacetLabels
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The JSON-LD context entries and the ``facets`` member of the search's JSON-LD answer.

    Same shape as the JSON answer's ``facets`` (facet name -> buckets of value, count, label),
    made linked data by the context: each bucket is a node (``innonet:facetCount`` of the
    list) with ``innonet:facetName`` (the name, a property-valued index), ``innonet:facetValue``,
    ``innonet:count`` and ``skos:prefLabel`` tagged with the language the label is really in
    (``lang`` by default; a fallback label carries its own tag, a name none).
    """
    context = {
        "@version": 1.1,
        "innonet": "https://w3id.org/innonet/ns#",
        "skos": "http://www.w3.org/2004/02/skos/core#",
        "facets": {"@id": "innonet:facetCount", "@container": "@index", "@index": "innonet:facetName"},
        "value": "innonet:facetValue",
        "count": "innonet:count",
        "label": {"@id": "skos:prefLabel", "@language": lang},
    }
    out: dict[str, list[dict[str, Any]]] = {}
    for facet, buckets in facets.items():
        rows = []
        for b in buckets:
            tag = labels.tag(facet, b["value"], lang)
            label: Any = b["label"]
            if tag != lang:
                label = {"@value": label, "@language": tag} if tag else {"@value": label}
            rows.append({"value": b["value"], "count": b["count"], "label": label})
        out[facet] = rows
    return context, out
