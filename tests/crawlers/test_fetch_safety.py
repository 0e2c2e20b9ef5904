"""Catalogue sections B-E on loopback: every bad input gets its precise code, canaries stay at zero.

One real crawl (the production Scrapy child process) fetches ~30 hostile sources at once;
the assertions then read each source's report. Only 127.0.0.1 is allowlisted: the canaries
on 127.0.0.2 stand for internal services (metadata endpoint, intranet) and must never be
connected to, whether reached by redirect, by a name that resolves there, or by rebinding.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.contracts import SourceReport
from pipeline.harvest import harvest
from pipeline.settings import Settings
from store.repository import Store
from tests.conftest import write_registry
from tests.crawlers.hostile import Canary, HostileServer


def _closed_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class World:
    """Servers, canaries, the settings and the first run's reports."""

    def __init__(self, root: Path) -> None:
        self.canary = Canary("127.0.0.2")
        self.origin = HostileServer(robots="allow", canary_url=self.canary.url)
        port = int(self.origin.url.rsplit(":", 1)[1])
        self.rebind_canary = Canary("127.0.0.2", port)  # same port as the origin, other address
        self.robots_503 = HostileServer(robots="503")
        self.robots_404 = HostileServer(robots="404")
        self.robots_no = HostileServer(robots="disallow_all")
        o = self.origin.url
        self.urls = {
            "good": f"{o}/feed.xml",
            "moved": f"{o}/moved",
            "slow": f"{o}/slow",
            "silent": f"{o}/silent",
            "bomb-gzip": f"{o}/bomb-gzip",
            "bomb-deflate": f"{o}/bomb-deflate",
            "bomb-br": f"{o}/bomb-br",
            "huge-length": f"{o}/huge-length",
            "endless": f"{o}/endless",
            "loop": f"{o}/loop-a",
            "to-metadata": f"{o}/to-metadata",
            "to-ten": f"{o}/to-ten",
            "to-canary": f"{o}/to-canary",
            "hops": f"{o}/hop1",
            "to-file": f"{o}/to-file",
            "login": f"{o}/login",
            "empty": f"{o}/empty",
            "gone": f"{o}/gone",
            "missing": f"{o}/no-such-feed.xml",
            "busy": f"{o}/busy",
            "xxe": f"{o}/xxe.xml",
            "dtd": f"{o}/dtd.xml",
            "laughs": f"{o}/laughs.xml",
            "private": f"{o}/private/feed.xml",
            "internal-name": f"http://internal.test:{self.canary.port}/feed.xml",
            "rebind": f"http://rebind.test:{port}/feed.xml",
            "literal-ten": "http://10.1.2.3/feed.xml",
            "literal-metadata": "http://169.254.169.254/latest/meta-data/",
            "decimal-internal": f"http://2130706434:{self.canary.port}/",
            "ftp": "ftp://127.0.0.1/feed.xml",
            "refused": f"http://127.0.0.1:{_closed_port()}/feed.xml",
            "robots-503": f"{self.robots_503.url}/feed.xml",
            "robots-404": f"{self.robots_404.url}/feed.xml",
            "robots-no": f"{self.robots_no.url}/feed.xml",
        }
        sources = [
            {"id": sid, "network": "net-a", "title": sid, "url": url} for sid, url in self.urls.items()
        ]
        sources += [
            {
                "id": "sitemap-laughs",
                "network": "net-a",
                "title": "s",
                "url": f"{o}/sitemap-laughs.xml",
                "platform": "sitemap",
            },
            {
                "id": "jsonld-context",
                "network": "net-a",
                "title": "j",
                "url": f"{o}/jsonld-canary",
                "platform": "html",
            },
        ]
        self.settings = Settings(
            data_dir=root / "data",
            registry_path=write_registry(root / "registry.yaml", sources),
            fetch_allow_hosts=["127.0.0.1"],
            fetch_delay_s=0.0,
            fetch_per_host=4,
            fetch_timeout_s=2.0,
            fetch_max_bytes=1024 * 1024,
            fetch_dns_timeout_s=2.0,
            fetch_resolve={"internal.test": ["127.0.0.2"], "rebind.test": ["127.0.0.1", "127.0.0.2"]},
            base_url="http://innonet.test",
        )
        started = time.monotonic()
        self.reports: dict[str, SourceReport] = {r.source_id: r for r in harvest(self.settings)}
        self.first_run_s = time.monotonic() - started

    def close(self) -> None:
        for server in (self.origin, self.robots_503, self.robots_404, self.robots_no):
            server.close()
        self.canary.close()
        self.rebind_canary.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("hostile"))
    yield w
    w.close()


