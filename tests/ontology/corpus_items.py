"""Build RawItems from corpus files the way a platform adapter would (test-side; crawlers/ own the real ones).

Kept deliberately small: it reads UiTdatabank JSON-LD and schema.org Event/JSON-LD as found, so
the mapping tests run on real inputs without depending on the crawler helper's adapters.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import extruct

from pipeline.contracts import RawItem


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _first(values: Any) -> str | None:
    if isinstance(values, dict):
        return next(iter(values.values()), None)
    return values


def uitdatabank_event(path: Path, source_id: str = "uit") -> RawItem:
    """A UiTdatabank event document -> RawItem(kind="event")."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    place = doc.get("location") or {}
    address = (place.get("address") or {}).get(doc.get("mainLanguage", "nl")) or {}
    geo = place.get("geo") or {}
    organizer = doc.get("organizer") or {}
    booking = doc.get("bookingInfo") or {}
    status = doc.get("status")
    return RawItem(
        source_id=source_id,
        native_id=doc["@id"],
        kind="event",
        title=_first(doc.get("name")),
        summary=_first(doc.get("description")),
        url=doc["@id"],
        language=doc.get("mainLanguage"),
        tags=[t["label"] for t in doc.get("terms", []) if t.get("domain") == "theme"] + doc.get("labels", []),
        start=_dt(doc.get("startDate")),
        end=_dt(doc.get("endDate")),
        start_raw=doc.get("startDate"),
        end_raw=doc.get("endDate"),
        location_name=_first(place.get("name")),
        latitude=geo.get("latitude"),
        longitude=geo.get("longitude"),
        organizer=_first(organizer.get("name")),
        registration_url=booking.get("url"),
        status=status.get("type") if isinstance(status, dict) else status,
        published=_dt(doc.get("created")),
        extra={
            "title_i18n": doc.get("name"),
            "description_i18n": doc.get("description"),
            "location_id": place.get("@id"),
            "location_name_i18n": place.get("name"),
            "organizer_id": organizer.get("@id"),
            "address": address,
        },
    )


def uitdatabank_organizer(path: Path, source_id: str = "uit") -> RawItem:
    doc = json.loads(path.read_text(encoding="utf-8"))
    address = next(iter((doc.get("address") or {}).values()), {})
    full = ", ".join(
        str(address[k]) for k in ("streetAddress", "postalCode", "addressLocality") if k in address
    )
    return RawItem(
        source_id=source_id,
        native_id=doc["@id"],
        kind="organisation",
        title=_first(doc.get("name")),
        url=doc.get("url"),
        language="nl",
        location_address=full or None,
        extra={
            "title_i18n": doc.get("name"),
            "country": address.get("addressCountry"),
            "same_as": doc["@id"],
        },
    )


def schemaorg_events(path: Path, source_id: str = "pages") -> list[RawItem]:
    """Every schema.org Event (any subtype) in a page's JSON-LD or microdata -> RawItems."""
    data = extruct.extract(
        path.read_text(encoding="utf-8", errors="replace"), syntaxes=["json-ld", "microdata"], uniform=True
    )
    out = []
    for syntax in ("json-ld", "microdata"):
        for i, node in enumerate(data.get(syntax, [])):
            if not str(node.get("@type", "")).endswith("Event"):
                continue
            place = node.get("location") or {}
            address = place.get("address") if isinstance(place, dict) else None
            geo = place.get("geo") or {} if isinstance(place, dict) else {}
            offers = node.get("offers") or {}
            offers = offers[0] if isinstance(offers, list) and offers else offers
            out.append(
                RawItem(
                    source_id=source_id,
                    native_id=f"{path.name}#{syntax}-{i}",
                    kind="event",
                    title=node.get("name"),
                    summary=node.get("description"),
                    url=node.get("url"),
                    start=_dt(node.get("startDate")),
                    start_raw=node.get("startDate"),
                    end=_dt(node.get("endDate")),
                    end_raw=node.get("endDate"),
                    location_name=place.get("name") if isinstance(place, dict) else str(place),
                    location_address=address if isinstance(address, str) else None,
                    latitude=float(geo["latitude"]) if geo.get("latitude") else None,
                    longitude=float(geo["longitude"]) if geo.get("longitude") else None,
                    registration_url=offers.get("url") if isinstance(offers, dict) else None,
                    extra={"address": address if isinstance(address, dict) else {}},
                )
            )
    return out
