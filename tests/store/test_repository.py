"""The canonical store behaves the same on SQLite and PostgreSQL (see conftest: ``store``)."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.contracts import NetworkSpec, Outcome, RecordError, Registry, SourceReport, SourceSpec


def _registry(*ids: str, paused: tuple[str, ...] = ()) -> Registry:
    return Registry(
        networks=[NetworkSpec(id="net-a", name="Network A")],
        sources=[
            SourceSpec(
                id=i, network="net-a", title=i.upper(), url=f"https://{i}.example/feed", paused=i in paused
            )
            for i in ids
        ],
    )


def _report(source_id: str, status: str, **kw) -> SourceReport:
    now = datetime.now(UTC)
    return SourceReport(source_id=source_id, status=status, started_at=now, finished_at=now, **kw)


def test_sync_registry_inserts_then_updates(store):
    store.sync_registry(_registry("a", "b"))
    store.sync_registry(_registry("a", "b", paused=("b",)))
    assert store.source("a").title == "A"
    assert store.source("b").paused is True
    assert store.network("net-a").name == "Network A"
    assert store.source("missing") is None


def test_save_run_tracks_failures_and_validators(store):
    store.sync_registry(_registry("a"))
    failed = _report("a", "failed", error_code="http_error", message="HTTP 500")
    failed.errors.append(RecordError(stage="fetch", source_id="a", code="http_error", message="HTTP 500"))
    store.save_run(failed)
    store.save_run(failed)
    state = store.fetch_state("a")
    assert state.consecutive_failures == 2
    assert state.last_success_at is None
    store.save_run(
        _report("a", "ok", counts={"new": 3}), etag='"v1"', last_modified="Tue, 01 Apr 2025 10:00:00 GMT"
    )
    state = store.fetch_state("a")
    assert state.consecutive_failures == 0
    assert state.etag == '"v1"'
    assert state.last_success_at is not None
    runs = store.runs("a")
    assert [r.status for r in runs] == ["ok", "failed", "failed"]  # newest first
    assert runs[1].errors[0]["code"] == "http_error"


def test_payloads_are_stored_once_by_hash(store):
    body = "<rss>é</rss>".encode()
    h1 = store.save_payload(body, "https://a.example/feed", "application/rss+xml")
    h2 = store.save_payload(body, "https://a.example/feed", "application/rss+xml")
    assert h1 == h2
    assert store.payload(h1) == body
    assert store.payload("0" * 64) is None


def test_upsert_record_outcomes_and_index_bookkeeping(store):
    store.sync_registry(_registry("a"))
    args = {"source_id": "a", "kind": "news", "native_id": "n", "graph_nt": "", "raw_sha256": None}
    assert store.upsert_record(iri="https://x/id/1", content_hash="h1", **args) is Outcome.NEW
    assert store.upsert_record(iri="https://x/id/1", content_hash="h1", **args) is Outcome.UNCHANGED
    assert store.upsert_record(iri="https://x/id/1", content_hash="h2", **args) is Outcome.UPDATED
    for i in range(2, 8):
        store.upsert_record(iri=f"https://x/id/{i}", content_hash="h", **args)
    assert store.count_records("a") == 7
    batches = list(store.records_to_index(batch=3))
    assert [len(b) for b in batches] == [3, 3, 1]
    store.mark_indexed([(r.iri, r.content_hash) for b in batches for r in b])
    assert list(store.records_to_index()) == []
    assert sum(len(b) for b in store.records_to_index(all_records=True)) == 7
    row = store.record("https://x/id/1")
    assert row.first_seen_at.tzinfo is not None  # aware on both backends
    assert row.content_hash == "h2"


def test_long_values_fit_their_columns(store):
    """PostgreSQL enforces VARCHAR lengths that SQLite ignores: a long feed URL and message must fit."""
    registry = _registry("a")
    registry.sources[0].url = "https://a.example/feed?" + "q=1&" * 400
    store.sync_registry(registry)
    store.save_run(_report("a", "failed", error_code="x" * 60, message="m" * 20000))
    assert store.fetch_state("a").message == "m" * 20000


def test_save_run_changes_only_what_the_run_says(store):
    """Each kind of run sets its own part of the fetch state and leaves the rest as it was."""
    store.sync_registry(_registry("a", "b"))
    store.save_run(_report("a", "ok", counts={"new": 2}), '"v1"', "Mon", http_status=200, retry_after_s=None)
    first = store.fetch_state("a")
    store.save_run(_report("a", "not_modified"), None, None, http_status=304)
    state = store.fetch_state("a")
    assert (state.etag, state.last_modified, state.http_status) == ('"v1"', "Mon", 304)  # validators kept
    assert (state.consecutive_failures, state.counts["new"]) == (0, 0)
    success = state.last_success_at  # a 304 is a success
    store.save_run(
        _report("a", "failed", error_code="http_error"), '"v2"', "Tue", http_status=429, retry_after_s=60
    )
    state = store.fetch_state("a")
    assert (state.etag, state.consecutive_failures, state.http_status) == ('"v1"', 1, 429)
    assert state.last_success_at == success is not None  # a failure is not a success
    assert (state.retry_after_until - state.last_attempt_at).total_seconds() == 60
    deferred = _report("a", "failed", error_code="retry_later")
    store.save_run(deferred, None, None, http_status=None, retry_after_s=30)
    state = store.fetch_state("a")
    assert (state.http_status, state.consecutive_failures) == (
        429,
        2,
    )  # the deferral keeps the 429 and its time
    assert (state.retry_after_until - first.last_attempt_at).total_seconds() > 59
    store.save_run(_report("a", "partial", counts={"new": 1}), '"v3"', None, http_status=200)
    state = store.fetch_state("a")
    assert (state.etag, state.last_modified, state.consecutive_failures) == ('"v3"', None, 0)
    assert (state.retry_after_until, state.http_status, state.counts["new"]) == (None, 200, 1)
    store.save_run(_report("b", "failed", error_code="retry_later"), http_status=503, retry_after_s=5)
    state = store.fetch_state("b")  # a first run: inserted, with nothing the deferral does not set
    assert (state.http_status, state.retry_after_until, state.consecutive_failures) == (None, None, 1)
    assert [r.status for r in store.runs("a")] == ["partial", "failed", "failed", "not_modified", "ok"]
    assert (store.runs("a")[2].http_status, store.runs("a")[4].counts["new"]) == (429, 2)


def test_payload_comes_from_the_archive_in_another_process(store, monkeypatch):
    """A body archived by another Store (another process) is read from the database; the bodies this
    Store archived lately are kept within RECENT_PAYLOAD_BYTES and give the same bytes."""
    import store.repository as repository

    body = b"<rss>" + b"x" * 1000 + b"</rss>"
    other = repository.Store(str(store.engine.url.render_as_string(hide_password=False)))
    try:
        digest = other.save_payload(body, "https://a.example/feed", None)
    finally:
        other.close()
    assert digest not in store._recent  # noqa: SLF001 - what this test is about
    assert store.payload(digest) == body
    monkeypatch.setattr(repository, "RECENT_PAYLOAD_BYTES", 2500)
    kept = [store.save_payload(bytes([i]) * 1000, "https://a.example/feed", None) for i in range(3)]
    assert list(store._recent) == kept[1:]  # noqa: SLF001 - the oldest left first
    assert [store.payload(h) for h in kept] == [bytes([i]) * 1000 for i in range(3)]


def _older_cluster_keys(url: str, values: str):
    """An engine on ``url`` whose cluster_keys table is as older releases created it (with its index)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text('CREATE TABLE cluster_keys ("key" VARCHAR(600) PRIMARY KEY, cluster VARCHAR(500) NOT NULL)')
        )
        conn.execute(text("CREATE INDEX ix_cluster_keys_cluster ON cluster_keys (cluster)"))
        conn.execute(text(f"INSERT INTO cluster_keys VALUES {values}"))
    return engine


