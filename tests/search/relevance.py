"""The relevance test set: real corpus items in nl, en and fr, and queries with their right answers.

Items come from ``../shared/corpus`` (see its MANIFEST.tsv): Flemish open-data and licence
records and OSLO concept schemes (nl), the Belgian BOSA address datasets (nl and fr), Le
Cercle Psy and Natural Resources Canada feeds (fr) and The Guardian (en). Each query is
written the way a person would type it: another inflection, a part of a compound, no
accents. An answer is right when one of the expected titles is in the top ``TOP`` hits.

``evaluate`` is used by ``test_relevance.py`` (both analyses, both backends) and prints the
table quoted in ``docs/search.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import feedparser
from rdflib import Graph
from rdflib.namespace import DCTERMS, SKOS

from crawlers.platforms.feed import html_to_text
from search.base import SearchBackend
from search.documents import SearchDocument, SearchQuery

TOP = 3


@dataclass(frozen=True)
class Case:
    language: str
    query: str
    expected: tuple[str, ...]  # title prefixes of acceptable answers
    why: str


CASES = [
    Case("nl", "adressenregister", ("Het Vlaame Adressenregister",), "exact word"),
    Case("nl", "register adressen", ("Het Vlaame Adressenregister",), "parts of a compound"),
    Case("nl", "organisatie", ("Vlaamse Organisatieregister",), "part of a compound"),
    Case(
        "nl",
        "licentie hergebruik vergoeding",
        ("Modellicentie voor hergebruik tegen vergoeding",),
        "compound",
    ),
    Case(
        "nl",
        "geografische gegevensbron",
        (
            "Toegang en gebruik van geografische",
            "Vastgestelde regeling voor toegang en gebruik van geografisc",
        ),
        "plural + compound",
    ),
    Case("nl", "erkende standaarden", ("Erkende Standaard",), "plural"),
    Case("nl", "werkgroepen", ("Werkgroep Charter", "Nota Werkgroep"), "plural"),
    Case("nl", "applicatieprofielen", ("Applicatieprofiel",), "plural"),
    Case("nl", "adres api", ("BeSt adressen, API",), "singular of a plural"),
    Case("nl", "verouderd", ("Verouderde Standaard",), "inflection"),
    Case("fr", "perturbateur endocrinien cerveau", ("Perturbateurs endocriniens",), "singular of plurals"),
    Case("fr", "criminalite ennui", ("La criminalité liée",), "no accents"),
    Case("fr", "enfants doues", ("L'enfant doué",), "plural, no accents"),
    Case("fr", "seismes ressentis yarmouth", ("2018-09-29: M=3,1 - 32 km NNO de Yarmouth",), "plurals"),
    Case("fr", "fichier csv derive", ("Adresses BeSt, fichiers csv dérivés",), "singular, no accents"),
    Case("fr", "masters psycho", ("Masters en Psycho",), "exact words"),
    Case("fr", "simplifier nomenclature", ("Masters en Psycho",), "verb form of 'simplifier'"),
    Case("en", "state union address", ("Trump State of the Union address",), "exact words"),
    Case(
        "en",
        "offshore tax evasions",
        ("UN urged to launch global effort to end offshore tax evasion",),
        "plural",
    ),
    Case("en", "train hit truck", ("Train carrying dozens of GOP lawmakers hits truck",), "verb form"),
    Case(
        "en",
        "smuggling guns library",
        ("Gun-smuggling case puts spotlight on library",),
        "plural of a hyphen part",
    ),
    Case(
        "en",
        "conservative",
        ("So, how did conservatives like the State of the Union?",),
        "singular of a plural",
    ),
    Case("en", "fbi concern memo", ("FBI has 'grave concerns'",), "singular of a plural"),
]


def corpus_documents(corpus: Path) -> list[SearchDocument]:
    """The relevance items, as search documents (the same for every backend and analysis)."""
    docs: list[SearchDocument] = []

    def add(source: str, language: str | None, title: str, summary: str | None) -> None:
        docs.append(
            SearchDocument(
                id=f"https://example.org/relevance/{source}/{len(docs):04d}",
                type="NewsArticle",
                title=" ".join(title.split()),
                summary=summary,
                language=language,
                network="relevance",
                source=source,
            )
        )

    for name, language in (
        ("rss_atom/cerclepsy_fr_latin1_no_decl.xml", "fr"),
        ("rss_atom/nrcan_earthquakes_fr.xml", "fr"),
        ("rss_atom/guardian_rss2.xml", "en"),
    ):
        feed = feedparser.parse((corpus / name).read_bytes())
        for entry in feed.entries:
            if entry.get("title"):
                add(Path(name).stem, language, entry["title"], html_to_text(entry.get("summary")))
    for name in (
        "dcat/data_vlaanderen_be_catalog.ttl",
        "dcat/belgif_fpsbosa_best_dcat.rdf",
        "skos/vlaanderen_licenties.ttl",
        "skos/oslo_conceptscheme_standaardstatus.ttl",
        "skos/oslo_conceptscheme_standaardtype.ttl",
    ):
        g = Graph().parse(corpus / name)
        for predicate in (DCTERMS.title, SKOS.prefLabel):
            for s, title in g.subject_objects(predicate):
                language = getattr(title, "language", None) or "nl"
                descriptions = [d for p in (DCTERMS.description, SKOS.definition) for d in g.objects(s, p)]
                same = [d for d in descriptions if getattr(d, "language", None) in (None, language)]
                add(Path(name).stem, language, str(title), str(same[0]) if same else None)
    return docs


def evaluate(backend: SearchBackend, docs: list[SearchDocument], analysis: str) -> dict[str, list[Case]]:
    """Which cases the backend answers right (an expected title in the top TOP) and which not."""
    by_id = {d.id: d for d in docs}
    result: dict[str, list[Case]] = {"found": [], "missed": []}
    for case in CASES:
        hits = backend.search(SearchQuery(q=case.query, size=TOP, analysis=analysis)).hits  # type: ignore[arg-type]
        titles = [by_id[h.id].title for h in hits]
        ok = any(t.startswith(e) for t in titles for e in case.expected)
        result["found" if ok else "missed"].append(case)
    return result
