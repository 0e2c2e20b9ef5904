"""Stage 7, publish: every new or changed item becomes one member of the event stream.

Runs after the store stage. An item whose content hash equals the one last published adds
nothing, so an unchanged re-harvest adds no member and a changed item adds exactly one.
Withdrawals (a removed source, a full-snapshot source dropping items) are
``store.members.withdraw_source`` / ``withdraw_items``, never an absence in a feed.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from pipeline.contracts import RecordError, SourceReport
from pipeline.map import MappedItem
from pipeline.store import content_hash
from store.ldes_models import LdesHeadRow
from store.members import MemberLog, Publication
from store.models import RecordRow
from store.repository import Store


def publish_items(
    store: Store, base: str, items: Sequence[MappedItem], report: SourceReport, page_size: int = 250
) -> list[str]:
    """Append a member for each item whose stored content differs from its published head."""
    log = MemberLog(store, base, page_size)
    entries = [
        Publication(
            item_iri=str(item.iri),
            kind=item.kind,
            source_id=report.source_id,
            graph=item.content + item.provenance,
            content_hash=content_hash(item),
        )
        for item in items
    ]
    try:
        # One transaction for the batch; the heads decide which items add a member.
        return [v for v in log.publish_many(entries) if v]
    except Exception:  # noqa: BLE001 - fall back to one item at a time, so one bad item stays alone
        pass
    published: list[str] = []
    for item, entry in zip(items, entries, strict=True):
        try:
            version = log.publish(
                item_iri=entry.item_iri,
                kind=entry.kind,
                source_id=entry.source_id,
                graph=entry.graph.graph(),
                content_hash=entry.content_hash,
            )
        except Exception as exc:  # noqa: BLE001 - one item's problem must not stop the others
            report.errors.append(
                RecordError(
                    stage="publish",
                    source_id=report.source_id,
                    code="publish_failed",
                    message=f"{type(exc).__name__}: {exc}",
                    item=item.native_id,
                )
            )
            continue
        if version:
            published.append(version)
    return published


def publish_pending(store: Store, base: str, page_size: int = 250, batch: int = 500) -> int:
    """Catch the stream up with the store: publish every record whose content is not its head.

    For records stored before the publish stage ran (or by another writer); idempotent.
    """
    log = MemberLog(store, base, page_size)
    count, last = 0, ""
    while True:
        with store.session() as s:
            rows = list(
                s.execute(
                    select(RecordRow, LdesHeadRow)
                    .outerjoin(LdesHeadRow, LdesHeadRow.item_iri == RecordRow.iri)
                    .where(RecordRow.iri > last)
                    .order_by(RecordRow.iri)
                    .limit(batch)
                )
            )
        if not rows:
            return count
        for record, head in rows:
            if head is not None and (head.deleted or head.content_hash == record.content_hash):
                continue  # withdrawn items come back only through a new harvest
            if log.publish(
                item_iri=record.iri,
                kind=record.kind,
                source_id=record.source_id,
                graph=record.graph,
                content_hash=record.content_hash,
            ):
                count += 1
        last = rows[-1][0].iri
