"""html_to_text / sanitise_html skip nh3 only where nh3 provably changes nothing.

The shortcut (crawlers/platforms/feed.py) is taken for text without the characters HTML's
tokenizer acts on; here every code point up to U+2FFFF (and the tag/noncharacter planes' edges) in text,
crafted strings and every title, summary and content string of the corpus feeds are run both
ways: through the functions, and through nh3 directly as they did before the shortcut.
"""

from __future__ import annotations

import html
from pathlib import Path

import feedparser
import nh3
from hypothesis import given, settings
from hypothesis import strategies as st

from crawlers.platforms import feed
from crawlers.platforms.feed import html_to_text, sanitise_html
from ontology.mapping import common

ROOT = Path(__file__).resolve().parents[2]


def _text_nh3(fragment: str | None) -> str | None:
    if not fragment:
        return None
    return " ".join(html.unescape(nh3.clean(fragment, tags=set())).split()) or None


def _html_nh3(fragment: str | None) -> str | None:
    if not fragment:
        return None
    return nh3.clean(fragment) or None


def _check(value: str) -> None:
    assert html_to_text(value) == _text_nh3(value), repr(value)
    assert sanitise_html(value) == _html_nh3(value), repr(value)


def test_every_code_point() -> None:
    points = [
        p
        for p in [*range(0x30000), *range(0xE0000, 0xE0080), 0xFFFFF, 0x10FFFE, 0x10FFFF]
        if not 0xD800 <= p <= 0xDFFF
    ]
    # in the middle of text, repeated, next to CRLF: 64 code points per string (a failure names its chunk)
    for i in range(0, len(points), 64):
        _check(" | ".join(f"a{c}b {c} {c}{c}\r\n{c}" for c in map(chr, points[i : i + 64])))
    # first in the text (a leading BOM is dropped by HTML parsing): Latin, punctuation, specials
    for point in [*range(0x3000), *range(0xFE00, 0x10000)]:
        if not 0xD800 <= point <= 0xDFFF:
            _check(f"{chr(point)}x")


def test_crafted_strings() -> None:
    for value in [
        "plain text", "  padded  ", "a\r\nb\rc", "tab\tand\nnewline", "quotes \" and '", "a > b",
        "1 &lt; 2", "&amp;", "&nbsp;x", "&#60;b&#62;", "&bogus; &", "<b>bold</b>", "a <!-- c --> b",
        "\ufeffbom", "nul\x00byte", "nbsp\xa0here", "<script>x</script>y", "<a href='javascript:x'>l</a>",
        "caf\u00e9 \u201cquoted\u201d \U0001f600", "=", "a=b", "",
    ]:  # fmt: skip
        _check(value)


def test_every_corpus_text(corpus: Path) -> None:
    dirs = [corpus / "rss_atom", corpus / "feedparser_tests", ROOT / "crawlers" / "samples" / "feeds"]
    files = sorted(
        p for d in dirs for p in d.rglob("*") if p.is_file() and p.suffix in (".xml", ".rdf", ".atom")
    )
    seen = 0
    for path in files:
        parsed = feedparser.parse(path.read_bytes(), sanitize_html=False, resolve_relative_uris=False)
        for entry in parsed.entries:
            values = [entry.get("title"), entry.get("summary")] + [
                c.get("value") for c in entry.get("content", [])
            ]
            for value in values:
                if value:
                    _check(value)
                    seen += 1
    assert seen >= 500


MARKUP = [
    "<p>", "</p>", "<div>", "<a href='javascript:x'>", '<a href="http://x" title=b rel=x>', "</a>", "<script>",
    "</script>", "<style>", "&amp;", "&", "<", ">", "\x00", "\ufeff", "<table>", "<tr>", "<td>", "<button>",
    "<img src=x onerror=y>", "<!-- c -->", "text", " ", "\r\n", "<svg><g>", "<math>", "<template>", "<noscript>",
    "<select><option>", "<iframe>", "<b><i>", "</b>", "<mark>", "<wbr>", "<ruby><rt>", "\xa0", "é",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(MARKUP), max_size=25))
def test_reused_cleaners_clean_like_nh3_clean(parts: list[str]) -> None:
    """The Cleaners made once (feed.py, ontology/mapping/common.py) give nh3.clean's output for their options."""
    value = "".join(parts)
    assert feed._TEXT_ONLY.clean(value) == nh3.clean(value, tags=set())
    assert feed._SAFE.clean(value) == nh3.clean(value)
    assert feed._FAST_CLEANER.clean(value) == nh3.clean(value, **feed._FAST_NH3)
    assert feed._sanitise_fast(value) == (sanitise_html(value, **feed._FAST_NH3) if value else None)
    assert common._TEXT_ONLY.clean(value) == nh3.clean(value, tags=set())
    assert common._SAFE.clean(value) == nh3.clean(value)
