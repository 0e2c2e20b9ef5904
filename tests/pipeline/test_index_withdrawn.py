"""Withdrawn items leave the search index (the member log's tombstones decide), on both backends."""

from __future__ import annotations

import pytest

from pipeline.harvest import harvest
from pipeline.index import index_records
from search import make_backend
from search.documents import SearchQuery
from store.members import withdraw_source
from store.repository import Store
from tests.conftest import write_registry


@pytest.fixture(params=["embedded", pytest.param("elasticsearch", marks=pytest.mark.integration)])
def settings(request, make_settings, tmp_path, feed_server, demo_sources):
    overrides: dict[str, object] = {}
    if request.param == "elasticsearch":
        overrides = {
            "search_backend": "elasticsearch",
            "es_url": request.getfixturevalue("es_url"),
            "es_index": request.getfixturevalue("es_alias"),
        }
    registry = write_registry(tmp_path / "registry.yaml", demo_sources[:2])
    return make_settings(registry_path=registry, samples_url=feed_server, **overrides)


def _count(backend, source: str) -> int:
    return backend.search(SearchQuery(filters={"source": [source]}, size=0)).total


def test_withdrawn_source_leaves_the_index_and_stays_out_after_a_rebuild(settings) -> None:
    harvest(settings)
    store = Store(settings.resolved_database_url)
    backend = make_backend(settings)
    try:
        index_records(store, backend)
        assert _count(backend, "heise") == 15
        assert _count(backend, "guardian") == 55

        assert len(withdraw_source(store, settings.base_url, "heise")) == 15
        result = index_records(store, backend)
        assert result["removed"] == 15
        assert _count(backend, "heise") == 0
        assert _count(backend, "guardian") == 55
        assert store.count_records("heise") == 15  # the store keeps them; the stream has tombstones

        again = index_records(store, backend)
        assert again["removed"] == 0
        assert again["indexed"] == 0

        index_records(store, backend, rebuild=True)
        assert _count(backend, "heise") == 0
        assert _count(backend, "guardian") == 55
    finally:
        backend.close()
        store.close()
