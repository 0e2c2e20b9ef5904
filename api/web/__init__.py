"""The web interface: server-rendered pages for innovators and partners (nl/en/fr).

``install`` mounts the pages and ``/static``; the JSON API keeps its own paths
(``/search``, ``/id``, ``/doc``, ``/ldes``, ``/partner/v1``). See docs/web.md.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from api.web.render import HERE


def install(app: FastAPI) -> None:
    """Add the page routers and the static files to the app."""
    from api.web import pages, partner

    app.include_router(partner.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
