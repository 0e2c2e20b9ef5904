"""Partner keys, partner sources and harvest attempts in the store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.contracts import NetworkSpec, Registry, SourceReport, SourceSpec
from store import partners
from store.partner_models import ApiKeyRow, HarvestAttemptRow, SourceHealthRow


def _setup(store) -> Registry:
    registry = Registry(
        networks=[NetworkSpec(id="net-a", name="A"), NetworkSpec(id="net-b", name="B")],
        sources=[SourceSpec(id="file-src", network="net-a", title="F", url="https://f.example/feed")],
    )
    store.sync_registry(registry)
    return registry


def test_keys_are_stored_hashed_and_scoped(store):
    _setup(store)
    key = partners.issue_key(store, "net-a", "ci")
    assert key.startswith("inn_")
    with store.session() as s:
        row = s.query(ApiKeyRow).one()
    secret = key.split("_", 2)[2]
    assert secret.encode() not in row.digest
    assert key.encode() not in row.digest + row.salt
    assert len(row.digest) == 32
    assert partners.authenticate(store, key) == partners.Partner(key_id=row.id, network_id="net-a")
    assert partners.authenticate(store, key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert partners.authenticate(store, "inn_nothex______secret") is None
    assert partners.authenticate(store, "") is None
    partners.revoke_key(store, row.id)
    assert partners.authenticate(store, key) is None  # revocation wins over the verified cache
    with pytest.raises(KeyError):
        partners.issue_key(store, "no-such-network")


def test_partner_sources_belong_to_one_network(store):
    registry = _setup(store)
    spec = SourceSpec(
        id="lab-news", network="net-b", title="Lab", url="https://lab.example/rss", tag_map={"ai": "t1"}
    )
    partners.add_source(store, spec)
    assert partners.partner_source(store, "net-b", "lab-news").tag_map == {"ai": "t1"}
    assert partners.partner_source(store, "net-a", "lab-news") is None  # another network sees nothing
    with pytest.raises(partners.SourceConflict):
        partners.add_source(store, spec.model_copy(update={"network": "net-a"}))
    with pytest.raises(partners.SourceConflict):
        partners.add_source(store, spec.model_copy(update={"id": "file-src"}))
    assert not partners.remove_source(store, "net-a", "lab-news")
    effective = partners.effective_registry(store, registry)
    assert {s.id for s in effective.sources} == {"file-src", "lab-news"}
    assert partners.remove_source(store, "net-b", "lab-news")
    assert {s.id for s in partners.effective_registry(store, registry).sources} == {"file-src"}


def test_automatic_pause_shows_in_the_effective_registry(store):
    registry = _setup(store)
    with store.session() as s, s.begin():
        s.add(
            SourceHealthRow(
                source_id="file-src", auto_paused=True, consecutive_failures=5, counts={}, warnings=[]
            )
        )
    [src] = partners.effective_registry(store, registry).sources
    assert src.paused is True
    assert registry.sources[0].paused is False  # the registry file's object is not changed


def test_tracker_closes_every_attempt_and_stuck_runs_are_reaped(store, make_settings):
    from pipeline.health import Tracker, detect_stuck

    registry = _setup(store)
    settings = make_settings(health_stuck_after_s=60)
    src = registry.sources[0]
    with Tracker(settings, store, [src]) as tracker:
        with store.session() as s:
            assert s.query(HarvestAttemptRow).filter_by(state="running").count() == 1
        left = tracker.close()
    assert [r.error_code for r in left] == ["interrupted"]
    with store.session() as s:
        assert s.query(HarvestAttemptRow).filter_by(state="running").count() == 0
    # a worker that died: its row stays running with an old heartbeat
    old = datetime.now(UTC) - timedelta(hours=2)
    with store.session() as s, s.begin():
        s.add(
            HarvestAttemptRow(
                source_id="file-src", state="running", started_at=old, heartbeat_at=old, worker="x"
            )
        )
    assert detect_stuck(settings, store) == ["file-src"]
    assert detect_stuck(settings, store) == []
    with store.session() as s:
        states = sorted(r.state for r in s.query(HarvestAttemptRow))
    assert states == ["failed", "stuck"]
    assert store.runs("file-src")[0].error_code == "stuck_run"
    assert store.fetch_state("file-src").consecutive_failures == 2


def test_attempts_of_a_dead_batch_process_are_closed_at_once(store, make_settings):
    from pipeline.contracts import RecordError, SourceReport
    from pipeline.health import close_abandoned, detect_stuck

    registry = _setup(store)
    settings = make_settings(health_stuck_after_s=3600)
    fresh = datetime.now(UTC) - timedelta(seconds=5)
    with store.session() as s, s.begin():
        for worker in ("host:111", "host:222"):  # the dead batch process, and a live concurrent harvest
            s.add(
                HarvestAttemptRow(
                    source_id="file-src", state="running", started_at=fresh, heartbeat_at=fresh, worker=worker
                )
            )
    assert detect_stuck(settings, store) == []  # heartbeats are recent: not stuck yet
    message = (
        "the harvest process of this source's batch was killed by signal 9 before the source was processed"
    )
    report = SourceReport(source_id="file-src", status="failed", error_code="internal_error", message=message)
    report.errors.append(
        RecordError(stage="fetch", source_id="file-src", code="internal_error", message=message)
    )
    assert close_abandoned(settings, store, registry.sources, "host:111", [], [report]) == ["file-src"]
    assert close_abandoned(settings, store, registry.sources, "host:111", [], [report]) == []  # closed once
    with store.session() as s:
        assert sorted((r.worker, r.state) for r in s.query(HarvestAttemptRow)) == [
            ("host:111", "failed"),
            ("host:222", "running"),  # not the dead process's: left alone
        ]
    [run] = store.runs("file-src")
    assert (run.status, run.error_code) == ("failed", "internal_error")
    assert store.fetch_state("file-src").consecutive_failures == 1


def test_a_dead_batch_process_s_reported_source_is_closed_with_its_report(store, make_settings):
    from pipeline.contracts import SourceReport
    from pipeline.health import close_abandoned

    registry = _setup(store)
    settings = make_settings()
    fresh = datetime.now(UTC) - timedelta(seconds=5)
    with store.session() as s, s.begin():
        s.add(
            HarvestAttemptRow(
                source_id="file-src", state="running", started_at=fresh, heartbeat_at=fresh, worker="host:111"
            )
        )
    done = SourceReport(source_id="file-src", status="ok", counts={"new": 3})
    assert close_abandoned(settings, store, registry.sources, "host:111", [done], []) == ["file-src"]
    with store.session() as s:
        assert [r.state for r in s.query(HarvestAttemptRow)] == ["done"]
    assert store.runs("file-src") == []  # its run was written with its items, not here
    with store.session() as s:
        health = s.get(SourceHealthRow, "file-src")
    assert (health.last_status, health.consecutive_failures) == ("ok", 0)  # its health took the report


def test_record_result_backs_off_and_resets(store, make_settings):
    from pipeline.health import record_result

    registry = _setup(store)
    settings = make_settings(harvest_interval_s=600, harvest_max_interval_s=7200, health_pause_after=99)
    src = registry.sources[0]
    now = datetime.now(UTC)

    def run(status: str, new: int = 0) -> int:
        report = SourceReport(source_id=src.id, status=status, started_at=now, finished_at=now)
        report.counts["new"] = new
        record_result(settings, store, src, report, http_status=200 if status == "ok" else 500)
        with store.session() as s:
            return s.get(SourceHealthRow, src.id).interval_s

    assert run("ok", new=3) == 600
    assert run("ok") == 900  # quiet: x1.5
    assert run("not_modified") == 1350
    assert run("failed") == 1200  # failing: x2 per failure from the base
    assert run("failed") == 2400
    assert [run("failed") for _ in range(3)] == [4800, 7200, 7200]  # capped
    assert run("ok", new=1) == 600
