"""Stage 7, publish: every new or changed item becomes one member of the event stream.

The harvest publishes in the store stage's transaction (``pipeline.store.store_and_publish``:
a record and its member are written together); this module catches the stream up with the
store (``publish_pending``) and holds the stream's other writers. An item whose content hash
equals the one last published adds nothing, so an unchanged re-harvest adds no member and a changed item adds exactly one.
Withdrawals (a removed source, a full-snapshot source dropping items) are
``store.members.withdraw_source`` / ``withdraw_items``, never an absence in a feed.
"""

from __future__ import annotations

import logging

from rdflib import Graph
from sqlalchemy import select

from store.ldes_models import LdesHeadRow
from store.members import MemberLog, Publication
from store.models import RecordRow
from store.repository import Store

logger = logging.getLogger("innonet.publish")


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
