"""Following another instance's event stream (platform ``ldes``): state before and after a harvest.

The platform module (``crawlers/platforms/ldes.py``) is pure; this module is the glue that
reads and writes the store around it. Before the crawl, each followed stream gets the nodes
it finished earlier (never fetched again) and its page cap, and loses its HTTP validators: a
304 on the stream's entry point says nothing about its pages, which is where members arrive.
After the crawl, tombstones become withdrawals here and the finished nodes are saved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import update

from crawlers.platforms.base import ParseOutcome
from crawlers.platforms.ldes import done_pages, is_loop, latest_versions, map_members, withdrawn
from pipeline.contracts import FetchResult, RawItem, SourceReport, SourceSpec
from pipeline.settings import Settings
from store.members import (
    follow_state,
    followed_versions,
    save_follow_state,
    save_followed_versions,
    withdraw_items,
)
from store.models import FetchStateRow
from store.repository import Store


def map_for(store: Store, source: SourceSpec, default: Callable[..., Any]) -> Callable[..., Any]:
    """The map stage for this source: members of a followed stream are already RDF.

    Only versions newer than the one last taken from this stream are mapped, so a stale
    version (a mutable page re-read while the page with the newer one failed) never rolls
    an item back.
    """
    if source.platform != "ldes":
        return default

    def mapper(items: list[RawItem], source: SourceSpec, **kwargs: Any) -> Any:
        return map_members(newer_only(store, source.id, items), source, **kwargs)

    return mapper


def newer_only(store: Store, source_id: str, items: Sequence[RawItem]) -> list[RawItem]:
    """The newest version of each item, when it is newer than the one taken from this stream before."""
    latest = latest_versions(items)
    known = followed_versions(store, source_id, list(latest))
    return [
        raw
        for iri, raw in sorted(latest.items())
        if iri not in known or (raw.extra["ldes_time"], raw.native_id) > known[iri]
    ]


def prepare_follow(store: Store, settings: Settings, sources: Sequence[SourceSpec]) -> list[SourceSpec]:
    """The sources, with each followed stream's saved state in its options."""
    out = []
    for src in sources:
        if src.platform != "ldes":
            out.append(src)
            continue
        state = follow_state(store, src.id)
        options = {"max_pages": settings.ldes_follow_max_pages, **src.options}
        options["done_pages"] = list(state.done_pages or []) if state else []
        with store.session() as s, s.begin():
            s.execute(
                update(FetchStateRow)
                .where(FetchStateRow.source_id == src.id)
                .values(etag=None, last_modified=None)
            )
        out.append(src.model_copy(update={"options": options}))
    return out


def finish_follow(
    store: Store,
    settings: Settings,
    source: SourceSpec,
    result: FetchResult,
    parsed: ParseOutcome,
    report: SourceReport,
) -> None:
    """Withdraw what the stream deleted, then save the nodes this run finished for good."""
    if source.platform != "ldes":
        return
    fresh = newer_only(store, source.id, parsed.items)
    gone = withdraw_items(store, settings.base_url, withdrawn(fresh, settings.base_url))
    if gone:
        report.message = ((report.message + "; ") if report.message else "") + f"withdrawn: {len(gone)}"
    fetched = [
        (result.final_url or result.url, store.payload(result.body_sha256 or "") or b"", result.content_type)
    ]
    for page in result.pages:
        if page.body_sha256 and not page.error_code:
            fetched.append((page.url, store.payload(page.body_sha256) or b"", page.content_type))
    previous = list(source.options.get("done_pages") or [])
    save_follow_state(store, source.id, done_pages(fetched, previous), len(parsed.items))
    taken = [r for r in fresh if not is_loop(r, settings.base_url)]
    save_followed_versions(
        store,
        source.id,
        [(r.extra["ldes_item"], r.native_id, r.extra["ldes_time"], r.extra["ldes_deleted"]) for r in taken],
    )
