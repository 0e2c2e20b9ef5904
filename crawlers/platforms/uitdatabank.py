"""Platform adapter for UiTdatabank-style event JSON-LD (Flanders' event database).

UiTdatabank publishes one JSON-LD document per event (or a search result with a
``member`` list) whose texts are language maps (``"name": {"nl": ..., "fr": ...}``),
``mainLanguage`` names the original, ``calendarType`` is single / multiple / periodic /
permanent and ``subEvent`` lists the dates of a multiple event. Each date of a
``multiple`` event becomes one event record (``{id}#{start}``); others become one. Places
and organisers (documents without ``startDate`` / ``calendarType``) are not events and are
skipped with a warning. UiT's own fields (terms, labels, typicalAgeRange, priceInfo,
workflowStatus, ...) go to ``extra["jsonld"]`` for the mapper.
"""

from __future__ import annotations

from typing import Any

from crawlers.platforms.base import ParseOutcome, fatal, parse_datetime, record_error
from crawlers.platforms.jsonld import load_json
from crawlers.platforms.schemaorg import node_to_item, text
from pipeline.contracts import SourceSpec


def _events(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, list):
        return [d for d in data if isinstance(d, dict)]
    if isinstance(data, dict):
        members = data.get("member") or data.get("hydra:member")
        return [d for d in members if isinstance(d, dict)] if isinstance(members, list) else [data]
    return []


def _is_event(doc: dict[str, Any]) -> bool:
    kind = doc.get("@type")
    ident = str(doc.get("@id", ""))
    if kind in ("Place", "Organizer", "Organization") or "/place/" in ident or "/organizer" in ident:
        return False
    return kind == "Event" or "calendarType" in doc or "/event/" in ident


def parse_uitdatabank(body: bytes, source: SourceSpec, content_type: str | None = None) -> ParseOutcome:
    """Event records from UiTdatabank JSON-LD."""
    data, failed = load_json(body, source)
    if failed:
        return failed
    docs = _events(data)
    if not docs:
        return fatal(source, "not_uitdatabank", "the JSON has no UiTdatabank event document")
    outcome = ParseOutcome()
    skipped = 0
    for position, doc in enumerate(docs):
        if not _is_event(doc):
            skipped += 1
            continue
        node = {"@type": "Event", **doc}
        node["url"] = node.get("url") or node.get("sameAs") or None
        node.setdefault("inLanguage", doc.get("mainLanguage"))
        base = node_to_item(
            node, source.model_copy(update={"language": source.language or doc.get("mainLanguage")})
        )
        if base is None:
            outcome.errors.append(
                record_error(
                    source, "missing_field", "event has no name", str(doc.get("@id") or f"#{position + 1}")
                )
            )
            continue
        base.extra["calendar_type"] = doc.get("calendarType")
        if doc.get("organizer") and not base.organizer:
            base.organizer = text(doc["organizer"], base.language)
        sub_events = doc.get("subEvent") if doc.get("calendarType") == "multiple" else None
        if isinstance(sub_events, list) and sub_events:
            for sub in sub_events:
                if not isinstance(sub, dict):
                    continue
                start_raw, end_raw = sub.get("startDate"), sub.get("endDate")
                outcome.items.append(
                    base.model_copy(
                        update={
                            "native_id": f"{base.native_id}#{start_raw}",
                            "start": parse_datetime(start_raw),
                            "end": parse_datetime(end_raw),
                            "start_raw": start_raw,
                            "end_raw": end_raw,
                            "extra": {**base.extra, "parent": base.native_id},
                        }
                    )
                )
        else:
            outcome.items.append(base)
    if skipped:
        outcome.warnings.append(f"{skipped} document(s) are places or organisers, not events; skipped")
    if not outcome.items and not outcome.errors:
        return fatal(source, "no_items", "the UiTdatabank JSON holds no event (only places or organisers)")
    return outcome
