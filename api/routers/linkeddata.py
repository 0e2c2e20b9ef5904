"""Dereferenceable IRIs: ``/id/...`` answers 303 to ``/doc/...``, which negotiates the format.

The thing (``/id/news/...``) and the document about it (``/doc/news/...``) have different
IRIs (Flemish URI standard, httpRange-14); the document is served as Turtle, JSON-LD,
N-Triples, RDF/XML or HTML by ``Accept``, by extension or by ``?format=``, with ``Vary: Accept``,
``Link`` alternates, an ``ETag`` (``If-None-Match`` gives 304) and CORS.

What dereferences: items (their stored graph), item versions (``…/versie/T``: the immutable
member from the event stream, never redirected to the latest), networks and sources (their
DCAT-AP descriptions, api/routers/catalog.py), the catalogue and its services, and, under
``/ns/…``, the vocabulary, the concept schemes and the JSON-LD context. A withdrawn item is
``410 Gone`` with its ``as:Delete`` tombstone as the body, so a client learns when and that it
was withdrawn rather than guessing from a 404.
"""

from __future__ import annotations

import hashlib
import html
import json
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from rdflib import Graph, URIRef
from sqlalchemy import select

from api.conneg import EXTENSIONS, FORMATS, jsonld_context, negotiate, serialize
from api.deps import SettingsDep, StoreDep
from api.routers.catalog import build_catalog, describe_network, describe_source
from ontology.namespaces import DCTERMS, FOAF, RDFS, SCHEMA, SKOS
from store.ldes_models import LdesHeadRow, LdesMemberRow
from store.members import ensure_tables
from store.repository import Store

router = APIRouter(tags=["linked data"])

VOCAB_DIR = Path(__file__).resolve().parent.parent.parent / "ontology" / "vocab"
VOCAB_NS = "https://w3id.org/innonet/ns"
CONCEPTS_NS = "https://w3id.org/innonet/concepts/"
#: Documents under /doc that are mutable descriptions (items change, catalogue grows).
MUTABLE = "public, max-age=300"
IMMUTABLE = "public, max-age=31536000, immutable"


@router.get("/id/{kind}/{ref:path}", operation_id="linkeddata-thing", status_code=303)
async def thing(kind: str, ref: str, request: Request) -> RedirectResponse:
    """The IRI of an item: see the document that describes it."""
    target = f"/doc/{kind}/{ref}"
    if request.url.query:
        target += f"?{request.url.query}"
    return RedirectResponse(
        target, status_code=303, headers={"Vary": "Accept", "Access-Control-Allow-Origin": "*"}
    )


def _title(g: Graph, iri: str) -> str:
    node = URIRef(iri)
    for pred in (SCHEMA.headline, SCHEMA.name, DCTERMS.title, FOAF.name, SKOS.prefLabel, RDFS.label):
        values = list(g.objects(node, pred))
        if values:
            english = [v for v in values if getattr(v, "language", None) == "en"]
            return str((english or values)[0])
    return iri


def _html(g: Graph, iri: str, doc_path: str, title: str | None = None) -> str:
    """A plain, escaped HTML view with the JSON-LD embedded and the other formats linked."""
    title = title or _title(g, iri)
    base = doc_path.split("?", 1)[0]
    links = " · ".join(
        f'<a href="{html.escape(base)}.{ext}">{media}</a>'
        for media, (_, ext) in FORMATS.items()
        if ext != "html"
    )
    alternates = "".join(
        f'<link rel="alternate" type="{media}" href="{html.escape(base)}.{ext}">'
        for media, (_, ext) in FORMATS.items()
        if ext != "html"
    )
    embedded = serialize(g, "application/ld+json").replace("</", "<\\/")
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>{alternates}"
        f'<script type="application/ld+json">{embedded}</script>'
        f"<h1>{html.escape(title)}</h1><p><code>{html.escape(iri)}</code></p>"
        f"<p>Also as: {links}</p><pre>{html.escape(serialize(g, 'text/turtle'))}</pre></html>"
    )


