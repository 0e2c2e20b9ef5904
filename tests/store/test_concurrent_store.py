"""Two writers on one store at the same moment, as the harvest DAG's parallel batches are.

``pipeline.store.store_and_publish`` claims that a concurrent writer which stores one of the same
IRIs, cluster keys or versions first makes it read again. These tests check that claim on SQLite
and PostgreSQL with real writers (separate engines; threads for a forced interleaving, OS
processes for a free race) on real corpus feeds, against a sequential run of the same sources:

* the same records (IRI and content hash), no item lost, none twice;
* one member and one head per item (a source stored by both writers is published once);
* the same clusters: syndicated copies (same title and summary under another URL, from another
  source) share a cluster, and every stored key points at a cluster whose items carry it.
"""

from __future__ import annotations

import multiprocessing
import re
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from pipeline.contracts import FetchResult, NetworkSpec, Registry, SourceSpec
from pipeline.harvest import process_fetched
from pipeline.settings import Settings
from pipeline.store import RETRIES
from store.ldes_models import LdesHeadRow, LdesMemberRow
from store.models import RecordRow
from store.repository import Store
from store.vocab_models import ClusterKeyRow

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
BASE = "http://innonet.test"
FEEDS = ("guardian_rss2.xml", "wordpress_rss2_dc_atom.xml")
_CLUSTER = re.compile(r"<https://w3id.org/innonet/ns#cluster> <([^>]+)>")
_LINK = re.compile(rb"(<(?:link|guid)\b[^>]*>\s*)https?://[^/<\s]+")

Source = tuple[str, bytes]  # (source id, feed bytes)


def syndicated(body: bytes) -> bytes:
    """The same feed republished by another site: every item link and guid on another host."""
    return _LINK.sub(rb"\1https://copy.example.org", body)


def writer_sources(corpus: Path) -> tuple[list[Source], list[Source]]:
    """Writer 1: the originals and a shared source; writer 2: the copies and the same shared source."""
    first: list[Source] = []
    second: list[Source] = []
    for name in FEEDS:
        body = (corpus / "rss_atom" / name).read_bytes()
        stem = Path(name).stem
        assert syndicated(body) != body
        first.append((f"orig-{stem}", body))
        second.append((f"copy-{stem}", syndicated(body)))
        shared = (f"both-{stem}", body.replace(b"://www.", b"://shared."))
        first.append(shared)
        second.append(shared)
    return first, second


def _spec(source_id: str) -> SourceSpec:
    return SourceSpec(id=source_id, network="net", title=source_id, url=f"http://feeds.test/{source_id}")


def prepare(url: str, sources: list[Source]) -> None:
    """Registry rows and archived payloads (what the plan and fetch tasks leave for a batch)."""
    store = Store(url)
    try:
        specs = {sid: _spec(sid) for sid, _ in sources}
        store.sync_registry(
            Registry(networks=[NetworkSpec(id="net", name="Net")], sources=list(specs.values()))
        )
        for sid, body in sources:
            store.save_payload(body, specs[sid].url, "application/xml")
    finally:
        store.close()


def harvest_sources(store: Store, sources: list[Source]) -> list[tuple[str, str, dict[str, int]]]:
    """``process_fetched`` per source, as a harvest batch runs it; (source, status, counts)."""
    import hashlib

    settings = Settings(data_dir=Path("/nonexistent-unused"), base_url=BASE)  # type: ignore[call-arg]
    out = []
    for sid, body in sources:
        spec = _spec(sid)
        result = FetchResult(
            source_id=sid, url=spec.url, status=200, ok=True, content_type="application/xml",
            body_sha256=hashlib.sha256(body).hexdigest(), body_size=len(body), fetched_at=NOW,
        )  # fmt: skip
        report = process_fetched(settings, store, spec, result)
        out.append((sid, report.status, dict(report.counts)))
    return out


