"""A source's run is written with its items: one transaction (one commit) per harvested source.

``process_fetched`` with a ``RunRecord`` writes the run (history row and fetch state) in the
transaction that stores the source's items; when that batch cannot be written and goes one item
at a time, the run is not written there and the caller saves it, with the one-by-one outcome.
Real corpus feeds and a real SQLite store.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from sqlalchemy import event, func, select

import pipeline.harvest as harvest_module
from crawlers.platforms.feed import parse_feed
from ontology.namespaces import SCHEMA
from pipeline.contracts import FetchResult, NetworkSpec, Outcome, Registry, SourceReport, SourceSpec
from pipeline.harvest import RunRecord, process_fetched
from pipeline.map import map_items
from pipeline.store import store_and_publish
from pipeline.validate import validate_items
from store import clusters, members
from store.models import HarvestRunRow, RecordRow
from store.repository import Store, save_run_on

BASE = "http://innonet.test"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
SPEC = SourceSpec(id="guardian", network="net-a", title="g", url="http://x/g")


def _store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    store.sync_registry(Registry(networks=[NetworkSpec(id="net-a", name="A")], sources=[SPEC]))
    clusters.ensure_tables(store.engine)  # once per engine (a harvest's first source)
    members.ensure_tables(store.engine)
    return store


def _commits(store: Store) -> list[int]:
    counted = [0]
    event.listen(store.engine, "commit", lambda _conn: counted.__setitem__(0, counted[0] + 1))
    return counted


def _runs(store: Store) -> list[HarvestRunRow]:
    with store.session() as s:
        return list(s.scalars(select(HarvestRunRow).order_by(HarvestRunRow.id)))


def test_the_run_is_written_with_the_items_in_one_commit(tmp_path: Path, corpus: Path, make_settings) -> None:
    store = _store(tmp_path)
    body = (corpus / "rss_atom" / "guardian_rss2.xml").read_bytes()
    sha = store.save_payload(body, SPEC.url, "application/xml")
    result = FetchResult(
        source_id=SPEC.id, url=SPEC.url, status=200, ok=True, content_type="application/xml",
        body_sha256=sha, body_size=len(body), fetched_at=NOW, etag='"e1"', duration_ms=12,
    )  # fmt: skip
    commits = _commits(store)
    run = RunRecord(store, result)
    report = process_fetched(make_settings(), store, SPEC, result, run)
    assert run.saved
    assert commits[0] == 1  # items, members, clusters and the run: one transaction
    [row] = _runs(store)
    assert (row.status, row.counts, row.message, row.http_status, row.duration_ms) == (
        report.status, report.counts, report.message, 200, 12,
    )  # fmt: skip
    assert row.counts["new"] == store.count_records(SPEC.id) > 0
    assert row.finished_at.replace(tzinfo=UTC) == report.finished_at
    state = store.fetch_state(SPEC.id)
    assert (state.status, state.etag, state.consecutive_failures) == (report.status, '"e1"', 0)
    again = RunRecord(store, result)  # the same body again: unchanged items, still one commit
    process_fetched(make_settings(), store, SPEC, result, again)
    assert (again.saved, commits[0], _runs(store)[-1].counts["unchanged"]) == (True, 2, row.counts["new"])


class _Hook:
    """A run record as the harvest writes it, with the calls it got."""

    def __init__(self, report: SourceReport) -> None:
        self.report, self.calls = report, []

    def in_transaction(self, conn, outcomes: list[Outcome]) -> None:  # noqa: ANN001 - a Connection
        self.calls.append("in_transaction")
        save_run_on(conn, self.report.model_copy(update={"counts": {"new": len(outcomes)}}))

    def committed(self) -> None:
        self.calls.append("committed")


def test_a_batch_that_goes_one_by_one_leaves_the_run_to_the_caller(
    tmp_path: Path, corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch's transaction (with the run in it) rolls back; the items go one by one; no run row
    is left from the failed transaction and ``committed`` is never called, so the caller saves it."""
    store = _store(tmp_path)
    body = (corpus / "rss_atom" / "guardian_rss2.xml").read_bytes()
    raw = store.save_payload(body, SPEC.url, "application/xml")
    mapped, _ = map_items(
        parse_feed(body, SPEC).items, SPEC, base=BASE, fetched_at=NOW, raw_sha256=raw, mapping_version="1"
    )
    items, _, _ = validate_items(mapped, SPEC.id)
    broken = Literal("kapot", lang="en")
    broken._datatype = URIRef("http://www.w3.org/2001/XMLSchema#string")  # noqa: SLF001 - a term rdflib will not write (its own error)
    items[2].derived.add((items[2].iri, SCHEMA.alternativeHeadline, broken))
    report = SourceReport(source_id=SPEC.id, started_at=NOW, finished_at=NOW)
    hook = _Hook(report)
    with caplog.at_level(logging.WARNING, logger="innonet.store"):
        store_and_publish(store, items, report, raw, BASE, now=NOW, hook=hook)
    assert "committed" not in hook.calls
    assert _runs(store) == []  # rolled back with the batch
    assert report.counts["failed"] == 1
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(RecordRow)) == len(items) - 1
    good = _Hook(SourceReport(source_id=SPEC.id, started_at=NOW, finished_at=NOW))
    store_and_publish(store, items[:2], SourceReport(source_id=SPEC.id), raw, BASE, hook=good)
    assert good.calls == ["in_transaction", "committed"]
    assert [r.counts for r in _runs(store)] == [{"new": 2}]


