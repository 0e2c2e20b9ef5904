"""The innonet API: search, dereferenceable linked data, source status."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors, web
from api.routers import catalog, feeds, ldes, linkeddata, search, sources, sparql
from api.routers import metrics as metrics_router
from api.routers import partners as partners_router
from pipeline.settings import Settings, get_settings
from search import make_backend
from store.repository import Store


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for these settings (tests pass their own)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.store = Store(settings.resolved_database_url)
        app.state.backend = make_backend(settings)
        # The startup heap (~150,000 objects: FastAPI, pydantic, rdflib, vocabularies) lives as long as
        # the app; frozen, full GC passes (~90 ms each here) no longer walk it: the search p99 at 20
        # clients, docs/search.md. No gc.collect() first (~90 ms per app start in the tests).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # tests start many apps in one process
            await search.close_fast_path(app)  # the async search session, before the backend's own
            app.state.backend.close()
            app.state.store.close()

    app = FastAPI(
        title="innonet",
        version="0.1.0",
        summary="Search and subscribe to public-sector innovation news, events and cases across networks.",
        lifespan=lifespan,
    )
    errors.install(app)
    app.include_router(search.router)
    app.include_router(linkeddata.router)
    app.include_router(sources.router)
    app.include_router(ldes.router)
    app.include_router(catalog.router)
    app.include_router(feeds.router)
    app.include_router(sparql.router)
    app.include_router(metrics_router.router)
    partners_router.install(app, settings)  # /partner/v1: body limit, rate limit, routes
    web.install(app)  # the pages (/, /find, /items, /events, /networks, /barriers, /partners) and /static
    search.install_fast_path(app)  # everyday GET /search without FastAPI's parameter solving
    ldes.install_fast_path(app)  # outermost: cached closed LDES pages skip routing (after all add_middleware)

    @app.get("/health", operation_id="health", tags=["operations"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "search_backend": settings.search_backend}

    return app


def app_factory() -> FastAPI:
    """For ``uvicorn --factory api.main:app_factory`` (settings from the environment)."""
    return create_app()