def snapshot(url: str) -> dict[str, Any]:
    """What must not depend on how the writers interleaved."""
    store = Store(url)
    try:
        with store.session() as s:
            records = s.execute(select(RecordRow.iri, RecordRow.content_hash, RecordRow.graph)).all()
            members = Counter(s.scalars(select(LdesMemberRow.item_iri)))
            heads = set(s.scalars(select(LdesHeadRow.item_iri)))
            keys = s.execute(select(ClusterKeyRow.key, ClusterKeyRow.cluster)).all()
            record_count = s.scalar(select(func.count()).select_from(RecordRow))
    finally:
        store.close()
    cluster_of: dict[str, str] = {}
    for iri, _, graph in records:
        found = _CLUSTER.findall(graph)
        assert len(found) == 1, (iri, found)
        cluster_of[iri] = found[0]
    members_of: dict[str, set[str]] = {}
    for iri, cluster in cluster_of.items():
        members_of.setdefault(cluster, set()).add(iri)
    return {
        "records": {(iri, chash) for iri, chash, _ in records},
        "record_count": record_count,
        "members": members,
        "heads": heads,
        # clusters as groups of items (cluster IRIs depend on which copy was stored first)
        "partition": {frozenset(group) for group in members_of.values()},
        # each stored key -> the items of the cluster it names (empty: a cluster no item is in)
        "keys": {key: frozenset(members_of.get(cluster, ())) for key, cluster in keys},
    }


def assert_same_as_sequential(concurrent: dict[str, Any], sequential: dict[str, Any]) -> None:
    assert concurrent["record_count"] == len(concurrent["records"])  # no IRI twice
    assert concurrent["records"] == sequential["records"]  # none lost, none extra, same content
    assert set(concurrent["members"].values()) == {1}, "an item was published more than once"
    assert set(concurrent["members"]) == concurrent["heads"] == {iri for iri, _ in sequential["records"]}
    split = [g for g in concurrent["partition"] if g not in sequential["partition"]]
    assert not split, f"{len(split)} clusters differ from the sequential run's, e.g. {sorted(split[0])[:3]}"
    assert concurrent["partition"] == sequential["partition"]
    orphans = [k for k, items in concurrent["keys"].items() if not items]
    assert not orphans, f"{len(orphans)} stored keys name a cluster no item is in, e.g. {orphans[:3]}"
    assert concurrent["keys"] == sequential["keys"]


def sequential_reference(url: str, first: list[Source], second: list[Source]) -> dict[str, Any]:
    prepare(url, first + second)
    store = Store(url)
    try:
        harvest_sources(store, first)
        harvest_sources(store, second)
    finally:
        store.close()
    return snapshot(url)


def test_copies_stored_while_another_writer_clusters(store_url_pair: tuple[str, str], corpus: Path) -> None:
    """Forced interleaving: writer 2 stores its copies between writer 1's cluster reads and its writes.

    That is the window a parallel batch hits when two networks carry the same story in one cycle.
    """
    url, reference_url = store_url_pair
    first, second = writer_sources(corpus)
    originals, copies = first[:1], second[:1]  # one syndicated pair: guardian and its copy
    prepare(url, originals + copies)
    one, two = Store(url), Store(url)  # separate engines, as two batch processes have
    paused, resumed, hooked = threading.Event(), threading.Event(), [False]

    @event.listens_for(one.engine, "before_cursor_execute")
    def _pause(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # SQLite: the write lock is taken by BEGIN IMMEDIATE just before the first insert (store/write_lock.py)
        if not hooked[0] and statement.lstrip().upper().startswith(
            ("INSERT INTO CLUSTER_KEYS", "BEGIN IMMEDIATE")
        ):
            hooked[0] = True  # writer 1 has read the stored keys and clustered; its writes start now
            paused.set()
            assert resumed.wait(60), "writer 2 did not finish"

    before = RETRIES.copy()
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(harvest_sources(one, originals)))
    try:
        thread.start()
        assert paused.wait(60), "writer 1 never wrote a cluster key"
        try:
            second_result = harvest_sources(two, copies)
        finally:
            resumed.set()
        thread.join(120)
        assert not thread.is_alive()
    finally:
        one.close()
        two.close()
    assert hooked[0]
    retried = RETRIES - before
    assert retried == Counter(clusters=1), retried  # writer 1 clustered again, once; nothing went one by one
    assert [status for _, status, _ in results[0] + second_result] == ["ok", "ok"]
    assert_same_as_sequential(snapshot(url), sequential_reference(reference_url, originals, copies))


