"""The registry: validation, add/change/pause/remove, platform detection, the production file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.registry import (
    RegistryError,
    add_source,
    change_source,
    detect_platform,
    parse_registry,
    remove_source,
    sniff_platform,
)
from tests.conftest import write_registry

REPO = Path(__file__).resolve().parents[2]


def test_production_registry_is_valid_and_every_entry_is_unverified() -> None:
    path = REPO / "registry" / "production.yaml"
    registry = parse_registry(path.read_text(encoding="utf-8"), str(path))
    assert len(registry.sources) >= 15
    assert all(s.verified is False for s in registry.sources)
    assert all(s.url.startswith("https://") for s in registry.sources)
    assert {"oecd-opsi", "vvsg", "vlaio", "stad-gent"} <= {n.id for n in registry.networks}


def test_add_change_pause_remove(tmp_path: Path) -> None:
    path = write_registry(tmp_path / "r.yaml", [])
    add_source(path, {"id": "a", "network": "net-a", "title": "A", "url": "http://93.184.215.14/feed"})
    with pytest.raises(RegistryError, match="already exists"):
        add_source(path, {"id": "a", "network": "net-a", "title": "A", "url": "http://93.184.215.14/feed"})
    with pytest.raises(RegistryError, match="blocked_address"):
        add_source(path, {"id": "b", "network": "net-a", "title": "B", "url": "http://169.254.169.254/"})
    with pytest.raises(RegistryError, match="blocked_scheme"):
        add_source(path, {"id": "c", "network": "net-a", "title": "C", "url": "file:///etc/passwd"})
    with pytest.raises(RegistryError, match="unknown network"):
        add_source(path, {"id": "d", "network": "nope", "title": "D", "url": "http://93.184.215.14/feed"})
    with pytest.raises(RegistryError):
        add_source(
            path,
            {
                "id": "e",
                "network": "net-a",
                "title": "E",
                "url": "http://93.184.215.14/",
                "platform": "gopher",
            },
        )
    change_source(path, "a", {"paused": True})
    with pytest.raises(RegistryError, match="blocked_address"):
        change_source(path, "a", {"url": "http://10.0.0.1/feed"})
    registry = parse_registry(path.read_text(encoding="utf-8"))
    assert [(s.id, s.paused, s.url) for s in registry.sources] == [("a", True, "http://93.184.215.14/feed")]
    remove_source(path, "a")
    assert parse_registry(path.read_text(encoding="utf-8")).sources == []


@pytest.mark.parametrize(
    ("body", "platform"),
    [
        (b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>', "feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": []}', "feed"),
        (b"BEGIN:VCALENDAR\r\nEND:VCALENDAR", "ical"),
        (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"/>', "sitemap"),
        (b'<?xml version="1.0"?><opml version="2.0"><body/></opml>', "opml"),
        (b'{"@context": "https://schema.org", "@type": "Event", "name": "x"}', "jsonld"),
        (b'<html><head><script type="application/ld+json">{}</script></head></html>', "html"),
    ],
)
def test_sniff_platform(body: bytes, platform: str) -> None:
    assert sniff_platform(body, "http://127.0.0.1/x")[0] == platform


def test_feed_autodiscovery_and_detection_over_http(feed_dir: Path, feed_server: str, make_settings) -> None:
    (feed_dir / "home.html").write_text(
        '<!doctype html><html><head><link rel="alternate" type="application/rss+xml" '
        'href="/guardian_rss2.xml"></head><body>Lab</body></html>',
        encoding="utf-8",
    )
    assert detect_platform(make_settings(), f"{feed_server}/home.html") == (
        "feed",
        f"{feed_server}/guardian_rss2.xml",
    )
    with pytest.raises(RegistryError, match="not_a|no feed link|cannot tell"):
        detect_platform(make_settings(), f"{feed_server}/not_a_feed.txt")
