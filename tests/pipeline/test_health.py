"""Harvest health: auto-pause with webhook and e-mail (to a real local SMTP sink), dead sources, batching."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.contracts import NetworkSpec, Outcome, Registry, SourceReport, SourceSpec
from pipeline.schedule import batch_by_host, host_of, is_due, next_interval
from store import partners
from store.partner_models import SourceHealthRow
from store.repository import Store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_sink() -> Iterator[tuple[int, list]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it receives."""
    from aiosmtpd.controller import Controller

    received: list = []

    class Sink:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    port = _free_port()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[str, list]]:
    """A real HTTP server on 127.0.0.1 that records JSON POSTs."""
    got: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/innonet", got
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    s.sync_registry(
        Registry(
            networks=[NetworkSpec(id="net-a", name="A")],
            sources=[SourceSpec(id="flaky", network="net-a", title="Flaky", url="http://127.0.0.1:9/feed")],
        )
    )
    yield s
    s.close()


def _failed(now: datetime) -> SourceReport:
    return SourceReport(
        source_id="flaky",
        status="failed",
        error_code="http_error",
        message="HTTP 503",
        started_at=now,
        finished_at=now,
    )


def test_repeated_failures_pause_the_source_and_notify_the_owner(store, make_settings, smtp_sink, webhook):
    from pipeline.health import record_result

    smtp_port, mails = smtp_sink
    hook_url, hooks = webhook
    settings = make_settings(
        health_pause_after=3, smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_from="ops@innonet.test"
    )
    partners.set_contact(store, "net-a", hook_url, "owner@lab.example")
    spec = SourceSpec(id="flaky", network="net-a", title="Flaky", url="http://127.0.0.1:9/feed")
    now = datetime.now(UTC)
    assert record_result(settings, store, spec, _failed(now), http_status=503) == []
    assert record_result(settings, store, spec, _failed(now), http_status=503) == []
    delivered = record_result(settings, store, spec, _failed(now), http_status=503)
    assert delivered == ["webhook:204", "email:sent"]
    # a fourth failure does not notify again
    assert record_result(settings, store, spec, _failed(now), http_status=503) == []

    with store.session() as s:
        h = s.get(SourceHealthRow, "flaky")
        assert h.auto_paused is True
        assert h.consecutive_failures == 4
        assert h.http_status == 503
        assert "3 consecutive failed harvests" in h.paused_reason
    assert [h["event"] for h in hooks] == ["source_paused"]
    assert hooks[0]["source_id"] == "flaky"
    assert hooks[0]["network"] == "net-a"
    assert len(mails) == 1
    sender, rcpts, content = mails[0]
    assert (sender, rcpts) == ("ops@innonet.test", ["owner@lab.example"])
    msg = message_from_bytes(content)
    assert msg["Subject"] == "[innonet] source paused: flaky"
    assert "HTTP 503" in msg.get_payload()
    # the effective registry now pauses it; resuming through the partner path lifts the pause
    registry = partners.effective_registry(
        store, Registry(networks=[NetworkSpec(id="net-a", name="A")], sources=[spec])
    )
    assert registry.sources[0].paused is True


def test_unreachable_webhook_and_smtp_are_reported_not_raised(store, make_settings):
    from pipeline.health import notify

    settings = make_settings(smtp_host="127.0.0.1", smtp_port=_free_port(), notify_timeout_s=2)
    partners.set_contact(store, "net-a", f"http://127.0.0.1:{_free_port()}/hook", "owner@lab.example")
    out = notify(settings, store, "net-a", "source_paused", {"source_id": "flaky"})
    assert out == ["webhook:error:ConnectError", "email:error:ConnectionRefusedError"]


def test_webhooks_to_private_addresses_are_refused_without_the_allowlist(store, make_settings, webhook):
    from pipeline.health import notify

    hook_url, hooks = webhook
    settings = make_settings(fetch_allow_hosts=[])
    partners.set_contact(store, "net-a", hook_url, None)
    assert notify(settings, store, "net-a", "source_paused", {}) == ["webhook:error:BlockedURL"]
    assert hooks == []


def test_dead_sources_are_reported_once(store, make_settings, webhook):
    from pipeline.health import detect_dead

    hook_url, hooks = webhook
    settings = make_settings(health_dead_after_days=30)
    partners.set_contact(store, "net-a", hook_url, None)
    long_ago = datetime.now(UTC) - timedelta(days=45)
    with store.session() as s, s.begin():
        s.add(
            SourceHealthRow(
                source_id="flaky",
                last_success_at=long_ago,
                last_attempt_at=datetime.now(UTC),
                counts={},
                warnings=[],
            )
        )
    assert detect_dead(settings, store) == ["flaky"]
    assert detect_dead(settings, store) == []
    assert [h["event"] for h in hooks] == ["source_dead"]
    assert hooks[0]["no_success_since"] == f"{long_ago:%Y-%m-%d}"


def test_batches_keep_each_host_together_and_are_bounded():
    sources = [(f"s{i}", f"https://host{i % 7}.example/feed/{i}") for i in range(100)]
    sources += [("big1", "https://BIG.example/a"), ("big2", "https://big.example/b")]
    batches = batch_by_host(sources, 4)
    assert len(batches) == 4
    assert sorted(i for b in batches for i in b) == sorted(i for i, _ in sources)
    hosts_per_batch = [{host_of(dict(sources)[i]) for i in b} for b in batches]
    for a in range(4):
        for b in range(a + 1, 4):
            assert hosts_per_batch[a].isdisjoint(hosts_per_batch[b])
    assert batch_by_host([], 4) == []
    assert len(batch_by_host(sources, 32)) == 8  # never more batches than hosts
    assert batch_by_host(sources, 4) == batches  # deterministic


