"""
### innonet_harvest

Every 10 minutes: harvest the sources that are *due*, in a bounded number of batches.

```
reap_stuck ──► plan ──► harvest_batch (mapped, ≤ INNONET_HARVEST_MAX_BATCHES) ──► stored ──► Asset innonet://items-stored
```

- **reap_stuck** marks harvests left `running` by a dead worker as `stuck` (a failure that counts
  towards the automatic pause), so no source stays "running" for ever.
- **plan** reads the registry file plus the sources partners added, drops paused ones (by the
  operator, the partner, or automatically after repeated failures) and those not yet due, and cuts
  the rest into at most `INNONET_HARVEST_MAX_BATCHES` batches with **each host in one batch** (the
  crawler's per-host delay then holds across parallel batches). When a source is due is decided per
  source in `pipeline/schedule.py`: every `INNONET_HARVEST_INTERVAL_S`, backing off x1.5 per quiet
  run and x2 per failure, up to `INNONET_HARVEST_MAX_INTERVAL_S`.
- **harvest_batch** runs `pipeline.harvest.harvest` on one batch: fetch → parse → map → validate →
  store (+ event stream). A broken source is *data*: one terminal status per source in the returned
  reports and in the store's health tables. The task fails (and is retried) only when the pipeline
  cannot run at all.
- **stored** summarises the cycle and updates the asset `innonet://items-stored`, which triggers
  `innonet_index` and `innonet_publish` (data-aware scheduling).

Airflow decides *when*, never *what*: this file only wires pipeline functions (imported inside the
tasks), which run the same way from the CLI (`innonet harvest`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Asset, dag, task

ITEMS_STORED = Asset(name="innonet_items_stored", uri="innonet://items-stored")

DEFAULT_ARGS = {
    "owner": "innonet",
    "retries": 2,
    "retry_delay": timedelta(minutes=2),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=15),
    # a crawl has its own deadline (INNONET_FETCH_PROCESS_TIMEOUT_S); this only stops a hung task
    "execution_timeout": timedelta(minutes=45),
}


@dag(
    dag_id="innonet_harvest",
    schedule="*/10 * * * *",
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    tags=["innonet", "harvest"],
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
)
def innonet_harvest() -> None:
    @task
    def reap_stuck() -> list[str]:
        """Sources whose harvest was left running by a dead worker, now marked stuck."""
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
    def plan(stuck: list[str]) -> list[list[str]]:
        """The ids of the due sources, batched by host, at most INNONET_HARVEST_MAX_BATCHES batches."""
        from pipeline.schedule import plan_cycle
        from pipeline.settings import get_settings

        return plan_cycle(get_settings())

    @task
    def harvest_batch(source_ids: list[str]) -> list[dict[str, Any]]:
        """Harvest one batch of sources; one small JSON report per source."""
        from pipeline.harvest import harvest
        from pipeline.settings import get_settings

        # plan synced the registry file into the store at the start of this cycle
        reports = harvest(get_settings(), source_ids=source_ids, sync=False)
        return [
            report.model_dump(mode="json", include={"source_id", "status", "error_code", "counts"})
            for report in reports
        ]

    @task(outlets=[ITEMS_STORED], trigger_rule="all_done")
    def stored(batches: list[list[dict[str, Any]]]) -> dict[str, Any]:
        """Statuses and item counts of this cycle (the asset event wakes index and publish)."""
        statuses: dict[str, int] = {}
        items: dict[str, int] = {}
        for batch in batches or []:
            for report in batch or []:
                statuses[report["status"]] = statuses.get(report["status"], 0) + 1
                for outcome, n in report["counts"].items():
                    items[outcome] = items.get(outcome, 0) + n
        return {"sources": statuses, "items": items}

    stored(harvest_batch.expand(source_ids=plan(reap_stuck())))


innonet_harvest()
