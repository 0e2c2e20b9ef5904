"""``es_merge_timeout_s`` reaches the rebuild: a force-merge that cannot finish in time aborts the
rebuild through the real entry point (``index_pending``, what the CLI and the maintenance DAG call)
and the old index keeps serving everything it had."""

from __future__ import annotations

import httpx
import pytest

from pipeline.harvest import harvest
from pipeline.index import index_pending
from search import make_backend
from search.base import SearchUnavailable
from search.documents import SearchQuery
from tests.conftest import write_registry

pytestmark = pytest.mark.integration


def test_merge_timeout_setting_aborts_the_rebuild_and_keeps_the_old_index(
    make_settings, tmp_path, feed_server, demo_sources, es_url, es_alias
) -> None:
    registry = write_registry(tmp_path / "registry.yaml", demo_sources[:1])
    settings = make_settings(
        registry_path=registry,
        samples_url=feed_server,
        search_backend="elasticsearch",
        es_url=es_url,
        es_index=es_alias,
    )
    harvest(settings)
    first = index_pending(settings)
    assert first["indexed"] > 0
    assert first["failed"] == 0
    before = sorted(httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json())

    impatient = settings.model_copy(update={"es_merge_timeout_s": 0.0})
    with pytest.raises(SearchUnavailable, match="force-merge"):
        index_pending(impatient, rebuild=True)

    assert sorted(httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json()) == before
    names = httpx.get(f"{es_url}/_resolve/index/{es_alias}-v*", timeout=10).json()["indices"]
    assert sorted(i["name"] for i in names) == before  # the half-built index was dropped
    backend = make_backend(settings)
    try:
        assert backend.search(SearchQuery(size=0)).total == first["indexed"]
    finally:
        backend.close()

    rebuilt = index_pending(settings, rebuild=True)  # the default timeout: the swap happens
    assert rebuilt["indexed"] == first["indexed"]
    assert sorted(httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json()) != before
