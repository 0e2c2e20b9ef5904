"""An Elasticsearch stopped mid-bulk and restarted leaves the index equal to a fault-free run.

Starts its own server on a free port (``ES_PORT=<port> scripts/elasticsearch.sh``, data
kept across the restart), indexes a real store into it, stops the server right after the
first bulk chunk is acknowledged (deterministically, from the index stage's progress
callback, so the cut never depends on timing), starts it again and re-runs the index
stage: records whose bulk was not acknowledged are still pending in the store and are
sent again (by IRI, so idempotently).
The result is compared with the same store indexed into the main server without faults:
same IDs, same ``_source``.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from pipeline.index import index_records
from search.base import SearchUnavailable
from search.elasticsearch import ElasticsearchBackend
from tests.conftest import REPO
from tests.search.store_fill import filled_store

pytestmark = pytest.mark.integration

N = 3000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = _free_port()
URL = f"http://127.0.0.1:{PORT}"


def _es(command: str, keep_data: bool) -> None:
    env = {**os.environ, "ES_PORT": str(PORT), "ES_KEEP_DATA": "1" if keep_data else "0"}
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "elasticsearch.sh"), command],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, (
        f"elasticsearch.sh {command} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )


def _all_sources(url: str, alias: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    after = None
    with httpx.Client(timeout=30) as client:
        while True:
            body: dict = {"size": 2000, "sort": [{"id": "asc"}], "query": {"match_all": {}}}
            if after:
                body["search_after"] = after
            hits = client.post(f"{url}/{alias}/_search", json=body).json()["hits"]["hits"]
            if not hits:
                return out
            out.update({h["_id"]: h["_source"] for h in hits})
            after = hits[-1]["sort"]


def test_stopped_mid_bulk_and_restarted_equals_a_fault_free_run(
    tmp_path: Path, es_url: str, es_alias: str
) -> None:
    reference_store = filled_store(tmp_path / "reference.sqlite3", N)
    reference = ElasticsearchBackend(es_url, es_alias, timeout_s=30)
    assert index_records(reference_store, reference)["failed"] == 0
    expected = _all_sources(es_url, es_alias)
    assert len(expected) == N

    _es("start", keep_data=False)
    try:
        store = filled_store(tmp_path / "faulty.sqlite3", N)
        backend = ElasticsearchBackend(URL, "restart", timeout_s=5)
        stopped: list[int] = []

        def stop_after_first_chunk(rows: int) -> None:
            if not stopped:
                stopped.append(rows)
                _es("stop", keep_data=True)  # mid-run: one chunk acknowledged, the rest not

        with pytest.raises(SearchUnavailable):
            index_records(store, backend, progress=stop_after_first_chunk)
        assert stopped, "the server was never stopped"
        pending = store_pending(store)
        assert 0 < pending < N

        _es("start", keep_data=True)
        backend.close()
        backend = ElasticsearchBackend(URL, "restart", timeout_s=30)
        result = index_records(store, backend)
        assert result["failed"] == 0
        assert store_pending(store) == 0
        got = _all_sources(URL, "restart")
        assert set(got) == set(expected)  # 0 missing, 0 extra (IDs are the IRIs: no duplicates)
        assert got == expected  # same content
        backend.close()
    finally:
        _es("stop", keep_data=False)
        reference.close()


def store_pending(store) -> int:
    return sum(len(rows) for rows in store.records_to_index())
