"""Partner self-service: a network manages its own sources with an API key, nobody else's.

Every route needs ``Authorization: Bearer inn_...`` (or ``X-API-Key``). The key names one
network; every source route looks the source up *within that network*, so another
network's source answers 404 exactly like a missing one (no existence leak). Bodies
above ``partner_max_body_bytes`` get 413 before they are read in full; each key gets
``partner_rate_per_minute`` requests per minute (token bucket) and 429 with
``Retry-After`` above that. ``POST /partner/v1/preview`` fetches a candidate source and
shows what innonet would make of it, storing nothing.
"""

from __future__ import annotations

import math
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import SettingsDep, StoreDep
from ontology.concepts import fold
from pipeline.contracts import ItemKind, Platform, SourceSpec
from pipeline.settings import Settings
from store import clusters as cluster_store
from store import partners
from store.models import HarvestRunRow, SourceRow
from store.repository import Store, aware

PREFIX = "/partner/v1"
router = APIRouter(prefix=PREFIX, tags=["partners"])


# --- limits ----------------------------------------------------------------------------------------
class RateLimited(Exception):
    """Too many requests for one key (or failed logins from one address)."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"rate limit exceeded; retry in {retry_after_s:.1f}s")
        self.retry_after_s = retry_after_s


class TokenBucket:
    """Per-key token buckets: ``rate`` requests per minute, bursts up to ``rate``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, rate_per_minute: int) -> float:
        """0 when allowed, else seconds until one request is allowed again."""
        capacity = float(max(1, rate_per_minute))
        per_s = capacity / 60.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * per_s)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / per_s


class BodyLimit:
    """ASGI middleware: 413 for partner requests whose body exceeds the limit, read or declared."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        # Read the (small, bounded) body here, so an oversized stream is refused before any
        # route sees it; the route then gets the buffered body replayed.
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(message), send)
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
        await self.app(
            scope, _replay({"type": "http.request", "body": body, "more_body": False}, receive), send
        )

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = _problem(413, "Payload Too Large", f"request bodies are limited to {self.max_bytes} bytes")
        await response(scope, receive, send)


def _replay(first: Message, then: Receive | None = None) -> Receive:
    """A ``receive`` that yields ``first`` once, then defers to ``then`` (disconnects)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return first
        if then is None:
            return {"type": "http.disconnect"}
        return await then()

    return receive


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def install(app: FastAPI, settings: Settings) -> None:
    """Add the body limit and the 429 handler, and mount the routes."""
    app.state.partner_limiter = TokenBucket()

    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        retry = str(max(1, math.ceil(exc.retry_after_s)))
        return _problem(429, "Too Many Requests", str(exc), headers={"Retry-After": retry})

    @app.exception_handler(Unauthorized)
    async def _unauthorized_handler(_: Request, exc: Unauthorized) -> JSONResponse:
        headers = {"WWW-Authenticate": 'Bearer realm="innonet-partner"'}
        return _problem(401, "Unauthorized", str(exc), headers=headers)

    app.add_middleware(BodyLimit, max_bytes=settings.partner_max_body_bytes)
    app.include_router(router)


# --- authentication --------------------------------------------------------------------------------
class Unauthorized(Exception):
    """No, a malformed, an unknown or a revoked key (401 with ``WWW-Authenticate``)."""


def _unauthorized(detail: str) -> Unauthorized:
    return Unauthorized(detail)