def test_an_older_store_loses_the_unread_cluster_index_and_keeps_its_keys(store_url):
    """Stores made before the cluster key index was dropped lose it when opened; nothing else changes."""
    from sqlalchemy import inspect, text

    from store.repository import Store

    engine = _older_cluster_keys(store_url, "('url:a', 'c1'), ('url:b', 'c1')")
    assert "ix_cluster_keys_cluster" in {i["name"] for i in inspect(engine).get_indexes("cluster_keys")}
    store = Store(store_url)
    store.close()
    assert inspect(engine).get_indexes("cluster_keys") == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT key, cluster FROM cluster_keys ORDER BY key")).all() == [
            ("url:a", "c1"),
            ("url:b", "c1"),
        ]
    engine.dispose()
    Store(store_url).close()  # opened again: nothing left to drop


def test_dropping_the_cluster_index_on_postgresql_does_not_queue_the_table_behind_it(pg_url):
    """While the first start after the upgrade waits to drop the index (a transaction still reads
    cluster_keys), other sessions still read and write the table: DROP INDEX CONCURRENTLY, not an
    ACCESS EXCLUSIVE lock request that every later query on cluster_keys would wait behind."""
    import threading
    import time

    from sqlalchemy import inspect, text

    from store.repository import Store

    engine = _older_cluster_keys(pg_url, "('url:a', 'c1')")
    reader = engine.connect()
    reader.execute(text("SELECT count(*) FROM cluster_keys"))  # its transaction stays open
    opened: list[BaseException | None] = []

    def open_store() -> None:
        try:
            Store(pg_url).close()
            opened.append(None)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            opened.append(exc)

    starting = threading.Thread(target=open_store)
    starting.start()
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'DROP INDEX%' AND wait_event_type = 'Lock'"
    )
    with engine.connect() as probe:
        deadline = time.monotonic() + 20
        while not probe.execute(waiting).scalar() and time.monotonic() < deadline:
            probe.rollback()
            time.sleep(0.02)
        assert probe.execute(waiting).scalar() == 1  # the drop waits for the reader
        probe.rollback()
    with engine.begin() as other:  # meanwhile: not queued behind the drop
        other.execute(text("SET LOCAL lock_timeout = '2s'"))
        assert other.execute(text("SELECT count(*) FROM cluster_keys")).scalar() == 1
        other.execute(text("INSERT INTO cluster_keys VALUES ('url:b', 'c1')"))
    assert starting.is_alive()
    reader.rollback()
    reader.close()
    starting.join(timeout=30)
    assert opened == [None]
    assert inspect(engine).get_indexes("cluster_keys") == []
    engine.dispose()


