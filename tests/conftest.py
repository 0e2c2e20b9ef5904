"""Shared fixtures: real servers only.

Elasticsearch comes from ``scripts/elasticsearch.sh`` (started by ``bin/test``). When it is
not reachable, a test that needs it *fails* under ``CI=true`` and is skipped with the
reason elsewhere, so a developer without ES can still run the rest.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = (REPO.parent / "shared" / "corpus").resolve()


def _es_url() -> str:
    return os.environ.get("INNONET_TEST_ES_URL", "http://127.0.0.1:9200")


def _es_reachable(url: str) -> str | None:
    """None when ES answers, else why not."""
    import httpx

    try:
        r = httpx.get(f"{url}/_cluster/health", timeout=5)
        if r.status_code != 200:
            return f"Elasticsearch at {url} answered {r.status_code}"
    except httpx.HTTPError as exc:
        return f"Elasticsearch not reachable at {url}: {exc}"
    return None


@pytest.fixture(scope="session")
def es_url() -> str:
    """URL of the real Elasticsearch test server."""
    url = _es_url()
    problem = _es_reachable(url)
    if problem:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{problem} (CI=true: integration tests must not skip; bin/test starts it)")
        pytest.skip(f"{problem}; start it with scripts/elasticsearch.sh start")
    return url


@pytest.fixture
def es_alias(es_url: str) -> Iterator[str]:
    """A fresh alias name for one test; its indices are deleted afterwards."""
    import httpx

    alias = f"test-{uuid.uuid4().hex[:12]}"
    yield alias
    httpx.delete(f"{es_url}/{alias}-v*", timeout=30)


@pytest.fixture
def es_backend(es_url: str, es_alias: str):
    """A real ElasticsearchBackend on its own alias."""
    from search.elasticsearch import ElasticsearchBackend

    backend = ElasticsearchBackend(es_url, es_alias, timeout_s=30)
    backend.ensure_index()
    yield backend
    backend.close()


@pytest.fixture
def embedded_backend(tmp_path: Path):
    """A real EmbeddedBackend (SQLite FTS5) in a temporary file."""
    from search.embedded import EmbeddedBackend

    backend = EmbeddedBackend(tmp_path / "search.sqlite3")
    backend.ensure_index()
    yield backend
    backend.close()


@pytest.fixture
def corpus() -> Path:
    """The real-world corpus in ../shared/corpus (read-only)."""
    assert CORPUS.is_dir(), f"corpus missing at {CORPUS}"
    return CORPUS
