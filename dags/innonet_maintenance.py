"""
### innonet_maintenance and innonet_reindex

- **innonet_maintenance** (daily, 03:00 UTC)
  - *dead_sources*: sources with no successful harvest for `INNONET_HEALTH_DEAD_AFTER_DAYS` are
    marked dead and their network told once (webhook / e-mail), `pipeline.health.detect_dead`.
  - *close_ldes_pages*: the event stream's pages of days that have ended are sealed (immutable)
    and anything stored but not yet published is appended first, so a sealed day is complete.
  - *reap_stuck*: the same stuck-run sweep the harvest DAG starts with, for quiet periods.
- **innonet_reindex** (manual, or after a mapping change): rebuild the search index from the store
  into a new versioned index and swap the alias in one step, so searches never see a half index.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, dag, task

ITEMS_INDEXED = Asset(name="innonet_items_indexed", uri="innonet://items-indexed")

DEFAULT_ARGS = {
    "owner": "innonet",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=2),
}


@dag(
    dag_id="innonet_maintenance",
    schedule="0 3 * * *",
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["innonet", "maintenance", "health", "ldes"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def innonet_maintenance() -> None:
    @task
    def dead_sources() -> list[str]:
        """Sources newly found dead (their owners were notified)."""
        from pipeline.health import detect_dead
        from pipeline.settings import get_settings
        from store.repository import Store

        settings = get_settings()
        store = Store(settings.resolved_database_url)
        try:
            return detect_dead(settings, store)
        finally:
            store.close()

    @task
    def reap_stuck() -> list[str]:
        from pipeline.health import detect_stuck
        from pipeline.settings import get_settings
        from store.repository import Store

        settings = get_settings()
        store = Store(settings.resolved_database_url)
        try:
            return detect_stuck(settings, store)
        finally:
            store.close()

    @task
    def close_ldes_pages() -> dict[str, Any]:
        """Publish what is pending, then seal the pages of ended days (when the stream supports it)."""
        from pipeline.maintenance import close_ldes_pages as close
        from pipeline.settings import get_settings

        return close(get_settings())

    dead_sources()
    reap_stuck()
    close_ldes_pages()


@dag(
    dag_id="innonet_reindex",
    schedule=None,
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["innonet", "maintenance", "index"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def innonet_reindex() -> None:
    @task(outlets=[ITEMS_INDEXED])
    def rebuild() -> dict[str, Any]:
        """Build a fresh index from the store, then move the alias to it in one step."""
        from pipeline.maintenance import rebuild_index
        from pipeline.settings import get_settings

        return rebuild_index(get_settings())

    rebuild()


innonet_maintenance()
innonet_reindex()