EXPECTED = {
    "slow": "deadline_exceeded",  # C30: 1 byte every 0.2 s; the 2 s deadline is total, not per read
    "silent": "deadline_exceeded",  # B18: accepts, never answers
    "bomb-gzip": "too_large",  # C24: 64 MiB of zeros gzip-compressed, cap 1 MiB after decompression
    "bomb-deflate": "too_large",  # C26
    "bomb-br": "too_large",  # C25
    "huge-length": "too_large",  # C22: Content-Length 5 GB, refused before reading
    "endless": "too_large",  # C23: chunked stream without end
    "loop": "too_many_redirects",  # B14
    "to-metadata": "blocked_address",  # B9: 302 to 169.254.169.254
    "to-ten": "blocked_address",  # B13: 301 to 10.0.0.5
    "to-canary": "blocked_address",  # B10: 302 to 127.0.0.2 (not allowlisted)
    "hops": "blocked_address",  # B10: public -> public -> internal, blocked on the hop
    "to-file": "blocked_scheme",  # B15
    "login": "not_a_feed",  # C32: HTML login page with 200
    "empty": "not_a_feed",  # C32: 200 with an empty body
    "gone": "http_410",
    "missing": "http_404",
    "busy": "http_429",  # C33
    "private": "robots_disallowed",  # D38
    "internal-name": "blocked_address",  # B3: a name that resolves to an internal address
    "literal-ten": "blocked_address",  # A2 at fetch time
    "literal-metadata": "blocked_address",
    "decimal-internal": "blocked_address",  # A2: 2130706434 == 127.0.0.2 spelled as a number
    "ftp": "blocked_scheme",  # A1
    "refused": "connection_refused",
    "robots-503": "robots_unreachable",  # D35: 5xx robots.txt = complete disallow
    "robots-no": "robots_disallowed",
    "sitemap-laughs": "entity_rejected",  # E40 in a sitemap (lxml path)
}


@pytest.mark.parametrize(("source_id", "code"), sorted(EXPECTED.items()))
def test_each_bad_input_gets_its_precise_code(world: World, source_id: str, code: str) -> None:
    report = world.reports[source_id]
    assert report.status == "failed", (source_id, report.status, report.message)
    assert report.error_code == code, (source_id, report.error_code, report.message)
    assert report.message


def test_good_sources_still_work_next_to_the_hostile_ones(world: World) -> None:
    assert world.reports["good"].status == "ok"
    assert world.reports["good"].counts["new"] == 55
    assert world.reports["moved"].status == "ok"  # a same-host 301 is followed
    assert world.reports["robots-404"].status == "ok"  # D36: 4xx robots.txt = allow all
    assert world.reports["rebind"].status in ("ok", "failed")
    if world.reports["rebind"].status == "failed":
        assert world.reports["rebind"].error_code == "blocked_address"


def test_canaries_record_zero_hits(world: World) -> None:
    """B9-B12, E43-E45: no redirect, name, rebinding answer, DTD, entity or @context reached them."""
    assert world.canary.hits == 0
    assert world.rebind_canary.hits == 0


def test_xml_attacks_are_neither_expanded_nor_fetched(world: World) -> None:
    store = Store(world.settings.resolved_database_url)
    try:
        for sid in ("xxe", "dtd", "laughs"):
            assert world.reports[sid].status in ("ok", "partial", "failed"), sid
        graphs = " ".join(r.graph for r in _records(store))
        assert "lollollol" not in graphs  # E40: billion laughs not expanded
        assert world.canary.url not in graphs or world.canary.hits == 0
    finally:
        store.close()
    assert world.reports["jsonld-context"].status == "ok"  # E45: @context not fetched, item still read


def test_the_crawl_does_not_hang(world: World) -> None:
    # 36 sources, four of which stall until the 2 s deadline, on 2 cores: far below the
    # 600 s process deadline; this guards against a stall that only the process kill would end.
    assert world.first_run_s < 120, world.first_run_s


def test_user_agent_with_contact_url(world: World) -> None:
    agents = {headers.get("User-Agent") for _, headers in world.origin.log}
    assert agents == {world.settings.user_agent}
    assert "+http" in world.settings.user_agent  # a contact URL


def test_retry_after_is_recorded_and_honoured_and_reruns_are_conditional(world: World) -> None:
    store = Store(world.settings.resolved_database_url)
    try:
        state = store.fetch_state("busy")
        assert state is not None
        assert state.retry_after_until is not None
        assert state.http_status == 429
        before_busy = world.origin.hits("/busy")
        before_records = store.count_records()
        again = {r.source_id: r for r in harvest(world.settings, ["busy", "good"])}
        assert again["busy"].error_code == "retry_later"
        assert world.origin.hits("/busy") == before_busy  # not asked again before Retry-After
        assert again["good"].status == "not_modified"
        assert world.origin.log[-1][1].get("If-None-Match") == '"v1"'
        assert store.count_records() == before_records
    finally:
        store.close()


def _records(store: Store) -> list:
    from sqlalchemy import select

    from store.models import RecordRow

    with store.session() as s:
        return list(s.scalars(select(RecordRow)))


def test_many_sources_on_one_host_share_its_concurrency_cap(tmp_path: Path) -> None:
    """D39: 12 sources on one CMS host, 2 connections at most, and the run still completes."""
    server = HostileServer()
    try:
        sources = [
            {"id": f"cms-{i}", "network": "net-a", "title": f"cms {i}", "url": f"{server.url}/paced?n={i}"}
            for i in range(12)
        ]
        settings = Settings(
            data_dir=tmp_path / "data",
            registry_path=write_registry(tmp_path / "registry.yaml", sources),
            fetch_allow_hosts=["127.0.0.1"],
            fetch_delay_s=0.0,
            fetch_per_host=2,
            base_url="http://innonet.test",
        )
        reports = harvest(settings)
        assert {r.status for r in reports} == {"ok"}
        assert server.hits("/paced") == 0  # paths carry a query string
        assert sum(1 for p, _ in server.log if p.startswith("/paced")) == 12
        assert server.max_active == 2
    finally:
        server.close()
