"""Platform adapters on real corpus files: JSON Feed, iCalendar, HTML structured data,
sitemaps, OPML and UiTdatabank event JSON-LD (bytes in, records out, no network)."""

from __future__ import annotations

import gzip
import time
from datetime import datetime
from pathlib import Path

import pytest

from crawlers.platforms.base import UnsafeXML, parse_xml
from crawlers.platforms.feed import parse_feed
from crawlers.platforms.html import follow_ups as html_follow_ups
from crawlers.platforms.html import parse_page
from crawlers.platforms.ical import parse_ical
from crawlers.platforms.opml import parse_innonet_registry, parse_opml
from crawlers.platforms.sitemap import follow_ups as sitemap_follow_ups
from crawlers.platforms.sitemap import parse_sitemap
from crawlers.platforms.uitdatabank import parse_uitdatabank
from pipeline.contracts import SourceSpec


def spec(platform: str = "feed", **options: object) -> SourceSpec:
    return SourceSpec(
        id="s", network="n", title="t", url="http://127.0.0.1/x", platform=platform, options=dict(options)
    )  # type: ignore[arg-type]


def test_json_feed_is_read_by_the_feed_platform(corpus: Path) -> None:
    outcome = parse_feed((corpus / "rss_atom" / "jsonfeed_example.json").read_bytes(), spec())
    assert outcome.fatal is None
    assert len(outcome.items) > 5
    first = outcome.items[0]
    assert first.title
    assert first.url
    assert first.published is not None
    assert first.published.tzinfo


def test_json_that_is_no_feed_is_not_a_feed() -> None:
    outcome = parse_feed(b'{"hello": "world"}', spec())
    assert outcome.fatal is not None
    assert outcome.fatal.code == "not_a_feed"


def test_ical_recurrences_expand_in_the_window_with_time_zones(corpus: Path) -> None:
    body = (corpus / "ical" / "rie_machbar_16_feb_2019.ics").read_bytes()
    outcome = parse_ical(body, spec("ical", now="2019-02-16", window_past_days=0, window_future_days=30))
    assert outcome.fatal is None
    events = outcome.items
    assert events
    assert all(e.kind == "event" for e in events)
    assert len({e.native_id for e in events}) == len(events)  # one record per occurrence
    assert all(e.start is not None and e.start.tzinfo is not None for e in events)
    assert all(
        datetime(2019, 2, 15).astimezone() <= e.start <= datetime(2019, 3, 19).astimezone() for e in events
    )
    assert {e.timezone for e in events if not e.all_day} == {"Europe/Berlin"}
    recurring = [e for e in events if e.extra["recurring"]]
    assert len(recurring) > len({e.extra["uid"] for e in recurring})  # a series gave several occurrences
    assert all(e.start_raw for e in events)


def test_ical_recurrence_bomb_is_capped() -> None:
    """E54: FREQ=SECONDLY;COUNT=1000000000 costs at most max_instances steps (Radicale#2188)."""
    body = (
        b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:bomb\r\nSUMMARY:tick\r\n"
        b"DTSTART:20260101T000000Z\r\nRRULE:FREQ=SECONDLY;COUNT=1000000000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    started = time.monotonic()
    outcome = parse_ical(body, spec("ical", now="2026-01-01T00:00:00+00:00", max_instances=500))
    assert len(outcome.items) == 500
    assert any("500" in w for w in outcome.warnings)
    assert time.monotonic() - started < 30  # not a benchmark: a hang guard (the uncapped rule runs for hours)


def test_broken_calendars_get_precise_codes(corpus: Path) -> None:
    assert parse_ical(b"<html>nope</html>", spec("ical")).fatal.code == "not_a_calendar"  # type: ignore[union-attr]
    todo_only = (corpus / "ical" / "nodeical_utf8-french-calendar.ics").read_bytes()
    assert parse_ical(todo_only, spec("ical")).fatal.code == "no_events"  # type: ignore[union-attr]
    missing = (corpus / "ical" / "icalendar_issue_722_missing_timezones.ics").read_bytes()
    outcome = parse_ical(missing, spec("ical", now="2020-01-01", window_past_days=36500))
    assert outcome.fatal is None  # events without DTSTART fail alone, the rest is read
    assert any(e.code == "missing_field" for e in outcome.errors) or outcome.items


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("schemaorg_Event.001.html", "event"),
        ("schemaorg_Event.002.html", "event"),  # events nested in a MusicGroup (microdata)
        ("songkick_elysianfields.html", "event"),
        ("github_blog_blogposting.html", "news"),
        ("computerbase_de_newsarticle.html", "news"),
        ("zeit_de_article.html", "news"),
    ],
)
def test_html_structured_data(corpus: Path, name: str, kind: str) -> None:
    body = (corpus / "html_structured" / name).read_bytes()
    outcome = parse_page(body, spec("html"), "text/html", "http://127.0.0.1/page")
    assert outcome.fatal is None
    assert any(i.kind == kind and i.title for i in outcome.items), [(i.kind, i.title) for i in outcome.items]
    for item in outcome.items:
        if item.kind == "event":
            assert item.start is not None
            assert item.start.tzinfo is not None
            assert item.start_raw


