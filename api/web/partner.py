"""Partner pages: sign in with the network's key, see each source's health, add a source with a preview.

The pages are a client of the partner JSON API (``/partner/v1``, api/routers/partners.py),
called in-process over ASGI with the visitor's key as a Bearer token. So the pages get
exactly the API's scoping (a key sees its own network only), rate limits, URL guard and
validation messages, and never a second implementation of them.

The key lives in one cookie, ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no
other site can make the browser send it, which is what stops cross-site form posts) and
``Secure`` when the instance is served over https, limited to ``/partners``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.web.i18n import translate
from api.web.labels import concept_label, concepts_of
from api.web.render import SECURITY_HEADERS, page_language, render

router = APIRouter(prefix="/partners", include_in_schema=False)
COOKIE = "innonet_partner"
API = "/partner/v1"


class SignedOut(Exception):
    """No key, or the API no longer accepts it: go to the sign-in form."""


async def call(request: Request, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
    """One request to the partner API of this same app, in-process."""
    key = key or request.cookies.get(COOKIE)
    if not key:
        raise SignedOut
    transport = httpx.ASGITransport(
        app=request.app, client=(request.client.host if request.client else "127.0.0.1", 0)
    )
    async with httpx.AsyncClient(
        transport=transport, base_url="http://innonet.internal", timeout=120
    ) as client:
        response = await client.request(method, API + path, headers={"Authorization": f"Bearer {key}"}, **kw)
    if response.status_code == 401:
        raise SignedOut
    return response


def _detail(response: httpx.Response) -> list[str]:
    """The API's problem detail(s) as messages a person can read."""
    try:
        body = response.json()
    except ValueError:
        return [response.text[:300]]
    if isinstance(body, dict) and body.get("errors"):
        return [f"{e.get('parameter')}: {e.get('problem')}" for e in body["errors"]]
    if isinstance(body, dict):
        return [str(body.get("detail") or body.get("title") or response.status_code)]
    return [str(body)]


def _redirect_sign_in() -> Response:
    response = RedirectResponse("/partners/sign-in", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path="/partners")
    return response


def _ago(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def health_sentences(source: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """A source's health as (level, sentence) pairs: ok, warn or error, in the visitor's language."""
    h = source.get("health") or {}
    out: list[tuple[str, str]] = []
    if source.get("paused") or h.get("auto_paused"):
        reason = h.get("paused_reason") or ""
        out.append(("warn", translate(lang, "health.paused", reason=reason).strip()))
    if not h:
        out.append(("warn", translate(lang, "health.never")))
        return out
    status = h.get("last_status")
    counts = h.get("counts") or {}
    last_ok = _ago(h.get("last_success_at"))
    if status in ("ok", "not_modified"):
        out.append(("ok", translate(lang, f"health.status.{status}", items=source.get("items", 0))))
    elif status == "partial":
        out.append(
            (
                "warn",
                translate(
                    lang, "health.status.partial", rejected=counts.get("rejected", counts.get("invalid", 0))
                ),
            )
        )
    elif status == "failed":
        code = h.get("error_code") or "unknown"
        advice_key = f"health.code.{code}"
        advice = translate(lang, advice_key)
        out.append(("error", translate(lang, "health.status.failed", code=code)))
        if advice != advice_key:
            out.append(("error", advice))
        if h.get("http_status"):
            out.append(("error", translate(lang, "health.http", status=h["http_status"])))
    if (h.get("consecutive_failures") or 0) > 1:
        out.append(("warn", translate(lang, "health.failures", n=h["consecutive_failures"])))
    if h.get("dead_since"):
        out.append(("error", translate(lang, "health.dead", since=str(h["dead_since"])[:10])))
    if last_ok:
        out.append(
            (
                "ok" if status in ("ok", "not_modified") else "warn",
                translate(lang, "health.last_ok", when=last_ok.strftime("%Y-%m-%d %H:%M UTC")),
            )
        )
    for warning in h.get("warnings") or []:
        out.append(("warn", str(warning)))
    return out


def _level(sentences: list[tuple[str, str]]) -> str:
    levels = {level for level, _ in sentences}
    return "error" if "error" in levels else "warn" if "warn" in levels else "ok"


# --- sign in -----------------------------------------------------------------------------------------
@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request) -> HTMLResponse:
    return render(request, "partner_sign_in.html", {"errors": []})


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request, key: str = Form("", max_length=300)) -> Response:
    """Check the key against the API (``/me``); on success keep it in the partner cookie."""
    lang = page_language(request)
    key = key.strip()
    if not key:
        return render(
            request, "partner_sign_in.html", {"errors": [translate(lang, "partner.key_missing")]}, 400
        )
    try:
        response = await call(request, "GET", "/me", key=key)
    except SignedOut:
        return render(
            request, "partner_sign_in.html", {"errors": [translate(lang, "partner.key_wrong")]}, 401
        )
    if response.status_code != 200:
        return render(request, "partner_sign_in.html", {"errors": _detail(response)}, response.status_code)
    redirect = RedirectResponse("/partners", status_code=303, headers=SECURITY_HEADERS)
    secure = request.app.state.settings.base_url.startswith("https://") or request.url.scheme == "https"
    redirect.set_cookie(
        COOKIE, key, httponly=True, samesite="strict", secure=secure, path="/partners", max_age=8 * 3600
    )
    return redirect


