"""The harvest run end to end over a real HTTP server: fetch -> parse -> map -> validate -> store."""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.harvest import harvest
from store.repository import Store
from tests.conftest import write_registry


def _settings(make_settings, tmp_path: Path, feed_server: str, sources: list[dict]):
    registry = write_registry(tmp_path / "registry.yaml", sources)
    return make_settings(registry_path=registry, samples_url=feed_server)


def test_good_sources_store_items_and_a_non_feed_gets_a_clear_status(
    make_settings, tmp_path, feed_server, demo_sources
) -> None:
    settings = _settings(make_settings, tmp_path, feed_server, demo_sources)
    reports = {r.source_id: r for r in harvest(settings)}
    assert set(reports) == {"guardian", "heise", "psy", "broken"}
    assert reports["guardian"].status == "ok"
    assert reports["guardian"].counts["new"] == 55
    assert reports["heise"].status == "ok"
    assert reports["heise"].counts["new"] == 15
    assert reports["broken"].status == "failed"
    assert reports["broken"].error_code == "not_a_feed"
    assert reports["broken"].errors[0].stage == "parse"
    store = Store(settings.resolved_database_url)
    assert store.count_records("guardian") == 55
    assert store.count_records("broken") == 0
    state = store.fetch_state("broken")
    assert state is not None
    assert state.status == "failed"
    assert state.consecutive_failures == 1


def test_reharvest_is_conditional_and_changes_nothing(
    make_settings, tmp_path, feed_server, demo_sources
) -> None:
    settings = _settings(make_settings, tmp_path, feed_server, demo_sources[:2])
    harvest(settings)
    store = Store(settings.resolved_database_url)
    before = store.count_records()
    again = {r.source_id: r for r in harvest(settings)}
    assert again["guardian"].status == "not_modified"
    assert store.count_records() == before


def test_changed_payload_counts_unchanged_and_updated(
    make_settings, tmp_path, feed_server, feed_dir, demo_sources
) -> None:
    settings = _settings(make_settings, tmp_path, feed_server, demo_sources[:1])
    harvest(settings)
    feed = feed_dir / "guardian_rss2.xml"
    body = feed.read_bytes()
    first_title = b"Trump State of the Union address promised unity but emphasized discord"
    assert first_title in body
    feed.write_bytes(body.replace(first_title, b"State of the Union: an edited headline", 1))
    report = harvest(settings)[0]
    assert report.status == "ok"
    assert report.counts["updated"] == 1
    assert report.counts["unchanged"] == 54
    assert report.counts["new"] == 0


def test_a_source_that_breaks_keeps_its_items(
    make_settings, tmp_path, feed_server, feed_dir, demo_sources
) -> None:
    settings = _settings(make_settings, tmp_path, feed_server, demo_sources[:1])
    harvest(settings)
    store = Store(settings.resolved_database_url)
    assert store.count_records("guardian") == 55
    (feed_dir / "guardian_rss2.xml").write_text("<html>maintenance</html>")
    report = harvest(settings)[0]
    assert report.status == "failed"
    assert report.error_code == "not_a_feed"
    assert store.count_records("guardian") == 55
    (feed_dir / "guardian_rss2.xml").unlink()
    report = harvest(settings)[0]
    assert report.error_code == "http_404"
    assert store.count_records("guardian") == 55
    assert store.fetch_state("guardian").consecutive_failures == 2  # type: ignore[union-attr]


def test_blocked_address_is_refused_without_allowlist(
    make_settings, tmp_path, feed_server, demo_sources
) -> None:
    registry = write_registry(tmp_path / "registry.yaml", demo_sources[:1])
    settings = make_settings(registry_path=registry, samples_url=feed_server, fetch_allow_hosts=[])
    report = harvest(settings)[0]
    assert report.status == "failed"
    assert report.error_code == "blocked_address"
    assert "127.0.0.1" in (report.message or "")


def test_paused_source_is_not_fetched(make_settings, tmp_path, feed_server, demo_sources) -> None:
    sources = [dict(demo_sources[0], paused=True)]
    settings = _settings(make_settings, tmp_path, feed_server, sources)
    report = harvest(settings)[0]
    assert report.status == "paused"
    assert Store(settings.resolved_database_url).count_records() == 0


def test_raw_payload_is_archived_by_hash(
    make_settings, tmp_path, feed_server, feed_dir, demo_sources
) -> None:
    import hashlib

    settings = _settings(make_settings, tmp_path, feed_server, demo_sources[:1])
    harvest(settings)
    body = (feed_dir / "guardian_rss2.xml").read_bytes()
    store = Store(settings.resolved_database_url)
    assert store.payload(hashlib.sha256(body).hexdigest()) == body
    shutil.rmtree(feed_dir)


def test_the_collector_runs_less_often_during_a_harvest_and_as_before_after(
    make_settings, tmp_path, feed_server, demo_sources
) -> None:
    import gc

    from pipeline.heap import HARVEST_GC_THRESHOLD0

    settings = _settings(make_settings, tmp_path, feed_server, demo_sources[:2])
    before = gc.get_threshold()
    during: list[tuple[int, ...]] = []
    reports = harvest(settings, progress=lambda _report: during.append(gc.get_threshold()))
    assert [r.status for r in reports] == ["ok", "ok"]
    assert HARVEST_GC_THRESHOLD0 is not None
    assert during == [(HARVEST_GC_THRESHOLD0, *before[1:])] * 2
    assert gc.get_threshold() == before
