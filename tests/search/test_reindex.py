"""Rebuild = a new index and one atomic alias swap: zero failed searches while it happens.

Against the real Elasticsearch. A reader thread searches through the alias as fast as it
can during the whole rebuild; every answer must be a 200 with the full document count
(an empty or half-filled index behind the alias would show as a smaller total).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from search.base import SearchUnavailable
from search.documents import SearchDocument, SearchQuery
from search.elasticsearch import DERIVED_FIELDS, ElasticsearchBackend, to_source
from search.reindex import AliasRebuild, rebuild_alias

pytestmark = pytest.mark.integration

N = 3000


def _docs(version: str) -> list[SearchDocument]:
    return [
        SearchDocument(
            id=f"https://example.org/item/{i:05d}",
            type="NewsArticle",
            title=f"Proeftuin {i} {version}",
            summary="Gemeenten testen digitale participatie.",
            language="nl",
            network=f"net-{i % 7}",
            source=f"src-{i % 13}",
            published=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=i),
        )
        for i in range(N)
    ]


def test_rebuild_swaps_the_alias_with_zero_failed_searches(
    es_backend: ElasticsearchBackend, es_url: str, es_alias: str
) -> None:
    assert es_backend.upsert(_docs("old")).errors == []
    es_backend.refresh()
    first_index = list(httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json())

    stop = threading.Event()
    outcomes: list[tuple[int, int]] = []  # (HTTP status, total)

    def searcher() -> None:
        body = {"query": {"match_all": {}}, "size": 1, "track_total_hits": True}
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                r = client.post(f"{es_url}/{es_alias}/_search", json=body)
                total = r.json()["hits"]["total"]["value"] if r.status_code == 200 else -1
                outcomes.append((r.status_code, total))

    reader = threading.Thread(target=searcher)
    reader.start()
    try:
        new_docs = _docs("new")
        batches = [new_docs[i : i + 500] for i in range(0, N, 500)]
        seen: list[int] = []
        rebuild, old = rebuild_alias(es_backend, batches, progress=seen.append)
        for _ in range(20):  # keep searching a little after the swap
            es_backend.search(SearchQuery(q="proeftuin", size=1))
    finally:
        stop.set()
        reader.join()

    assert sum(seen) == N
    assert rebuild.report.errors == []
    assert old == first_index
    assert list(httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json()) == [rebuild.index]
    assert httpx.head(f"{es_url}/{first_index[0]}", timeout=10).status_code == 404  # old index dropped
    failures = [o for o in outcomes if o != (200, N)]
    assert len(outcomes) > 20, "the reader must have searched during the rebuild"
    assert failures == []
    es_backend.refresh()
    assert es_backend.count() == N
    assert es_backend.get(new_docs[5].id) == new_docs[5]  # the new content is what is served
    # writes through the alias now land in the new index
    assert es_backend.upsert([new_docs[0].model_copy(update={"title": "Nieuw"})]).indexed == 1
    es_backend.refresh()
    assert es_backend.get(new_docs[0].id).title == "Nieuw"  # type: ignore[union-attr]
    source = httpx.get(f"{es_url}/{rebuild.index}/_doc/{new_docs[1].id.replace('/', '%2F')}", timeout=10)
    stored = {k: v for k, v in to_source(new_docs[1]).items() if k not in DERIVED_FIELDS}  # _source.excludes
    assert source.json()["_source"] == stored


def test_a_failed_rebuild_leaves_the_alias_where_it_was(
    es_backend: ElasticsearchBackend, es_url: str, es_alias: str
) -> None:
    es_backend.upsert(_docs("old")[:10])
    before = list(httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json())

    def broken():
        yield _docs("new")[:10]
        raise RuntimeError("store went away")

    with pytest.raises(RuntimeError, match="store went away"):
        rebuild_alias(es_backend, broken())
    assert list(httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json()) == before
    names = httpx.get(f"{es_url}/_resolve/index/{es_alias}-v*", timeout=10).json()["indices"]
    assert [i["name"] for i in names] == before  # the half-built index was dropped
    es_backend.refresh()
    assert es_backend.count() == 10


def test_a_rebuild_loads_with_refresh_off_and_async_translog_then_restores_both(
    es_backend: ElasticsearchBackend, es_url: str
) -> None:
    rebuild = AliasRebuild(es_backend)
    rebuild.begin()

    def index_settings() -> dict[str, object]:
        body = httpx.get(f"{es_url}/{rebuild.index}/_settings", timeout=10).json()
        index = body[rebuild.index]["settings"]["index"]
        return {"refresh": index.get("refresh_interval"), "durability": index["translog"]["durability"]}

    try:
        assert rebuild.load(_docs("new")[:50]).indexed == 50
        assert index_settings() == {"refresh": "-1", "durability": "async"}
        rebuild.swap()
    except BaseException:
        rebuild.abort()
        raise
    assert index_settings() == {"refresh": "1s", "durability": "request"}
    assert es_backend.count() == 50  # refreshed before the swap


def _segments(es_url: str, index: str) -> int:
    body = httpx.get(f"{es_url}/{index}/_segments", timeout=10).json()
    shards = body["indices"][index]["shards"]
    return sum(len(copy["segments"]) for copies in shards.values() for copy in copies)


def test_a_rebuild_is_force_merged_to_one_segment_before_the_swap(
    es_backend: ElasticsearchBackend, es_url: str
) -> None:
    rebuild = AliasRebuild(es_backend)
    rebuild.begin()
    try:
        for start in range(0, 300, 100):  # refresh between loads: several segments
            rebuild.load(_docs("new")[start : start + 100])
            httpx.post(f"{es_url}/{rebuild.index}/_refresh", timeout=10).raise_for_status()
        assert _segments(es_url, rebuild.index) >= 3
        rebuild.swap()
    except BaseException:
        rebuild.abort()
        raise
    assert _segments(es_url, rebuild.index) == 1
    assert es_backend.count() == 300


def test_a_force_merge_that_does_not_finish_in_time_aborts_and_keeps_the_old_index(
    es_backend: ElasticsearchBackend, es_url: str, es_alias: str
) -> None:
    es_backend.upsert(_docs("old")[:10])
    es_backend.refresh()
    before = list(httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json())
    rebuild = AliasRebuild(es_backend, merge_timeout_s=0)  # no time at all: the timeout path
    rebuild.begin()
    rebuild.load(_docs("new")[:20])
    with pytest.raises(SearchUnavailable, match="force-merge"):
        rebuild.swap()
    assert list(httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json()) == before
    names = httpx.get(f"{es_url}/_resolve/index/{es_alias}-v*", timeout=10).json()["indices"]
    assert [i["name"] for i in names] == before  # the new index was dropped
    assert es_backend.count() == 10
    assert es_backend.search(SearchQuery(q="proeftuin")).total == 10
