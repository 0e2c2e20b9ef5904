"""Smoke test: real ``dag.test()`` runs of ``innonet_harvest`` then ``innonet_index`` on real servers.

The harvest DAG updates the asset ``innonet://items-stored``; on a scheduler that event starts
``innonet_index``. ``dag.test()`` has no scheduler, so the script runs the index DAG right after,
as the asset event would, and checks that the event was emitted.

Real Airflow 3.3 with a SQLite metadata DB, real Scrapy fetches from a real HTTP server on
127.0.0.1, the real store (SQLite) and the real Elasticsearch. Nothing is mocked.

Why a subprocess: Airflow reads ``AIRFLOW_HOME`` and its config once, at first ``import airflow``,
and keeps module-global engine, ORM session and logging state; ``dag.test()`` also installs its own
logging. Other tests in this pytest process may already have imported Airflow (the DagBag tests
do) with the user's default ``~/airflow``. So this module runs *itself* as a script
(``python test_harvest_dag.py <dags> <out.json>``) in a fresh interpreter whose environment is
built from scratch: ``AIRFLOW_HOME`` and the metadata DB in ``tmp_path``, our ``INNONET_*``
settings, nothing inherited that could leak in (no ``.env``: the working directory is ``tmp_path``).
The script migrates the DB (the Python body of ``airflow db migrate``), parses the DAG folder,
runs ``dag.test()`` and writes the run's task states, XComs and asset events as JSON.

Retries are set to 0 in that run only: ``dag.test()`` honours ``retry_delay`` by polling, so a
broken task would otherwise block the test for minutes, and a task that only passes on a retry
should fail a smoke test anyway. Policy (retries >= 2) is checked in ``test_dag_integrity``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "innonet_harvest"
ASSET_URI = "innonet://items-indexed/"
STORED_URI = "innonet://items-stored/"

GOOD = {  # source id -> (corpus file, a word from one of its item titles)
    "guardian-us": ("guardian_rss2.xml", "conservatives"),
    "heise-atom": ("heise_de_atom.xml", "WildFly"),
    "spiegel-update": ("spiegel_de_rss2.xml", None),
}
BROKEN = {  # source id -> served file name (None: not served, so the server answers 404)
    "not-a-feed": "not_a_feed.txt",
    "gone-feed": None,
}


def _registry_yaml(base_url: str) -> str:
    # two host names for the one server: the plan must keep each host's sources in one batch
    other = base_url.replace("127.0.0.1", "localhost")
    lines = [
        "networks:",
        "  - {id: samples, name: Sample outlets}",
        "  - {id: broken, name: Broken on purpose}",
        "sources:",
    ]
    for sid, (name, _) in GOOD.items():
        lines.append(
            f"  - {{id: {sid}, network: samples, title: {sid}, url: '{base_url}/{name}', "
            "platform: feed, kind: news}"
        )
    for sid, name in BROKEN.items():
        lines.append(
            f"  - {{id: {sid}, network: broken, title: {sid}, url: '{other}/{name or 'removed.xml'}', "
            "platform: feed, kind: news}"
        )
    return "\n".join(lines) + "\n"


def _clean_env(tmp_path: Path, registry: Path, es_url: str, es_index: str) -> dict[str, str]:
    # imported here: this file also runs as the child script, where the repository is not importable
    from tests.dags.airflow_env import airflow_env

    return airflow_env(
        tmp_path,
        {
            "INNONET_REGISTRY_PATH": str(registry),
            "INNONET_DATA_DIR": str(tmp_path / "data"),
            "INNONET_SEARCH_BACKEND": "elasticsearch",
            "INNONET_ES_URL": es_url,
            "INNONET_ES_INDEX": es_index,
            "INNONET_FETCH_ALLOW_HOSTS": '["127.0.0.1", "localhost"]',
            "INNONET_FETCH_DELAY_S": "0",
            "INNONET_HARVEST_MIN_BATCH_SOURCES": "1",  # five sources, yet one mapped batch per host
        },
    )


@pytest.mark.airflow
@pytest.mark.integration
def test_hourly_harvest_run_fetches_stores_and_indexes(
    tmp_path: Path, corpus: Path, es_url: str, es_alias: str
) -> None:
    import httpx

    from crawlers.samples.server import serve_directory

    served = tmp_path / "served"
    served.mkdir()
    for name, _ in GOOD.values():
        shutil.copy(corpus / "rss_atom" / name, served / name)
    (served / "not_a_feed.txt").write_text("This is plain text, not a feed.\n", encoding="utf-8")
    (tmp_path / "data").mkdir()
    out = tmp_path / "run.json"

    with serve_directory(served) as base_url:
        registry = tmp_path / "registry.yaml"
        registry.write_text(_registry_yaml(base_url), encoding="utf-8")
        proc = subprocess.run(
            [sys.executable, __file__, str(REPO / "dags"), str(out)],
            env=_clean_env(tmp_path, registry, es_url, es_alias),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    log = (proc.stdout + proc.stderr)[-8000:]
    assert proc.returncode == 0, log
    run = json.loads(out.read_text())

    assert run["state"] == "success", (run["tasks"], log)
    assert all(t["state"] == "success" for t in run["tasks"]), run["tasks"]
    assert {t["task_id"] for t in run["tasks"]} == {"reap_stuck", "plan", "harvest_batch", "stored"}
    assert run["xcom"]["reap_stuck"] == []

    # plan: every source exactly once, one batch per host (127.0.0.1 and localhost), one task per batch
    batches = run["xcom"]["plan"]
    assert sorted(sorted(b) for b in batches) == [sorted(BROKEN), sorted(GOOD)]
    assert sum(t["task_id"] == "harvest_batch" for t in run["tasks"]) == len(batches)

    # harvest_batch: exactly one terminal report per source; good ones ok, broken ones failed
    reports = [r for batch in run["xcom"]["harvest_batch"] for r in batch]
    assert Counter(r["source_id"] for r in reports) == Counter([*GOOD, *BROKEN]), reports
    by_id = {r["source_id"]: r for r in reports}
    for sid in GOOD:
        assert by_id[sid]["status"] == "ok", by_id[sid]
        assert by_id[sid]["counts"]["new"] > 0, by_id[sid]
    for sid in BROKEN:
        assert by_id[sid]["status"] == "failed", by_id[sid]
        assert by_id[sid]["error_code"], by_id[sid]
    stored = sum(r["counts"]["new"] for r in reports)
    assert run["xcom"]["stored"] == {
        "sources": {"ok": len(GOOD), "failed": len(BROKEN)},
        "items": {"new": stored, "updated": 0, "unchanged": 0, "failed": 0},
    }
    assert run["asset_events"] == [{"uri": STORED_URI, "task_id": "stored"}]

    # the store agrees: one closed attempt per source, none left running, health per source
    from store.partner_models import HarvestAttemptRow, SourceHealthRow
    from store.repository import Store

    store = Store(f"sqlite:///{tmp_path / 'data' / 'innonet.sqlite3'}")
    try:
        with store.session() as s:
            attempts = [(a.source_id, a.state) for a in s.query(HarvestAttemptRow)]
            health = {h.source_id: h for h in s.query(SourceHealthRow)}
    finally:
        store.close()
    assert sorted(attempts) == sorted([(sid, "done") for sid in GOOD] + [(sid, "failed") for sid in BROKEN])
    assert health["gone-feed"].http_status == 404
    assert health["gone-feed"].consecutive_failures == 1
    assert all(health[sid].last_success_at and health[sid].next_due_at for sid in GOOD)

    # index (started by the asset event): everything new went in, nothing was refused
    index_run = run["index_run"]
    assert index_run["state"] == "success", index_run
    summary = index_run["xcom"]["index"]
    assert summary["indexed"] == stored, summary
    assert summary["failed"] == 0, summary
    assert index_run["asset_events"] == [{"uri": ASSET_URI, "task_id": "index"}]

    # the items are in the real Elasticsearch under the alias the run used, per source, and
    # findable by a title word (analysed the way the project indexes text: search.analysis)
    from search.analysis import query_tokens

    def es_count(query: dict) -> int:
        r = httpx.post(f"{es_url}/{es_alias}/_count", json={"query": query}, timeout=30)
        r.raise_for_status()
        return r.json()["count"]

    httpx.post(f"{es_url}/{es_alias}/_refresh", timeout=30).raise_for_status()
    assert es_count({"match_all": {}}) == stored
    for sid in BROKEN:
        assert es_count({"term": {"source": sid}}) == 0
    for sid, (_, word) in GOOD.items():
        assert es_count({"term": {"source": sid}}) == by_id[sid]["counts"]["new"], sid
        if word is not None:
            text = {"match": {"title_a": {"query": " ".join(query_tokens(word)), "operator": "and"}}}
            query = {"bool": {"must": [text], "filter": [{"term": {"source": sid}}]}}
            assert es_count(query) >= 1, f"{word!r} ({sid}) not found in {es_alias}"


# --- the script this module becomes in the fresh interpreter --------------------------------------


def _test_dag(dag) -> dict:
    """Run ``dag.test()`` and return its task states, return values and asset events."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    for t in dag.tasks:
        t.retries = 0  # see the module docstring
    dag_run = dag.test()
    with create_session() as session:
        tis = dag_run.get_task_instances(session=session)
        xcoms = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.key == "return_value",
            )
        ).all()
        events = session.execute(
            select(AssetModel.uri, AssetEvent.source_task_id)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_dag_id == dag.dag_id, AssetEvent.source_run_id == dag_run.run_id)
        ).all()
        mapped: dict[str, list[tuple[int, object]]] = {}
        for x in xcoms:
            mapped.setdefault(x.task_id, []).append((x.map_index, XComModel.deserialize_value(x)))
        return {
            "state": str(dag_run.state),
            "tasks": [
                {"task_id": ti.task_id, "map_index": ti.map_index, "state": str(ti.state)}
                for ti in sorted(tis, key=lambda ti: (ti.task_id, ti.map_index))
            ],
            "xcom": {
                task_id: [v for i, v in sorted(values, key=lambda iv: iv[0])]
                if task_id == "harvest_batch"
                else values[0][1]
                for task_id, values in mapped.items()
            },
            "asset_events": [{"uri": uri, "task_id": task_id} for uri, task_id in events],
        }


def _run_dag_test(dags_folder: str, out_path: str) -> None:
    import time

    from airflow import settings
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    if Path(settings.DAGS_FOLDER).resolve() != Path(dags_folder).resolve():
        # dag.test() serialises the DAG through the configured "dags-folder" bundle; a DAG parsed
        # from anywhere else fails with "the dag is not serialized".
        raise SystemExit(f"AIRFLOW__CORE__DAGS_FOLDER is {settings.DAGS_FOLDER}, not {dags_folder}")
    t0 = time.monotonic()
    db.upgradedb()  # what `airflow db migrate` runs; on an empty SQLite file it creates the schema
    t1 = time.monotonic()
    bag = DagBag(dag_folder=dags_folder)
    if bag.import_errors:
        raise SystemExit(f"import errors: {bag.import_errors}")
    result = _test_dag(bag.dags[DAG_ID])
    result["index_run"] = _test_dag(bag.dags["innonet_index"])
    result["seconds"] = {"db_migrate": round(t1 - t0, 1), "dag_test": round(time.monotonic() - t1, 1)}
    Path(out_path).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print("dag.test timings:", result["seconds"], flush=True)


if __name__ == "__main__":
    _run_dag_test(sys.argv[1], sys.argv[2])
