"""Test helper: a real store holding N item graphs written with the vocabulary's predicates."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from store.models import NetworkRow, RecordRow, SourceRow
from store.repository import Store

BASE = "http://innonet.test"
_WORDS = ["proeftuin", "participatie", "gemeente", "sandbox", "mobility", "données", "Verwaltung", "zorg"]


def item_graph(i: int) -> str:
    """One NewsArticle as N-Triples (the shape the store keeps)."""
    s = f"<{BASE}/id/news/src-{i % 5}/{i:06d}>"
    words = " ".join(_WORDS[(i + k) % len(_WORDS)] for k in range(4))
    published = (datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"{s} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/NewsArticle> .",
        f'{s} <http://schema.org/headline> "Item {i}: {words}" .',
        f'{s} <http://schema.org/description> "Over {words} in stad {i % 17}." .',
        f'{s} <http://schema.org/inLanguage> "nl" .',
        f'{s} <http://schema.org/datePublished> "{published}"^^<http://www.w3.org/2001/XMLSchema#dateTime> .',
        f"{s} <https://w3id.org/innonet/ns#network> <{BASE}/id/network/net-{i % 3}> .",
        f"{s} <http://purl.org/dc/terms/source> <{BASE}/id/source/src-{i % 5}> .",
        f"{s} <http://purl.org/dc/terms/subject> <https://w3id.org/innonet/concepts/theme/t{i % 4}> .",
    ]
    return "\n".join(lines) + "\n"


def filled_store(path: Path, n: int) -> Store:
    """A SQLite store at ``path`` with 3 networks, 5 sources and ``n`` records."""
    store = Store(f"sqlite:///{path}")
    now = datetime.now(UTC)
    with store.session() as s, s.begin():
        for k in range(3):
            s.add(NetworkRow(id=f"net-{k}", name=f"Network {k}", homepage=None, country="BEL"))
        s.flush()
        for k in range(5):
            s.add(
                SourceRow(
                    id=f"src-{k}",
                    network_id=f"net-{k % 3}",
                    title=f"Source {k}",
                    url=f"https://example.org/{k}.xml",
                    platform="feed",
                    kind="news",
                    language="nl",
                    licence=None,
                    paused=False,
                )
            )
        s.flush()
        for i in range(n):
            graph = item_graph(i)
            s.add(
                RecordRow(
                    iri=f"{BASE}/id/news/src-{i % 5}/{i:06d}",
                    source_id=f"src-{i % 5}",
                    kind="news",
                    native_id=str(i),
                    content_hash=hashlib.sha256(graph.encode()).hexdigest(),
                    graph=graph,
                    raw_sha256=None,
                    first_seen_at=now,
                    updated_at=now,
                    indexed_hash=None,
                )
            )
    return store
