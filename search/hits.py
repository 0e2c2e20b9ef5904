"""A search hit's display fields as JSON text, rendered once when the item is indexed.

Why: the API's fast path (``api.routers.search._es_page``) used to decode every hit's
``_source`` from Elasticsearch's answer into ~25 Python objects, reorder them into the
API's ``HitOut`` shape and encode them again: ~20 of the ~45 µs of Python per 20-hit
search (bench/bench_api_overhead.py). Since mapping version 5 the indexed document carries
those fields once more as one string, ``hit`` (mapping: an object with ``enabled: false``,
so Elasticsearch stores it in ``_source`` and never parses or indexes it), already in
``HitOut``'s order with every key present, so a hit is one string to decode and is spliced
into the answer as it is. ``tests/api/test_search_hits.py`` checks the text is ``HitOut``'s
own JSON for every corpus document; ``tests/api/test_search_api.py`` compares the fast
path's bytes with the route's.
"""

from __future__ import annotations

from typing import Any

import orjson

from search.documents import SearchDocument
from search.highlight import index_marks

#: The ``_source`` field holding the text (stored, not indexed: mapping ``enabled: false``).
HIT_FIELD = "hit"
#: The ``_source`` field holding, per highlighted text (title, summary), the analysed forms of
#: each of its words (:func:`search.highlight.index_marks`; stored, not indexed).
MARKS_FIELD = "marks"
MARKED_TEXTS = ("title", "summary")
#: ``HitOut``'s fields between ``doc`` and ``score``, in its order, with what an absent key
#: (``to_source`` leaves out None values) prints as.
HIT_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("type", None),
    ("title", None),
    ("summary", None),
    ("url", None),
    ("language", None),
    ("network", None),
    ("network_name", None),
    ("source", None),
    ("published", None),
    ("themes", []),
    ("opsi_facets", []),
    ("lifecycle_stages", []),
    ("government_levels", []),
    ("barriers", []),
    ("country", None),
    ("regions", []),
    ("start", None),
    ("end", None),
    ("location", None),
)
#: A location's keys in ``search.documents.Location``'s order (all printed, absent ones as null).
LOCATION_KEYS = ("name", "address", "lat", "lon")


def hit_json(source: dict[str, Any]) -> str:
    """``"type":…,"location":…``: the members of a hit's JSON object from ``type`` to
    ``location`` (no braces), from ``SearchDocument.model_dump(mode="json", exclude_none=True)``.

    Values are those JSON values as they are (what pydantic wrote: dates as text); orjson
    prints them as pydantic's ``model_dump_json`` does (same strings, shortest float repr).
    """
    fields = {name: source.get(name, default) for name, default in HIT_DEFAULTS}
    location = fields["location"]
    if location is not None:
        fields["location"] = {key: location.get(key) for key in LOCATION_KEYS}
    return orjson.dumps(fields)[1:-1].decode()


def marks_of(doc: SearchDocument) -> dict[str, str]:
    """The ``marks`` field: :func:`search.highlight.index_marks` of the title and the summary
    (a text without words is left out)."""
    marks = {name: index_marks(getattr(doc, name), doc.language) for name in MARKED_TEXTS}
    return {name: text for name, text in marks.items() if text}
