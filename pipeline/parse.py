"""Stage 2, parse: turn stored bytes into raw items with the source's platform adapter.

Works from the payload archive, so a parser fix re-parses without re-crawling. A new
platform is one module in ``crawlers/platforms`` and one line in :data:`PLATFORMS`.
"""

from __future__ import annotations

from collections.abc import Callable

from crawlers.platforms.feed import ParseOutcome, parse_feed
from pipeline.contracts import SourceSpec

Parser = Callable[[bytes, SourceSpec, str | None], ParseOutcome]

PLATFORMS: dict[str, Parser] = {"feed": parse_feed}


def parse_payload(body: bytes, source: SourceSpec, content_type: str | None) -> ParseOutcome:
    """Parse one payload with the adapter of the source's platform."""
    return PLATFORMS[source.platform](body, source, content_type)
