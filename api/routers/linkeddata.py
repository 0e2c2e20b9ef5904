"""Dereferenceable IRIs: ``/id/...`` answers 303 to ``/doc/...``, which negotiates the format.

The thing (``/id/news/...``) and the document about it (``/doc/news/...``) have different
IRIs (Flemish URI standard, httpRange-14); the document is served as Turtle, JSON-LD,
N-Triples or HTML by ``Accept`` or by extension, with ``Vary: Accept``.
"""

from __future__ import annotations

import html

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from rdflib import Graph, URIRef

from api.conneg import EXTENSIONS, FORMATS, negotiate, serialize
from api.deps import SettingsDep, StoreDep
from ontology.namespaces import SCHEMA

router = APIRouter(tags=["linked data"])


@router.get("/id/{kind}/{ref:path}", operation_id="linkeddata-thing", status_code=303)
async def thing(kind: str, ref: str, request: Request) -> RedirectResponse:
    """The IRI of an item: see the document that describes it."""
    target = f"/doc/{kind}/{ref}"
    if request.url.query:
        target += f"?{request.url.query}"
    return RedirectResponse(target, status_code=303, headers={"Vary": "Accept"})


def _html(g: Graph, iri: str, turtle: str) -> str:
    """A plain, escaped HTML view (the web interface issue brings the real page)."""
    title = str(g.value(URIRef(iri), SCHEMA.headline) or iri)
    links = " · ".join(
        f'<a href="?format={ext}">{media}</a>' for media, (_, ext) in FORMATS.items() if ext != "html"
    )
    return (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title>"
        f"<h1>{html.escape(title)}</h1><p><code>{html.escape(iri)}</code></p>"
        f"<p>Also as: {links}</p><pre>{html.escape(turtle)}</pre></html>"
    )


@router.get("/doc/{kind}/{ref:path}", operation_id="linkeddata-document")
async def document(
    kind: str, ref: str, request: Request, store: StoreDep, settings: SettingsDep, format: str | None = None
) -> Response:
    """The description of an item, in the format the client asks for."""
    media = None
    for ext, candidate in EXTENSIONS.items():
        if ref.endswith(f".{ext}"):
            ref, media = ref[: -len(ext) - 1], candidate
            break
    if format:
        if format not in EXTENSIONS:
            raise HTTPException(400, f"unknown format {format!r}; use one of {', '.join(EXTENSIONS)}")
        media = EXTENSIONS[format]
    if media is None:
        media = negotiate(request.headers.get("accept"))
    iri = f"{settings.base_url.rstrip('/')}/id/{kind}/{ref}"
    row = await run_in_threadpool(store.record, iri)
    if row is None:
        raise HTTPException(404, f"no item {iri}")
    g = Graph()
    g.parse(data=row.graph, format="nt")
    body = _html(g, iri, serialize(g, "text/turtle")) if media == "text/html" else serialize(g, media)
    headers = {"Vary": "Accept", "Content-Location": f"/doc/{kind}/{ref}.{FORMATS[media][1]}"}
    if row.updated_at:
        headers["Last-Modified"] = row.updated_at.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return Response(
        body, media_type=media + ("; charset=utf-8" if media.startswith("text/") else ""), headers=headers
    )
