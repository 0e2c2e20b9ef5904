"""What the maintenance DAGs call, run directly on a real store and the embedded index."""

from __future__ import annotations

from tests.conftest import write_registry


def test_rebuild_and_close_pages_after_a_harvest(make_settings, tmp_path, feed_server, demo_sources):
    from pipeline.harvest import harvest
    from pipeline.maintenance import close_ldes_pages, rebuild_index

    registry = write_registry(tmp_path / "registry.yaml", demo_sources[:2])
    settings = make_settings(registry_path=registry, samples_url=feed_server)
    reports = harvest(settings)
    stored = sum(r.counts["new"] for r in reports)
    assert stored > 0
    rebuilt = rebuild_index(settings)
    assert rebuilt["indexed"] == stored, rebuilt
    assert rebuilt["failed"] == 0
    closed = close_ldes_pages(settings)
    assert closed["published"] == 0  # the harvest already published every item inline
    assert closed["members"] >= stored
