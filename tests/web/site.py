"""A harvested innonet served by a real uvicorn on 127.0.0.1, for the page and browser tests.

The served folder holds real corpus feeds (``feed_dir``), the Guardian feed a second
time under another network (so copies cluster and show "shared by 2 networks"), a
calendar of upcoming events written for the test (dates relative to today), and a
hostile feed whose title and description carry script injections.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

#: What the hostile feed carries; the test asserts it shows as inert text.
INJECTED_TITLE = (
    'Budget <script>window.__pwned = 1; alert("xss")</script> <img src=x onerror="window.__pwned=2">'
)
INJECTED_DESCRIPTION = (
    'Participatory budget <img src="x" onerror="alert(document.cookie)">'
    '<script>document.body.innerHTML = "owned"</script> <a href="javascript:alert(1)">click</a>'
)


def hostile_feed() -> str:
    """An RSS 2.0 feed whose item title and description are script injections (entity-escaped, as feeds do)."""
    from xml.sax.saxutils import escape

    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Hostile</title>'
        "<link>http://hostile.test/</link><description>x</description>"
        "<item><title>" + escape(INJECTED_TITLE) + "</title>"
        "<link>http://hostile.test/post-1</link><guid>hostile-1</guid>"
        "<pubDate>Mon, 02 Mar 2026 10:00:00 +0000</pubDate>"
        "<description>" + escape(INJECTED_DESCRIPTION) + "</description></item></channel></rss>\n"
    )


def calendar(now: datetime) -> str:
    """Three upcoming events in two places (iCalendar, UTC times)."""

    def stamp(days: int, hour: int) -> str:
        return (now + timedelta(days=days)).strftime(f"%Y%m%dT{hour:02d}0000Z")

    events = [
        ("ev-1", "Participatiecafé: burgerbudget in de praktijk", "Gent, Stadshal", 10, 14),
        ("ev-2", "Living lab day: regulatory sandboxes", "Brussels, BeCentral", 20, 9),
        ("ev-3", "Atelier budget participatif", "Gent, Stadshal", 30, 18),
    ]
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//innonet tests//EN"]
    for uid, summary, location, days, hour in events:
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid}@innonet.test",
            f"DTSTAMP:{stamp(0, 8)}",
            f"DTSTART:{stamp(days, hour)}",
            f"DTEND:{stamp(days, hour + 2)}",
            f"SUMMARY:{summary}",
            f"LOCATION:{location}",
            "DESCRIPTION:An open session for public servants and citizens.",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def prepare_served(feed_dir: Path, corpus: Path) -> None:
    """Add the copy, the calendar and the hostile feed to the served folder."""
    shutil.copy(corpus / "rss_atom" / "guardian_rss2.xml", feed_dir / "guardian_copy.xml")
    (feed_dir / "events.ics").write_text(calendar(datetime.now(UTC)), encoding="utf-8")
    (feed_dir / "hostile.xml").write_text(hostile_feed(), encoding="utf-8")


SOURCES = [
    {
        "id": "guardian",
        "network": "net-a",
        "title": "Guardian",
        "url": "{samples}/guardian_rss2.xml",
        "language": "en",
    },
    {
        "id": "guardian-copy",
        "network": "net-b",
        "title": "Guardian (relayed)",
        "url": "{samples}/guardian_copy.xml",
        "language": "en",
    },
    {
        "id": "heise",
        "network": "net-b",
        "title": "heise",
        "url": "{samples}/heise_de_atom.xml",
        "language": "de",
    },
    {
        "id": "psy",
        "network": "net-c",
        "title": "Cercle Psy",
        "url": "{samples}/cerclepsy_fr_latin1_no_decl.xml",
    },
    {
        "id": "agenda",
        "network": "net-c",
        "title": "Agenda",
        "url": "{samples}/events.ics",
        "platform": "ical",
        "kind": "event",
    },
    {
        "id": "hostile",
        "network": "net-a",
        "title": "Hostile blog",
        "url": "{samples}/hostile.xml",
        "language": "en",
    },
    {"id": "broken", "network": "net-a", "title": "Plain text", "url": "{samples}/not_a_feed.txt"},
]
NETWORKS = [
    {"id": "net-a", "name": "Lab Alpha", "country": "BE"},
    {"id": "net-b", "name": "City Network Beta", "country": "NL"},
    {"id": "net-c", "name": "Observatoire Gamma", "country": "FR"},
]


@dataclass
class Site:
    url: str
    settings: object
    partner_key: str
    feed_url: str
    feed_dir: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(settings) -> Iterator[str]:
    """A real uvicorn server with the innonet app on a free 127.0.0.1 port."""
    import uvicorn

    from api.main import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        raise RuntimeError("uvicorn did not start")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


def build(
    settings_factory, tmp_path: Path, feed_dir: Path, feed_url: str, corpus: Path, **overrides
) -> tuple:
    """Harvest and index the fixture; issue a partner key for net-a. Returns (settings, key)."""
    from pipeline.harvest import harvest
    from pipeline.index import index_pending
    from store import partners
    from store.repository import Store
    from tests.conftest import write_registry

    prepare_served(feed_dir, corpus)
    registry = write_registry(tmp_path / "registry.yaml", SOURCES, NETWORKS)
    settings = settings_factory(registry_path=registry, samples_url=feed_url, **overrides)
    harvest(settings)
    result = index_pending(settings)
    assert result["failed"] == 0, result
    store = Store(settings.resolved_database_url)
    try:
        key = partners.issue_key(store, "net-a", "web tests")
    finally:
        store.close()
    return settings, key


@contextmanager
def harvested(tmp: Path, **overrides: object) -> Iterator[tuple]:
    """Serve the fixture folder, harvest and index it; yields (settings, partner key, feed URL)."""
    from crawlers.samples.server import serve_directory
    from pipeline.settings import Settings
    from tests.conftest import CORPUS

    served = tmp / "served"
    served.mkdir()
    for name in ("guardian_rss2.xml", "heise_de_atom.xml", "cerclepsy_fr_latin1_no_decl.xml"):
        shutil.copy(CORPUS / "rss_atom" / name, served / name)
    (served / "not_a_feed.txt").write_text("Sorry, our CMS is down. Try again later.\n")

    def make(**more: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": tmp / "data",
            "fetch_allow_hosts": ["127.0.0.1"],
            "fetch_delay_s": 0.0,
            "fetch_timeout_s": 10.0,
            "base_url": "http://innonet.test",
            **overrides,
        }
        values.update(more)
        return Settings(**values)  # type: ignore[arg-type]

    with serve_directory(served) as feed_url:
        settings, key = build(make, tmp, served, feed_url, CORPUS)
        yield settings, key, feed_url