def test_the_store_and_its_clusters_share_one_dialect_insert():
    """One definition of the ON CONFLICT-capable insert (store.repository), used by store/clusters.py."""
    import pytest
    from sqlalchemy.dialects import postgresql, sqlite

    from store import clusters, repository

    assert clusters.dialect_insert is repository.dialect_insert
    assert repository.dialect_insert("sqlite") is sqlite.insert
    assert repository.dialect_insert("postgresql") is postgresql.insert
    with pytest.raises(ValueError, match="unsupported database dialect"):
        repository.dialect_insert("mysql")


def test_a_committed_run_replaced_by_a_failure_leaves_what_the_failure_alone_would(store):
    """``replace_run_on`` (a source that failed after its run was committed with its items): one run
    row, the failed one; the fetch state as a failed run after the earlier ones leaves it."""
    from store.repository import replace_run_on, save_run_on, success_only_state_on

    store.sync_registry(_registry("a", "b"))
    earlier = datetime(2026, 3, 1, tzinfo=UTC)
    ok = SourceReport(source_id="a", status="ok", started_at=earlier, finished_at=earlier)
    store.save_run(ok, etag='"e0"', last_modified="Sun, 01 Mar 2026 00:00:00 GMT")
    store.save_run(_report("a", "failed", error_code="http_error"))  # one failure already
    for source_id, expected in (
        ("a", ('"e0"', "Sun, 01 Mar 2026 00:00:00 GMT", earlier, 2)),
        ("b", (None, None, None, 1)),  # never harvested before
    ):
        before_runs = [r.status for r in store.runs(source_id)]
        written = _report(source_id, "ok", counts={"new": 3})
        with store.engine.begin() as conn:  # the run written with the items
            before = success_only_state_on(conn, source_id)
            save_run_on(conn, written, '"e1"', "Wed, 04 Mar 2026 00:00:00 GMT", http_status=200)
        failed = _report(source_id, "failed", error_code="internal_error", message="RuntimeError: after")
        with store.engine.begin() as conn:
            replace_run_on(
                conn, written, before, failed, '"e1"', "Wed, 04 Mar 2026 00:00:00 GMT", http_status=200
            )
        assert [r.status for r in store.runs(source_id)] == ["failed", *before_runs]
        state = store.fetch_state(source_id)
        success = state.last_success_at.replace(tzinfo=UTC) if state.last_success_at else None
        assert (state.etag, state.last_modified, success, state.consecutive_failures) == expected
        assert (state.status, state.error_code, state.counts) == ("failed", "internal_error", failed.counts)
