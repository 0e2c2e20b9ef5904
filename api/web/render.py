"""Templates, the page context every template gets, and the security headers of every page.

Jinja2 autoescapes everything; text from sources reaches a template either as plain text
(escaped) or through :func:`safe_html` (nh3 allow-list, then marked safe). Pages send a
Content-Security-Policy without ``unsafe-inline``: the one script is a static file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import nh3
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from api.web import i18n

HERE = Path(__file__).parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
#: Tags kept from source HTML (summaries, bodies); everything else, scripts and handlers included, goes.
SAFE_TAGS = {"p", "br", "a", "em", "strong", "b", "i", "ul", "ol", "li", "blockquote", "code", "pre"}

#: Made once: nh3.clean builds its sanitiser anew per call (ontology/sanitisers.py).
_PAGE_CLEANER = nh3.Cleaner(
    tags=SAFE_TAGS,
    attributes={"a": {"href"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
)


def safe_html(text: str | None) -> Markup:
    """Source HTML reduced to an allow-list of tags (no attributes but a link's href)."""
    if not text:
        return Markup("")
    return Markup(_PAGE_CLEANER.clean(text))  # noqa: S704 - nh3 output is the sanitised form


env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["safe_html"] = safe_html


def page_language(request: Request) -> str:
    return i18n.choose(
        request.query_params.get("lang"),
        request.cookies.get(i18n.COOKIE),
        request.headers.get("accept-language"),
    )


def url_with(request: Request, **changes: str | None) -> str:
    """The current path and query with some parameters replaced (None drops one)."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    pairs += [(k, v) for k, v in changes.items() if v is not None]
    query = urlencode(pairs)
    return request.url.path + (f"?{query}" if query else "")


def render(request: Request, template: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """Render a page in the visitor's language, with the security headers; remember an explicit choice."""
    lang = page_language(request)

    def t(key: str, **values: object) -> str:
        return i18n.translate(lang, key, **values)

    body = env.get_template(template).render(
        request=request,
        lang=lang,
        languages=i18n.LANGUAGES,
        t=t,
        url_with=lambda **kw: url_with(request, **kw),
        partner_signed_in=bool(request.cookies.get("innonet_partner")),
        **context,
    )
    response = HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)
    chosen = request.query_params.get("lang")
    if chosen in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Accept-Language, Cookie"
    return response
