"""Platform adapter for JSON-LD documents served directly (``application/ld+json``).

The document is read as JSON, never processed as JSON-LD: ``@context`` URLs are not
fetched (no remote contexts; a canary context server records zero hits). Nodes are found
at the top level, in ``@graph`` and in ``member`` / ``itemListElement`` lists, and read
by their schema.org local names (:mod:`crawlers.platforms.schemaorg`).
"""

from __future__ import annotations

import json

from crawlers.platforms.base import ParseOutcome, fatal
from crawlers.platforms.schemaorg import flatten, node_to_item, normalise
from pipeline.contracts import SourceSpec


def load_json(body: bytes, source: SourceSpec) -> tuple[object, ParseOutcome | None]:
    """The parsed JSON, or a fatal outcome (``not_json``) for bytes that are no JSON."""
    try:
        return json.loads(body.decode("utf-8-sig")), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, fatal(
            source, "not_json", f"the response is not JSON ({type(exc).__name__}: {exc})"[:400]
        )
    except RecursionError:
        return None, fatal(source, "parse_error", "the JSON document is nested too deeply")


def parse_jsonld(body: bytes, source: SourceSpec, content_type: str | None = None) -> ParseOutcome:
    """Items of a JSON-LD document (news, events, cases by their schema.org type)."""
    data, failed = load_json(body, source)
    if failed:
        return failed
    outcome = ParseOutcome()
    seen: set[str] = set()
    for node in flatten(normalise(data)):
        item = node_to_item(node, source, None)
        if item is not None and item.native_id not in seen:
            seen.add(item.native_id)
            outcome.items.append(item)
    if not outcome.items:
        return fatal(
            source, "no_items", "the JSON-LD document has no schema.org article, event or project node"
        )
    return outcome