async def current_partner(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> partners.Partner:
    """The network behind the request's API key; rate-limited per key."""
    limiter: TokenBucket = request.app.state.partner_limiter
    key = x_api_key
    if authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise _unauthorized("an API key is required: Authorization: Bearer inn_...")
    partner = await run_in_threadpool(partners.authenticate, store, key)
    if partner is None:
        client = request.client.host if request.client else "unknown"
        wait = limiter.take(f"auth-fail:{client}", settings.partner_rate_per_minute)
        if wait:
            raise RateLimited(wait)
        raise _unauthorized("unknown, malformed or revoked API key")
    wait = limiter.take(f"key:{partner.key_id}", settings.partner_rate_per_minute)
    if wait:
        raise RateLimited(wait)
    return partner


PartnerDep = Annotated[partners.Partner, Depends(current_partner)]


# --- models ------------------------------------------------------------------------------------------
class SourceIn(BaseModel):
    """A source as a partner submits it; the network comes from the key, never from the body."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=100)
    title: str = Field(max_length=300)
    url: str = Field(max_length=2000)
    platform: Platform = "feed"
    kind: ItemKind = "news"
    language: str | None = Field(None, max_length=20)
    licence: str | None = Field(None, max_length=300)
    paused: bool = False
    options: dict[str, Any] = Field(default_factory=dict)
    tag_map: dict[str, str] = Field(default_factory=dict)


class SourcePatch(BaseModel):
    title: str | None = Field(None, max_length=300)
    url: str | None = Field(None, max_length=2000)
    platform: Platform | None = None
    kind: ItemKind | None = None
    language: str | None = Field(None, max_length=20)
    licence: str | None = Field(None, max_length=300)
    paused: bool | None = None
    options: dict[str, Any] | None = None
    tag_map: dict[str, str] | None = None


class ContactIn(BaseModel):
    webhook_url: str | None = Field(None, max_length=2000)
    email: str | None = Field(None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")


class PreviewIn(BaseModel):
    url: str = Field(max_length=2000)
    platform: Platform = "feed"
    kind: ItemKind = "news"
    language: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    tag_map: dict[str, str] = Field(default_factory=dict)
    limit: int = Field(10, ge=1, le=50)


# --- helpers -----------------------------------------------------------------------------------------
def _check_url(settings: Settings, url: str) -> None:
    from crawlers.fetching.guard import BlockedURL, check_url

    try:
        check_url(url, list(settings.fetch_allow_hosts))
    except BlockedURL as exc:
        raise HTTPException(422, f"{exc.code}: {exc}") from exc


def _registry_ids(settings: Settings) -> set[str]:
    from pipeline.registry import RegistryError, load_registry

    try:
        return {s.id for s in load_registry(settings).sources}
    except RegistryError:
        return set()


def _view(store: Store, spec: SourceSpec, managed_by: str) -> dict[str, Any]:
    return {
        **spec.model_dump(mode="json"),
        "managed_by": managed_by,
        "health": partners.report_rows(store, spec.id),
        "items": store.count_records(spec.id),
    }


def _own_sources(store: Store, settings: Settings, network_id: str) -> list[dict[str, Any]]:
    registry_ids = _registry_ids(settings)
    out = [_view(store, spec, "partner") for spec in partners.partner_sources(store, network_id)]
    with store.session() as s:
        rows = list(
            s.query(SourceRow)
            .filter(SourceRow.network_id == network_id, SourceRow.id.in_(registry_ids))
            .order_by(SourceRow.id)
        )
    for row in rows:
        spec = SourceSpec(
            id=row.id,
            network=row.network_id,
            title=row.title,
            url=row.url,
            platform=row.platform,  # type: ignore[arg-type]
            kind=row.kind,  # type: ignore[arg-type]
            language=row.language,
            licence=row.licence,
            paused=row.paused,
        )
        out.append(_view(store, spec, "registry"))
    return sorted(out, key=lambda v: v["id"])


def _find(store: Store, settings: Settings, partner: partners.Partner, source_id: str) -> dict[str, Any]:
    for view in _own_sources(store, settings, partner.network_id):
        if view["id"] == source_id:
            return view
    raise HTTPException(404, f"your network has no source {source_id!r}")


def _editable(store: Store, settings: Settings, partner: partners.Partner, source_id: str) -> SourceSpec:
    spec = partners.partner_source(store, partner.network_id, source_id)
    if spec is None:
        view = _find(store, settings, partner, source_id)  # 404 unless it is ours
        raise HTTPException(
            409, f"source {view['id']!r} is managed in the operator's registry file; ask the operator"
        )
    return spec


# --- routes ------------------------------------------------------------------------------------------
@router.get("/me", operation_id="partner-me")
async def me(partner: PartnerDep) -> dict[str, str]:
    """Which network this key acts for."""
    return {"network": partner.network_id, "key_id": partner.key_id}


@router.get("/sources", operation_id="partner-sources-list")
async def list_sources(partner: PartnerDep, store: StoreDep, settings: SettingsDep) -> list[dict[str, Any]]:
    """Every source of your network, with its harvest health."""
    return await run_in_threadpool(_own_sources, store, settings, partner.network_id)


@router.post("/sources", operation_id="partner-sources-add", status_code=201)
async def add_source(
    body: SourceIn, partner: PartnerDep, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """Add a source to your network; it is harvested from the next cycle on."""
    _check_url(settings, body.url)
    spec = SourceSpec(network=partner.network_id, **body.model_dump())

    def add() -> dict[str, Any]:
        try:
            partners.add_source(store, spec, reserved=_registry_ids(settings))
        except partners.SourceConflict as exc:
            raise HTTPException(409, str(exc)) from exc
        return _view(store, spec, "partner")

    return await run_in_threadpool(add)


@router.get("/sources/{source_id}", operation_id="partner-sources-get")
async def get_source(
    source_id: str, partner: PartnerDep, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    return await run_in_threadpool(_find, store, settings, partner, source_id)


@router.patch("/sources/{source_id}", operation_id="partner-sources-edit")
async def edit_source(
    source_id: str, body: SourcePatch, partner: PartnerDep, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """Edit, pause (``paused: true``) or resume (``paused: false``, also lifts an automatic pause)."""
    changes = body.model_dump(exclude_unset=True)
    if changes.get("url"):
        _check_url(settings, changes["url"])

    def edit() -> dict[str, Any]:
        spec = _editable(store, settings, partner, source_id)
        updated = spec.model_copy(
            update={k: v for k, v in changes.items() if v is not None or k == "language"}
        )
        SourceSpec.model_validate(updated.model_dump())
        partners.update_source(store, updated)
        return _view(store, updated, "partner")

    return await run_in_threadpool(edit)


@router.put("/sources/{source_id}/tag-map", operation_id="partner-sources-tag-map")
async def put_tag_map(
    source_id: str, body: dict[str, str], partner: PartnerDep, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """Map your own tags onto innonet's themes (tag -> theme concept IRI or notation)."""

    def put() -> dict[str, Any]:
        spec = _editable(store, settings, partner, source_id)
        updated = spec.model_copy(update={"tag_map": body})
        partners.update_source(store, updated)
        return _view(store, updated, "partner")

    return await run_in_threadpool(put)


@router.delete("/sources/{source_id}", operation_id="partner-sources-remove", status_code=204)
async def remove_source(
    source_id: str, partner: PartnerDep, store: StoreDep, settings: SettingsDep
) -> Response:
    """Stop harvesting a source; what was already published keeps its IRIs."""

    def remove() -> None:
        _editable(store, settings, partner, source_id)
        partners.remove_source(store, partner.network_id, source_id)

    await run_in_threadpool(remove)
    return Response(status_code=204)


@router.get("/sources/{source_id}/reports", operation_id="partner-sources-reports")
async def reports(
    source_id: str, partner: PartnerDep, store: StoreDep, settings: SettingsDep, limit: int = 20
) -> dict[str, Any]:
    """Harvest history and validation reports of one of your sources (newest first)."""

    def read() -> dict[str, Any]:
        view = _find(store, settings, partner, source_id)
        with store.session() as s:
            runs = list(
                s.query(HarvestRunRow)
                .filter(HarvestRunRow.source_id == source_id)
                .order_by(HarvestRunRow.id.desc())
                .limit(max(1, min(limit, 200)))
            )
        return {
            "source": source_id,
            "health": view["health"],
            "runs": [
                {
                    "started_at": aware(r.started_at),
                    "finished_at": aware(r.finished_at),
                    "status": r.status,
                    "error_code": r.error_code,
                    "message": r.message,
                    "counts": r.counts,
                    "validation": [e for e in r.errors if e.get("stage") == "validate"],
                    "errors": [e for e in r.errors if e.get("stage") != "validate"],
                }
                for r in runs
            ],
        }

    return await run_in_threadpool(read)


@router.get("/sources/{source_id}/unmapped-tags", operation_id="partner-sources-unmapped-tags")
async def unmapped_tags(
    source_id: str, partner: PartnerDep, store: StoreDep, settings: SettingsDep, limit: int = 100
) -> dict[str, Any]:
    """Your source's own tags that map onto none of our themes, most frequent first.

    These are what to put in the source's tag map next. Tags the current tag map already covers
    are left out, so the list shrinks as you map them (the counts are kept for when you unmap).
    """

    def read() -> dict[str, Any]:
        view = _find(store, settings, partner, source_id)  # 404 unless it is ours
        mapped = {fold(tag) for tag in (view.get("tag_map") or {})}
        rows = [r for r in cluster_store.unmapped_tags(store.engine, source_id) if fold(r.tag) not in mapped]
        return {
            "source": source_id,
            "total": len(rows),
            "tags": [
                {
                    "tag": r.tag,
                    "count": r.count,
                    "first_seen_at": aware(r.first_seen_at),
                    "last_seen_at": aware(r.last_seen_at),
                    "example_item": r.example_item,
                }
                for r in rows[: max(1, min(limit, 500))]
            ],
        }

    return await run_in_threadpool(read)


@router.put("/contact", operation_id="partner-contact")
async def put_contact(body: ContactIn, partner: PartnerDep, store: StoreDep, settings: SettingsDep) -> dict:
    """Where to notify you when a source is paused or found dead (webhook and/or e-mail)."""
    if body.webhook_url:
        _check_url(settings, body.webhook_url)
    await run_in_threadpool(partners.set_contact, store, partner.network_id, body.webhook_url, body.email)
    return {"network": partner.network_id, **body.model_dump()}


@router.post("/preview", operation_id="partner-preview")
async def preview(body: PreviewIn, partner: PartnerDep, settings: SettingsDep) -> dict[str, Any]:
    """Fetch a candidate source and show what innonet would make of it. Nothing is stored."""
    _check_url(settings, body.url)
    return await run_in_threadpool(run_preview, settings, partner.network_id, body)


def run_preview(settings: Settings, network_id: str, body: PreviewIn) -> dict[str, Any]:
    """The harvest stages up to validation, on a throwaway store in a temporary folder."""
    import pipeline.parse as parse_stage
    from pipeline.fetch import fetch_sources
    from pipeline.map import map_items
    from pipeline.validate import validate_items

    spec = SourceSpec(
        id="preview",
        network=network_id,
        title="preview",
        url=body.url,
        platform=body.platform,
        kind=body.kind,
        language=body.language,
        options=body.options,
        tag_map=body.tag_map,
    )
    with tempfile.TemporaryDirectory(prefix="innonet-preview-") as tmp:
        scratch = Store(f"sqlite:///{Path(tmp) / 'preview.sqlite3'}")
        try:
            [result] = fetch_sources(settings, scratch, [spec])
            out: dict[str, Any] = {
                "url": body.url,
                "fetch": result.model_dump(
                    mode="json",
                    include={"status", "ok", "error_code", "error_message", "content_type", "body_size"},
                ),
                "stored": False,
            }
            if not result.ok:
                return {**out, "status": "failed", "items": [], "errors": [result.error_message]}
            if hasattr(parse_stage, "parse_fetched"):
                parsed = parse_stage.parse_fetched(scratch, spec, result)
            else:
                body_bytes = scratch.payload(result.body_sha256 or "") or b""
                parsed = parse_stage.parse_payload(body_bytes, spec, result.content_type)
        finally:
            scratch.close()
    if parsed.fatal:
        return {**out, "status": "failed", "items": [], "errors": [parsed.fatal.model_dump()]}
    mapped, map_errors = map_items(
        parsed.items,
        spec,
        base=settings.base_url,
        fetched_at=result.fetched_at or datetime.now(UTC),
        raw_sha256=result.body_sha256,
        mapping_version=settings.mapping_version,
    )
    valid, invalid, warnings = validate_items(mapped, spec.id)
    raw_by_id = {item.native_id: item for item in parsed.items}
    items = []
    for item in valid[: body.limit]:
        raw = raw_by_id.get(item.native_id)
        items.append(
            {
                "iri": str(item.iri),
                "kind": item.kind,
                "title": raw.title if raw else None,
                "url": raw.url if raw else None,
                "published": raw.published.isoformat() if raw and raw.published else None,
                "tags": raw.tags if raw else [],
                "themes": sorted({body.tag_map[t] for t in (raw.tags if raw else []) if t in body.tag_map}),
                "turtle": item.content.serialize(format="turtle"),
            }
        )
    errors = [e.model_dump() for e in [*parsed.errors, *map_errors, *invalid]]
    return {
        **out,
        "status": "partial" if errors or parsed.warnings else "ok",
        "counts": {
            "read": len(parsed.items),
            "valid": len(valid),
            "rejected": len(invalid) + len(map_errors),
        },
        "warnings": [*parsed.warnings, *warnings],
        "errors": errors[:100],
        "items": items,
    }
