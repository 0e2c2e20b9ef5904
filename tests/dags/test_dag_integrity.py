"""DAG files are wiring only: they parse, follow the retry/tag policy and import no pipeline code.

Parsing needs no metadata database (``DagBag.dags`` is read directly, never ``get_dag``), so these
tests run in the pytest process. Airflow 3.3's ``DagBag`` has no ``include_examples`` argument any
more: example DAGs come from a separate bundle and a plain ``DagBag(dag_folder)`` never loads them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
DAG_FILES = sorted(DAGS.glob("*.py"))

# Heavy or stateful modules that must only be imported inside a task callable, never when the
# scheduler / dag-processor parses the file (Airflow best practices: "no top-level work").
# Not twisted: structlog (Airflow's logger) imports its twisted adapter whenever Twisted is installed.
FORBIDDEN_AT_PARSE = (
    "scrapy",
    "rdflib",
    "pyshacl",
    "feedparser",
    "elasticsearch",
    "api",
    "crawlers",
    "ontology",
    "pipeline",
    "search",
    "store",
)


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_dags_folder_is_not_empty():
    assert DAG_FILES, f"no DAG files in {DAGS}"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_without_errors(dagbag, path: Path):
    errors = {file: err for file, err in dagbag.import_errors.items() if Path(file).name == path.name}
    assert errors == {}, "\n".join(errors.values())
    assert any(Path(dag.fileloc).name == path.name for dag in dagbag.dags.values()), f"{path.name} has no DAG"


def test_no_import_errors_at_all(dagbag):
    assert dagbag.import_errors == {}


def test_every_dag_follows_policy(dagbag):
    assert dagbag.dags
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert dag.catchup is False, f"{dag_id} would backfill"
        assert dag.default_args.get("retries", 0) >= 2, f"{dag_id}: default_args retries < 2"
        assert dag.default_args.get("retry_delay"), f"{dag_id}: no retry_delay"
        for t in dag.tasks:
            assert t.retries >= 2, f"{dag_id}.{t.task_id}: retries {t.retries} < 2"


def test_harvest_dag_structure(dagbag):
    dag = dagbag.dags["innonet_harvest"]
    assert set(dag.task_ids) == {"reap_stuck", "plan", "harvest_batch", "stored"}
    assert dag.get_task("reap_stuck").downstream_task_ids == {"plan"}
    assert dag.get_task("plan").downstream_task_ids == {"harvest_batch"}
    assert dag.get_task("harvest_batch").downstream_task_ids == {"stored"}
    assert dag.get_task("stored").downstream_task_ids == set()
    assert dag.schedule == "*/10 * * * *"
    assert dag.max_active_runs == 1


def test_harvest_is_mapped_over_batches(dagbag):
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    dag = dagbag.dags["innonet_harvest"]
    assert isinstance(dag.get_task("harvest_batch"), MappedOperator)
    assert not isinstance(dag.get_task("stored"), MappedOperator)


def test_stored_updates_the_asset_even_after_a_failed_batch(dagbag):
    stored = dagbag.dags["innonet_harvest"].get_task("stored")
    assert [o.uri for o in stored.outlets] == ["innonet://items-stored/"]
    assert stored.trigger_rule == "all_done"


def test_index_and_publish_are_triggered_by_the_stored_asset(dagbag):
    for dag_id, task_id, outlet in [
        ("innonet_index", "index", "innonet://items-indexed/"),
        ("innonet_publish", "publish", "innonet://items-published/"),
    ]:
        dag = dagbag.dags[dag_id]
        assets = [a.uri for a in dag.timetable.asset_condition.objects]
        assert assets == ["innonet://items-stored/"], dag_id
        assert [o.uri for o in dag.get_task(task_id).outlets] == [outlet], dag_id


def test_maintenance_dags(dagbag):
    maintenance = dagbag.dags["innonet_maintenance"]
    assert set(maintenance.task_ids) == {"dead_sources", "reap_stuck", "close_ldes_pages"}
    assert maintenance.schedule == "0 3 * * *"
    reindex = dagbag.dags["innonet_reindex"]
    assert reindex.task_ids == ["rebuild"]
    assert reindex.schedule is None  # manual: after a mapping change


def test_task_instances_per_cycle_are_bounded(dagbag):
    """The performance budget: at most 32 task instances per harvest cycle (index and publish included)."""
    from pipeline.settings import Settings

    per_cycle = 3 + Settings().harvest_max_batches  # reap_stuck, plan, stored + the mapped batches
    per_cycle += len(dagbag.dags["innonet_index"].tasks) + len(dagbag.dags["innonet_publish"].tasks)
    assert per_cycle <= 32, per_cycle


@pytest.mark.parametrize(
    ("n_hosts", "max_batches", "n_batches"),
    [(0, 4, 0), (1, 4, 1), (3, 4, 3), (4, 4, 4), (11, 4, 4), (50, 16, 16)],
)
def test_plan_batches_keep_every_id_once(n_hosts: int, max_batches: int, n_batches: int):
    from pipeline.schedule import batch_by_host

    sources = [(f"s{h}-{i}", f"https://h{h}.example/{i}") for h in range(n_hosts) for i in range(3)]
    batches = batch_by_host(sources, max_batches)
    assert len(batches) == n_batches
    assert sorted(i for b in batches for i in b) == sorted(i for i, _ in sources)


_PARSE_PROBE = """
import importlib.util, json, sys, time
import airflow.sdk  # the DAG file's own first import; timed apart from the file itself
path = sys.argv[1]
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("dag_under_parse", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
elapsed = time.perf_counter() - t0
print(json.dumps({"modules": sorted(set(sys.modules)), "seconds": elapsed}))
"""


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_parsing_imports_no_pipeline_code(path: Path, tmp_path: Path):
    """Parse the file in a fresh interpreter, as the dag-processor does, and list what it imported."""
    env = {"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    proc = subprocess.run(
        [sys.executable, "-c", _PARSE_PROBE, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    probe = json.loads(proc.stdout.strip().splitlines()[-1])
    imported = {name.split(".")[0] for name in probe["modules"]}
    assert imported.isdisjoint(FORBIDDEN_AT_PARSE), sorted(imported & set(FORBIDDEN_AT_PARSE))
    # Airflow's dagbag_import_timeout is 30 s; with airflow.sdk loaded, a thin file takes milliseconds.
    assert probe["seconds"] < 1, f"{path.name} took {probe['seconds']:.1f}s to parse"
