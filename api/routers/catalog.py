"""The instance as a DCAT-AP 3 catalogue: its networks (agents), sources (datasets), streams and services.

Subscribers and data portals find what an instance offers without reading our docs: each
registered source is a ``dcat:Dataset`` published by its network (a ``foaf:Agent``), with its
feed as ``dcat:Distribution``; the event stream is a ``dcat:Dataset`` served by an LDES
``dcat:DataService``; the SPARQL endpoint is another ``dcat:DataService``. Every resource the
DCAT-AP 3.0.1 shapes look at carries its type and label (themes, languages, formats,
standards), so the catalogue conforms without fetching EU tables (tests/api/test_catalog.py).
The same descriptions answer ``/doc/network/…`` and ``/doc/source/…`` (api/routers/linkeddata.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from rdflib import Graph, Literal, Namespace, URIRef
from sqlalchemy import select

from api.deps import SettingsDep, StoreDep
from ontology.namespaces import DCAT, DCTERMS, FOAF, INNONET, RDF, SCHEMES, SKOS
from ontology.uris import network_iri, source_iri
from store.models import NetworkRow, SourceRow
from store.repository import Store

router = APIRouter(tags=["linked data"])

LDES = Namespace("https://w3id.org/ldes#")
EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
LDES_SPEC = URIRef("https://w3id.org/ldes/specification")
TREE_SPEC = URIRef("https://w3id.org/tree/specification")
SPARQL_SPEC = URIRef("https://www.w3.org/TR/sparql11-protocol/")
#: Source platform -> EU file type of what we fetch.
FILE_TYPES = {
    "feed": "RSS",
    "ical": "ICS",
    "html": "HTML",
    "jsonld": "JSON_LD",
    "sitemap": "XML",
    "opml": "XML",
    "uitdatabank": "JSON",
    "ldes": "RDF_TURTLE",
    "innonet-registry": "YAML",
}
LANGUAGES = {"nl": "NLD", "en": "ENG", "fr": "FRA", "de": "DEU"}


def catalog_iri(base: str) -> URIRef:
    return URIRef(f"{base.rstrip('/')}/id/catalog/innonet")


def publisher_iri(base: str) -> URIRef:
    return URIRef(f"{base.rstrip('/')}/id/agent/instance")


def stream_iri(base: str) -> URIRef:
    return URIRef(f"{base.rstrip('/')}/ldes/feed")


def service_iri(base: str, name: str) -> URIRef:
    return URIRef(f"{base.rstrip('/')}/id/dataservice/{name}")


def _typed(g: Graph, node: URIRef, kind: URIRef, scheme: str | None = None) -> URIRef:
    """A referenced resource typed (and put in its scheme) as the DCAT-AP range shapes expect."""
    g.add((node, RDF.type, kind))
    if scheme:
        g.add((node, SKOS.inScheme, URIRef(scheme)))
    return node


def _homepage(g: Graph, subject: URIRef, url: str | None) -> None:
    if url and url.startswith(("http://", "https://")):
        page = URIRef(url)
        g.add((subject, FOAF.homepage, page))
        g.add((page, RDF.type, FOAF.Document))


def describe_network(g: Graph, base: str, row: NetworkRow) -> URIRef:
    """A network as the agent that publishes its sources."""
    node = network_iri(base, row.id)
    g.add((node, RDF.type, FOAF.Agent))
    g.add((node, RDF.type, INNONET.Network))
    g.add((node, FOAF.name, Literal(row.name)))
    g.add((node, DCTERMS.identifier, Literal(row.id)))
    _homepage(g, node, row.homepage)
    return node


def describe_source(g: Graph, base: str, row: SourceRow) -> URIRef:
    """A source as a dataset of its network, with the URL we fetch as its distribution."""
    node = source_iri(base, row.id)
    g.add((node, RDF.type, DCAT.Dataset))
    g.add((node, RDF.type, INNONET.Source))
    g.add((node, DCTERMS.title, Literal(row.title)))
    g.add(
        (
            node,
            DCTERMS.description,
            Literal(f"{row.kind} items harvested by innonet from {row.title} ({row.platform}).", lang="en"),
        )
    )
    g.add((node, DCTERMS.identifier, Literal(row.id)))
    g.add((node, DCTERMS.publisher, network_iri(base, row.network_id)))
    if row.language in LANGUAGES:
        g.add((node, DCTERMS.language, _language(g, row.language)))
    dist = URIRef(f"{node}#distribution")
    g.add((node, DCAT.distribution, dist))
    g.add((dist, RDF.type, DCAT.Distribution))
    if row.url.startswith(("http://", "https://")):
        g.add((dist, DCAT.accessURL, URIRef(row.url)))
    else:
        g.add((dist, DCAT.accessURL, node))
    fmt = URIRef(EU_FILE_TYPE + FILE_TYPES.get(row.platform, "HTML"))
    g.add((dist, DCTERMS.format, _typed(g, fmt, DCTERMS.MediaTypeOrExtent, EU_FILE_TYPE.rstrip("/"))))
    if row.licence and row.licence.startswith(("http://", "https://")):
        g.add((dist, DCTERMS.license, _typed(g, URIRef(row.licence), DCTERMS.LicenseDocument)))
    return node


def _language(g: Graph, code: str) -> URIRef:
    return _typed(g, URIRef(EU_LANGUAGE + LANGUAGES[code]), DCTERMS.LinguisticSystem, EU_LANGUAGE.rstrip("/"))


def _standard(g: Graph, node: URIRef) -> URIRef:
    return _typed(g, node, DCTERMS.Standard)


def build_catalog(store: Store, base: str) -> Graph:
    """The whole catalogue: instance, networks, sources, the stream and the services."""
    base = base.rstrip("/")
    g = Graph()
    cat, publisher = catalog_iri(base), publisher_iri(base)
    host = urlsplit(base).netloc or base
    g.add((cat, RDF.type, DCAT.Catalog))
    g.add((cat, DCTERMS.title, Literal(f"innonet at {host}", lang="en")))
    g.add(
        (
            cat,
            DCTERMS.description,
            Literal(
                "Public-sector innovation news, events and cases harvested from the networks below, "
                "republished as linked data, an event stream (LDES) and a SPARQL endpoint.",
                lang="en",
            ),
        )
    )
    g.add((cat, DCTERMS.publisher, publisher))
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, FOAF.name, Literal(f"innonet instance {host}")))
    _homepage(g, cat, base + "/")
    for code in LANGUAGES:
        g.add((cat, DCTERMS.language, _language(g, code)))
    theme = URIRef(SCHEMES["theme"])
    g.add((cat, DCAT.themeTaxonomy, theme))
    g.add((theme, RDF.type, SKOS.ConceptScheme))
    g.add((theme, DCTERMS.title, Literal("Public-sector innovation themes", lang="en")))
    with store.session() as s:
        networks = list(s.scalars(select(NetworkRow).order_by(NetworkRow.id)))
        sources = list(s.scalars(select(SourceRow).order_by(SourceRow.id)))
    for net in networks:
        describe_network(g, base, net)
    for src in sources:
        g.add((cat, DCAT.dataset, describe_source(g, base, src)))
    stream = stream_iri(base)
    g.add((cat, DCAT.dataset, stream))
    g.add((stream, RDF.type, DCAT.Dataset))
    g.add((stream, RDF.type, LDES.EventStream))
    g.add((stream, DCTERMS.title, Literal("innonet event stream: every version of every item", lang="en")))
    g.add(
        (
            stream,
            DCTERMS.description,
            Literal(
                "A Linked Data Event Stream of all items, paginated by time; filtered views by type, "
                "theme, network, source and language.",
                lang="en",
            ),
        )
    )
    g.add((stream, DCTERMS.publisher, publisher))
    g.add((stream, DCTERMS.conformsTo, _standard(g, LDES_SPEC)))
    for name, title, endpoint, standards in (
        ("ldes-feed", "LDES: innonet event stream", stream, (LDES_SPEC, TREE_SPEC)),
        ("sparql", "SPARQL 1.1 endpoint (read-only)", URIRef(base + "/sparql"), (SPARQL_SPEC,)),
    ):
        svc = service_iri(base, name)
        g.add((cat, DCAT.service, svc))
        g.add((svc, RDF.type, DCAT.DataService))
        g.add((svc, DCTERMS.title, Literal(title, lang="en")))
        g.add((svc, DCAT.endpointURL, endpoint))
        g.add((svc, DCTERMS.publisher, publisher))
        for std in standards:
            g.add((svc, DCTERMS.conformsTo, _standard(g, std)))
        g.add((svc, DCAT.servesDataset, stream))
        if name == "sparql":
            g.add((svc, DCAT.endpointDescription, endpoint))
        else:
            g.add((stream, DCAT.distribution, URIRef(f"{stream}#distribution")))
            dist = URIRef(f"{stream}#distribution")
            g.add((dist, RDF.type, DCAT.Distribution))
            g.add((dist, DCAT.accessURL, stream))
            g.add((dist, DCAT.accessService, svc))
            fmt = URIRef(EU_FILE_TYPE + "RDF_TURTLE")
            g.add((dist, DCTERMS.format, _typed(g, fmt, DCTERMS.MediaTypeOrExtent, EU_FILE_TYPE.rstrip("/"))))
    return g


@router.get("/catalog", operation_id="catalog")
async def catalog(
    request: Request, store: StoreDep, settings: SettingsDep, format: str | None = None
) -> Response:
    """The DCAT-AP 3 catalogue of this instance (Turtle, JSON-LD, N-Triples, RDF/XML or HTML)."""
    from api.routers.linkeddata import negotiated, rdf_response

    media = negotiated(request, format)
    g = await run_in_threadpool(build_catalog, store, settings.base_url)
    iri = str(catalog_iri(settings.base_url))
    return rdf_response(request, g, iri, media, "/catalog", title="innonet catalogue")
