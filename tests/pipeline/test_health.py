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

from pipeline.contracts import NetworkSpec, Registry, SourceReport, SourceSpec
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
