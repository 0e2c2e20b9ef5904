"""A pristine Airflow environment for running our DAGs with ``dag.test()`` in a child process.

Shared by tests/dags/test_harvest_dag.py and bench/bench_orchestration.py so the test and the
benchmark run Airflow the same way: only a few variables of the caller's environment, a fresh
AIRFLOW_HOME with its own SQLite metadata DB, our dags/ folder, no example DAGs.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KEEP = ("PATH", "LANG", "LC_ALL", "TZ", "HOME", "TMPDIR", "JAVA_HOME")


def airflow_env(root: Path, innonet: dict[str, str]) -> dict[str, str]:
    """Environment for a child ``dag.test()`` under ``root`` (AIRFLOW_HOME is created there),
    with ``innonet``'s INNONET_* settings added."""
    env = {k: v for k, v in os.environ.items() if k in KEEP}
    airflow_home = root / "airflow"
    airflow_home.mkdir()
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        }
    )
    env.update(innonet)
    return env
