"""The store suite runs twice: on SQLite and on a real PostgreSQL (``scripts/postgres.sh``).

``bin/test`` starts a throwaway PostgreSQL cluster and exports ``INNONET_TEST_PG_URL`` (a
superuser URL); every test gets its own fresh database, dropped afterwards. Without that
variable the PostgreSQL half fails under ``CI=true`` and is skipped, with the reason, elsewhere.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.needs import missing


def _pg_admin_url() -> str:
    url = os.environ.get("INNONET_TEST_PG_URL", "")
    if not url:
        missing("INNONET_TEST_PG_URL is not set (bin/test starts PostgreSQL: scripts/postgres.sh start)")
    return url


@contextmanager
def _pg_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(_pg_admin_url())
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"innonet_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        missing(f"PostgreSQL at {admin.host}:{admin.port} is not reachable: {exc}")
    yield admin.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    with _pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url_pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two empty stores on the same backend (to store the same items two ways and compare)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'a.sqlite3'}", f"sqlite:///{tmp_path / 'b.sqlite3'}"
        return
    with _pg_database() as first, _pg_database() as second:
        yield first, second


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The store URL of each backend the store must work on."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.sqlite3'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str) -> Iterator:
    from store.repository import Store

    s = Store(store_url)
    yield s
    s.close()
