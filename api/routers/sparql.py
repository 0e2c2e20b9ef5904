"""A read-only SPARQL 1.1 endpoint over the store, with a service description, a deadline and a cap.

Protocol (SPARQL 1.1 Protocol §2.1): ``GET /sparql?query=``, ``POST`` with
``application/sparql-query`` or a form ``query=``; ``default-graph-uri``/``named-graph-uri`` are
not supported (one dataset). Updates are refused with 400: nothing in the store is writable
from here. ``GET /sparql`` without a query answers the service description, whose
``sd:endpoint`` is the exact public URL (``{base_url}/sparql``): Comunica sends its queries there.

The dataset is the default graph: every current (not withdrawn) item graph of the store plus
the DCAT catalogue (networks, sources, streams). It is loaded into an in-memory Oxigraph store
and reloaded when the store changes (record count, last update or withdrawals differ). Answers
stream row by row, so the cap (``sparql_max_results``) cuts them off and the deadline
(``sparql_timeout_s``) is checked between rows; a query that is still computing its first row at
the deadline is answered 503 and its thread finishes on its own (Oxigraph cannot be interrupted). Such a thread keeps its evaluation slot until it ends, and
at most ``sparql_max_concurrent`` queries evaluate at once, so runaway queries cannot take the
server's whole thread pool: the next query gets a 503 instead.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pyoxigraph import BlankNode, NamedNode, QueryBoolean, QuerySolutions, RdfFormat, Store, serialize
from rdflib import Graph, Namespace, URIRef
from rdflib import Literal as RLiteral
from sqlalchemy import func, select

from api.conneg import negotiate
from api.conneg import serialize as rdf_serialize
from api.deps import SettingsDep, StoreDep
from api.routers.catalog import build_catalog
from ontology.namespaces import RDF
from pipeline.settings import Settings
from store.ldes_models import LdesHeadRow
from store.members import ensure_tables
from store.models import RecordRow, SourceRow
from store.repository import Store as InnonetStore

router = APIRouter(tags=["linked data"])

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
RESULTS_JSON = "application/sparql-results+json"
RESULTS_XML = "application/sparql-results+xml"
CORS = {"Access-Control-Allow-Origin": "*", "Vary": "Accept"}
#: CONSTRUCT/DESCRIBE answers: media type -> Oxigraph format.
GRAPH_FORMATS = {
    "text/turtle": RdfFormat.TURTLE,
    "application/n-triples": RdfFormat.N_TRIPLES,
    "application/n-quads": RdfFormat.N_QUADS,
    "application/rdf+xml": RdfFormat.RDF_XML,
}


class QueryTimeout(Exception):
    """The query ran past ``sparql_timeout_s``."""


class Busy(Exception):
    """Every evaluation slot is taken (possibly by queries past their deadline that cannot be stopped)."""


def _slots(app_state: Any, settings: Settings) -> threading.BoundedSemaphore:
    slots = getattr(app_state, "sparql_slots", None)
    if slots is None:
        slots = app_state.sparql_slots = threading.BoundedSemaphore(settings.sparql_max_concurrent)
    return slots


def run_in_slot(
    slots: threading.BoundedSemaphore, ds: Dataset, query: str, accept: str | None, settings: Settings
):
    """Evaluate while holding a slot; the slot is freed when the evaluation really ends, not at the 503."""
    if not slots.acquire(blocking=False):
        raise Busy
    try:
        return run_query(ds, query, accept, settings)
    finally:
        slots.release()


@dataclass
class Dataset:
    """The loaded Oxigraph store and the store state it reflects."""

    key: tuple[Any, ...]
    store: Store
    triples: int


_LOCK = threading.Lock()


def _state(store: InnonetStore) -> tuple[Any, ...]:
    ensure_tables(store.engine)
    with store.session() as s:
        records = s.execute(select(func.count(), func.max(RecordRow.updated_at))).one()
        withdrawn = s.scalar(
            select(func.count()).select_from(LdesHeadRow).where(LdesHeadRow.deleted.is_(True))
        )
        sources = s.scalar(select(func.count()).select_from(SourceRow))
    return (tuple(records), withdrawn, sources)


def dataset(app_state: Any, store: InnonetStore, base: str) -> Dataset:
    """The current dataset, reloaded when the store changed since it was loaded."""
    key = _state(store)
    current: Dataset | None = getattr(app_state, "sparql_dataset", None)
    if current is not None and current.key == key:
        return current
    with _LOCK:
        current = getattr(app_state, "sparql_dataset", None)
        if current is not None and current.key == key:
            return current
        ox = Store()
        with store.session() as s:
            gone = set(s.scalars(select(LdesHeadRow.item_iri).where(LdesHeadRow.deleted.is_(True))))
            chunk: list[str] = []
            for iri, graph in s.execute(select(RecordRow.iri, RecordRow.graph).order_by(RecordRow.iri)):
                if iri in gone:
                    continue
                chunk.append(graph)
                if len(chunk) >= 500:
                    ox.bulk_load("".join(chunk).encode("utf-8"), RdfFormat.N_TRIPLES)
                    chunk = []
            if chunk:
                ox.bulk_load("".join(chunk).encode("utf-8"), RdfFormat.N_TRIPLES)
        ox.bulk_load(build_catalog(store, base).serialize(format="nt").encode("utf-8"), RdfFormat.N_TRIPLES)
        loaded = Dataset(key, ox, len(ox))
        app_state.sparql_dataset = loaded
        return loaded


# --- writing results -------------------------------------------------------------------------------


def _json_term(term: Any) -> dict[str, str]:
    if isinstance(term, NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, BlankNode):
        return {"type": "bnode", "value": term.value}
    out = {"type": "literal", "value": term.value}
    if term.language:
        out["xml:lang"] = term.language
    elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
        out["datatype"] = term.datatype.value
    return out


def _xml_term(term: Any) -> str:
    if isinstance(term, NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if term.language:
        return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
    if term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
        return f"<literal datatype={quoteattr(term.datatype.value)}>{escape(term.value)}</literal>"
    return f"<literal>{escape(term.value)}</literal>"


@dataclass
class Answer:
    body: bytes
    media: str
    truncated: bool = False


def run_query(ds: Dataset, query: str, accept: str | None, settings: Settings) -> Answer:
    """Evaluate ``query`` (SyntaxError for a bad or update query), capped and with the deadline.

    Oxigraph's result objects belong to the thread that made them: :func:`_evaluate` never lets
    an exception (whose traceback would keep them alive) leave its frame, so they are dropped
    here, on the worker thread, and only plain values cross back to the event loop.
    """
    outcome = _evaluate(ds, query, accept, settings)
    if outcome is None:
        raise QueryTimeout
    if isinstance(outcome, str):
        raise OSError(outcome)
    return outcome


def _evaluate(ds: Dataset, query: str, accept: str | None, settings: Settings) -> Answer | str | None:
    """The answer, an evaluation error message, or None past the deadline (SyntaxError is raised)."""
    try:
        return _evaluate_raising(ds, query, accept, settings)
    except QueryTimeout:
        return None
    except OSError as exc:
        return str(exc)


def _evaluate_raising(ds: Dataset, query: str, accept: str | None, settings: Settings) -> Answer:
    deadline = time.monotonic() + settings.sparql_timeout_s
    cap = settings.sparql_max_results
    result = ds.store.query(query)
    if isinstance(result, QueryBoolean):
        media = _results_media(accept)
        if media == RESULTS_XML:
            body = (
                '<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#"><head/>'
                f"<boolean>{'true' if bool(result) else 'false'}</boolean></sparql>"
            )
            return Answer(body.encode(), media)
        return Answer(json.dumps({"head": {}, "boolean": bool(result)}).encode(), media)
    if isinstance(result, QuerySolutions):
        media = _results_media(accept)
        names = [v.value for v in result.variables]
        rows, truncated = [], False
        for solution in result:
            if time.monotonic() > deadline:
                raise QueryTimeout
            if len(rows) >= cap:
                truncated = True
                break
            rows.append({n: solution[n] for n in names if solution[n] is not None})
        if media == RESULTS_XML:
            head = "".join(f"<variable name={quoteattr(n)}/>" for n in names)
            body_rows = "".join(
                "<result>"
                + "".join(f"<binding name={quoteattr(n)}>{_xml_term(t)}</binding>" for n, t in row.items())
                + "</result>"
                for row in rows
            )
            body = (
                '<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#">'
                f"<head>{head}</head><results>{body_rows}</results></sparql>"
            )
            return Answer(body.encode("utf-8"), media, truncated)
        doc = {
            "head": {"vars": names},
            "results": {"bindings": [{n: _json_term(t) for n, t in row.items()} for row in rows]},
        }
        return Answer(json.dumps(doc, ensure_ascii=False).encode("utf-8"), media, truncated)
    # CONSTRUCT / DESCRIBE
    media = _graph_media(accept)
    triples, truncated = [], False
    for triple in result:
        if time.monotonic() > deadline:
            raise QueryTimeout
        if len(triples) >= cap:
            truncated = True
            break
        triples.append(triple)
    body = serialize(triples, format=GRAPH_FORMATS[media]) or b""
    return Answer(body, media, truncated)


def _results_media(accept: str | None) -> str:
    accept = (accept or "").lower()
    ranked = []
    for position, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        q = next((float(f[2:]) for f in fields[1:] if f.startswith("q=") and _float(f[2:])), 1.0)
        ranked.append((-q, position, fields[0]))
    for _, _, media in sorted(ranked):
        if media in (RESULTS_JSON, "application/json"):
            return RESULTS_JSON
        if media in (RESULTS_XML, "application/xml", "text/xml"):
            return RESULTS_XML
    return RESULTS_JSON


def _float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _graph_media(accept: str | None) -> str:
    try:
        media = negotiate(accept)
    except Exception:  # noqa: BLE001 - a results-only Accept still gets a graph in Turtle
        return "text/turtle"
    return media if media in GRAPH_FORMATS else "text/turtle"


# --- service description -----------------------------------------------------------------------------


def service_description(settings: Settings, triples: int) -> Graph:
    endpoint = URIRef(settings.base_url.rstrip("/") + "/sparql")
    g = Graph()
    g.bind("sd", SD)
    g.bind("void", VOID)
    svc = URIRef(f"{endpoint}#service")
    g.add((svc, RDF.type, SD.Service))
    g.add((svc, SD.endpoint, endpoint))
    g.add((svc, SD.supportedLanguage, SD.SPARQL11Query))
    for fmt in (
        "http://www.w3.org/ns/formats/SPARQL_Results_JSON",
        "http://www.w3.org/ns/formats/SPARQL_Results_XML",
        "http://www.w3.org/ns/formats/Turtle",
        "http://www.w3.org/ns/formats/N-Triples",
    ):
        g.add((svc, SD.resultFormat, URIRef(fmt)))
    g.add((svc, SD.feature, SD.UnionDefaultGraph))
    ds = URIRef(f"{endpoint}#dataset")
    default = URIRef(f"{endpoint}#default-graph")
    g.add((svc, SD.defaultDataset, ds))
    g.add((ds, RDF.type, SD.Dataset))
    g.add((ds, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    g.add((default, VOID.triples, RLiteral(triples)))
    return g


# --- HTTP ----------------------------------------------------------------------------------------------


async def _answer(request: Request, store: InnonetStore, settings: Settings, query: str) -> Response:
    ds = await run_in_threadpool(dataset, request.app.state, store, settings.base_url)
    accept = request.headers.get("accept")
    try:
        answer = await asyncio.wait_for(
            run_in_threadpool(run_in_slot, _slots(request.app.state, settings), ds, query, accept, settings),
            timeout=settings.sparql_timeout_s,
        )
    except Busy as exc:
        raise HTTPException(
            503, f"{settings.sparql_max_concurrent} queries are running; try again shortly"
        ) from exc
    except SyntaxError as exc:
        raise HTTPException(400, f"not a SPARQL 1.1 query (updates are refused here): {exc}") from exc
    except (QueryTimeout, TimeoutError) as exc:
        raise HTTPException(503, f"the query ran longer than {settings.sparql_timeout_s:g} s") from exc
    except OSError as exc:  # Oxigraph evaluation errors (e.g. a SERVICE call, which is not allowed)
        raise HTTPException(400, f"query failed: {exc}") from exc
    headers = dict(CORS)
    if answer.truncated:
        headers["X-Result-Truncated"] = f"capped at {settings.sparql_max_results}"
    charset = "; charset=utf-8" if answer.media.startswith("text/") else ""
    return Response(answer.body, media_type=answer.media + charset, headers=headers)


def _refuse_update(request: Request, form: dict[str, Any] | None = None) -> None:
    if "update" in request.query_params or (form and "update" in form):
        raise HTTPException(400, "this endpoint is read-only: SPARQL Update is not accepted")
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/sparql-update":
        raise HTTPException(400, "this endpoint is read-only: SPARQL Update is not accepted")


@router.get("/sparql", operation_id="sparql-query")
async def sparql_get(
    request: Request, store: StoreDep, settings: SettingsDep, query: str | None = None
) -> Response:
    """SPARQL 1.1 query by GET; without ``query``, the service description."""
    _refuse_update(request)
    if query is None:
        ds = await run_in_threadpool(dataset, request.app.state, store, settings.base_url)
        g = service_description(settings, ds.triples)
        try:
            media = negotiate(request.headers.get("accept"))
        except Exception:  # noqa: BLE001
            media = "text/turtle"
        media = (
            media
            if media in ("text/turtle", "application/ld+json", "application/n-triples")
            else "text/turtle"
        )
        body = rdf_serialize(g, media)
        return Response(
            body, media_type=media + ("; charset=utf-8" if media.startswith("text/") else ""), headers=CORS
        )
    return await _answer(request, store, settings, query)


@router.post("/sparql", operation_id="sparql-query-post")
async def sparql_post(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """SPARQL 1.1 query by POST (``application/sparql-query`` body, or a form with ``query``)."""
    _refuse_update(request)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/sparql-query":
        query = (await request.body()).decode("utf-8")
    elif media == "application/x-www-form-urlencoded":
        form = dict(await request.form())
        _refuse_update(request, form)
        query = str(form.get("query") or "")
    else:
        raise HTTPException(
            415, "POST application/sparql-query or a form (application/x-www-form-urlencoded)"
        )
    if not query.strip():
        raise HTTPException(400, "no query")
    return await _answer(request, store, settings, query)


@router.options("/sparql", include_in_schema=False)
async def sparql_options() -> Response:
    """CORS preflight: browser clients (Comunica, YASGUI) POST queries."""
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Accept",
        },
    )
