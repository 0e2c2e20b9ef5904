"""`innonet harvest` on every core: batches by host in spawned processes writing one store.

Real parts: two HTTP servers (127.0.0.1 and 127.0.0.2, two "hosts") serving the same real feeds,
real spawned batch processes, one SQLite store. The same registry harvested in one process is the
reference: the parallel harvest must store the same items, in the same clusters (a feed served by
both hosts is a syndicated copy, its items cluster across batches).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from crawlers.samples.server import serve_directory
from pipeline.contracts import SourceReport
from pipeline.harvest import harvest
from pipeline.parallel import harvest_batches, harvest_on_cores, missing_reports, process_count, stall_limit_s
from pipeline.settings import Settings
from store.models import RecordRow
from store.partner_models import HarvestAttemptRow
from store.repository import Store
from tests.conftest import write_registry

FEEDS = ("guardian_rss2.xml", "heise_de_atom.xml", "cerclepsy_fr_latin1_no_decl.xml", "not_a_feed.txt")
_CLUSTER = re.compile(r"<https://w3id.org/innonet/ns#cluster> <([^>]+)>")


@pytest.fixture
def two_hosts(feed_dir: Path) -> Iterator[tuple[str, str]]:
    """The same real feeds served by two hosts (127.0.0.1 and 127.0.0.2): two politeness keys."""
    with (
        serve_directory(feed_dir, host="127.0.0.1") as one,
        serve_directory(feed_dir, host="127.0.0.2") as two,
    ):
        yield one, two


def _settings(make_settings, tmp_path: Path, hosts: tuple[str, str], name: str):
    """Settings whose registry has every served file on each of the two hosts (8 sources)."""
    sources = [
        {"id": f"h{h}-{i}", "network": "net-a", "title": f"{feed} on host {h}", "url": f"{base}/{feed}"}
        for h, base in enumerate(hosts, start=1)
        for i, feed in enumerate(FEEDS)
    ]
    return make_settings(
        registry_path=write_registry(tmp_path / f"{name}.yaml", sources),
        data_dir=tmp_path / name,
        fetch_allow_hosts=["127.0.0.1", "127.0.0.2"],
        harvest_min_batch_sources=1,
    )


def _partition(settings) -> set[frozenset[str]]:
    """The stored records grouped by the cluster their graph names (cluster IRIs depend on order)."""
    store = Store(settings.resolved_database_url)
    try:
        with store.session() as s:
            records = s.execute(select(RecordRow.iri, RecordRow.graph)).all()
    finally:
        store.close()
    groups: dict[str, set[str]] = {}
    for iri, graph in records:
        (cluster,) = _CLUSTER.findall(graph)
        groups.setdefault(cluster, set()).add(iri)
    return {frozenset(g) for g in groups.values()}


def test_two_hosts_are_two_batch_processes_and_store_what_one_process_stores(
    make_settings, tmp_path, two_hosts, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.parallel")
    settings_one = _settings(make_settings, tmp_path, two_hosts, "one")
    reference = {r.source_id: r for r in harvest(settings_one)}
    settings_two = _settings(make_settings, tmp_path, two_hosts, "two")
    seen: list[str] = []
    reports = harvest_on_cores(settings_two, processes=2, progress=lambda r: seen.append(r.source_id))
    assert "8 sources in 2 batch processes (4 + 4 sources)" in caplog.text
    got = {r.source_id: r for r in reports}
    assert (
        sorted(seen) == sorted(got) == sorted(reference)
    )  # one report per source, each on the progress line
    assert {k: (r.status, r.error_code, r.counts) for k, r in got.items()} == {
        k: (r.status, r.error_code, r.counts) for k, r in reference.items()
    }
    assert got["h1-3"].status == got["h2-3"].status == "failed"  # the text file, on both hosts
    assert Counter(r.counts.get("new", 0) for r in got.values() if r.status == "ok")[55] == 2
    partition = _partition(settings_two)
    assert partition == _partition(settings_one)
    assert any({"/h1-" in iri for iri in group} == {True, False} for group in partition)  # copies met


def test_a_small_harvest_stays_in_this_process(make_settings, tmp_path, two_hosts, caplog) -> None:
    caplog.set_level(logging.INFO, logger="pipeline.parallel")
    settings = _settings(make_settings, tmp_path, two_hosts, "small").model_copy(
        update={"harvest_min_batch_sources": 50}
    )
    assert len(harvest_batches(settings, None, 2)[0]) == 1  # 8 sources < 2 x 50
    reports = harvest_on_cores(settings, ["h1-0", "h2-1"], processes=2)
    assert "2 sources in this process" in caplog.text
    assert sorted(r.source_id for r in reports) == ["h1-0", "h2-1"]
    assert not multiprocessing.active_children()


def test_a_killed_batch_process_fails_its_sources_and_the_other_batch_finishes(
    make_settings, tmp_path, two_hosts
) -> None:
    settings = _settings(make_settings, tmp_path, two_hosts, "killed")
    batches, _ = harvest_batches(settings, None, 2)
    assert len(batches) == 2
    killed: list[int] = []

    def kill_first_batch() -> None:  # while it is still importing the pipeline (~1.5 s after spawn)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not killed:
            for child in multiprocessing.active_children():
                if child.name == "innonet-harvest-0" and child.pid:
                    os.kill(child.pid, signal.SIGKILL)
                    killed.append(child.pid)
            time.sleep(0.005)

    killer = threading.Thread(target=kill_first_batch)
    killer.start()
    reports = {r.source_id: r for r in harvest_on_cores(settings, processes=2)}
    killer.join()
    assert killed
    assert sorted(reports) == sorted(batches[0] + batches[1])
    for source_id in batches[0]:
        assert reports[source_id].status == "failed"
        assert reports[source_id].error_code == "internal_error"
        assert "killed by signal 9" in (reports[source_id].message or "")
    finished = [reports[s] for s in batches[1]]  # harvested as usual: the feeds stored, the text file refused
    assert "internal_error" not in {r.error_code for r in finished}
    assert {r.status for r in finished} >= {"ok", "failed"}
    assert sum(reports[s].counts.get("new", 0) for s in batches[1]) > 0


def _signal_first_batch_on_its_report(
    signum: int, batch: list[str], signalled: list[int]
) -> Callable[[SourceReport], None]:
    """A progress callback that sends ``signum`` to the first batch process when its first report
    arrives (its pid appended to ``signalled``)."""

    def on_report(report: SourceReport) -> None:
        if not signalled and report.source_id in batch:
            for child in multiprocessing.active_children():
                if child.name == "innonet-harvest-0" and child.pid:
                    os.kill(child.pid, signum)
                    signalled.append(child.pid)

    return on_report


def test_a_batch_process_killed_after_its_first_report_leaves_no_attempt_running(
    make_settings, tmp_path, two_hosts
) -> None:
    """Killed mid-batch: the sources it reported keep their reports and get their attempts closed (a
    batch closes attempts in groups, so they were still open); the others are failed with a run."""
    settings = _settings(make_settings, tmp_path, two_hosts, "midway")
    batches, _ = harvest_batches(settings, None, 2)
    killed: list[int] = []
    kill_on_first_report = _signal_first_batch_on_its_report(signal.SIGKILL, batches[0], killed)
    reports = {r.source_id: r for r in harvest_on_cores(settings, processes=2, progress=kill_on_first_report)}
    assert killed
    assert sorted(reports) == sorted(batches[0] + batches[1])
    store = Store(settings.resolved_database_url)
    try:
        with store.session() as s:
            attempts = {(a.source_id, a.state) for a in s.query(HarvestAttemptRow)}
        runs = {sid: store.runs(sid) for sid in batches[0]}
    finally:
        store.close()
    assert not [a for a in attempts if a[1] == "running"]
    abandoned = [sid for sid in batches[0] if "killed by signal 9" in (reports[sid].message or "")]
    processed = [sid for sid in batches[0] if sid not in abandoned]
    assert processed  # the report that triggered the kill
    for sid in processed:  # closed with its own report, one run (written with its items)
        assert (sid, "done" if reports[sid].status in ("ok", "partial") else "failed") in attempts
        assert len(runs[sid]) == 1
    for sid in abandoned:  # never processed: a failed attempt and a failed run saying why
        assert (sid, "failed") in attempts
        assert [(r.status, r.error_code) for r in runs[sid]] == [("failed", "internal_error")]


def test_a_hung_batch_process_is_stopped_and_its_sources_fail_saying_so(
    make_settings, tmp_path, two_hosts, caplog
) -> None:
    """A batch process frozen after its first report (SIGSTOP: alive, silent, its attempts still open:
    a batch closes them in groups) does not make the harvest wait forever: after ``harvest_stall_s``
    without a report it is killed, its unreported sources fail saying it hung, every attempt it left
    open is closed, and the other batch finishes as usual."""
    stall = 30.0  # the healthy batch's first report comes within ~9 s even on a loaded 2-core machine
    settings = _settings(make_settings, tmp_path, two_hosts, "hung").model_copy(
        update={"harvest_stall_s": stall}
    )
    batches, _ = harvest_batches(settings, None, 2)
    frozen: list[int] = []
    freeze_on_first_report = _signal_first_batch_on_its_report(signal.SIGSTOP, batches[0], frozen)
    done: list[list[SourceReport]] = []
    harvesting = threading.Thread(  # a watchdog that fails would hang here: bounded by the join below
        target=lambda: done.append(harvest_on_cores(settings, processes=2, progress=freeze_on_first_report)),
        daemon=True,
    )
    try:
        with caplog.at_level(logging.ERROR, logger="pipeline.parallel"):
            harvesting.start()
            harvesting.join(timeout=stall + 120)
    finally:
        if harvesting.is_alive():
            for pid in frozen:
                os.kill(pid, signal.SIGKILL)
    assert not harvesting.is_alive(), "the harvest waited on a hung batch process"
    assert frozen
    assert f"sent no report for {stall:.0f} s: stopped as hung" in caplog.text
    reports = {r.source_id: r for r in done[0]}
    assert sorted(reports) == sorted(batches[0] + batches[1])
    hung = [s for s in batches[0] if "was stopped as hung" in (reports[s].message or "")]
    for source_id in hung:
        assert reports[source_id].status == "failed"
        assert reports[source_id].error_code == "internal_error"
        assert f"sent no report for {stall:.0f} s and was stopped as hung" in (
            reports[source_id].message or ""
        )
    assert len(hung) < len(batches[0])  # the report that froze it, at least, is its own
    assert "internal_error" not in {reports[s].error_code for s in batches[1]}
    assert sum(reports[s].counts.get("new", 0) for s in batches[1]) > 0
    store = Store(settings.resolved_database_url)
    try:
        with store.session() as s:
            attempts = {(a.source_id, a.state) for a in s.query(HarvestAttemptRow)}
    finally:
        store.close()
    assert {sid for sid, _ in attempts} >= set(batches[0])  # it had opened them before it froze
    assert not [a for a in attempts if a[1] == "running"]
    for source_id in hung:
        assert (source_id, "failed") in attempts


def test_stall_limit(make_settings) -> None:
    assert stall_limit_s(make_settings(harvest_stall_s=30)) == 30
    assert stall_limit_s(make_settings(health_stuck_after_s=3600, fetch_process_timeout_s=600)) == 3600
    assert stall_limit_s(make_settings(health_stuck_after_s=60, fetch_process_timeout_s=600)) == 1200


def test_missing_reports_names_the_exit() -> None:
    done = [SourceReport(source_id="a")]
    out = missing_reports(["a", "b"], done, 1)
    assert [(r.source_id, r.status, r.error_code) for r in out] == [("b", "failed", "internal_error")]
    assert "exited with code 1" in (out[0].message or "")
    assert out[0].errors[0].source_id == "b"
    assert missing_reports(["a"], done, 0) == []
    assert "was killed by signal 9" in (missing_reports(["b"], done, -9)[0].message or "")
    assert "could not be started" in (missing_reports(["b"], done, None)[0].message or "")
    assert "sent no report for 60 s and was stopped as hung" in (
        missing_reports(["b"], done, -9, 60.0)[0].message or ""
    )


def test_process_count(make_settings) -> None:
    assert process_count(make_settings(harvest_processes=3)) == 3
    assert process_count(make_settings(harvest_processes=3), 1) == 1
    assert process_count(make_settings()) == max(1, len(os.sched_getaffinity(0)) // 2)  # 1 on this 2-core box


def test_processes_below_one_are_refused(capsys) -> None:
    from pipeline.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["harvest", "--processes", "-3"])
    assert exit_.value.code == 2
    assert "--processes: must be a whole number of 1 or more, not '-3'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="processes must be 1 or more, not 0"):
        process_count(Settings(), 0)
