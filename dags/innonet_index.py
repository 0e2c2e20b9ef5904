"""
### innonet_index and innonet_publish

Data-aware: both run when `innonet_harvest` updates the asset `innonet://items-stored`.

- **innonet_index** — `pipeline.index.index_pending`: every stored record whose content the search
  index does not hold yet is upserted (by item IRI, so it is idempotent and a run after a failed
  one catches up). Updates `innonet://items-indexed`.
- **innonet_publish** — `pipeline.publish.publish_pending`: every stored record whose current
  content is not yet the head of its event-stream history gets a new LDES member (the harvest
  publishes inline; this catches up anything stored by another writer or before a failure).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, dag, task

ITEMS_STORED = Asset(name="innonet_items_stored", uri="innonet://items-stored")
ITEMS_INDEXED = Asset(name="innonet_items_indexed", uri="innonet://items-indexed")
ITEMS_PUBLISHED = Asset(name="innonet_items_published", uri="innonet://items-published")

DEFAULT_ARGS = {
    "owner": "innonet",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(minutes=60),
}


@dag(
    dag_id="innonet_index",
    schedule=[ITEMS_STORED],
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["innonet", "index"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def innonet_index() -> None:
    @task(outlets=[ITEMS_INDEXED])
    def index() -> dict[str, Any]:
        """Index every stored record not yet in the search index."""
        from pipeline.index import index_pending
        from pipeline.settings import get_settings

        return index_pending(get_settings())

    index()


@dag(
    dag_id="innonet_publish",
    schedule=[ITEMS_STORED],
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["innonet", "publish", "ldes"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def innonet_publish() -> None:
    @task(outlets=[ITEMS_PUBLISHED])
    def publish() -> dict[str, Any]:
        """Append an event-stream member for every record whose content changed."""
        from pipeline.publish import publish_pending
        from pipeline.settings import get_settings
        from store.repository import Store

        settings = get_settings()
        store = Store(settings.resolved_database_url)
        try:
            return {"published": publish_pending(store, settings.base_url, settings.ldes_page_size)}
        finally:
            store.close()

    publish()


innonet_index()
innonet_publish()
