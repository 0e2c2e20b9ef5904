"""Federation on 127.0.0.1: instance B follows instance A's event stream (platform ``ldes``).

Two real uvicorn servers with separate stores and base URLs. B's items keep A's IRIs and carry
a provenance chain of two networks (A's, then B's); a change and a withdrawal at A reach B; B
keeps its follow state (finished immutable pages are not fetched again); and A following B
following A adds no duplicate and no member: the stream settles.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from rdflib import URIRef

from crawlers.platforms.ldes import follow_ups
from crawlers.samples.server import serve_directory
from ontology.namespaces import PROV, SCHEMA
from pipeline.harvest import harvest
from store.members import follow_state, withdraw_items
from tests.federation.support import chain_of, make_instance, record_graph, serving, write_feed

pytestmark = pytest.mark.integration

NET_A = [{"id": "lab-a", "name": "Lab A"}]
NET_B = [{"id": "city-b", "name": "City B"}]


def _heads(instance) -> dict[str, bool]:
    """item IRI -> withdrawn, from the instance's published heads."""
    from sqlalchemy import select

    from store.ldes_models import LdesHeadRow

    with instance.store.session() as s:
        return {h.item_iri: h.deleted for h in s.scalars(select(LdesHeadRow))}


def test_b_follows_a_with_chain_changes_deletions_and_no_loop(tmp_path: Path) -> None:
    a = make_instance(tmp_path, "a", ldes_page_size=2)
    b = make_instance(tmp_path, "b", ldes_page_size=2)
    feeds_a, feeds_b = tmp_path / "feeds-a", tmp_path / "feeds-b"
    feeds_a.mkdir()
    feeds_b.mkdir()
    write_feed(
        feeds_a / "a.xml", [("a1", "Participatory budget"), ("a2", "Open data day"), ("a3", "Lab notes")]
    )
    write_feed(feeds_b / "b.xml", [("b1", "City B pilots a citizen panel")])
    with (
        serve_directory(feeds_a) as fa,
        serve_directory(feeds_b) as fb,
        serving(a) as url_a,
        serving(b) as url_b,
    ):
        a.register([{"id": "a-news", "network": "lab-a", "title": "A news", "url": f"{fa}/a.xml"}], NET_A)
        b.register(
            [
                {"id": "b-news", "network": "city-b", "title": "B news", "url": f"{fb}/b.xml"},
                {
                    "id": "from-a",
                    "network": "city-b",
                    "title": "Instance A",
                    "url": f"{url_a}/ldes/feed",
                    "platform": "ldes",
                },
            ],
            NET_B,
        )
        assert {r.source_id: r.status for r in harvest(a.settings)} == {"a-news": "ok"}
        a_items = sorted(_heads(a))
        assert len(a_items) == 3
        assert all(i.startswith(url_a + "/id/news/") for i in a_items)

        # 1. B harvests A's stream: A's items, A's IRIs, chain [A's network, B's network]
        reports = {r.source_id: r for r in harvest(b.settings)}
        assert reports["from-a"].status == "ok", reports["from-a"]
        assert reports["from-a"].counts["new"] == 3
        store_b = b.store
        for iri in a_items:
            g = record_graph(store_b, iri)
            assert chain_of(g, iri) == [f"{url_a}/id/network/lab-a", f"{url_b}/id/network/city-b"]
            derived = [str(v) for v in g.objects(URIRef(iri), PROV.wasDerivedFrom) if "/versie/" in str(v)]
            assert len(derived) == 1
            assert derived[0].startswith(iri + "/versie/")
        assert store_b.count_records("from-a") == 3
        # B republishes them in its own stream (mirror version IRIs), next to its own item
        heads_b = _heads(b)
        assert set(a_items) <= set(heads_b)
        assert len(heads_b) == 4

        # the follow state: A's full page (2 members, immutable) is finished and not fetched again
        state = follow_state(store_b, "from-a")
        assert state is not None
        assert any("page=1" in p for p in state.done_pages)
        day_node = next(p for p in state.done_pages if "page=1" in p).replace("&page=1", "")
        answer = httpx.get(day_node)
        todo = follow_ups(
            answer.content, day_node, answer.headers["content-type"], {"done_pages": state.done_pages}, 1
        )
        assert not any("page=1" in t for t in todo)
        members_b = b.log().count()
        again = {r.source_id: r for r in harvest(b.settings)}["from-a"]
        assert again.counts["new"] == 0
        assert again.counts["updated"] == 0
        assert b.log().count() == members_b  # an unchanged stream adds nothing downstream

        # 2. a change at A reaches B as one update (and one new member in B's stream)
        write_feed(
            feeds_a / "a.xml",
            [("a1", "Participatory budget, second round"), ("a2", "Open data day"), ("a3", "Lab notes")],
        )
        changed = {r.source_id: r for r in harvest(a.settings)}["a-news"]
        assert changed.counts["updated"] == 1
        after = {r.source_id: r for r in harvest(b.settings)}["from-a"]
        assert after.counts["updated"] == 1
        assert after.counts["new"] == 0
        titles = {str(record_graph(store_b, i).value(URIRef(i), SCHEMA.headline)) for i in a_items}
        assert "Participatory budget, second round" in titles
        assert b.log().count() == members_b + 1

        # 3. a withdrawal at A becomes a withdrawal (as:Delete member) in B
        gone = a_items[1]
        assert withdraw_items(a.store, a.settings.base_url, [gone])
        harvest(b.settings)
        assert _heads(b)[gone] is True
        assert sum(_heads(b).values()) == 1

        # 4. the loop: A follows B (which carries A's items and its own); A gets only B's own item
        a.register(
            [
                {"id": "a-news", "network": "lab-a", "title": "A news", "url": f"{fa}/a.xml"},
                {
                    "id": "from-b",
                    "network": "lab-a",
                    "title": "B",
                    "url": f"{url_b}/ldes/feed",
                    "platform": "ldes",
                },
            ],
            NET_A,
        )
        members_a = a.log().count()
        loop = {r.source_id: r for r in harvest(a.settings)}
        assert loop["from-b"].status == "ok", loop["from-b"]
        assert loop["from-b"].counts["new"] == 1  # b1 only: A's own items coming back are skipped
        b_own = next(i for i in _heads(b) if i.startswith(url_b))
        g = record_graph(a.store, b_own)
        assert chain_of(g, b_own) == [f"{url_b}/id/network/city-b", f"{url_a}/id/network/lab-a"]
        assert a.log().count() == members_a + 1
        assert a.store.count_records() == 4  # a1..a3 + b1, no copy of its own items
        assert _heads(a)[gone] is True  # B's tombstone of A's item does not resurrect or re-delete it

        # B follows A again: A's copy of b1 is B's own item coming back; nothing changes anywhere
        members_a, members_b = a.log().count(), b.log().count()
        settle_b = {r.source_id: r for r in harvest(b.settings)}["from-a"]
        settle_a = {r.source_id: r for r in harvest(a.settings)}["from-b"]
        assert settle_b.counts["new"] == settle_b.counts["updated"] == 0
        assert settle_a.counts["new"] == settle_a.counts["updated"] == 0
        assert (a.log().count(), b.log().count()) == (members_a, members_b)
        assert b.store.count_records() == 4
