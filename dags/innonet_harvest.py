"""
### innonet_harvest

Every hour: harvest every active source of the registry, then index what was stored.

```
plan ──► harvest_batch (mapped, one task per batch) ──► index ──► Asset innonet://items-indexed
```

- **plan** reads the registry (`INNONET_REGISTRY_PATH`) and splits the ids of the sources that are not
  paused into at most `MAX_BATCHES` batches.
- **harvest_batch** runs `pipeline.harvest.harvest` for one batch: fetch → parse → map to RDF →
  validate → store. A broken source is *data*, not a task failure: it gets status `failed` with an
  `error_code` in the returned reports (one small dict per source) and keeps its stored items.
  The task itself fails (and is retried) only when the pipeline cannot run at all.
- **index** runs `pipeline.index.index_pending`: every stored record not yet in the search index is
  indexed. It is idempotent (upserts by item IRI), so a run that follows a failed one catches up.
  It updates the asset `innonet://items-indexed` for DAGs that publish downstream.

Airflow decides *when*, never *what*: this file only wires pipeline functions, which run the same way
from the CLI (`innonet harvest`). Configuration comes from `INNONET_*` environment variables
(see `.env.example`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, dag, task

MAX_BATCHES = 4
"""Upper bound on parallel harvest tasks per run (each one starts its own crawler process)."""

ITEMS_INDEXED = Asset(name="innonet_items_indexed", uri="innonet://items-indexed")


def split_batches(ids: list[str], max_batches: int) -> list[list[str]]:
    """Round-robin ``ids`` into at most ``max_batches`` non-empty batches, order kept inside each."""
    n = min(max_batches, len(ids))
    return [ids[i::n] for i in range(n)]


@dag(
    dag_id="innonet_harvest",
    schedule="@hourly",
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["innonet", "harvest", "index"],
    default_args={
        "owner": "innonet",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=15),
        # a crawl has its own deadline (INNONET_FETCH_PROCESS_TIMEOUT_S); this only stops a hung task
        "execution_timeout": timedelta(minutes=45),
    },
    doc_md=__doc__,
)
def innonet_harvest() -> None:
    @task
    def plan() -> list[list[str]]:
        """The ids of the active sources, in at most MAX_BATCHES batches."""
        from pipeline.registry import load_registry
        from pipeline.settings import get_settings

        registry = load_registry(get_settings())
        ids = [source.id for source in registry.sources if not source.paused]
        return split_batches(ids, MAX_BATCHES)

    @task
    def harvest_batch(source_ids: list[str]) -> list[dict[str, Any]]:
        """Harvest one batch of sources; one JSON report per source."""
        from pipeline.harvest import harvest
        from pipeline.settings import get_settings

        reports = harvest(get_settings(), source_ids=source_ids)
        return [report.model_dump(mode="json") for report in reports]

    @task(outlets=[ITEMS_INDEXED], trigger_rule="none_failed")
    def index(batches: list[list[dict[str, Any]]]) -> dict[str, Any]:
        """Index every stored record not yet indexed; return index counts and source statuses."""
        from collections import Counter

        from pipeline.index import index_pending
        from pipeline.settings import get_settings

        statuses = Counter(report["status"] for batch in batches for report in batch)
        return {"index": index_pending(get_settings()), "sources": dict(statuses)}

    index(harvest_batch.expand(source_ids=plan()))


innonet_harvest()
