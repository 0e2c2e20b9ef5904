"""Deterministic, stable IRIs: the same input gives the same IRI on every run and machine.

Pattern (Flemish URI standard): ``{base}/id/{type}/{ref}`` for things and
``{base}/doc/{type}/{ref}`` for the documents about them. ``ref`` is the source id and a
hash of the item's native id, so re-harvests and other instances mint the same IRI.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from rdflib import URIRef

#: RawItem.kind -> the {type} path segment. Published IRIs never change: add kinds, never rename.
ITEM_TYPES = {"news": "news", "event": "event", "case": "case", "organisation": "organisation"}


def item_ref(source_id: str, native_id: str) -> str:
    digest = hashlib.sha256(f"{source_id}\x1f{native_id}".encode()).hexdigest()[:20]
    return f"{source_id}/{digest}"


def item_iri(base: str, kind: str, source_id: str, native_id: str) -> URIRef:
    return URIRef(f"{base.rstrip('/')}/id/{ITEM_TYPES[kind]}/{item_ref(source_id, native_id)}")


def source_iri(base: str, source_id: str) -> URIRef:
    return URIRef(f"{base.rstrip('/')}/id/source/{source_id}")


def network_iri(base: str, network_id: str) -> URIRef:
    return URIRef(f"{base.rstrip('/')}/id/network/{network_id}")


def payload_iri(sha256: str) -> URIRef:
    """A raw payload is named by its content: the same bytes, the same IRI everywhere."""
    return URIRef(f"urn:sha256:{sha256}")


def doc_path(id_path: str) -> str:
    """``/id/news/x/y`` -> ``/doc/news/x/y``."""
    return "/doc/" + id_path.removeprefix("/id/")


def harvest_iri(base: str, source_id: str, when: datetime) -> URIRef:
    """One harvest run of one source: ``{base}/id/harvest/{source}/{yyyyMMddTHHmmssZ}``."""
    stamp = when.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return URIRef(f"{base.rstrip('/')}/id/harvest/{source_id}/{stamp}")


def cluster_iri(base: str, key: str) -> URIRef:
    """A cluster of copies, named by a hash of its first member's key (stable once minted)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return URIRef(f"{base.rstrip('/')}/id/cluster/{digest}")


def node_iri(item: URIRef, part: str) -> URIRef:
    """A node that belongs to one item (its place, address, offer): ``{item}#{part}``, no blank nodes."""
    return URIRef(f"{item}#{part}")
