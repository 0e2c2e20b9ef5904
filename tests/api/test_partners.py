"""Partner self-service API on a real app, a real store and a real HTTP server for previews."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from store import partners
from store.models import RecordRow, SourceRow
from store.repository import Store


@pytest.fixture
def app_env(make_settings, tmp_path, feed_server, demo_sources) -> Iterator[tuple[TestClient, Store, dict]]:
    from tests.conftest import write_registry

    registry = write_registry(tmp_path / "registry.yaml", demo_sources)
    settings = make_settings(
        registry_path=registry,
        samples_url=feed_server,
        partner_rate_per_minute=30,
        partner_max_body_bytes=4096,
    )
    store = Store(settings.resolved_database_url)
    from pipeline.registry import load_registry

    store.sync_registry(load_registry(settings))
    keys = {
        "a": partners.issue_key(store, "net-a", "test"),
        "b": partners.issue_key(store, "net-b", "test"),
    }
    with TestClient(create_app(settings)) as client:
        yield client, store, {"feed": feed_server, **keys}
    store.close()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _new_source(feed: str, sid: str = "lab-news") -> dict:
    return {
        "id": sid,
        "title": "Lab news",
        "url": f"{feed}/guardian_rss2.xml",
        "tag_map": {"Politics": "t-gov"},
    }


def test_requests_without_a_valid_key_are_refused(app_env):
    client, store, keys = app_env
    r = client.get("/partner/v1/me")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/partner/v1/me", headers=_auth("inn_000000000000_nope")).status_code == 401
    assert client.get("/partner/v1/me", headers=_auth(keys["a"] + "x")).status_code == 401
    r = client.get("/partner/v1/me", headers={"X-API-Key": keys["a"]})
    assert r.json()["network"] == "net-a"
    partners.revoke_key(store, keys["a"][4:16])
    assert client.get("/partner/v1/me", headers=_auth(keys["a"])).status_code == 401


def test_a_network_manages_its_own_sources(app_env):
    client, store, keys = app_env
    a = _auth(keys["a"])
    r = client.post("/partner/v1/sources", json=_new_source(keys["feed"]), headers=a)
    assert r.status_code == 201, r.text
    assert r.json()["network"] == "net-a"
    assert r.json()["managed_by"] == "partner"
    listed = {s["id"]: s["managed_by"] for s in client.get("/partner/v1/sources", headers=a).json()}
    assert listed == {"guardian": "registry", "broken": "registry", "lab-news": "partner"}

    r = client.patch("/partner/v1/sources/lab-news", json={"title": "Renamed", "paused": True}, headers=a)
    assert r.status_code == 200, r.text
    assert (r.json()["title"], r.json()["paused"]) == ("Renamed", True)
    assert store.source("lab-news").paused is True
    r = client.put("/partner/v1/sources/lab-news/tag-map", json={"AI": "t-ai"}, headers=a)
    assert r.json()["tag_map"] == {"AI": "t-ai"}
    # the registry file's sources are the operator's: readable, not editable
    assert client.patch("/partner/v1/sources/guardian", json={"title": "x"}, headers=a).status_code == 409
    assert (
        client.post("/partner/v1/sources", json=_new_source(keys["feed"], "guardian"), headers=a).status_code
        == 409
    )
    assert client.delete("/partner/v1/sources/lab-news", headers=a).status_code == 204
    assert client.get("/partner/v1/sources/lab-news", headers=a).status_code == 404


def test_a_network_can_never_touch_another_networks_sources(app_env):
    client, store, keys = app_env
    a, b = _auth(keys["a"]), _auth(keys["b"])
    assert client.post("/partner/v1/sources", json=_new_source(keys["feed"]), headers=a).status_code == 201
    # b sees nothing of a's sources, whether partner-added or from the registry file
    for sid in ("lab-news", "guardian"):
        assert client.get(f"/partner/v1/sources/{sid}", headers=b).status_code == 404
        assert client.get(f"/partner/v1/sources/{sid}/reports", headers=b).status_code == 404
        assert client.patch(f"/partner/v1/sources/{sid}", json={"paused": True}, headers=b).status_code == 404
        assert client.put(f"/partner/v1/sources/{sid}/tag-map", json={"x": "y"}, headers=b).status_code == 404
        assert client.delete(f"/partner/v1/sources/{sid}", headers=b).status_code == 404
    # a network in the body is ignored: the key decides
    body = {**_new_source(keys["feed"], "sneaky"), "network": "net-a"}
    r = client.post("/partner/v1/sources", json=body, headers=b)
    assert r.status_code == 201
    assert r.json()["network"] == "net-b"
    assert {s["id"] for s in client.get("/partner/v1/sources", headers=b).json()} == {
        "heise",
        "psy",
        "sneaky",
    }
    assert store.source("lab-news").paused is False
    assert partners.partner_source(store, "net-a", "lab-news").title == "Lab news"


def test_reports_show_harvest_history_and_validation(app_env, make_settings):
    client, store, keys = app_env
    from pipeline.harvest import harvest

    a = _auth(keys["a"])
    assert client.post("/partner/v1/sources", json=_new_source(keys["feed"]), headers=a).status_code == 201
    settings = client.app.state.settings
    reports = {r.source_id: r for r in harvest(settings, ["lab-news", "broken"])}
    assert reports["lab-news"].status in ("ok", "partial")
    r = client.get("/partner/v1/sources/lab-news/reports", headers=a)
    assert r.status_code == 200
    body = r.json()
    assert body["runs"][0]["status"] == reports["lab-news"].status
    assert body["runs"][0]["counts"]["new"] > 0
    assert body["health"]["last_success_at"]
    assert body["health"]["http_status"] == 200
    broken = client.get("/partner/v1/sources/broken/reports", headers=a).json()
    assert broken["runs"][0]["status"] == "failed"
    assert broken["health"]["consecutive_failures"] == 1


def test_rate_limit_answers_429_with_retry_after(app_env):
    client, _, keys = app_env
    a, b = _auth(keys["a"]), _auth(keys["b"])
    codes = [client.get("/partner/v1/me", headers=a).status_code for _ in range(31)]
    assert codes[:30] == [200] * 30
    assert codes[30] == 429
    r = client.get("/partner/v1/me", headers=a)
    assert r.status_code == 429
    assert 1 <= int(r.headers["retry-after"]) <= 2  # 30/min: one token every 2 s
    assert r.headers["content-type"] == "application/problem+json"
    assert client.get("/partner/v1/me", headers=b).status_code == 200  # buckets are per key


def test_bodies_above_the_limit_are_refused(app_env):
    client, store, keys = app_env
    a = _auth(keys["a"])
    big = {**_new_source(keys["feed"]), "tag_map": {f"tag{i}": "t" * 40 for i in range(200)}}
    r = client.post("/partner/v1/sources", json=big, headers=a)
    assert r.status_code == 413
    assert store.source("lab-news") is None

    def chunks():  # no Content-Length: the limit holds on the streamed bytes too
        for _ in range(10):
            yield b" " * 1000

    r = client.post(
        "/partner/v1/sources", content=chunks(), headers={**a, "Content-Type": "application/json"}
    )
    assert r.status_code == 413


def test_blocked_urls_are_refused(app_env):
    client, _, keys = app_env
    body = {**_new_source(keys["feed"]), "url": "http://10.0.0.1/feed"}
    r = client.post("/partner/v1/sources", json=body, headers=_auth(keys["a"]))
    assert r.status_code == 422
    assert "blocked_address" in r.text


def test_preview_shows_what_innonet_would_make_without_storing(app_env):
    client, store, keys = app_env
    with store.session() as s:
        before = (s.query(SourceRow).count(), s.query(RecordRow).count())
    r = client.post(
        "/partner/v1/preview",
        json={"url": f"{keys['feed']}/guardian_rss2.xml", "tag_map": {"Politics": "t-gov"}, "limit": 3},
        headers=_auth(keys["a"]),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stored"] is False
    assert body["fetch"]["status"] == 200
    assert body["counts"]["read"] > 0
    assert len(body["items"]) == 3
    assert all(i["iri"].startswith("http://innonet.test/id/") for i in body["items"])
    assert all("@prefix" in i["turtle"] for i in body["items"])
    with store.session() as s:
        assert (s.query(SourceRow).count(), s.query(RecordRow).count()) == before
    bad = client.post(
        "/partner/v1/preview", json={"url": f"{keys['feed']}/not_a_feed.txt"}, headers=_auth(keys["a"])
    ).json()
    assert bad["status"] == "failed"
    assert bad["items"] == []


def test_metrics_expose_harvest_health(app_env):
    client, _, keys = app_env
    from pipeline.harvest import harvest

    harvest(client.app.state.settings, ["guardian", "broken"])
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    text = r.text
    assert 'innonet_source_consecutive_failures{network="net-a",source="broken"} 1.0' in text
    assert 'innonet_source_consecutive_failures{network="net-a",source="guardian"} 0.0' in text
    assert 'innonet_harvest_attempts{state="running"} 0.0' in text
    assert 'innonet_harvest_attempts{state="failed"} 1.0' in text
    assert 'innonet_sources{status="never"} 2.0' in text  # heise and psy were not harvested


def test_unmapped_tags_list_what_to_map_next(app_env):
    client, _, keys = app_env
    from pipeline.harvest import harvest

    a, b = _auth(keys["a"]), _auth(keys["b"])
    assert client.post("/partner/v1/sources", json=_new_source(keys["feed"]), headers=a).status_code == 201
    harvest(client.app.state.settings, ["lab-news"])
    r = client.get("/partner/v1/sources/lab-news/unmapped-tags", headers=a)
    assert r.status_code == 200, r.text
    body = r.json()
    tags = [t["tag"] for t in body["tags"]]
    assert len(tags) == min(100, body["total"])
    assert tags
    assert "Politics" not in tags  # the source's tag map covers it
    counts = [t["count"] for t in body["tags"]]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] >= 1
    assert body["tags"][0]["example_item"].startswith("http")
    # mapping the most frequent one takes it off the list
    top = tags[0]
    r = client.put(
        "/partner/v1/sources/lab-news/tag-map", json={"Politics": "t-gov", top: "t-gov"}, headers=a
    )
    assert r.status_code == 200, r.text
    after = client.get("/partner/v1/sources/lab-news/unmapped-tags", headers=a).json()
    assert top not in [t["tag"] for t in after["tags"]]
    assert after["total"] == body["total"] - 1
    # another network sees nothing
    assert client.get("/partner/v1/sources/lab-news/unmapped-tags", headers=b).status_code == 404
    assert client.get("/partner/v1/sources/lab-news/unmapped-tags").status_code == 401
