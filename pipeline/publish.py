"""Stage 7, publish: every new or changed item becomes one member of the event stream.

Runs after the store stage. An item whose content hash equals the one last published adds
nothing, so an unchanged re-harvest adds no member and a changed item adds exactly one.
Withdrawals (a removed source, a full-snapshot source dropping items) are
``store.members.withdraw_source`` / ``withdraw_items``, never an absence in a feed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rdflib import Graph
from sqlalchemy import select

from pipeline.contracts import RecordError, SourceReport
from pipeline.map import MappedItem
from pipeline.store import publications
from store.ldes_models import LdesHeadRow
from store.members import MemberLog, Publication
from store.models import RecordRow
from store.repository import Store

logger = logging.getLogger("innonet.publish")


def publish_items(
    store: Store, base: str, items: Sequence[MappedItem], report: SourceReport, page_size: int = 250
) -> list[str]:
    """Append a member for each item whose stored content differs from its published head.

    The harvest uses ``pipeline.store.store_and_publish`` (records and members in one
    transaction); this is the publish stage alone, for items stored by ``store_items``.
    """
    log = MemberLog(store, base, page_size)
    entries = publications(list(items), report.source_id)
    try:
        # One transaction for the batch; the heads decide which items add a member.
        return [v for v in log.publish_many(entries) if v]
    except Exception as exc:  # noqa: BLE001 - fall back to one item at a time, so one bad item stays alone
        logger.warning(
            "source %s: publishing %d items in one transaction failed (%s: %s); publishing one by one",
            report.source_id, len(entries), type(exc).__name__, exc,
        )  # fmt: skip
    published: list[str] = []
    for item, entry in zip(items, entries, strict=True):
        try:
            [version] = log.publish_many([entry])
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
        entries = [
            Publication(
                record.iri,
                record.kind,
                record.source_id,
                Graph().parse(data=record.graph, format="nt"),
                record.content_hash,
            )  # fmt: skip
            for record, head in rows
            # withdrawn items come back only through a new harvest
            if head is None or not (head.deleted or head.content_hash == record.content_hash)
        ]
        count += sum(1 for version in log.publish_many(entries) if version)  # one transaction per batch
        last = rows[-1][0].iri
