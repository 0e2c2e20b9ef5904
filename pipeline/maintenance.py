"""Maintenance jobs the Airflow maintenance DAGs call: index rebuild, event-stream page closing.

Thin adapters over the stages that own the work (``pipeline.index``, ``pipeline.publish``,
``store.members``): the DAG files stay free of pipeline imports, and a stage that grows a
better entry point (an alias-swapping reindex, an explicit page seal) is picked up here.
"""

from __future__ import annotations

from typing import Any

from pipeline.settings import Settings


def rebuild_index(settings: Settings) -> dict[str, Any]:
    """Rebuild the search index from the store: a new versioned index, one atomic alias swap,
    then a catch-up of what changed meanwhile (``pipeline.index.index_pending(rebuild=True)``,
    which uses ``search.reindex``)."""
    from pipeline.index import index_pending

    return index_pending(settings, rebuild=True)


def close_ldes_pages(settings: Settings) -> dict[str, Any]:
    """Publish pending records, then seal the event stream's pages of ended days.

    Pages are immutable once their day is over (``ldes_close_grace_s`` after midnight UTC);
    when ``store.members`` offers an explicit ``close_pages`` it is called, so the seal is
    written down rather than derived from the clock at serving time.
    """
    from pipeline.publish import publish_pending
    from store import members
    from store.repository import Store

    store = Store(settings.resolved_database_url)
    try:
        published = publish_pending(store, settings.base_url, settings.ldes_page_size)
        closer = getattr(members, "close_pages", None)
        closed = closer(store, settings) if callable(closer) else None
        log = members.MemberLog(store, settings.base_url, settings.ldes_page_size)
        return {
            "published": published,
            "closed": closed,
            "open_day": log.current_day(),
            "members": log.count(),
        }
    finally:
        store.close()
