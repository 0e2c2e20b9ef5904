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

from tests.needs import missing

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
        missing(f"{problem}; bin/test starts it (scripts/elasticsearch.sh start)")
    return url


@pytest.fixture
def es_alias(es_url: str) -> Iterator[str]:
    """A fresh alias name for one test; its indices are deleted afterwards."""
    import httpx

    alias = f"test-{uuid.uuid4().hex[:12]}"
    yield alias
    # Delete by name, not by wildcard: a server with action.destructive_requires_name=true
    # (Elasticsearch 8's default, e.g. docker-compose) refuses wildcard deletes.
    resolved = httpx.get(f"{es_url}/_resolve/index/{alias}-v*", timeout=30)
    names = [i["name"] for i in resolved.json().get("indices", [])] if resolved.status_code == 200 else []
    if names:
        httpx.delete(f"{es_url}/{','.join(names)}", timeout=30)


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


def write_registry(path: Path, sources: list[dict], networks: list[dict] | None = None) -> Path:
    """Write a registry YAML for a test (the same format as registry/demo.yaml)."""
    import yaml

    networks = networks or [{"id": "net-a", "name": "Network A"}, {"id": "net-b", "name": "Network B"}]
    path.write_text(yaml.safe_dump({"networks": networks, "sources": sources}), encoding="utf-8")
    return path


@pytest.fixture
def feed_dir(tmp_path: Path, corpus: Path) -> Path:
    """A folder served over HTTP, seeded with a few real-world feeds (tests may add or break files)."""
    import shutil

    root = tmp_path / "served"
    root.mkdir()
    for name in ("guardian_rss2.xml", "heise_de_atom.xml", "cerclepsy_fr_latin1_no_decl.xml"):
        shutil.copy(corpus / "rss_atom" / name, root / name)
    (root / "not_a_feed.txt").write_text("Sorry, our CMS is down. Try again later.\n")
    return root


@pytest.fixture
def feed_server(feed_dir: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 serving ``feed_dir``; yields its base URL."""
    from crawlers.samples.server import serve_directory

    with serve_directory(feed_dir) as url:
        yield url


@pytest.fixture
def make_settings(tmp_path: Path):
    """Build Settings for a test: its own data dir, 127.0.0.1 allowed, no politeness delay."""
    from pipeline.settings import Settings

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": tmp_path / "data",
            "fetch_allow_hosts": ["127.0.0.1"],
            "fetch_delay_s": 0.0,
            "fetch_timeout_s": 10.0,
            "base_url": "http://innonet.test",
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return build


@pytest.fixture
def demo_sources() -> list[dict]:
    """Three good sources in two networks and one that serves plain text."""
    return [
        {
            "id": "guardian",
            "network": "net-a",
            "title": "Guardian",
            "url": "{samples}/guardian_rss2.xml",
            "language": "en",
        },
        {
            "id": "heise",
            "network": "net-b",
            "title": "heise",
            "url": "{samples}/heise_de_atom.xml",
            "language": "de",
        },
        {
            "id": "psy",
            "network": "net-b",
            "title": "Cercle Psy",
            "url": "{samples}/cerclepsy_fr_latin1_no_decl.xml",
        },
        {"id": "broken", "network": "net-a", "title": "Plain text", "url": "{samples}/not_a_feed.txt"},
    ]