def test_interval_and_due():
    assert next_interval(3600, 86400, failures=0, quiet_streak=0) == 3600
    assert next_interval(3600, 86400, failures=3, quiet_streak=0) == 28800
    assert next_interval(3600, 86400, failures=20, quiet_streak=0) == 86400
    assert next_interval(3600, 86400, failures=0, quiet_streak=2) == 8100
    assert next_interval(3600, 86400, failures=0, quiet_streak=0, own_interval_s=900) == 900
    now = datetime.now(UTC)
    assert is_due(None, now)
    assert is_due(now - timedelta(seconds=1), now)
    assert not is_due(now + timedelta(seconds=1), now)
    assert is_due((now - timedelta(seconds=1)).replace(tzinfo=None), now)


def test_small_cycles_are_not_split_into_many_batches():
    """Each batch pays a crawler start and its busiest host's politeness bound: no tiny batches."""
    sources = [(f"s{h}-{i}", f"https://h{h}.example/{i}") for h in range(10) for i in range(10)]
    assert len(batch_by_host(sources, 4, min_batch_sources=50)) == 2  # 100 sources / 50
    assert len(batch_by_host(sources[:30], 4, min_batch_sources=50)) == 1
    assert len(batch_by_host(sources, 4, min_batch_sources=1)) == 4
    for batches in (batch_by_host(sources, 4, min_batch_sources=50), batch_by_host(sources, 16, 1)):
        hosts = [{host_of(dict(sources)[i]) for i in b} for b in batches]
        assert sum(len(h) for h in hosts) == len(set().union(*hosts)) == 10  # every host in one batch
        assert sorted(i for b in batches for i in b) == sorted(i for i, _ in sources)


def test_finish_many_closes_a_group_in_one_go_and_notifies_after_commit(store, make_settings, webhook):
    """Attempts, health and back-off of several sources written together; a pause still notifies."""
    from pipeline.contracts import FetchResult
    from pipeline.health import Tracker
    from store.partner_models import HarvestAttemptRow

    hook_url, hooks = webhook
    partners.set_contact(store, "net-a", hook_url, None)
    specs = [SourceSpec(id="flaky", network="net-a", title="Flaky", url="http://127.0.0.1:9/feed")]
    specs += [
        SourceSpec(id=f"fine{i}", network="net-a", title=f"Fine {i}", url=f"http://127.0.0.1:9/f{i}")
        for i in range(3)
    ]
    store.sync_registry(Registry(networks=[NetworkSpec(id="net-a", name="A")], sources=specs))
    settings = make_settings(health_pause_after=1)
    now = datetime.now(UTC)
    with Tracker(settings, store, specs) as tracker:
        done = [(_failed(now), FetchResult(source_id="flaky", url=specs[0].url, status=503, fetched_at=now))]
        for spec in specs[1:]:
            report = SourceReport(source_id=spec.id, status="ok", started_at=now, finished_at=now)
            report.count(Outcome.NEW)
            done.append(
                (report, FetchResult(source_id=spec.id, url=spec.url, ok=True, status=200, fetched_at=now))
            )
        delivered = tracker.finish_many(done)
        assert tracker.close() == []  # nothing left running
    assert delivered == ["webhook:204"]
    assert [(h["event"], h["source_id"]) for h in hooks] == [("source_paused", "flaky")]
    with store.session() as s:
        attempts = {a.source_id: (a.state, a.status) for a in s.query(HarvestAttemptRow)}
        health = {h.source_id: h for h in s.query(SourceHealthRow)}
    assert attempts == {"flaky": ("failed", "failed")} | {f"fine{i}": ("done", "ok") for i in range(3)}
    assert health["flaky"].auto_paused
    assert health["flaky"].http_status == 503
    assert health["flaky"].consecutive_failures == 1
    for i in range(3):
        h = health[f"fine{i}"]
        assert (h.last_status, h.http_status, h.auto_paused) == ("ok", 200, False)
        assert h.counts == {"new": 1, "updated": 0, "unchanged": 0, "failed": 0}
        assert h.next_due_at is not None
        assert h.duration_s is not None


def test_plan_includes_the_sources_a_list_names(tmp_path, make_settings):
    """Sources synced from an OPML list are harvested by the DAG too, in their host's batch."""
    from pipeline.registry import load_registry, sync_listed_sources
    from pipeline.schedule import plan_cycle
    from tests.conftest import write_registry

    registry_path = write_registry(
        tmp_path / "registry.yaml",
        [
            {
                "id": "list",
                "network": "net-a",
                "title": "L",
                "url": "http://127.0.0.1:9/l.opml",
                "platform": "opml",
            },
            {"id": "own", "network": "net-a", "title": "O", "url": "http://127.0.0.2:9/feed"},
        ],
    )
    settings = make_settings(registry_path=registry_path, fetch_allow_hosts=["127.0.0.1", "127.0.0.2"])
    store = Store(settings.resolved_database_url)
    try:
        store.sync_registry(load_registry(settings))
        parent = next(s for s in load_registry(settings).sources if s.id == "list")
        entries = [
            {"id": f"list--{n}", "network": "net-a", "title": n, "url": f"http://127.0.0.1:9/{n}.xml"}
            for n in ("a", "b")
        ]
        assert sync_listed_sources(store, parent, entries, list(settings.fetch_allow_hosts))["new"] == 2
    finally:
        store.close()
    batches = plan_cycle(settings, only=None)
    assert sorted(i for b in batches for i in b) == ["list", "list--a", "list--b", "own"]
    assert len(batches) == 1  # 4 sources < harvest_min_batch_sources
    assert batch_by_host([("list", "http://127.0.0.1:9/l.opml"), ("own", "http://127.0.0.2:9/f")], 4) == [
        ["list"],
        ["own"],
    ]
