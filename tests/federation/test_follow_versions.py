"""A followed stream never rolls an item back: only versions newer than the one taken count.

Runs the real harvest stages after fetch (``process_fetched``) on archived LDES pages built from
a real member log, in the order a partial fetch failure could deliver them: the newest version
first, then a page with an older version, an older tombstone, and finally a newer tombstone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rdflib import Graph, Literal, URIRef

from ontology.namespaces import SCHEMA
from pipeline.contracts import FetchResult, NetworkSpec, Registry, SourceSpec
from pipeline.harvest import process_fetched
from store.members import MemberLog
from store.repository import Store

GOLDEN = Path(__file__).resolve().parent.parent / "ontology" / "golden" / "spiegel_update_news.ttl"
A = "http://innonet.test"
STREAM = f"{A}/ldes/feed"


def _versions(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """Instance A's member log: v1, v2 (new headline), then a withdrawal; version IRI -> N-Triples."""
    g = Graph().parse(GOLDEN, format="turtle")
    item = next(str(s) for s in g.subjects(SCHEMA.headline, None))
    log = MemberLog(Store(f"sqlite:///{tmp_path / 'a.sqlite3'}"), A)
    log.publish(item_iri=item, kind="news", source_id="s", graph=g, content_hash="1",
                now=datetime(2026, 1, 1, 9, tzinfo=UTC))  # fmt: skip
    g2 = Graph() + g
    g2.set((URIRef(item), SCHEMA.headline, Literal("v2 headline", lang="de")))
    log.publish(item_iri=item, kind="news", source_id="s", graph=g2, content_hash="2",
                now=datetime(2026, 1, 2, 9, tzinfo=UTC))  # fmt: skip
    log.withdraw(item, now=datetime(2026, 1, 3, 9, tzinfo=UTC))
    return item, {m.version_iri: m.graph for m in log.members()}


def _page(store: Store, members: list[tuple[str, str]], n: int) -> FetchResult:
    body = "".join(f"<{STREAM}> <https://w3id.org/tree#member> <{v}> .\n{nt}" for v, nt in members)
    sha = store.save_payload(body.encode(), f"{STREAM}?p={n}", "application/n-triples")
    return FetchResult(
        source_id="from-a", url=STREAM, ok=True, status=200, body_sha256=sha,
        content_type="application/n-triples", fetched_at=datetime.now(UTC),
    )  # fmt: skip


def test_older_versions_and_tombstones_never_win(make_settings, tmp_path) -> None:
    item, versions = _versions(tmp_path)
    v1, v2, gone = list(versions.items())
    settings = make_settings(base_url="http://b.test")
    store = Store(settings.resolved_database_url)
    source = SourceSpec(id="from-a", network="city-b", title="A", url=STREAM, platform="ldes")
    store.sync_registry(Registry(networks=[NetworkSpec(id="city-b", name="City B")], sources=[source]))
    log = MemberLog(store, settings.base_url)

    def headline() -> str:
        row = store.record(item)
        assert row is not None
        return str(Graph().parse(data=row.graph, format="nt").value(URIRef(item), SCHEMA.headline))

    first = process_fetched(settings, store, source, _page(store, [v2], 1))
    assert first.counts["new"] == 1
    assert headline() == "v2 headline"
    stale = process_fetched(settings, store, source, _page(store, [v1], 2))
    assert stale.counts["updated"] == 0
    assert headline() == "v2 headline"
    # the same page again: nothing new on the stream, nothing to do
    again = process_fetched(settings, store, source, _page(store, [v2], 3))
    assert sum(again.counts.values()) == 0
    # a tombstone newer than the version we hold withdraws the item
    assert log.head(item).deleted is False
    process_fetched(settings, store, source, _page(store, [v1, gone], 4))
    assert log.head(item).deleted is True
    assert log.count() == 2  # v2 mirrored, then its tombstone: the stale v1 never became a member