def split_extension(ref: str) -> tuple[str, str | None]:
    """``x/y.ttl`` -> (``x/y``, ``text/turtle``); no known extension -> (ref, None)."""
    for ext, candidate in EXTENSIONS.items():
        if ref.endswith(f".{ext}"):
            return ref[: -len(ext) - 1], candidate
    return ref, None


def negotiated(request: Request, format: str | None, by_extension: str | None = None) -> str:
    """The media type: ``?format=`` wins, then the extension, then ``Accept`` (406 if nothing fits)."""
    if format:
        if format not in EXTENSIONS:
            raise HTTPException(400, f"unknown format {format!r}; use one of {', '.join(EXTENSIONS)}")
        return EXTENSIONS[format]
    return by_extension or negotiate(request.headers.get("accept"))


def rdf_response(
    request: Request,
    g: Graph,
    iri: str,
    media: str,
    doc_path: str,
    *,
    status: int = 200,
    cache_control: str = MUTABLE,
    title: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Response:
    """Serialise ``g`` as ``media`` with the linked-data headers (Vary, Link, ETag, CORS)."""
    body = _html(g, iri, doc_path, title) if media == "text/html" else serialize(g, media)
    etag = '"' + hashlib.sha256(body.encode("utf-8")).hexdigest()[:32] + '"'
    base = doc_path.split("?", 1)[0]
    headers = {
        "Vary": "Accept",
        "ETag": etag,
        "Cache-Control": cache_control,
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "ETag, Link, Content-Location",
        "Content-Location": f"{base}.{FORMATS[media][1]}",
        "Link": ", ".join(
            f'<{base}.{ext}>; rel="alternate"; type="{m}"' for m, (_, ext) in FORMATS.items() if m != media
        ),
    }
    headers.update(extra_headers or {})
    inm = request.headers.get("if-none-match")
    if status == 200 and inm and etag in [t.strip().removeprefix("W/") for t in inm.split(",")]:
        return Response(status_code=304, headers=headers)
    charset = "; charset=utf-8" if media.startswith("text/") or media == "application/n-triples" else ""
    return Response(body, status_code=status, media_type=media + charset, headers=headers)


def _graph(nt: str) -> Graph:
    g = Graph()
    g.parse(data=nt, format="nt")
    return g


def _lookup(store: Store, base: str, kind: str, ref: str) -> tuple[Graph | None, int, str]:
    """(graph, status, cache-control) of ``/id/{kind}/{ref}``; (None, 404, "") when unknown."""
    iri = f"{base}/id/{kind}/{ref}"
    if kind == "network":
        row = store.network(ref)
        if row is None:
            return None, 404, ""
        g = Graph()
        describe_network(g, base, row)
        return g, 200, MUTABLE
    if kind == "source":
        row = store.source(ref)
        if row is None:
            return None, 404, ""
        g = Graph()
        describe_source(g, base, row)
        return g, 200, MUTABLE
    if kind in ("catalog", "dataservice", "agent"):
        g = build_catalog(store, base)
        return (g, 200, MUTABLE) if (URIRef(iri), None, None) in g else (None, 404, "")
    ensure_tables(store.engine)
    if "/versie/" in ref:
        with store.session() as s:
            member = s.scalar(select(LdesMemberRow).where(LdesMemberRow.version_iri == iri))
        if member is None:
            return None, 404, ""
        return _graph(member.graph), 200, IMMUTABLE
    with store.session() as s:
        head = s.get(LdesHeadRow, iri)
        tombstone = s.get(LdesMemberRow, head.seq) if head is not None and head.deleted else None
    if tombstone is not None:
        return _graph(tombstone.graph), 410, MUTABLE
    row = store.record(iri)
    if row is None:
        return None, 404, ""
    return _graph(row.graph), 200, MUTABLE


@router.get("/doc/{kind}/{ref:path}", operation_id="linkeddata-document")
async def document(
    kind: str, ref: str, request: Request, store: StoreDep, settings: SettingsDep, format: str | None = None
) -> Response:
    """The description of an item, version, network, source or catalogue, in the format asked for.

    410 Gone (body: the ``as:Delete`` tombstone) when the item was withdrawn.
    """
    ref, by_extension = split_extension(ref)
    media = negotiated(request, format, by_extension)
    base = settings.base_url.rstrip("/")
    iri = f"{base}/id/{kind}/{ref}"
    g, status, cache = await run_in_threadpool(_lookup, store, base, kind, ref)
    if g is None:
        raise HTTPException(404, f"no {kind} {iri}")
    return rdf_response(request, g, iri, media, f"/doc/{kind}/{ref}", status=status, cache_control=cache)


# --- the vocabulary, the concept schemes and the JSON-LD context under /ns ---------------------------


@lru_cache(maxsize=1)
def vocabulary() -> Graph:
    g = Graph()
    g.parse(VOCAB_DIR / "innonet.ttl", format="turtle")
    return g


@lru_cache(maxsize=1)
def concept_schemes() -> Graph:
    g = Graph()
    g.parse(VOCAB_DIR / "concepts.ttl", format="turtle")
    return g


def scheme_graph(name: str, code: str | None = None) -> Graph | None:
    """One concept scheme (the scheme and its concepts) or one concept; None if unknown."""
    full = concept_schemes()
    scheme = URIRef(CONCEPTS_NS + name)
    if (scheme, None, None) not in full:
        return None
    g = Graph()
    if code is not None:
        concept = URIRef(f"{CONCEPTS_NS}{name}/{code}")
        if (concept, None, None) not in full:
            return None
        g += full.triples((concept, None, None))
        return g
    g += full.triples((scheme, None, None))
    for concept in full.subjects(SKOS.inScheme, scheme):
        g += full.triples((concept, None, None))
    return g


def _ns(
    request: Request, g: Graph, iri: str, path: str, format: str | None, by_extension: str | None
) -> Response:
    media = negotiated(request, format, by_extension)
    return rdf_response(request, g, iri, media, path, cache_control="public, max-age=86400")


@router.get("/ns/context.jsonld", operation_id="ns-context")
async def context(request: Request) -> Response:
    """Our JSON-LD context (the one JSON-LD answers are compacted with)."""
    body = json.dumps({"@context": jsonld_context()}, indent=1, ensure_ascii=False)
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, max-age=86400", "Access-Control-Allow-Origin": "*"}
    if etag in (request.headers.get("if-none-match") or ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/ld+json", headers=headers)


@router.get("/ns/innonet{ext:path}", operation_id="ns-vocabulary")
async def vocabulary_document(request: Request, ext: str = "", format: str | None = None) -> Response:
    """The innonet vocabulary (``https://w3id.org/innonet/ns#…``), hash namespace: one document."""
    _, by_extension = split_extension("x" + ext) if ext else ("", None)
    if ext and by_extension is None:
        raise HTTPException(404, f"no vocabulary document /ns/innonet{ext}")
    return _ns(request, vocabulary(), VOCAB_NS, "/ns/innonet", format, by_extension)


@router.get("/ns/concepts/{name}", operation_id="ns-concept-scheme")
async def scheme_document(name: str, request: Request, format: str | None = None) -> Response:
    """A concept scheme (themes, facets, lifecycle stages, government levels, barriers) with its concepts."""
    name, by_extension = split_extension(name)
    g = scheme_graph(name)
    if g is None:
        raise HTTPException(404, f"no concept scheme {name!r}")
    return _ns(request, g, CONCEPTS_NS + name, f"/ns/concepts/{name}", format, by_extension)


@router.get("/ns/concepts/{name}/{code}", operation_id="ns-concept")
async def concept_document(name: str, code: str, request: Request, format: str | None = None) -> Response:
    """One concept of a scheme."""
    code, by_extension = split_extension(code)
    g = scheme_graph(name, code)
    if g is None:
        raise HTTPException(404, f"no concept {name}/{code}")
    return _ns(request, g, f"{CONCEPTS_NS}{name}/{code}", f"/ns/concepts/{name}/{code}", format, by_extension)
