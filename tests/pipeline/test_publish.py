"""The publish stage over a real harvest: members follow content changes, one for one."""

from __future__ import annotations

from pathlib import Path

from rdflib import Graph, URIRef

from pipeline.harvest import harvest
from store.members import MemberLog, withdraw_source
from store.repository import Store
from tests.conftest import write_registry

IS_VERSION_OF = URIRef("http://purl.org/dc/terms/isVersionOf")


def _settings(make_settings, tmp_path: Path, feed_server: str, sources: list[dict]):
    registry = write_registry(tmp_path / "registry.yaml", sources)
    return make_settings(registry_path=registry, samples_url=feed_server)


def test_first_harvest_publishes_one_member_per_item_and_a_reharvest_none(
    make_settings, tmp_path, feed_server, demo_sources
) -> None:
    settings = _settings(make_settings, tmp_path, feed_server, demo_sources[:1])
    harvest(settings)
    store = Store(settings.resolved_database_url)
    log = MemberLog(store, settings.base_url)
    records = store.count_records()
    assert records == 55
    assert log.count() == records
    member = log.members(limit=1)[0]
    g = Graph().parse(data=member.graph, format="nt")
    assert (URIRef(member.version_iri), IS_VERSION_OF, URIRef(member.item_iri)) in g
    assert member.version_iri.startswith(member.item_iri + "/versie/")
    # an unconditional re-harvest of the same bytes: every item unchanged, no member added
    with store.session() as s, s.begin():
        from store.models import FetchStateRow

        state = s.get(FetchStateRow, "guardian")
        state.etag = state.last_modified = None
    reports = harvest(settings)
    assert reports[0].counts["unchanged"] == 55
    assert log.count() == records


def test_a_changed_item_adds_exactly_one_member_and_withdrawal_a_tombstone(
    make_settings, tmp_path, feed_server, feed_dir, demo_sources
) -> None:
    settings = _settings(make_settings, tmp_path, feed_server, demo_sources[:1])
    harvest(settings)
    store = Store(settings.resolved_database_url)
    log = MemberLog(store, settings.base_url)
    before = log.count()
    feed = feed_dir / "guardian_rss2.xml"
    title = b"Trump State of the Union address promised unity but emphasized discord"
    feed.write_bytes(feed.read_bytes().replace(title, b"A corrected headline", 1))
    reports = harvest(settings)
    assert reports[0].counts["updated"] == 1
    assert log.count() == before + 1
    newest = log.members(after_seq=before)[0]
    assert b"A corrected headline" in newest.graph.encode()
    assert log.head(newest.item_iri).seq == newest.seq
    # the owner removes the source: one as:Delete per item, and doing it again adds nothing
    tombstones = withdraw_source(store, settings.base_url, "guardian")
    assert len(tombstones) == 55
    assert log.count() == before + 1 + 55
    assert withdraw_source(store, settings.base_url, "guardian") == []
    last = log.members(after_seq=log.count() - 1)[0]
    assert "activitystreams#Delete" in last.graph
