"""Airflow reads AIRFLOW_HOME at first import: point it at a throwaway folder before any test imports it."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="innonet-airflow-home-"))
