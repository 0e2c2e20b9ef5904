"""Map a raw news item to RDF: ``schema:NewsArticle``.

The mapping returns the *content* (what the item says); provenance (where and when it was
harvested) is made by ontology/mapping/provenance.py and kept out of the content hash, so a
re-harvest of the same feed is "unchanged", not a new version.
"""

from __future__ import annotations

from ontology.language import normalise_tag
from ontology.mapping.common import (
    MappingResult,
    TripleList,
    add_common,
    add_date,
    add_themes,
    clean_html,
    clean_text,
    html_text,
    item_graph,
    item_language,
)
from ontology.mapping.provenance import provenance
from ontology.namespaces import DCTERMS, RDF, SCHEMA
from ontology.triples import lang_literal, plain_literal
from ontology.uris import item_iri
from pipeline.contracts import RawItem, SourceSpec

__all__ = ["map_news", "map_news_item", "provenance"]

# Bound once: a namespace attribute is a method call per use.
_TYPE, _NEWS_ARTICLE = RDF.type, SCHEMA.NewsArticle
_HEADLINE, _DESCRIPTION, _BODY = SCHEMA.headline, SCHEMA.description, SCHEMA.articleBody
_PUBLISHED, _MODIFIED, _KEYWORDS = SCHEMA.datePublished, SCHEMA.dateModified, SCHEMA.keywords
_DATE, _CREATOR = DCTERMS.date, DCTERMS.creator


def map_news_item(item: RawItem, source: SourceSpec, base: str) -> MappingResult:
    """The item's IRI, content graph and unmapped source tags."""
    subject = item_iri(base, "news", item.source_id, item.native_id)
    g = TripleList()  # into the item's container at the end (TripleList says why)
    g.add((subject, _TYPE, _NEWS_ARTICLE))
    title = clean_text(item.title)
    summary = clean_text(item.summary)
    language = item_language(item, source, title, summary)
    # ``text(value, language)`` for the three texts, with the tag normalised once, not per literal.
    tag = normalise_tag(language)
    if title:
        g.add((subject, _HEADLINE, lang_literal(title, tag) if tag else plain_literal(title)))
    if summary:
        g.add((subject, _DESCRIPTION, lang_literal(summary, tag) if tag else plain_literal(summary)))
    body = clean_html(item.body_html)
    if body:
        g.add((subject, _BODY, lang_literal(body, tag) if tag else plain_literal(body)))
    zone = item.timezone or source.options.get("timezone")
    if not add_date(g, subject, _PUBLISHED, item.published, item.published_raw, zone) and item.published_raw:
        # Unparseable dates are kept as the source wrote them, never guessed.
        g.add((subject, _DATE, plain_literal(item.published_raw)))
    add_date(g, subject, _MODIFIED, item.updated, None, zone)
    add_common(g, subject, item, source, base, language)
    for author in item.authors:
        g.add((subject, _CREATOR, plain_literal(author)))
    for keyword in item.tags:
        g.add((subject, _KEYWORDS, plain_literal(keyword)))
    themes = add_themes(g, subject, item, source, title=title, summary=summary, body=html_text(body))
    graph = item_graph()
    graph += g  # one loop, the same triples in the same order as adding them one by one
    return MappingResult(subject, graph, themes.unmapped_tags)


def map_news(item: RawItem, source: SourceSpec, base: str) -> tuple:
    """Backwards-compatible shape: (IRI, content graph)."""
    result = map_news_item(item, source, base)
    return result.iri, result.graph