@router.post("/sign-out")
async def sign_out() -> Response:
    response = RedirectResponse("/", status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(COOKIE, path="/partners")
    return response


# --- dashboard ---------------------------------------------------------------------------------------
@router.get("", response_class=HTMLResponse)
async def dashboard(request: Request) -> Response:
    """Every source of the partner's network, each with its health in plain words."""
    lang = page_language(request)
    try:
        me = (await call(request, "GET", "/me")).json()
        sources = (await call(request, "GET", "/sources")).json()
    except SignedOut:
        return _redirect_sign_in()
    names = request.app.state.store.network(me["network"])
    rows = []
    for source in sources:
        sentences = health_sentences(source, lang)
        rows.append({"source": source, "sentences": sentences, "level": _level(sentences)})
    return render(
        request,
        "partner_dashboard.html",
        {"network": me["network"], "network_name": names.name if names else me["network"], "rows": rows},
    )


# --- add a source with preview ---------------------------------------------------------------------------
PLATFORMS = ("feed", "ical", "jsonfeed", "html", "sitemap", "opml", "uitdatabank")
KINDS = ("news", "event", "case", "organisation")


def parse_tag_map(text: str) -> tuple[dict[str, str], list[str]]:
    """``tag = theme`` lines into a map; a theme may be its notation, any label or its IRI."""
    from ontology.concepts import resolve

    mapping: dict[str, str] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        tag, sep, theme = line.partition("=")
        if not sep or not tag.strip() or not theme.strip():
            problems.append(f"line {number}: write 'tag = theme'")
            continue
        concept = resolve("theme", theme.strip())
        if concept is None:
            problems.append(f"line {number}: {theme.strip()!r} is not one of innonet's themes")
            continue
        mapping[tag.strip()] = str(concept)
    return mapping, problems


def _form_context(request: Request, values: dict[str, str], lang: str) -> dict[str, Any]:
    return {
        "values": values,
        "platforms": PLATFORMS,
        "kinds": KINDS,
        "themes": [(iri, concept_label(iri, lang), iri.rsplit("/", 1)[-1]) for iri in concepts_of("theme")],
    }


async def _preview(request: Request, values: dict[str, str], tag_map: dict[str, str]) -> dict[str, Any]:
    body = {
        "url": values["url"],
        "platform": values.get("platform") or "feed",
        "kind": values.get("kind") or "news",
        "language": values.get("language") or None,
        "tag_map": tag_map,
        "limit": 10,
    }
    response = await call(request, "POST", "/preview", json=body)
    if response.status_code != 200:
        return {"status": "refused", "errors": _detail(response), "items": []}
    return response.json()


def _values(form: Any) -> dict[str, str]:
    return {
        k: str(form.get(k, ""))[:2000].strip()
        for k in ("id", "title", "url", "platform", "kind", "language", "tag_map")
    }


@router.get("/sources/new", response_class=HTMLResponse)
async def new_source_form(request: Request) -> Response:
    if not request.cookies.get(COOKIE):
        return _redirect_sign_in()
    lang = page_language(request)
    values = {"platform": "feed", "kind": "news"}
    return render(
        request,
        "partner_new_source.html",
        {**_form_context(request, values, lang), "preview": None, "errors": []},
    )


@router.post("/sources/new", response_class=HTMLResponse)
async def new_source(request: Request) -> Response:
    """``action=preview`` shows what innonet would make of the URL; ``action=add`` adds the source."""
    lang = page_language(request)
    form = await request.form()
    values = _values(form)
    tag_map, errors = parse_tag_map(values.get("tag_map", ""))
    context = _form_context(request, values, lang)
    try:
        if not values["url"]:
            errors.append(translate(lang, "partner.url_missing"))
        if form.get("action") == "add" and not errors:
            body = {
                "id": values["id"],
                "title": values["title"] or values["id"],
                "url": values["url"],
                "platform": values["platform"] or "feed",
                "kind": values["kind"] or "news",
                "language": values["language"] or None,
                "tag_map": tag_map,
            }
            response = await call(request, "POST", "/sources", json=body)
            if response.status_code == 201:
                return RedirectResponse(
                    f"/partners/sources/{values['id']}?added=1", status_code=303, headers=SECURITY_HEADERS
                )
            errors.extend(_detail(response))
        preview = await _preview(request, values, tag_map) if values["url"] and not errors else None
    except SignedOut:
        return _redirect_sign_in()
    return render(
        request,
        "partner_new_source.html",
        {**context, "preview": preview, "errors": errors},
        422 if errors else 200,
    )


@router.post("/preview", response_class=HTMLResponse)
async def preview_fragment(request: Request) -> Response:
    """The preview alone, as an HTML fragment, for the page's script to put in place without a reload."""
    lang = page_language(request)
    form = await request.form()
    values = _values(form)
    tag_map, errors = parse_tag_map(values.get("tag_map", ""))
    try:
        preview = await _preview(request, values, tag_map) if values["url"] else None
    except SignedOut:
        return Response(status_code=401)
    return render(request, "_preview.html", {"preview": preview, "errors": errors, "lang_": lang})


# --- one source: health, reports, tag map ----------------------------------------------------------------
@router.get("/sources/{source_id}", response_class=HTMLResponse)
async def source_page(source_id: str, request: Request) -> Response:
    lang = page_language(request)
    try:
        response = await call(request, "GET", f"/sources/{source_id}")
        if response.status_code == 404:
            return render(request, "error.html", {"status": 404, "message_key": "error.no_source"}, 404)
        source = response.json()
        reports = (await call(request, "GET", f"/sources/{source_id}/reports", params={"limit": 10})).json()
        unmapped = (
            await call(request, "GET", f"/sources/{source_id}/unmapped-tags", params={"limit": 20})
        ).json()
    except SignedOut:
        return _redirect_sign_in()
    sentences = health_sentences(source, lang)
    tag_rows = [
        (tag, iri, concept_label(iri, lang)) for tag, iri in sorted((source.get("tag_map") or {}).items())
    ]
    return render(
        request,
        "partner_source.html",
        {
            "source": source,
            "sentences": sentences,
            "level": _level(sentences),
            "runs": reports.get("runs", []),
            "tag_rows": tag_rows,
            "unmapped": unmapped.get("tags", []),
            "tag_text": "\n".join(f"{tag} = {iri.rsplit('/', 1)[-1]}" for tag, iri, _ in tag_rows),
            "added": request.query_params.get("added") == "1",
            "saved": request.query_params.get("saved") == "1",
            "errors": [],
            **_form_context(request, {}, lang),
        },
    )


@router.post("/sources/{source_id}/tag-map", response_class=HTMLResponse)
async def save_tag_map(
    source_id: str, request: Request, tag_map: str = Form("", max_length=20_000)
) -> Response:
    lang = page_language(request)
    mapping, problems = parse_tag_map(tag_map)
    try:
        if problems:
            return render(request, "error.html", {"status": 422, "messages": problems}, 422)
        response = await call(request, "PUT", f"/sources/{source_id}/tag-map", json=mapping)
    except SignedOut:
        return _redirect_sign_in()
    if response.status_code != 200:
        return render(
            request,
            "error.html",
            {"status": response.status_code, "messages": _detail(response)},
            response.status_code,
        )
    del lang
    return RedirectResponse(
        f"/partners/sources/{source_id}?saved=1", status_code=303, headers=SECURITY_HEADERS
    )


@router.post("/sources/{source_id}/pause", response_class=HTMLResponse)
async def toggle_pause(source_id: str, request: Request, paused: str = Form("1")) -> Response:
    try:
        response = await call(request, "PATCH", f"/sources/{source_id}", json={"paused": paused == "1"})
    except SignedOut:
        return _redirect_sign_in()
    if response.status_code != 200:
        return render(
            request,
            "error.html",
            {"status": response.status_code, "messages": _detail(response)},
            response.status_code,
        )
    return RedirectResponse(
        f"/partners/sources/{source_id}?saved=1", status_code=303, headers=SECURITY_HEADERS
    )
