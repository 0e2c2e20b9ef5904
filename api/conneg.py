"""Content negotiation for linked-data documents: Accept header (or extension) -> RDF format.

Formats are those rdflib can write and parse back to the same graph. Anything else is a
406 that lists what we can produce.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from rdflib import Graph

#: media type -> (rdflib format, file extension)
FORMATS: dict[str, tuple[str, str]] = {
    "text/turtle": ("turtle", "ttl"),
    "application/ld+json": ("json-ld", "jsonld"),
    "application/n-triples": ("nt", "nt"),
    "application/n-quads": ("nquads", "nq"),
    "application/rdf+xml": ("xml", "rdf"),
    "text/html": ("html", "html"),
}
ALIASES = {
    "application/json": "application/ld+json",
    "application/x-turtle": "text/turtle",
    "text/plain": "application/n-triples",
}
EXTENSIONS = {ext: media for media, (_, ext) in FORMATS.items()}
DEFAULT = "text/turtle"


class NotAcceptable(Exception):
    """None of the client's acceptable types can be produced."""

    def __init__(self, accept: str) -> None:
        super().__init__(f"cannot produce any of {accept!r}; available: {', '.join(FORMATS)}")


def negotiate(accept: str | None) -> str:
    """The best media type for an Accept header (RFC 9110 q-values; ties keep the client's order)."""
    if not accept or not accept.strip():
        return DEFAULT
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for param in fields[1:]:
            if param.lower().startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        if q > 0:
            ranked.append((-q, position, media))
    for _, _, media in sorted(ranked):
        media = ALIASES.get(media, media)
        if media in FORMATS:
            return media
        if media in ("*/*", "text/*", "application/*"):
            if media == "application/*":
                return "application/ld+json"
            return DEFAULT
    raise NotAcceptable(accept)


@lru_cache(maxsize=1)
def jsonld_context() -> dict[str, object]:
    """Our bundled JSON-LD context (no remote context is ever fetched)."""
    path = Path(__file__).resolve().parent.parent / "ontology" / "context.jsonld"
    return json.loads(path.read_text(encoding="utf-8"))["@context"]


def bind_prefixes(g: Graph) -> Graph:
    for prefix, iri in jsonld_context().items():
        g.bind(prefix, iri, override=True, replace=True)
    return g


def serialize(g: Graph, media: str) -> str:
    """Serialise ``g`` as ``media`` (an RDF type from :data:`FORMATS`)."""
    fmt = FORMATS[media][0]
    if fmt == "nquads":
        return g.serialize(format="nt")  # a triple graph: its N-Triples are its N-Quads (default graph)
    bind_prefixes(g)
    if fmt == "json-ld":
        return g.serialize(format="json-ld", context=jsonld_context(), auto_compact=True)
    return g.serialize(format=fmt)
