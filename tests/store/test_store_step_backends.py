"""The store and publish steps on SQLite and PostgreSQL: statements built once, driver executemany,
ON CONFLICT DO NOTHING cluster keys (store/repository.py, store/clusters.py, store/members.py).

Real corpus feeds through ``process_fetched``; run twice, the second run must change nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from pipeline.contracts import FetchResult, NetworkSpec, Registry, SourceSpec
from pipeline.harvest import process_fetched
from pipeline.settings import Settings
from store import clusters
from store.ldes_models import LdesHeadRow, LdesMemberFacetRow, LdesMemberRow
from store.models import RecordRow
from store.repository import Store
from store.vocab_models import ClusterKeyRow, ClusterSignatureRow

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
FEEDS = ("guardian_rss2.xml", "heise_de_atom.xml", "spiegel_de_rss2.xml")


def _count(store: Store, column) -> int:  # noqa: ANN001 - any mapped column
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(column.class_)) or 0)


def _harvest(store: Store, settings: Settings, corpus: Path, copies: int) -> list:
    reports = []
    for i in range(copies):
        for name in FEEDS:
            spec = SourceSpec(
                id=f"{Path(name).stem}-{i}", network="net-a", title=name, url=f"http://x/{i}/{name}"
            )
            store.sync_registry(Registry(networks=[NetworkSpec(id="net-a", name="A")], sources=[spec]))
            body = (corpus / "rss_atom" / name).read_bytes()
            sha = store.save_payload(body, spec.url, "application/xml")
            result = FetchResult(
                source_id=spec.id,
                url=spec.url,
                status=200,
                ok=True,
                body_sha256=sha,
                body_size=len(body),
                fetched_at=NOW,
            )
            reports.append(process_fetched(settings, store, spec, result))
    return reports


def test_store_and_publish_steps_on_each_backend(store: Store, corpus: Path, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, base_url="http://innonet.test")  # type: ignore[call-arg]
    first = _harvest(store, settings, corpus, copies=2)
    assert all(r.status == "ok" for r in first), [(r.source_id, r.message) for r in first]
    new = sum(r.counts.get("new", 0) for r in first)
    assert new == _count(store, RecordRow.iri) > 100
    assert _count(store, LdesMemberRow.seq) == _count(store, LdesHeadRow.item_iri) == new
    assert _count(store, LdesMemberFacetRow.seq) >= 3 * new  # type, source, network at least
    keys, signatures = _count(store, ClusterKeyRow.key), _count(store, ClusterSignatureRow.cluster)
    assert keys > new
    assert signatures > 0
    # The second copy of each feed is the same news: clustered with the first copy, not a new cluster.
    with store.session() as s:
        rows = s.execute(select(RecordRow.source_id, RecordRow.native_id, RecordRow.graph)).all()
    cluster_of: dict[str, set[str]] = {}
    for source_id, native_id, graph in rows:
        found = re.search(r"<https://w3id.org/innonet/ns#cluster> <([^>]+)>", graph)
        assert found is not None
        cluster_of.setdefault(f"{source_id.rsplit('-', 1)[0]} {native_id}", set()).add(found.group(1))
    assert len(cluster_of) == new // 2
    assert all(len(ids) == 1 for ids in cluster_of.values())  # both copies share one cluster
    # Again: nothing new, no member added, cluster keys saved again without a conflict.
    again = _harvest(store, settings, corpus, copies=2)
    assert [r.counts.get("unchanged", 0) for r in again] == [r.counts.get("new", 0) for r in first]
    assert _count(store, LdesMemberRow.seq) == new
    assert _count(store, ClusterKeyRow.key) == keys
    assert _count(store, ClusterSignatureRow.cluster) == signatures
    # save_clusters keeps existing keys as they are (never reassigned)
    some_key = next(iter(clusters.lookup_keys(store.engine, _all_keys(store)[:1])))
    before = clusters.lookup_keys(store.engine, [some_key])
    clusters.save_clusters(store.engine, {some_key: "http://innonet.test/id/cluster/other"}, {})
    assert clusters.lookup_keys(store.engine, [some_key]) == before


def _all_keys(store: Store) -> list[str]:
    with store.session() as s:
        return list(s.scalars(select(ClusterKeyRow.key).order_by(ClusterKeyRow.key)))
