"""What every platform adapter returns, and the hardened helpers they share.

Adapters are pure: bytes (and the source's registry entry) in, raw records out, with a
per-record outcome. Nothing here opens a URL or a file: XML is parsed with DTDs, entity
expansion and network access off, and a document that declares entities is refused
outright (billion laughs, XXE), because no feed, sitemap or OPML file needs them.
"""

from __future__ import annotations

import gzip
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from pipeline.contracts import RawItem, RecordError, SourceSpec

#: Decompressed size cap for payload-level gzip (``sitemap.xml.gz``), like the transport cap.
MAX_INFLATED_BYTES = 50 * 1024 * 1024

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DOCTYPE = re.compile(rb"<!DOCTYPE[^>\[]*(\[|>)", re.IGNORECASE)


@dataclass
class ParseOutcome:
    """What one payload yielded: items, per-item errors, a fatal error, warnings, listed sources."""

    items: list[RawItem] = field(default_factory=list)
    errors: list[RecordError] = field(default_factory=list)
    fatal: RecordError | None = None
    warnings: list[str] = field(default_factory=list)
    #: Source lists (OPML, another instance's registry): the sources they name, as registry entries.
    sources: list[dict[str, Any]] = field(default_factory=list)

    def merge(self, other: ParseOutcome) -> None:
        self.items.extend(other.items)
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
        self.sources.extend(other.sources)


def fatal(source: SourceSpec, code: str, message: str) -> ParseOutcome:
    """An outcome that fails the whole payload with one precise code."""
    return ParseOutcome(fatal=RecordError(stage="parse", source_id=source.id, code=code, message=message))


def record_error(source: SourceSpec, code: str, message: str, item: str | None = None) -> RecordError:
    return RecordError(stage="parse", source_id=source.id, code=code, message=message, item=item)


class UnsafeXML(ValueError):
    """The document declares entities or is otherwise refused before parsing."""

    code = "entity_rejected"


def gunzip_capped(body: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """Gunzip a payload-level ``.gz`` with a cap on the output (a sitemap bomb stops at ``limit``)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit:
        raise ValueError(f"gzip payload inflates beyond {limit} bytes")
    return out


def maybe_gunzip(body: bytes, limit: int = MAX_INFLATED_BYTES) -> bytes:
    """The payload, gunzipped (capped) when it starts with the gzip magic bytes."""
    if body[:2] == b"\x1f\x8b":
        try:
            return gunzip_capped(body, limit)
        except (zlib.error, gzip.BadGzipFile, EOFError) as exc:
            raise ValueError(f"broken gzip payload: {exc}") from exc
    return body


def parse_xml(body: bytes, recover: bool = False) -> etree._Element:
    """Parse untrusted XML: no DTD loading, no entity expansion, no network, no huge trees.

    ``recover`` reads what it can of a broken document (OPML files often carry bare ``&``).
    """
    head = body[:4096]
    if _ENTITY_DECL.search(body) and _DOCTYPE.search(head):
        raise UnsafeXML("the document declares XML entities (DOCTYPE with ENTITY); refused, never expanded")
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=recover
    )
    root = etree.fromstring(body, parser=parser)
    if root is None:
        raise etree.XMLSyntaxError("nothing could be read", None, 0, 0)  # type: ignore[call-arg]
    return root


def local(tag: Any) -> str:
    """Local name of an lxml tag (namespace dropped)."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def parse_datetime(value: Any) -> datetime | None:
    """An ISO 8601 or RFC 2822 date as an aware datetime, or None (never raises)."""
    if not value or not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            try:
                from dateutil import parser as dateparser

                parsed = dateparser.isoparse(text)
            except (ValueError, OverflowError):
                return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def option_list(options: dict[str, Any], key: str) -> list[str]:
    value = options.get(key) or []
    return [value] if isinstance(value, str) else [str(v) for v in value]