def _process_writer(url: str, sources: list[Source], start: Any, out: Any) -> None:
    store = Store(url)  # its own engine and connections, after the fork
    try:
        start.wait(60)
        RETRIES.clear()
        out.put((harvest_sources(store, sources), dict(RETRIES)))
    except BaseException as exc:  # noqa: BLE001 - reported to the test, which fails on it
        out.put(f"{type(exc).__name__}: {exc}")
    finally:
        store.close()


@pytest.mark.parametrize("rounds", [3])
def test_two_processes_store_shared_items_at_once(
    store_url_pair: tuple[str, str], corpus: Path, rounds: int
) -> None:
    """Free race: two OS processes harvest overlapping sources at the same moment, several rounds.

    Each round adds new sources (originals, their copies, one source both processes store); the
    store must end up as the sequential run of the same sources leaves it."""
    url, reference_url = store_url_pair
    context = multiprocessing.get_context("fork")
    all_first: list[Source] = []
    all_second: list[Source] = []
    for r in range(rounds):
        first, second = writer_sources(corpus)
        first = [(f"{sid}-{r}", body) for sid, body in first]
        second = [(f"{sid}-{r}", body) for sid, body in second]
        prepare(url, first + second)
        start, out = context.Barrier(2), context.Queue()
        writers = [
            context.Process(target=_process_writer, args=(url, sources, start, out))
            for sources in (first, second)
        ]
        for w in writers:
            w.start()
        answers = [out.get(timeout=120) for _ in writers]
        for w in writers:
            w.join(60)
            assert w.exitcode == 0
        for answer in answers:
            assert not isinstance(answer, str), answer
            reports, retried = answer
            assert {status for _, status, _ in reports} == {"ok"}, reports
            assert "one_by_one" not in retried, retried  # no batch fell back (e.g. on a deadlock)
        all_first += first
        all_second += second
    assert_same_as_sequential(snapshot(url), sequential_reference(reference_url, all_first, all_second))


def test_members_become_visible_in_log_order(store_url: str, corpus: Path) -> None:
    """A reader of the stream never sees a member before every member with a lower sequence number.

    LDES pages are cut every ``page_size`` members in sequence order, and a full page is served as
    immutable: a member that becomes visible later *below* members already seen would shift pages a
    client has cached for good (it would never see that member). Writer 1 is held after inserting
    its members, before its commit; writer 2 stores another source meanwhile (or waits, if the
    store serialises appends); a third engine reads the log in between.
    """
    first, _ = writer_sources(corpus)
    originals, copies = first[:1], first[2:3]  # two feeds without shared cluster keys (no key waits)
    prepare(store_url, originals + copies)
    one, two, reader = Store(store_url), Store(store_url), Store(store_url)
    paused, resumed, hooked = threading.Event(), threading.Event(), [False]

    @event.listens_for(one.engine, "before_cursor_execute")
    def _pause(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not hooked[0] and statement.lstrip().upper().startswith("INSERT INTO LDES_HEADS"):
            hooked[0] = True  # writer 1's members are inserted (their seqs taken), not committed
            paused.set()
            assert resumed.wait(60)

    done: list[Any] = []
    writer_one = threading.Thread(target=lambda: done.append(harvest_sources(one, originals)))
    writer_two = threading.Thread(target=lambda: done.append(harvest_sources(two, copies)))
    try:
        writer_one.start()
        assert paused.wait(60), "writer 1 never wrote a head"
        writer_two.start()
        writer_two.join(3)  # finished, or waiting for writer 1 (the store serialises appends)
        with reader.session() as s:
            seen = set(s.scalars(select(LdesMemberRow.seq)))
        resumed.set()
        writer_one.join(120)
        writer_two.join(120)
        assert not writer_one.is_alive()
        assert not writer_two.is_alive()
    finally:
        resumed.set()
        one.close()
        two.close()
    with reader.session() as s:
        final = sorted(s.scalars(select(LdesMemberRow.seq)))
    reader.close()
    assert len(done) == 2
    assert len(final) == len(set(final)) > 0
    late = [seq for seq in final if seq not in seen and seen and seq < max(seen)]
    assert not late, (
        f"{len(late)} members became visible after the reader saw higher sequence numbers "
        f"(seen up to {max(seen)}; late: {late[:5]}...)"
    )
