"""crawlers/platforms/feeddates.py gives the datetime feed.py builds from feedparser's own date parser.

Compared on every date string of the corpus feeds and on generated strings of the two canonical
shapes (every month, leap days and impossible days, offsets of both signs, fractions, odd cases),
plus near misses that must go to feedparser unchanged.
"""

from __future__ import annotations

import calendar
import itertools
import random
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from feedparser.datetimes import _parse_date

from crawlers.platforms.feeddates import _RFC822, _W3CDTF, feed_date


def _feedparser(value: str) -> datetime | None:
    parsed = _parse_date(value)
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC) if parsed else None


def _ours(value: str) -> datetime | None:
    parsed = feed_date(value)
    if isinstance(parsed, time.struct_time):
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    return parsed


def _same(value: str) -> bool:
    ours, theirs = _ours(value), _feedparser(value)
    return ours == theirs and repr(ours) == repr(theirs)


def _generated() -> list[str]:
    rng = random.Random(4)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    zones = ("GMT", "UTC", "UT", "Z", "+0000", "-0000", "+0100", "-0500", "+0530", "-0930", "+1400", "-1200",
             "+0199", "-0160", "+1500", "-2359", "+9999")  # fmt: skip
    out = []
    for _ in range(3000):
        year = rng.choice((1899, 1900, 1969, 1970, 1999, 2000, 2024, 2026, 2100, 9000, 9001))
        day, month = rng.randint(1, 31), rng.randint(1, 12)
        hour, minute, second = rng.choice((0, 12, 23, 24)), rng.randint(0, 59), rng.choice((0, 30, 59, 60))
        name = rng.choice(days) + ", " if rng.random() < 0.8 else ""
        day_text = str(day) if rng.random() < 0.5 else f"{day:02d}"
        out.append(
            f"{name}{day_text} {months[month - 1]} {year} {hour:02d}:{minute:02d}:{second:02d} {rng.choice(zones)}"
        )
        fraction = rng.choice(("", ".5", ".123", ".999999", ".9999999"))
        zone = rng.choice(
            ("Z", "+00:00", "-00:00", "+01:00", "-05:30", "+14:00", "-12:00", "+01:99", "-15:00", "+23:59")
        )
        out.append(f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{fraction}{zone}")
    return out


NEAR_MISSES = [
    "mon, 30 dec 2019 00:57:00 gmt", "Mon, 30 Dec 2019 00:57 GMT", "Mon, 30 Dec 19 00:57:00 GMT",
    "Mon, 30 Dec 2019 00:57:00 EST", "Mon, 30 Dec 2019 00:57:00 +01:00", "Mon,30 Dec 2019 00:57:00 GMT",
    "30 Dec 2019", "2019-12-30", "2019-12-30T00:57:00", "2019-12-30 00:57:00Z", "2019-12-30t00:57:00z",
    "2019-12-30T00:57:00+0100", "2019-02-29T00:00:00Z", "Sun, 29 Feb 2019 00:00:00 GMT",
    "Mon, 30 Dec 2019 00:57:00 GMT ", " 2019-12-30T00:57:00Z", "Mon, ٣٠ Dec 2019 00:57:00 GMT",
]  # fmt: skip


def test_canonical_shapes_give_feedparsers_datetime() -> None:
    values = _generated()
    fast = [v for v in values if _RFC822.fullmatch(v) or _W3CDTF.fullmatch(v)]
    assert len(fast) > 0.85 * len(values)  # 7-digit fractions are outside the fast shapes
    assert [v for v in values if not _same(v)] == []
    assert any(isinstance(feed_date(v), datetime) for v in values)
    assert any(_feedparser(v) is None for v in values)  # impossible dates are among them


def test_other_strings_go_to_feedparser() -> None:
    for value in NEAR_MISSES:
        assert _same(value), value
    assert feed_date("") is None
    assert feed_date(None) is None


def test_every_corpus_date(corpus: Path) -> None:
    tag = re.compile(
        rb"<((?:\w+:)?(?:pubDate|published|updated|date|issued|modified|created))\b[^>]*>([^<]{1,80})</\1>"
    )
    values = set()
    for path in itertools.chain(
        (corpus / "rss_atom").glob("*.xml"), (corpus / "feedparser_tests").glob("*.xml")
    ):
        for _, text in tag.findall(path.read_bytes()):
            values.add(text.decode("utf-8", "replace").strip())
    assert len(values) > 200
    assert sum(1 for v in values if _RFC822.fullmatch(v) or _W3CDTF.fullmatch(v)) > 100
    assert [v for v in values if not _same(v)] == []
