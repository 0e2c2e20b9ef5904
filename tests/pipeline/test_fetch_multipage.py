"""Multi-page platforms and source lists through the real fetch stage (Scrapy on loopback).

A sitemap names pages, the spider fetches them, every page is archived and parsed; a
re-run against unchanged servers is conditional and writes nothing. An OPML list becomes
child sources that the next run harvests, and a feed that leaves the list is paused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pipeline.harvest import harvest
from store.repository import Store
from tests.conftest import write_registry

SITEMAP = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>{base}/event1.html</loc><lastmod>2026-01-02</lastmod></url>
  <url><loc>{base}/article.html</loc><lastmod>2026-01-01</lastmod></url>
  <url><loc>{base}/missing.html</loc></url>
  <url><loc>http://169.254.169.254/latest/meta-data/</loc></url>
</urlset>
"""


def test_sitemap_pages_are_fetched_archived_parsed_and_rerun_conditionally(
    make_settings, tmp_path: Path, feed_dir: Path, feed_server: str, corpus: Path
) -> None:
    shutil.copy(corpus / "html_structured" / "schemaorg_Event.001.html", feed_dir / "event1.html")
    shutil.copy(corpus / "html_structured" / "github_blog_blogposting.html", feed_dir / "article.html")
    (feed_dir / "sitemap.xml").write_text(SITEMAP.format(base=feed_server), encoding="utf-8")
    registry = write_registry(
        tmp_path / "registry.yaml",
        [
            {
                "id": "site",
                "network": "net-a",
                "title": "Site",
                "url": "{samples}/sitemap.xml",
                "platform": "sitemap",
            }
        ],
    )
    settings = make_settings(registry_path=registry, samples_url=feed_server)
    report = harvest(settings)[0]
    assert report.status == "partial", report.message  # one page is a 404: counted, not fatal
    assert report.counts["new"] >= 2
    assert {e.code for e in report.errors} == {"http_404"}  # the internal URL is another host: not followed
    store = Store(settings.resolved_database_url)
    try:
        kinds = {r.kind for r in _records(store)}
        assert kinds >= {"event", "news"}
        assert store.payload(_sha(feed_dir / "event1.html")) is not None  # pages archived
        before = store.count_records()
        again = harvest(settings)[0]
        assert again.status == "not_modified"
        assert store.count_records() == before
    finally:
        store.close()


def test_opml_list_is_kept_in_sync_as_sources(
    make_settings, tmp_path: Path, feed_dir: Path, feed_server: str
) -> None:
    opml = """<?xml version="1.0"?><opml version="2.0"><head><title>Lab feeds</title></head><body>
      <outline text="Labs"><outline text="Guardian" xmlUrl="{base}/guardian_rss2.xml" type="rss"/>
      <outline text="heise" xmlUrl="{base}/heise_de_atom.xml" type="rss"/></outline></body></opml>"""
    (feed_dir / "list.opml").write_text(opml.format(base=feed_server), encoding="utf-8")
    registry = write_registry(
        tmp_path / "registry.yaml",
        [
            {
                "id": "labs",
                "network": "net-a",
                "title": "Labs",
                "url": "{samples}/list.opml",
                "platform": "opml",
            }
        ],
    )
    settings = make_settings(registry_path=registry, samples_url=feed_server)
    first = {r.source_id: r for r in harvest(settings)}
    assert first["labs"].status == "ok"
    assert "2 new" in (first["labs"].message or "")
    second = {r.source_id: r for r in harvest(settings)}
    children = sorted(sid for sid in second if sid.startswith("labs--"))
    assert len(children) == 2
    assert sum(second[c].counts["new"] for c in children) == 55 + 15
    (feed_dir / "list.opml").write_text(
        opml.format(base=feed_server).replace(
            '<outline text="heise" xmlUrl="' + feed_server + '/heise_de_atom.xml" type="rss"/>', ""
        ),
        encoding="utf-8",
    )
    third = {r.source_id: r for r in harvest(settings)}
    assert "1 paused" in (third["labs"].message or "")
    fourth = {r.source_id: r for r in harvest(settings)}
    heise = next(c for c in children if "heise" in c)
    assert fourth[heise].status == "paused"
    store = Store(settings.resolved_database_url)
    try:
        assert store.count_records(heise) == 15  # a source that leaves the list keeps its items
    finally:
        store.close()


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _records(store: Store) -> list:
    from sqlalchemy import select

    from store.models import RecordRow

    with store.session() as s:
        return list(s.scalars(select(RecordRow)))
