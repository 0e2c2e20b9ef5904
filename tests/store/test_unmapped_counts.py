"""record_unmapped (one SELECT + executemany per batch) counts each tag once per batch it appears in."""

from __future__ import annotations

from pathlib import Path

from pipeline.contracts import NetworkSpec, Registry, SourceSpec
from store.clusters import ensure_tables, record_unmapped, unmapped_tags
from store.repository import Store


def test_unmapped_tags_are_counted_per_batch(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    store.sync_registry(
        Registry(
            networks=[NetworkSpec(id="n", name="n")],
            sources=[SourceSpec(id="a", network="n", title="a", url="http://a"), SourceSpec(id="b", network="n", title="b", url="http://b")],
        )
    )  # fmt: skip
    ensure_tables(store.engine)
    record_unmapped(store.engine, "a", {"kaas": "http://x/1", "worst": "http://x/2"})
    record_unmapped(store.engine, "a", {"kaas": "http://x/3", "brood": "http://x/4"})
    record_unmapped(store.engine, "b", {"kaas": "http://x/5"})
    rows = {(r.tag, r.count, r.example_item) for r in unmapped_tags(store.engine, "a")}
    assert rows == {("kaas", 2, "http://x/1"), ("worst", 1, "http://x/2"), ("brood", 1, "http://x/4")}
    assert [(r.tag, r.count) for r in unmapped_tags(store.engine, "b")] == [("kaas", 1)]
    first = {r.tag: r for r in unmapped_tags(store.engine, "a")}
    assert first["kaas"].last_seen_at >= first["kaas"].first_seen_at
    store.close()
