"""record_unmapped (one upsert executemany per batch) counts each tag once per batch it appears in,
on SQLite and PostgreSQL: first seen time and example stay, the count and last seen time move."""

from __future__ import annotations

from pipeline.contracts import NetworkSpec, Registry, SourceSpec
from store.clusters import ensure_tables, record_unmapped, unmapped_tags
from store.repository import Store


def test_unmapped_tags_are_counted_per_batch(store: Store) -> None:
    store.sync_registry(
        Registry(
            networks=[NetworkSpec(id="n", name="n")],
            sources=[SourceSpec(id="a", network="n", title="a", url="http://a"), SourceSpec(id="b", network="n", title="b", url="http://b")],
        )
    )  # fmt: skip
    ensure_tables(store.engine)
    record_unmapped(store.engine, "a", {"kaas": "http://x/1", "worst": "http://x/2"})
    before = {r.tag: r for r in unmapped_tags(store.engine, "a")}
    record_unmapped(store.engine, "a", {"kaas": "http://x/3", "brood": "http://x/4"})
    record_unmapped(store.engine, "b", {"kaas": "http://x/5"})
    rows = {(r.tag, r.count, r.example_item) for r in unmapped_tags(store.engine, "a")}
    assert rows == {("kaas", 2, "http://x/1"), ("worst", 1, "http://x/2"), ("brood", 1, "http://x/4")}
    assert [(r.tag, r.count) for r in unmapped_tags(store.engine, "b")] == [("kaas", 1)]
    after = {r.tag: r for r in unmapped_tags(store.engine, "a")}
    assert after["kaas"].first_seen_at == before["kaas"].first_seen_at
    assert after["kaas"].last_seen_at > before["kaas"].last_seen_at
    assert after["worst"].last_seen_at == before["worst"].last_seen_at
    assert after["brood"].first_seen_at == after["brood"].last_seen_at > before["kaas"].last_seen_at
