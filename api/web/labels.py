"""Human labels for facet values, in the visitor's language.

Concept facets (theme, OPSI facet, lifecycle stage, level of government, barrier) hold
concept IRIs; their labels come from the SKOS schemes in ``ontology/vocab`` (never typed
twice). Item types, languages and countries come from the message catalogues; networks
from the store. An unknown value is shown as it is, never hidden.
"""

from __future__ import annotations

from functools import lru_cache

from rdflib import URIRef

from api.web.i18n import translate
from ontology.concepts import schemes

#: Public facet name -> SKOS scheme name (ontology.concepts.schemes()).
CONCEPT_FACETS = {
    "theme": "theme",
    "opsi_facet": "facet",
    "lifecycle_stage": "stage",
    "government_level": "level",
    "barrier": "barrier",
}


@lru_cache(maxsize=4096)
def concept_label(iri: str, lang: str) -> str:
    """The prefLabel in ``lang``, else English, else any, else the IRI's last segment."""
    return concept_pref(iri, lang)[0]


def concept_pref(iri: str, lang: str) -> tuple[str, str]:
    """:func:`concept_label` and the language tag of the label it picked ("" for an untagged
    prefLabel or the IRI's last segment): the search API's JSON-LD tags each label with it."""
    for scheme in schemes().values():
        labels = scheme.labels.get(URIRef(iri))
        if labels is None:
            continue
        pref = labels["pref"]
        for wanted in (lang, "en", ""):
            for text, tag in pref:
                if tag == wanted:
                    return text, tag
        if pref:
            return pref[0]
    return iri.rstrip("/").rsplit("/", 1)[-1], ""


def concepts_of(scheme: str) -> list[str]:
    """Every concept IRI of a scheme (for pickers such as the tag-to-theme mapping)."""
    return sorted(str(c) for c in schemes()[scheme].concepts)


def facet_label(facet: str, value: str, lang: str, networks: dict[str, str] | None = None) -> str:
    """How one facet value is shown."""
    if facet in CONCEPT_FACETS:
        return concept_label(value, lang)
    if facet == "network":
        return (networks or {}).get(value) or value
    if facet in ("type", "language", "country"):
        key = f"{facet}.{value}"
        text = translate(lang, key)
        return value if text == key else text
    return value