@pytest.mark.parametrize("known", [True, False], ids=["harvested-before", "first-harvest"])
def test_a_source_failing_after_its_items_were_stored_gets_one_failed_run(
    tmp_path: Path, corpus: Path, make_settings, monkeypatch: pytest.MonkeyPatch, known: bool
) -> None:
    """As before runs were written with the items: ONE run row, failed; the fetch state as a failed
    run leaves it (the earlier ETag, Last-Modified and success time, failures + 1), so the next
    harvest does not send this fetch's validators and gets the feed in full. The items stay."""
    store = _store(tmp_path)
    earlier = datetime(2026, 3, 1, tzinfo=UTC)
    if known:
        ok = SourceReport(source_id=SPEC.id, status="ok", started_at=earlier, finished_at=earlier)
        store.save_run(ok, etag='"e0"', last_modified="Sun, 01 Mar 2026 00:00:00 GMT", http_status=200)
    body = (corpus / "rss_atom" / "guardian_rss2.xml").read_bytes()
    sha = store.save_payload(body, SPEC.url, "application/xml")
    result = FetchResult(
        source_id=SPEC.id, url=SPEC.url, status=200, ok=True, content_type="application/xml",
        body_sha256=sha, body_size=len(body), fetched_at=NOW, etag='"e1"',
        last_modified="Wed, 04 Mar 2026 05:06:07 GMT", duration_ms=12,
    )  # fmt: skip

    def after_the_store_step(*_args: object) -> None:
        raise RuntimeError("after the store step")

    monkeypatch.setattr(harvest_module, "finish_follow", after_the_store_step)
    report = harvest_module.run_source(make_settings(), store, SPEC, result)
    assert (report.status, report.error_code) == ("failed", "internal_error")
    assert store.count_records(SPEC.id) > 0  # stored, not undone
    runs = _runs(store)
    assert [r.status for r in runs] == (["ok", "failed"] if known else ["failed"])
    assert runs[-1].message == "RuntimeError: after the store step"
    state = store.fetch_state(SPEC.id)
    expected = ('"e0"', "Sun, 01 Mar 2026 00:00:00 GMT", earlier) if known else (None, None, None)
    success = state.last_success_at.replace(tzinfo=UTC) if state.last_success_at else None
    assert (state.etag, state.last_modified, success) == expected
    assert (state.status, state.consecutive_failures) == ("failed", 1)
