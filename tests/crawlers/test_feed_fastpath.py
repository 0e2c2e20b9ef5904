"""The lxml fast path (crawlers/platforms/fastfeed.py) gives feedparser's RawItems, or steps aside.

Every feed file of the corpus (rss_atom, feedparser_tests) and of crawlers/samples/feeds is parsed
twice: with the fast path and with feedparser only. Wherever the fast path accepts a feed, the item
lists (and errors) must be equal; the number of accepted files is checked so a fast path that
silently refuses everything fails too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlers.platforms.fastfeed import fast_entries
from crawlers.platforms.feed import parse_feed
from pipeline.contracts import SourceSpec

ROOT = Path(__file__).resolve().parents[2]
SOURCE = SourceSpec(id="s", network="n", title="t", url="http://x", language="xx")


def _files(corpus: Path) -> list[Path]:
    dirs = [corpus / "rss_atom", corpus / "feedparser_tests", ROOT / "crawlers" / "samples" / "feeds"]
    return sorted(
        p for d in dirs for p in d.rglob("*") if p.is_file() and p.suffix in (".xml", ".rdf", ".atom", ".rss")
    )


def _dump(outcome) -> tuple:
    return (
        [item.model_dump() for item in outcome.items],
        [(e.code, e.item, e.message) for e in outcome.errors],
        outcome.fatal is None,
    )


def test_fast_path_equals_feedparser_on_every_corpus_feed(corpus: Path) -> None:
    files = _files(corpus)
    assert len(files) >= 80
    fast, differing = [], []
    for path in files:
        body = path.read_bytes()
        if fast_entries(body, None) is None:
            continue
        fast.append(path.name)
        if _dump(parse_feed(body, SOURCE)) != _dump(parse_feed(body, SOURCE, use_fast=False)):
            differing.append(path.name)
    assert differing == []
    real = [n for n in fast if not n.startswith("fp_")]
    print(f"fast path took {len(fast)} of {len(files)} files: {sorted(fast)}")
    # Real-world feeds in the corpus are mostly plain UTF-8 RSS 2.0 / Atom 1.0.
    assert len(real) >= 15


@pytest.mark.parametrize(
    ("content_type", "accepted"),
    [
        (None, True),
        ("application/rss+xml", True),
        ("application/xml; charset=utf-8", True),
        ("text/xml", False),  # feedparser assumes us-ascii
        ("application/xml; charset=iso-8859-1", False),
        ("text/html", False),
    ],
)
def test_content_type_decides(content_type: str | None, accepted: bool) -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>A</title><guid>urn:a</guid></item></channel></rss>"
    )
    assert (fast_entries(body, content_type) is not None) is accepted


@pytest.mark.parametrize(
    "body",
    [
        # entity declarations are never expanded by the fast path: feedparser (and its rules) decide
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><rss version="2.0"><channel>'
        b"<item><title>&x;</title></item></channel></rss>",
        b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><rss version="2.0"><channel>'
        b"<item><title>a</title></item></channel></rss>",
        # not well-formed
        b'<?xml version="1.0"?><rss version="2.0"><channel><item><title>a</item></channel></rss>',
        # RSS 1.0, xml:base, xhtml content, media:title (feedparser lets it replace the title)
        b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>',
        b'<?xml version="1.0"?><rss version="2.0" xml:base="http://a/"><channel><item><title>a</title>'
        b"</item></channel></rss>",
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><entry><id>a</id>'
        b'<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">a</div></title></entry></feed>',
        b'<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel>'
        b"<item><title>a</title><media:title>b</media:title></item></channel></rss>",
    ],
)
def test_fast_path_steps_aside(body: bytes) -> None:
    assert fast_entries(body, None) is None