def test_html_selectors_for_pages_without_markup() -> None:
    html = b"""<!doctype html><html><body>
      <div class="news"><h2><a href="/n/1">First news</a></h2><time datetime="2026-05-01T10:00:00+02:00">1 May</time></div>
      <div class="news"><h2><a href="/n/2">Second news</a></h2><time datetime="2026-05-02">2 May</time></div>
      <div class="news"><h2></h2></div></body></html>"""
    source = spec(
        "html",
        item="div.news",
        fields={"title": "h2 a::text", "url": "h2 a::attr(href)", "published": "time::attr(datetime)"},
    )
    outcome = parse_page(html, source, "text/html", "http://127.0.0.1/list")
    assert [i.title for i in outcome.items] == ["First news", "Second news"]
    assert outcome.items[0].url == "http://127.0.0.1/n/1"
    assert outcome.items[0].published is not None
    assert outcome.items[0].published.utcoffset().total_seconds() == 7200
    assert [e.code for e in outcome.errors] == ["missing_field"]
    links = html_follow_ups(html, "http://127.0.0.1/list", "text/html", {"follow": "h2 a::attr(href)"}, 0)
    assert links == ["http://127.0.0.1/n/1", "http://127.0.0.1/n/2"]


def test_jsonld_remote_context_is_never_dereferenced() -> None:
    html = (
        b'<!doctype html><html><head><script type="application/ld+json">'
        b'{"@context": "http://127.0.0.2:9/ctx", "@type": "NewsArticle", "headline": "H", "url": "http://e.org/1"}'
        b"</script></head></html>"
    )
    outcome = parse_page(html, spec("html"), "text/html", "http://127.0.0.1/p")
    assert [i.title for i in outcome.items] == ["H"]  # read as found; a fetch would have failed (port 9)


def test_sitemap_index_gzip_and_filters(corpus: Path) -> None:
    index = (corpus / "sitemaps" / "sitemap_index_small.xml").read_bytes()
    assert parse_sitemap(index, spec("sitemap")).fatal is None
    assert sitemap_follow_ups(index, "http://www.example.com/sitemap.xml", None, {}, 0) == [
        "http://www.example.com/sitemap1.xml.gz",
        "http://www.example.com/sitemap2.xml.gz",
    ]
    urlset = (corpus / "sitemaps" / "sitemaps_org_sitemap.xml").read_bytes()
    pages = sitemap_follow_ups(
        gzip.compress(urlset), "https://www.sitemaps.org/sitemap.xml", None, {"include": "/da/"}, 1
    )
    assert pages
    assert all("/da/" in p for p in pages)
    assert sitemap_follow_ups(urlset, "https://www.sitemaps.org/sitemap.xml", None, {}, 3) == []  # depth cap


def test_gzip_bomb_as_payload_is_capped() -> None:
    """C28: a sitemap.xml.gz that inflates beyond the cap is refused, not inflated."""
    bomb = gzip.compress(b"<urlset>" + b" " * (60 * 1024 * 1024) + b"</urlset>")
    outcome = parse_sitemap(bomb, spec("sitemap"))
    assert outcome.fatal is not None
    assert outcome.fatal.code == "not_a_sitemap"
    assert "inflates beyond" in outcome.fatal.message


def test_xml_with_entities_is_refused_before_parsing() -> None:
    with pytest.raises(UnsafeXML):
        parse_xml(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')


def test_opml_lists_become_sources(corpus: Path) -> None:
    outcome = parse_opml((corpus / "opml" / "plenary_startups.opml").read_bytes(), spec("opml"))
    assert outcome.fatal is None
    assert len(outcome.sources) == 23
    child = outcome.sources[0]
    assert child["id"].startswith("s--")
    assert child["platform"] == "feed"
    assert child["url"].startswith("http")
    again = parse_opml((corpus / "opml" / "plenary_startups.opml").read_bytes(), spec("opml"))
    assert [c["id"] for c in again.sources] == [c["id"] for c in outcome.sources]  # stable ids
    json_list = parse_opml((corpus / "opml" / "feedlist_belgium.json").read_bytes(), spec("opml"))
    assert json_list.fatal is None
    assert json_list.sources


def test_another_instances_registry_becomes_sources() -> None:
    registry = (Path(__file__).resolve().parents[2] / "registry" / "demo.yaml").read_bytes()
    outcome = parse_innonet_registry(registry, spec("innonet-registry"))
    assert outcome.fatal is None
    assert outcome.sources
    assert all(s["options"]["listed_by"] == "s" for s in outcome.sources)


def test_uitdatabank_multiple_dates_become_one_event_per_date(corpus: Path) -> None:
    body = (corpus / "events_jsonld" / "uitdatabank_event_original-with-multiple-dates.json").read_bytes()
    outcome = parse_uitdatabank(body, spec("uitdatabank"))
    assert outcome.fatal is None
    assert len(outcome.items) == 3
    first = outcome.items[0]
    assert first.kind == "event"
    assert first.title == "Punkfest"
    assert first.start is not None
    assert first.start.utcoffset().total_seconds() == 7200
    assert first.location_name == "Hungaria"
    assert "Leuven" in (first.location_address or "")
    assert first.language == "nl"


def test_uitdatabank_places_are_not_events(corpus: Path) -> None:
    body = (corpus / "events_jsonld" / "uitdatabank_place_original-with-optional-fields.json").read_bytes()
    assert parse_uitdatabank(body, spec("uitdatabank")).fatal.code == "no_items"  # type: ignore[union-attr]
