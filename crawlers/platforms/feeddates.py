"""Feed dates: feedparser's result for the two shapes nearly every feed writes, without its handler chain.

feedparser's ``_parse_date`` tries nine handlers in turn (W3CDTF first, then RFC 822, ...), each
splitting and lower-casing the string, and hands back a UTC ``struct_time`` that feed.py turns into
an aware datetime (``datetime.fromtimestamp(calendar.timegm(...), tz=UTC)``). For the canonical
RFC 822 shape (``Mon, 30 Dec 2019 00:57:00 GMT``, ``... +0100``) and the canonical W3CDTF shape
(``2019-12-30T00:57:00Z``, ``...+01:00``, fractions of a second up to six digits) this module
computes that same datetime directly; every other string, and any value ``datetime`` refuses
(31 February, second 60, ...), goes to feedparser unchanged. Why it is the same: for these shapes
W3CDTF's handler returns None on RFC 822 strings (their first token is not a four-digit year) and
is the handler that reads W3CDTF strings; both handlers compute ``(datetime(...) - offset)`` in UTC,
with fractions of a second truncated. tests/crawlers/test_feed_dates.py compares both on generated
dates and every corpus date.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from feedparser.datetimes import _parse_date

__all__ = ["feed_date"]

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}  # fmt: skip
_RFC822 = re.compile(
    r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?([0-9]{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) (?:GMT|UTC|UT|Z|([+-])([0-9]{2})([0-9]{2}))"
)
_W3CDTF = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]{1,6})?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)


def feed_date(value: str | None) -> datetime | time.struct_time | None:
    """feedparser's parsed date for ``value``: an aware UTC datetime for the canonical shapes (the
    one feed.py would build from feedparser's tuple), otherwise feedparser's own ``_parse_date``."""
    if not value:
        return None
    match = _RFC822.fullmatch(value)
    if match:
        day, month, year, hour, minute, second, sign, tz_hours, tz_minutes = match.groups()
        month_number = _MONTHS[month]
    else:
        match = _W3CDTF.fullmatch(value)
        if match is None:
            return _parse_date(value)
        year, month, day, hour, minute, second, sign, tz_hours, tz_minutes = match.groups()
        month_number = int(month)
    year_number = int(year)
    if not 1900 <= year_number <= 9000:  # far from datetime's limits and time.gmtime's
        return _parse_date(value)
    try:
        stamp = datetime(year_number, month_number, int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    except ValueError:
        return _parse_date(value)
    if sign:
        offset = int(tz_hours) * 60 + int(tz_minutes)
        stamp -= timedelta(minutes=-offset if sign == "-" else offset)
    return stamp
