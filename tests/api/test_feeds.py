"""Every search is a subscription: Atom and iCalendar feeds and the filtered stream of a /search query.

Real corpus inputs (an RSS feed and a real iCalendar file) are harvested over HTTP and indexed in
the embedded backend; the feeds are read back with feedparser and icalendar, the consumers
subscribers use, and compared with what /search answers for the same parameters.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import feedparser
import pytest
from fastapi.testclient import TestClient
from icalendar import Calendar
from rdflib import Graph

from api.main import create_app
from crawlers.platforms.ldes import follow_ups, members
from crawlers.samples.server import serve_directory
from pipeline.contracts import SourceSpec
from pipeline.harvest import harvest
from pipeline.index import index_pending
from tests.conftest import write_registry

BASE = "http://innonet.test"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from pipeline.settings import Settings
    from tests.conftest import CORPUS

    tmp = tmp_path_factory.mktemp("feeds")
    served = tmp / "served"
    served.mkdir()
    shutil.copy(CORPUS / "rss_atom" / "guardian_rss2.xml", served / "guardian.xml")
    shutil.copy(CORPUS / "ical" / "rie_fablab_cottbus.ics", served / "fablab.ics")
    with serve_directory(served) as url:
        registry = write_registry(
            tmp / "registry.yaml",
            [
                {
                    "id": "guardian",
                    "network": "net-a",
                    "title": "Guardian",
                    "url": f"{url}/guardian.xml",
                    "language": "en",
                },
                {
                    "id": "fablab",
                    "network": "net-b",
                    "title": "FabLab Cottbus",
                    "url": f"{url}/fablab.ics",
                    "platform": "ical",
                    "kind": "event",
                    "language": "de",
                },
            ],
        )
        settings = Settings(
            data_dir=tmp / "data",
            registry_path=registry,
            base_url=BASE,
            fetch_allow_hosts=["127.0.0.1"],
            fetch_delay_s=0.0,
            ical_window_past_days=20000,
            search_backend="embedded",
        )
        reports = {r.source_id: r for r in harvest(settings)}
        assert reports["fablab"].counts["new"] > 5, reports["fablab"]
        index_pending(settings)
    with TestClient(create_app(settings)) as c:
        yield c


def _search_ids(client, params) -> list[str]:
    r = client.get("/search", params=params)
    assert r.status_code == 200
    return [h["id"] for h in r.json()["hits"]]


def test_atom_feed_has_the_searchs_hits_newest_first_and_links_the_stream(client) -> None:
    params = {"source": "guardian", "sort": "date", "size": 15}
    r = client.get("/feeds/atom", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(r.content)
    assert not parsed.bozo, parsed.bozo_exception
    ids = [e.id for e in parsed.entries]
    assert len(ids) == 15
    assert sorted(ids) == sorted(_search_ids(client, params))
    stamps = [e.updated_parsed for e in parsed.entries]
    assert stamps == sorted(stamps, reverse=True)
    links = {link.rel: link.href for link in parsed.feed.links}
    assert links["related"] == f"{BASE}/ldes/feed?source=guardian"
    assert "</ldes/feed?source=guardian>" in r.headers["link"].replace(BASE, "")
    assert all(any(link.rel == "describedby" for link in e.links) for e in parsed.entries)


def test_atom_full_text_query_is_the_same_as_search(client) -> None:
    params = {"q": "golf", "size": 5}
    parsed = feedparser.parse(client.get("/feeds/atom", params=params).content)
    assert [e.id for e in parsed.entries]
    assert sorted(e.id for e in parsed.entries) == sorted(_search_ids(client, params))
    # the stream cannot do full text: the feed says which parameter it had to drop
    assert client.get("/feeds/atom", params=params).headers["x-ldes-dropped-parameters"] == "q"


def test_ical_feed_has_the_searchs_events(client) -> None:
    params = {"source": "fablab", "size": 100, "sort": "start"}
    r = client.get("/feeds/ical", params=params)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    events = list(cal.walk("VEVENT"))
    hits = client.get("/search", params=params).json()["hits"]
    assert len(events) == len(hits) > 5
    by_uid = {str(ev["UID"]): ev for ev in events}
    for hit in hits:
        start = by_uid[hit["id"]].decoded("DTSTART")
        want = datetime.fromisoformat(hit["start"])
        if isinstance(start, datetime):
            assert start.astimezone(UTC) == want.astimezone(UTC)
        else:
            assert start == want.date()
        assert str(by_uid[hit["id"]]["SUMMARY"]) == hit["title"]


def test_search_filters_as_a_filtered_stream(client) -> None:
    r = client.get("/feeds/ldes", params={"source": "fablab", "q": "x"}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/ldes/feed?source=fablab"
    assert r.headers["x-ldes-dropped-parameters"] == "q"
    # walk the filtered stream: its items are exactly the items /search finds for the same filter
    total = client.get("/search", params={"source": "fablab", "size": 0}).json()["total"]
    todo, seen, items = ["/ldes/feed?source=fablab"], set(), set()
    source = SourceSpec(id="walk", network="x", title="x", url="http://x")
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        page = client.get(url, headers={"Accept": "text/turtle"})
        assert page.status_code == 200
        absolute = str(page.url)
        for item in members(Graph().parse(data=page.text, format="turtle"), source).items:
            items.add(item.extra["ldes_item"])
        todo += [
            t.removeprefix("http://testserver")
            for t in follow_ups(page.content, absolute, "text/turtle", {}, 0)
        ]
    assert len(items) == total


def test_ldes_type_follows_the_search_type_names(client) -> None:
    r = client.get("/feeds/ldes", params=[("type", "Event"), ("network", "net-b")], follow_redirects=False)
    assert r.headers["location"] == "/ldes/feed?network=net-b&type=event"
