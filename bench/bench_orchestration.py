"""Orchestration benchmark: one ``innonet_harvest`` cycle of 1,000 sources, Airflow vs. direct.

Real parts only: 100 loopback hosts (127.0.1.1 ... 127.0.1.100, allowlisted) each with its own
HTTP server and robots.txt serving real corpus feeds (as ``bench_crawl.py``), a registry of N
sources (one feed URL each), the real ``innonet_harvest`` DAG from ``dags/`` run with
``dag.test()`` against a real SQLite-backed Airflow metadata DB, and the real pipeline.

Prints the task instances of the cycle (read from the Airflow DB), the cycle's wall time, the
pipeline's own time (the ``harvest_batch`` task durations, and the baseline: one direct
``pipeline.harvest.harvest`` call over the same registry with a fresh store, in the same
process), the orchestration overhead (cycle - direct) and the ratio cycle / direct.

Why a child interpreter: Airflow reads ``AIRFLOW_HOME`` and its config once at first import
and keeps global engine and logging state (see ``tests/dags/test_harvest_dag.py``). The
servers run here; the child gets an environment built from scratch (``AIRFLOW_HOME`` and the
metadata DB in a temp dir, our ``INNONET_*`` settings, nothing inherited) and runs the
baseline and then ``dag.test()`` on the same registry, each with its own empty store.
Politeness settings are the defaults (per-host delay, per-host cap); only the loopback hosts
are allowlisted. Task retries are set to 0 for the run so a broken batch shows at once.

    .venv/bin/python bench/bench_orchestration.py [--sources 1000] [--hosts 100]
        [--search-backend embedded|elasticsearch] [--es-url http://127.0.0.1:9200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.loopback import FEEDS, serve_on_hosts  # noqa: E402 - after the sys.path line
from tests.dags.airflow_env import airflow_env  # noqa: E402

DAG_ID = "innonet_harvest"


def _registry_yaml(bases: list[str], n: int) -> str:
    lines = ["networks:", "  - {id: bench, name: Bench outlets}", "sources:"]
    for i in range(n):
        url = f"{bases[i % len(bases)]}/{FEEDS[i % len(FEEDS)]}?s={i}"
        lines.append(
            f"  - {{id: s{i:04d}, network: bench, title: s{i}, url: '{url}', platform: feed, kind: news}}"
        )
    return "\n".join(lines) + "\n"


def _clean_env(root: Path, registry: Path, hosts: list[str], args: argparse.Namespace) -> dict[str, str]:
    innonet = {
        "INNONET_REGISTRY_PATH": str(registry),
        "INNONET_DATA_DIR": str(root / "data-dag"),
        "INNONET_SEARCH_BACKEND": args.search_backend,
        "INNONET_FETCH_ALLOW_HOSTS": json.dumps(hosts),
    }
    if args.search_backend == "elasticsearch":
        innonet["INNONET_ES_URL"] = args.es_url
        innonet["INNONET_ES_INDEX"] = f"innonet-bench-orch-{os.getpid()}"
    return airflow_env(root, innonet)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sources", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--search-backend", choices=["embedded", "elasticsearch"], default="embedded")
    ap.add_argument("--es-url", default="http://127.0.0.1:9200")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="innonet-bench-orch-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        hosts, bases = serve_on_hosts(stack, root, args.hosts)
        registry = root / "registry.yaml"
        registry.write_text(_registry_yaml(bases, args.sources), encoding="utf-8")
        for d in ("data-dag", "data-direct"):
            (root / d).mkdir()
        out = root / "result.json"
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(root), str(out)],
            env=_clean_env(root, registry, hosts, args),
            cwd=root,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
        if proc.returncode != 0:
            print((proc.stdout + proc.stderr)[-8000:], file=sys.stderr)
            return 1
        r = json.loads(out.read_text())

    s = r["settings"]
    cycle, direct = r["cycle_s"], r["direct_s"]
    tasks = r["task_instances"]
    print(f"sources: {args.sources} on {args.hosts} loopback hosts (127.0.1.x), one HTTP server each")
    print(
        f"settings: fetch_delay_s={s['fetch_delay_s']} fetch_per_host={s['fetch_per_host']} "
        f"fetch_timeout_s={s['fetch_timeout_s']} harvest_max_batches={s['harvest_max_batches']} "
        f"harvest_min_batch_sources={s['harvest_min_batch_sources']} "
        f"(defaults; allowlist = the {args.hosts} hosts)"
    )
    print(
        f"search backend: {s['search_backend']} (the harvest cycle does not index; innonet_index runs "
        "on the asset event and is not timed)"
    )
    print(f"airflow: {r['airflow_version']}, dag.test(), SQLite metadata DB, task retries 0")
    print(f"DagBag parse (not in the cycle):  {r['dagbag_s']:7.2f} s")
    print(
        f"task instances in the cycle:     {len(tasks):7d}   "
        + ", ".join(f"{k}={v}" for k, v in r["tasks_by_id"].items())
        + f"   states: {r['ti_states']}   run: {r['run_state']}"
    )
    print(f"batch sizes (sources):           {r['batch_sizes']}")
    direct_floor, cycle_floor = _politeness_floor(args, s["fetch_delay_s"], r["batches"])
    print(
        f"politeness lower bound (busiest host's sources x fetch_delay_s): direct {direct_floor:.0f} s, "
        f"cycle {cycle_floor:.0f} s (dag.test() runs the batches one after another: the bounds add up)"
    )
    print(f"source statuses: cycle {r['dag_statuses']}   direct {r['direct_statuses']}")
    print(f"items stored (new): cycle {r['dag_new']}   direct {r['direct_new']}")
    print(
        f"1-min load average (2 cores) after the direct run {r['load'][0]:.2f}, "
        f"after the cycle {r['load'][1]:.2f}"
    )
    print(f"cycle wall time (dag.test):       {cycle:7.2f} s")
    print(f"  sum of harvest_batch durations: {r['batch_task_s']:7.2f} s")
    print(f"  sum of all task durations:      {r['all_task_s']:7.2f} s")
    print(f"direct pipeline (harvest()):      {direct:7.2f} s   same registry, fresh store, same process")
    print(f"orchestration overhead:           {cycle - direct:7.2f} s   (cycle - direct)")
    print(f"  cycle - sum of task durations:  {cycle - r['all_task_s']:7.2f} s")
    print(f"ratio cycle / direct:             {cycle / direct:7.2f}x")
    ok = (
        r["run_state"] == "success"
        and r["dag_statuses"] == r["direct_statuses"]
        and r["dag_new"] == r["direct_new"]
        and sum(r["dag_statuses"].values()) == args.sources
    )
    return 0 if ok else 1


def _politeness_floor(
    args: argparse.Namespace, delay_s: float, batches: list[list[str]]
) -> tuple[float, float]:
    """The crawl's lower bound from the per-host delay: one crawl of everything, and batches in sequence.

    Source ``s{i}`` is on host ``i % hosts`` (``_registry_yaml``); a host's requests are
    ``delay_s`` apart, so a crawl lasts at least its busiest host's source count x ``delay_s``.
    """
    per_host: dict[int, int] = {}
    for i in range(args.sources):
        per_host[i % args.hosts] = per_host.get(i % args.hosts, 0) + 1
    direct = max(per_host.values(), default=0) * delay_s
    cycle = 0.0
    for batch in batches:
        counts: dict[int, int] = {}
        for sid in batch:
            host = int(sid[1:]) % args.hosts
            counts[host] = counts.get(host, 0) + 1
        cycle += max(counts.values(), default=0) * delay_s
    return direct, cycle


# --- the child interpreter: baseline, then dag.test(), both here ---------------------------------


def _statuses(reports: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for rep in reports:
        out[rep["status"]] = out.get(rep["status"], 0) + 1
    return dict(sorted(out.items()))


def _child(root: Path, out_path: Path) -> None:
    import airflow
    from airflow import settings as af_settings
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils import db
    from airflow.utils.session import create_session
    from sqlalchemy import select

    import pipeline.harvest  # the pipeline's imports are paid before either timing
    from pipeline.settings import Settings, get_settings

    if Path(af_settings.DAGS_FOLDER).resolve() != (REPO / "dags").resolve():
        raise SystemExit(f"AIRFLOW__CORE__DAGS_FOLDER is {af_settings.DAGS_FOLDER}")
    db.upgradedb()
    t0 = time.perf_counter()
    bag = DagBag(dag_folder=str(REPO / "dags"))
    dagbag_s = time.perf_counter() - t0
    if bag.import_errors:
        raise SystemExit(f"import errors: {bag.import_errors}")
    dag = bag.dags[DAG_ID]
    for t in dag.tasks:
        t.retries = 0

    # baseline: the same registry, harvested directly, into its own empty store
    dag_settings = get_settings()
    direct_settings = Settings(data_dir=root / "data-direct")
    t0 = time.perf_counter()
    reports = pipeline.harvest.harvest(direct_settings)
    direct_s = time.perf_counter() - t0
    direct_statuses = _statuses([{"status": rep.status} for rep in reports])
    direct_new = sum(rep.counts.get("new", 0) for rep in reports)
    load_after_direct = os.getloadavg()[0]

    t0 = time.perf_counter()
    dag_run = dag.test()
    cycle_s = time.perf_counter() - t0
    load_after_cycle = os.getloadavg()[0]

    with create_session() as session:
        tis = dag_run.get_task_instances(session=session)
        xcoms = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == DAG_ID,
                XComModel.run_id == dag_run.run_id,
                XComModel.key == "return_value",
            )
        ).all()
        values: dict[str, list[Any]] = {}
        for x in sorted(xcoms, key=lambda x: (x.task_id, x.map_index)):
            values.setdefault(x.task_id, []).append(XComModel.deserialize_value(x))
        by_id: dict[str, int] = {}
        states: dict[str, int] = {}
        for ti in tis:
            by_id[ti.task_id] = by_id.get(ti.task_id, 0) + 1
            states[str(ti.state)] = states.get(str(ti.state), 0) + 1
        result = {
            "airflow_version": airflow.__version__,
            "settings": {
                k: getattr(dag_settings, k)
                for k in (
                    "fetch_delay_s",
                    "fetch_per_host",
                    "fetch_timeout_s",
                    "harvest_max_batches",
                    "harvest_min_batch_sources",
                    "search_backend",
                )
            },
            "dagbag_s": dagbag_s,
            "direct_s": direct_s,
            "cycle_s": cycle_s,
            "run_state": str(dag_run.state),
            "task_instances": [[ti.task_id, ti.map_index] for ti in tis],
            "tasks_by_id": by_id,
            "ti_states": states,
            "batch_task_s": sum(ti.duration or 0.0 for ti in tis if ti.task_id == "harvest_batch"),
            "all_task_s": sum(ti.duration or 0.0 for ti in tis),
            "batch_sizes": [len(b) for b in (values.get("plan") or [[]])[0]],
            "batches": (values.get("plan") or [[]])[0],
            "dag_statuses": _statuses([rep for batch in values.get("harvest_batch", []) for rep in batch]),
            "direct_statuses": direct_statuses,
            "direct_new": direct_new,
            "dag_new": sum(
                rep["counts"].get("new", 0) for batch in values.get("harvest_batch", []) for rep in batch
            ),
            "load": [load_after_direct, load_after_cycle],
        }
    out_path.write_text(json.dumps(result, default=str), encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(Path(sys.argv[2]), Path(sys.argv[3]))
        sys.exit(0)
    sys.exit(main())
