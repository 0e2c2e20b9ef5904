"""The feed adapter on real-world feeds from the corpus: bytes in, raw items out."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlers.platforms.feed import html_to_text, parse_feed, sanitise_html
from pipeline.contracts import SourceSpec

SOURCE = SourceSpec(id="s", network="n", title="t", url="http://127.0.0.1/feed")


def read(corpus: Path, name: str) -> bytes:
    return (corpus / "rss_atom" / name).read_bytes()


@pytest.mark.parametrize(
    ("name", "count", "title_word"),
    [
        ("guardian_rss2.xml", 55, "Trump"),
        ("heise_de_atom.xml", 15, None),
        ("golem_de_iso-8859-1.xml", 40, None),
        ("heise_de_rss10.rdf.xml", 60, None),
        ("oren_ru_windows-1251.xml", None, None),
        ("feed_utf16le.xml", None, None),
    ],
)
def test_real_feeds_yield_items(corpus: Path, name: str, count: int | None, title_word: str | None) -> None:
    outcome = parse_feed(read(corpus, name), SOURCE)
    assert outcome.fatal is None
    assert outcome.items, outcome.warnings
    if count is not None:
        assert len(outcome.items) == count
    if title_word:
        assert any(title_word in (i.title or "") for i in outcome.items)
    assert all(i.native_id and i.title for i in outcome.items)


def test_latin1_feed_is_decoded(corpus: Path) -> None:
    items = parse_feed(read(corpus, "golem_de_iso-8859-1.xml"), SOURCE).items
    text = " ".join((i.title or "") + " " + (i.summary or "") for i in items)
    assert any(ch in text for ch in "äöüßÄÖÜ"), "umlauts must survive the ISO-8859-1 decoding"
    assert "\ufffd" not in text


def test_dates_are_aware_utc_and_raw_kept_when_unparseable(corpus: Path) -> None:
    items = parse_feed(read(corpus, "invalid_date_format.xml"), SOURCE).items
    assert len(items) >= 2
    for item in items:
        if item.published is not None:
            assert item.published.utcoffset() is not None
        else:
            assert item.published_raw, "an unparseable date is kept as written"


def test_not_a_feed_is_fatal_with_code() -> None:
    outcome = parse_feed(b"<html><body><p>Hello</p></body></html>", SOURCE, "text/html")
    assert outcome.fatal is not None
    assert outcome.fatal.code == "not_a_feed"
    assert outcome.fatal.stage == "parse"
    assert "text/html" in outcome.fatal.message


def test_truncated_feed_warns(corpus: Path) -> None:
    outcome = parse_feed(read(corpus, "rss2_invalid_1.xml"), SOURCE)
    assert outcome.warnings
    assert "not well-formed" in outcome.warnings[0]


def test_external_entity_is_not_resolved(corpus: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    body = read(corpus, "xxe_attack_atom10.xml").replace(b"XXE_URI", secret.as_uri().encode())
    outcome = parse_feed(body, SOURCE)
    dumped = repr(outcome)
    assert "TOP-SECRET-VALUE" not in dumped


def test_html_is_sanitised() -> None:
    dirty = '<p onclick="x()">Hi <script>alert(1)</script><a href="javascript:evil()">x</a></p>'
    clean = sanitise_html(dirty) or ""
    assert "<script" not in clean
    assert "onclick" not in clean
    assert "javascript:" not in clean
    assert html_to_text("<p>A &amp; B</p>  <b>c</b>") == "A & B c"
