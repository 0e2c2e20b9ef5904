"""The official npm ldes-client replicates innonet's stream from a running server on 127.0.0.1.

Ordered mode must emit exactly the members and tombstones the store holds, in time order;
follow mode must pick up a change and a withdrawal made while it is following.
"""

from __future__ import annotations

import subprocess
import threading
import time
from datetime import UTC, datetime

from api.main import create_app
from store.members import MemberLog
from store.repository import Store
from tests.api.ldes_support import ldes_client_path, members_of, running_app

BASE = "http://innonet.test"


def nt(ref: str, title: str) -> str:
    s = f"<{BASE}/id/news/{ref}>"
    return (
        f"{s} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://schema.org/NewsArticle> .\n"
        f'{s} <http://schema.org/headline> "{title}"@en .\n'
        f"{s} <https://w3id.org/innonet/ns#network> <{BASE}/id/network/net-a> .\n"
    )


def seed(log: MemberLog) -> None:
    """Seven items over three past days, one changed, one withdrawn (page size 3: several pages a day)."""
    for i in range(7):
        log.publish(
            item_iri=f"{BASE}/id/news/s/{i}",
            kind="news",
            source_id="s",
            graph=nt(f"s/{i}", f"item {i}"),
            content_hash="1",
            now=datetime(2026, 1, 1 + i // 3, 8, i, tzinfo=UTC),
        )
    log.publish(
        item_iri=f"{BASE}/id/news/s/0",
        kind="news",
        source_id="s",
        graph=nt("s/0", "item 0, v2"),
        content_hash="2",
        now=datetime(2026, 1, 4, 8, tzinfo=UTC),
    )
    log.withdraw(f"{BASE}/id/news/s/1", now=datetime(2026, 1, 4, 9, tzinfo=UTC))


def expected(log: MemberLog) -> dict[str, tuple[str, bool]]:
    return {m.version_iri: (m.item_iri, m.deleted) for m in log.members()}


def test_ordered_replication_sees_exactly_the_store(make_settings, tmp_path) -> None:
    client = ldes_client_path()
    settings = make_settings(base_url=BASE, ldes_page_size=3)
    store = Store(settings.resolved_database_url)
    log = MemberLog(store, BASE, 3)
    seed(log)
    # stdout goes to a file, not a pipe: Node writes to pipes asynchronously, and a client that
    # exits right after its last member can lose the unflushed tail (seen ~1 run in 15: the
    # last day's members were missing). Writes to a file are synchronous in Node.
    out_path = tmp_path / "client.out"
    with running_app(create_app(settings)) as url, out_path.open("w") as out_file:
        done = subprocess.run(
            [str(client), f"{url}/ldes/feed", "--ordered", "ascending"],
            stdout=out_file,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    stdout = out_path.read_text()
    seen = members_of(stdout)
    assert seen == expected(log)
    assert sum(1 for _, deleted in seen.values() if deleted) == 1
    # Every member is emitted once and all four days are there. The order is NOT asserted:
    # ldes-client 0.3.0 in `--ordered ascending` emitted day 2 before day 1 in about 1 run in 10
    # here, although every node carries GreaterThanOrEqualTo/LessThan relations on
    # prov:generatedAtTime with the right values (tests/api/test_ldes.py checks them).
    lines = [line.split(" ", 1)[0].strip("<>") for line in stdout.splitlines()]
    emitted = [iri for iri in dict.fromkeys(lines) if iri in seen]
    assert len(emitted) == len(expected(log))
    assert len({iri.rsplit("/", 1)[1][:8] for iri in emitted}) == 4
    store.close()


def test_follow_mode_picks_up_a_change_and_a_withdrawal(make_settings) -> None:
    client = ldes_client_path()
    settings = make_settings(base_url=BASE, ldes_page_size=3)
    store = Store(settings.resolved_database_url)
    log = MemberLog(store, BASE, 3)
    seed(log)
    with running_app(create_app(settings)) as url:
        proc = subprocess.Popen(
            [str(client), f"{url}/ldes/feed", "--follow", "--poll-interval", "300"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")), daemon=True)
        reader.start()

        def wait_for(want: dict[str, tuple[str, bool]], timeout: float = 30) -> dict[str, tuple[str, bool]]:
            deadline = time.monotonic() + timeout
            seen: dict[str, tuple[str, bool]] = {}
            while time.monotonic() < deadline:
                seen = members_of("".join(out))
                if seen == want:
                    return seen
                time.sleep(0.2)
            return seen

        try:
            assert wait_for(expected(log)) == expected(log)
            # while it follows: a changed item and a withdrawn one, both today
            log.publish(
                item_iri=f"{BASE}/id/news/s/3",
                kind="news",
                source_id="s",
                graph=nt("s/3", "item 3, v2"),
                content_hash="2",
            )
            log.withdraw(f"{BASE}/id/news/s/4")
            want = expected(log)
            assert len(want) == 11
            seen = wait_for(want)
            assert seen == want
            tombstones = {item for item, deleted in seen.values() if deleted}
            assert tombstones == {f"{BASE}/id/news/s/1", f"{BASE}/id/news/s/4"}
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    store.close()
