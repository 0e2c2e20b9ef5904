"""Platform adapter for iCalendar (RFC 5545) event calendars.

Every occurrence inside a window becomes one ``kind="event"`` record: recurrences
(RRULE, RDATE, EXDATE, moved instances) are expanded by ``recurring-ical-events`` lazily,
in start order, and cut at the window's end *and* at an instance cap, so a 32-byte
``FREQ=SECONDLY;COUNT=1000000000`` costs at most ``max_instances`` steps (Radicale#2188).
Time zones come from VTIMEZONE/TZID, else the calendar's X-WR-TIMEZONE, else the source
option ``timezone``; a floating time with none of these is read as UTC, with a warning.

Options (registry ``options``, defaults from Settings): ``window_past_days``,
``window_future_days``, ``max_instances``, ``timezone``, ``now`` (ISO date, for tests).
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events

from crawlers.platforms.base import ParseOutcome, fatal, record_error
from crawlers.platforms.feed import html_to_text
from pipeline.contracts import RawItem, SourceSpec

DEFAULT_PAST_DAYS = 30
DEFAULT_FUTURE_DAYS = 365
DEFAULT_MAX_INSTANCES = 3500


def _text(component: Any, name: str) -> str | None:
    value = component.get(name)
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0]
    text = str(value).strip()
    return text or None


def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _aware(value: date | datetime, fallback: ZoneInfo | None) -> tuple[datetime, str | None, bool]:
    """(aware datetime, time zone name, all-day) of a DTSTART/DTEND value."""
    if not isinstance(value, datetime):
        tz = fallback or UTC
        return datetime(value.year, value.month, value.day, tzinfo=tz), getattr(tz, "key", None), True
    if value.tzinfo is None:
        tz = fallback or UTC
        return value.replace(tzinfo=tz), getattr(tz, "key", None), False
    name = getattr(value.tzinfo, "key", None) or getattr(value.tzinfo, "zone", None) or value.tzname()
    return value, name, False


def _categories(component: Any) -> list[str]:
    found: list[str] = []
    raw = component.get("CATEGORIES")
    for entry in raw if isinstance(raw, list) else [raw] if raw is not None else []:
        cats = getattr(entry, "cats", None)
        found.extend(str(c) for c in (cats if cats is not None else [entry]))
    return [c.strip() for c in found if str(c).strip()]


def _organizer(component: Any) -> str | None:
    org = component.get("ORGANIZER")
    if org is None:
        return None
    name = org.params.get("CN") if hasattr(org, "params") else None
    return str(name or org).removeprefix("mailto:").removeprefix("MAILTO:") or None


def parse_ical(body: bytes, source: SourceSpec, content_type: str | None = None) -> ParseOutcome:
    """Read a calendar into one event record per occurrence inside the window."""
    options = source.options
    text = body.decode("utf-8-sig", errors="replace")
    if text.lstrip().upper().startswith("BEGIN:VEVENT"):
        text = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{text.strip()}\r\nEND:VCALENDAR\r\n"
    if "BEGIN:VCALENDAR" not in text[:2048].upper():
        return fatal(source, "not_a_calendar", "the response is not an iCalendar file (no BEGIN:VCALENDAR)")
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        return fatal(source, "parse_error", f"the calendar cannot be read: {type(exc).__name__}: {exc}")
    if isinstance(calendar, list):
        calendar = calendar[0]
    outcome = ParseOutcome()
    fallback = _zone(options.get("timezone")) or _zone(_text(calendar, "X-WR-TIMEZONE"))
    now = datetime.fromisoformat(options["now"]) if options.get("now") else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    start = now - timedelta(days=int(options.get("window_past_days", DEFAULT_PAST_DAYS)))
    end = now + timedelta(days=int(options.get("window_future_days", DEFAULT_FUTURE_DAYS)))
    cap = int(options.get("max_instances", DEFAULT_MAX_INSTANCES))
    if not calendar.walk("VEVENT"):
        return fatal(source, "no_events", "the calendar has no VEVENT (only to-dos, journals or nothing)")
    for event in list(calendar.subcomponents):
        if event.name == "VEVENT" and event.get("DTSTART") is None:
            calendar.subcomponents.remove(event)
            outcome.errors.append(
                record_error(source, "missing_field", "event has no DTSTART", _text(event, "UID"))
            )
    try:
        occurrences = _expand(calendar, start, end, fallback, cap)
    except Exception:  # noqa: BLE001 - the library raises many types; find the bad series one by one
        occurrences = []
        zones = [c for c in calendar.subcomponents if c.name == "VTIMEZONE"]
        for event in calendar.walk("VEVENT"):
            single = icalendar.Calendar()
            for part in [*zones, event]:
                single.add_component(part)
            try:
                occurrences.extend(_expand(single, start, end, fallback, cap))
            except Exception as exc:  # noqa: BLE001
                outcome.errors.append(
                    record_error(
                        source, "bad_recurrence", f"{type(exc).__name__}: {exc}"[:300], _text(event, "UID")
                    )
                )
        occurrences.sort(key=lambda o: _aware(o["DTSTART"].dt, fallback)[0])
    if len(occurrences) > cap:
        occurrences = occurrences[:cap]
        outcome.warnings.append(f"more than {cap} occurrences in the window; only the first {cap} were kept")
    floating_warned = False
    for event in occurrences:
        uid = _text(event, "UID")
        summary = html_to_text(_text(event, "SUMMARY"))
        dtstart = event.get("DTSTART")
        if dtstart is None or not summary:
            outcome.errors.append(
                record_error(
                    source,
                    "missing_field",
                    "event has no DTSTART" if summary else "event has no SUMMARY",
                    uid,
                )
            )
            continue
        start_dt, tz_name, all_day = _aware(dtstart.dt, fallback)
        if (
            isinstance(dtstart.dt, datetime)
            and dtstart.dt.tzinfo is None
            and fallback is None
            and not floating_warned
        ):
            outcome.warnings.append("events with floating times and no time zone were read as UTC")
            floating_warned = True
        dtend = event.get("DTEND")
        end_dt = _aware(dtend.dt, fallback)[0] if dtend is not None else None
        if end_dt is None and event.get("DURATION") is not None:
            end_dt = start_dt + event["DURATION"].dt
        recurring = (
            event.get("RRULE") is not None or event.get("RDATE") is not None or event.get("RECURRENCE-ID")
        )
        native_id = f"{uid or summary}@{start_dt.isoformat()}" if recurring or not uid else uid
        url = _text(event, "URL")
        location = _text(event, "LOCATION")
        geo = event.get("GEO")
        status = _text(event, "STATUS")
        outcome.items.append(
            RawItem(
                source_id=source.id,
                native_id=native_id,
                kind="event",
                title=summary,
                summary=html_to_text(_text(event, "DESCRIPTION")),
                url=url,
                updated=_aware(event["LAST-MODIFIED"].dt, UTC)[0] if event.get("LAST-MODIFIED") else None,
                language=source.language,
                tags=_categories(event),
                start=start_dt,
                end=end_dt,
                start_raw=dtstart.to_ical().decode("utf-8", errors="replace"),
                end_raw=dtend.to_ical().decode("utf-8", errors="replace") if dtend is not None else None,
                timezone=tz_name,
                all_day=all_day,
                location_name=location,
                latitude=float(geo.latitude) if geo is not None else None,
                longitude=float(geo.longitude) if geo is not None else None,
                online_url=url if location and location.startswith(("http://", "https://")) else None,
                organizer=_organizer(event),
                status=status.lower() if status else None,
                extra={"uid": uid, "recurring": bool(recurring), "sequence": _text(event, "SEQUENCE")},
            )
        )
    return outcome


def _expand(calendar: Any, start: datetime, end: datetime, fallback: ZoneInfo | None, cap: int) -> list[Any]:
    """Occurrences from ``start`` in start order, stopped at ``end`` or after ``cap + 1`` of them."""
    query = recurring_ical_events.of(calendar, skip_bad_series=True)
    in_window = itertools.takewhile(lambda o: _starts_before(o, end, fallback), query.after(start))
    return list(itertools.islice(in_window, cap + 1))


def _starts_before(event: Any, end: datetime, fallback: ZoneInfo | None) -> bool:
    dtstart = event.get("DTSTART")
    if dtstart is None:
        return True
    return _aware(dtstart.dt, fallback)[0] < end
