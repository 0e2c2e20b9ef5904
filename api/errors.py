"""One error shape for every failure: RFC 9457 problem+json, no stack traces to clients."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.conneg import FORMATS, NotAcceptable
from search.base import SearchUnavailable

log = logging.getLogger("innonet.api")


def problem(status: int, title: str, detail: str, **extra: object) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def install(app: FastAPI) -> None:
    """Register the handlers that turn domain errors into problem documents."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"parameter": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "problem": e["msg"]}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['parameter']}: {e['problem']}" for e in errors)
        return problem(400, "Invalid request", detail, errors=errors)

    @app.exception_handler(NotAcceptable)
    async def _not_acceptable(_: Request, exc: NotAcceptable) -> JSONResponse:
        return problem(406, "Not Acceptable", str(exc), available=list(FORMATS))

    @app.exception_handler(SearchUnavailable)
    async def _unavailable(_: Request, exc: SearchUnavailable) -> JSONResponse:
        log.error("search backend unavailable: %s", exc)
        return problem(503, "Search unavailable", f"the search index cannot be reached right now: {exc}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = problem(
            exc.status_code, exc.detail if isinstance(exc.detail, str) else "Error", str(exc.detail)
        )
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405 (RFC 9110)
        return response

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged")
