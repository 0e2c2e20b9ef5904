"""The hit JSON stored at indexing (search/hits.py, mapping version 5) is exactly the route's
HitOut JSON for every corpus document and for edge cases; a hit indexed without it (an index
built before version 5) makes the fast path hand the search to the route, same bytes."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.routers.search import HitOut, SearchFastPath, _hit
from search.documents import Location, SearchDocument
from search.elasticsearch import DERIVED_FIELDS, INDEX_VERSION, from_source, to_source
from search.hits import HIT_DEFAULTS, HIT_FIELD, LOCATION_KEYS, MARKS_FIELD
from tests.search.relevance import corpus_documents
from tests.search.test_contract_features import DOCS

BASE = "https://innonet.example"


def _spliced(doc: SearchDocument, score: float | None) -> bytes:
    """A hit as the fast path writes it around the stored text."""
    doc_url = _hit(doc, BASE, score=None).doc
    stored = to_source(doc)[HIT_FIELD]
    return b'{"id":%b,"doc":%b,%b,"score":%b,"distance_km":null,"shared_by":null,"highlight":{}}' % (
        orjson.dumps(doc.id),
        orjson.dumps(doc_url),
        stored.encode(),
        orjson.dumps(score),
    )


EDGE = [
    SearchDocument(
        id=f"{BASE}/id/event/x", type="Event", title='Ünïcode "quoted" \\ </em>', network="n", source="s"
    ),
    SearchDocument(
        id="urn:other:1",  # not under the base: doc = id
        type="Event",
        title="t",
        network="n",
        source="s",
        start=datetime(2030, 1, 2, 3, 4, 5, 600000, tzinfo=UTC),
        location=Location(lat=50.8503, lon=4.35),  # no name, no address
        themes=["a", "b"],
    ),
    SearchDocument(
        id=f"{BASE}/id/news/y",
        type="News",
        title="t",
        summary="",
        network="n",
        source="s",
        location=Location(name="Het Pand", address="Onderbergen 1, Gent", lat=-0.0, lon=179.99999),
        published=datetime(2024, 2, 29, tzinfo=UTC),
    ),
]


def test_the_stored_hit_text_is_the_routes_hit_json(corpus) -> None:
    docs = [*corpus_documents(corpus), *DOCS, *EDGE]
    assert len(docs) > 100
    assert any(d.location for d in docs)
    assert any(d.summary is None for d in docs)
    for i, doc in enumerate(docs):
        score = [None, 1.0, 12.345678, 0.1][i % 4]
        assert _spliced(doc, score) == _hit(doc, BASE, score=score).model_dump_json().encode(), doc.id
        source = orjson.loads(orjson.dumps(to_source(doc)))  # as read back from Elasticsearch
        assert from_source({k: v for k, v in source.items() if k not in DERIVED_FIELDS}) == doc


def _fast_path(app) -> SearchFastPath:
    layer = app.middleware_stack
    while not isinstance(layer, SearchFastPath):
        layer = layer.app
    return layer


def _index_docs_one_without(field: str, es_url: str, es_alias: str, es_backend) -> SearchDocument:
    """DOCS indexed, the first one again without ``field`` in its source (as an older index or a
    failed mark would leave it); returns that document."""
    assert es_backend.upsert(DOCS).errors == []
    old = DOCS[0]
    source = {k: v for k, v in to_source(old).items() if k != field}
    httpx.put(
        f"{es_url}/{es_alias}/_doc/{quote(old.id, safe='')}?refresh=true", json=source, timeout=10
    ).raise_for_status()
    es_backend.refresh()
    return old


@pytest.mark.integration
@pytest.mark.parametrize("highlight", ["true", "false"])
def test_hits_indexed_without_the_stored_text_are_answered_by_the_route(
    make_settings, es_url, es_alias, es_backend, highlight
) -> None:
    """An index filled before mapping version 5 has no ``hit`` text: same answer, from the route."""
    old = _index_docs_one_without(HIT_FIELD, es_url, es_alias, es_backend)
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index=es_alias)
    with TestClient(create_app(settings)) as c:
        fast = _fast_path(c.app)
        params = [("size", "100"), ("highlight", highlight), ("q", old.title.split()[0])]
        quick = c.get("/search", params=params)
        assert fast.direct == 0  # not built from Elasticsearch's answer
        routed = c.get("/search", params=[*params, ("format", "json")])
        assert quick.status_code == routed.status_code == 200
        assert quick.content == routed.content
        assert old.id in [h["id"] for h in quick.json()["hits"]]
        # for a minute every search goes straight to the route (no wasted round trip)
        assert fast.route_until > time.monotonic() + 50
        backend = c.app.state.backend
        asked = []
        post_async = backend.post_async

        async def counted(path: str, payload: bytes) -> bytes:
            asked.append(path)
            return await post_async(path, payload)

        backend.post_async = counted
        again = c.get("/search", params=params)
        assert again.content == quick.content
        assert asked == []
        # then it asks again: a search whose hits all have their text is answered by the fast path
        fast.route_until = float("-inf")
        fresh = c.get("/search", params=[("q", "sandbox")])
        assert old.id not in [h["id"] for h in fresh.json()["hits"]]
        assert fast.direct == 1
        assert len(asked) == 1


@pytest.mark.integration
def test_a_hit_without_stored_marks_is_highlighted_from_its_words(
    make_settings, es_url, es_alias, es_backend
) -> None:
    """A text whose marks could not be written (search.hits.marks_of leaves it out) is
    highlighted word by word: same answer, still from the fast path."""
    old = _index_docs_one_without(MARKS_FIELD, es_url, es_alias, es_backend)
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index=es_alias)
    with TestClient(create_app(settings)) as c:
        fast = _fast_path(c.app)
        params = [("size", "100"), ("highlight", "true"), ("q", old.title.split()[-1])]
        quick = c.get("/search", params=params)
        assert fast.direct == 1
        routed = c.get("/search", params=[*params, ("format", "json")])
        assert quick.content == routed.content
        (hit,) = [h for h in quick.json()["hits"] if h["id"] == old.id]
        assert "<em>" in hit["highlight"]["title"]


#: sha256 of the stored hit's shape (below) when mapping version 5 was made. An index keeps the hit
#: text it was built with: if HitOut, Location or HIT_DEFAULTS change while INDEX_VERSION stays, an
#: existing index answers the fast path in the old shape and the route in the new one.
STORED_HIT_SHAPE_V5 = "dc9a0f8d5ed4e2842b5dfb5fb61ecb24cdef991a54bb55a582c1b8a7046edaa0"


def test_a_change_of_the_stored_hit_shape_needs_a_new_mapping_version() -> None:
    shape = (
        INDEX_VERSION,
        [(name, str(field.annotation)) for name, field in HitOut.model_fields.items()],
        [(name, str(field.annotation)) for name, field in Location.model_fields.items()],
        HIT_DEFAULTS,
        LOCATION_KEYS,
    )
    digest = hashlib.sha256(repr(shape).encode()).hexdigest()
    assert INDEX_VERSION != 5 or digest == STORED_HIT_SHAPE_V5, (
        "the stored hit's shape changed: add a new mapping version (search/mappings/items-v6.json, "
        "INDEX_VERSION = 6, docs/operations.md 'Upgrading': rebuild), then pin the new shape here"
    )
    assert INDEX_VERSION == 5, "a new mapping version: pin its stored hit shape here (STORED_HIT_SHAPE_V<N>)"
