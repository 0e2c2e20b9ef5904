"""What only the Elasticsearch backend has: the versioned index behind an alias, the mapping
from the repository, per-item bulk errors from the server, retries, and the user's text
never reaching a query parser. Against the real server (``scripts/elasticsearch.sh``).

The behaviour both backends share is in ``test_contract.py``.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError

import search.elasticsearch as es_module
from search.base import SearchUnavailable
from search.documents import FACETS, SearchDocument, SearchQuery
from search.elasticsearch import MAPPING_FILE, ElasticsearchBackend, build_search_body

pytestmark = pytest.mark.integration

ITEM = "https://example.org/item/"
NET = "https://example.org/network/lab"


def _doc(n: int | str, **fields: object) -> SearchDocument:
    values: dict[str, object] = {
        "type": "news",
        "title": f"Proeftuin nummer {n}",
        "summary": "Een gemeente test een digitaal platform.",
        "network": NET,
        "source": "src-a",
        "language": "nl",
        "published": datetime(2024, 1, 1, tzinfo=UTC),
    }
    values.update(fields)
    return SearchDocument(id=f"{ITEM}{n}", **values)


def _api_error(status: int, error_type: str = "some_exception") -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "127.0.0.1", 9200),
    )
    body = {"error": {"type": error_type, "reason": f"simulated {status}"}, "status": status}
    return ApiError(message=error_type, meta=meta, body=body)


# -- the index ------------------------------------------------------------------------------


def test_alias_points_to_the_versioned_index_with_the_repository_mapping(
    es_backend: ElasticsearchBackend, es_url: str, es_alias: str
) -> None:
    aliases = httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json()
    assert list(aliases) == [f"{es_alias}-v5"]
    assert aliases[f"{es_alias}-v5"]["aliases"][es_alias]["is_write_index"] is True

    expected = json.loads(MAPPING_FILE.read_text(encoding="utf-8"))
    mapping = httpx.get(f"{es_url}/{es_alias}-v5/_mapping", timeout=10).json()
    assert mapping[f"{es_alias}-v5"]["mappings"] == expected["mappings"]
    assert expected["mappings"]["_meta"]["version"] == 5
    assert expected["mappings"]["dynamic"] == "strict"

    settings = httpx.get(f"{es_url}/{es_alias}-v5/_settings", timeout=10).json()
    index = settings[f"{es_alias}-v5"]["settings"]["index"]
    assert index["number_of_shards"] == "1"
    assert index["max_result_window"] == "10100"


def test_the_mapping_uses_only_server_native_analysis() -> None:
    text = MAPPING_FILE.read_text(encoding="utf-8")
    definition = json.loads(text)
    assert "analysis" not in definition["settings"].get("index", {})
    analysers = {
        field["analyzer"] for field in definition["mappings"]["properties"].values() if "analyzer" in field
    }
    assert analysers == {"whitespace"}
    for field in (*FACETS.values(), "id", "cluster", "collapse_key"):
        assert definition["mappings"]["properties"][field]["type"] == "keyword"


def test_ensure_index_is_idempotent_and_safe_when_processes_race(
    es_backend: ElasticsearchBackend, es_url: str, es_alias: str
) -> None:
    assert es_backend.upsert([_doc(1)]).indexed == 1
    es_backend.ensure_index()
    es_backend.ensure_index()
    es_backend.refresh()
    assert es_backend.count() == 1  # the existing index was kept, not recreated

    fresh = f"{es_alias}-race"  # cleaned up with es_alias: its index is "{es_alias}-race-v5"
    backends = [ElasticsearchBackend(es_url, fresh, timeout_s=30) for _ in range(6)]
    barrier = threading.Barrier(len(backends))
    failures: list[BaseException] = []

    def create(backend: ElasticsearchBackend) -> None:
        barrier.wait()
        try:
            backend.ensure_index()
        except BaseException as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(b,)) for b in backends]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert failures == []
        assert list(httpx.get(f"{es_url}/_alias/{fresh}", timeout=10).json()) == [f"{fresh}-v5"]
    finally:
        for b in backends:
            b.close()
        httpx.delete(f"{es_url}/{fresh}-v5", timeout=30)


def test_writes_create_the_index_when_missing(es_url: str, es_alias: str) -> None:
    backend = ElasticsearchBackend(es_url, es_alias, timeout_s=30)
    try:
        assert backend.upsert([_doc(1)]).indexed == 1
        backend.refresh()
        assert backend.count() == 1
        assert list(httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json()) == [f"{es_alias}-v5"]
    finally:
        backend.close()


def test_a_concrete_index_under_the_alias_name_is_a_clear_error(es_url: str, es_alias: str) -> None:
    httpx.put(f"{es_url}/{es_alias}", timeout=30).raise_for_status()
    backend = ElasticsearchBackend(es_url, es_alias, timeout_s=30)
    try:
        with pytest.raises(SearchUnavailable, match=es_alias):
            backend.ensure_index()
    finally:
        backend.close()
        httpx.delete(f"{es_url}/{es_alias}", timeout=30)


# -- bulk writes ----------------------------------------------------------------------------


def test_documents_the_server_rejects_are_reported_and_the_others_indexed(
    es_backend: ElasticsearchBackend,
) -> None:
    # Passes pydantic, refused by Lucene: a keyword term longer than 32766 bytes.
    immense = _doc("immense", source="s" * 40_000)
    # Built around pydantic: re-validated by the backend and refused before it is sent.
    bad_date = SearchDocument.model_construct(**{**dict(_doc("bad-date")), "published": "not-a-date"})
    docs = [_doc(1), immense, _doc(2), bad_date, _doc(3)]

    report = es_backend.upsert(docs)
    es_backend.refresh()

    assert report.indexed == 3
    by_id = {e.id: e.reason for e in report.errors}
    assert set(by_id) == {immense.id, ITEM + "bad-date"}
    assert "immense term" in by_id[immense.id]
    assert "source" in by_id[immense.id]
    assert len(by_id[immense.id]) < 1000  # the 40 kB value is not copied into the report
    assert "published" in by_id[ITEM + "bad-date"]
    assert es_backend.count() == 3
    assert es_backend.get(immense.id) is None
    assert es_backend.get(ITEM + "2") == docs[2]


def test_a_refused_document_does_not_stop_later_chunks(es_backend: ElasticsearchBackend) -> None:
    docs = [_doc(i) for i in range(2500)]  # three chunks of at most 1,000, two in flight at once
    docs[7] = _doc(7, network="n" * 40_000)
    report = es_backend.upsert(docs)
    es_backend.refresh()
    assert [e.id for e in report.errors] == [ITEM + "7"]
    assert report.indexed == 2499
    assert es_backend.count() == 2499
    assert es_backend.get(ITEM + "2499") == docs[2499]


def test_a_document_json_cannot_encode_is_reported_and_the_others_indexed(
    es_backend: ElasticsearchBackend,
) -> None:
    # A lone surrogate is a valid Python str but no UTF-8: orjson refuses it (json.dumps would
    # have escaped it and Elasticsearch refused the request).
    docs = [_doc(1), _doc("surrogate", title="bad \ud800 title"), _doc(2)]
    report = es_backend.upsert(docs)
    es_backend.refresh()
    assert report.indexed == 2
    assert [e.id for e in report.errors] == [ITEM + "surrogate"]
    assert "JSON" in report.errors[0].reason
    assert es_backend.count() == 2


def _refuse_bulk_call(es_backend: ElasticsearchBackend, monkeypatch: pytest.MonkeyPatch, nth: int) -> None:
    """Chunks of 2 documents, no retry sleeps, and Elasticsearch's answer to the ``nth`` bulk
    request replaced by a 400 that refuses the whole chunk (the others reach the real server)."""
    monkeypatch.setattr(es_module, "BULK_CHUNK", 2)
    monkeypatch.setattr(es_module.time, "sleep", lambda _s: None)
    real_bulk = es_backend._client.bulk
    calls = {"n": 0}

    def refused(**kwargs: object):
        calls["n"] += 1
        if calls["n"] == nth:
            raise _api_error(400, "action_request_validation_exception")
        return real_bulk(**kwargs)

    monkeypatch.setattr(es_backend._client, "bulk", refused)


def test_a_chunk_refused_as_a_whole_is_reported_and_the_next_chunk_sent(
    es_backend: ElasticsearchBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    _refuse_bulk_call(es_backend, monkeypatch, 1)
    report = es_backend.upsert([_doc(i) for i in range(5)])
    es_backend.refresh()
    assert [e.id for e in report.errors] == [ITEM + "0", ITEM + "1"]
    assert "action_request_validation_exception" in report.errors[0].reason
    assert report.indexed == 3
    assert es_backend.count() == 3


def test_batches_keep_chunks_in_flight_and_report_each_batch_complete_and_in_order(
    es_backend: ElasticsearchBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """upsert_batches: the next batch is read before the last one is reported; each report has
    exactly its own documents (a chunk refused as a whole, a document refused by pydantic and one
    refused by Lucene), an empty batch is reported too, and later chunks are still sent."""
    _refuse_bulk_call(es_backend, monkeypatch, 2)
    bad_date = SearchDocument.model_construct(**{**dict(_doc("bad-date")), "published": "not-a-date"})
    batches = {
        "a": [_doc(0), _doc(1), _doc(2)],
        "empty": [],
        "b": [_doc(3), bad_date, _doc(5, network="n" * 40_000)],
        "c": [_doc(6)],
    }
    pulled: list[str] = []

    def source():
        for key, docs in batches.items():
            pulled.append(key)
            yield key, docs

    seen = []
    for key, report in es_backend.upsert_batches(source()):
        seen.append((key, report.indexed, sorted(e.id for e in report.errors), list(pulled)))
    es_backend.refresh()
    assert [s[:3] for s in seen] == [
        ("a", 2, [ITEM + "2"]),
        ("empty", 0, []),
        ("b", 1, [ITEM + "5", ITEM + "bad-date"]),
        ("c", 1, []),
    ]
    assert seen[0][3] == ["a", "empty", "b"]  # "a" was reported after "b" had been read and sent
    assert es_backend.count() == 4
    assert es_backend.get(ITEM + "6") == batches["c"][0]


def test_overload_is_retried_with_backoff(
    es_backend: ElasticsearchBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps: list[float] = []
    monkeypatch.setattr(es_module.time, "sleep", sleeps.append)
    real_bulk = es_backend._client.bulk
    calls = {"n": 0}

    def overloaded_then_real(**kwargs: object):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise _api_error(429, "es_rejected_execution_exception")
        return real_bulk(**kwargs)

    monkeypatch.setattr(es_backend._client, "bulk", overloaded_then_real)
    report = es_backend.upsert([_doc(1), _doc(2)])
    assert report.errors == []
    assert report.indexed == 2
    assert len(sleeps) == 2
    assert sleeps[1] > sleeps[0]


def test_persistent_overload_reports_every_document(
    es_backend: ElasticsearchBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(es_module.time, "sleep", lambda _s: None)

    def always_503(**kwargs: object):
        raise _api_error(503, "cluster_block_exception")

    monkeypatch.setattr(es_backend._client, "bulk", always_503)
    report = es_backend.upsert([_doc(1), _doc(2)])
    assert report.indexed == 0
    assert [e.id for e in report.errors] == [ITEM + "1", ITEM + "2"]
    assert "503" in report.errors[0].reason


def test_delete_ignores_unknown_ids(es_backend: ElasticsearchBackend) -> None:
    es_backend.upsert([_doc(1), _doc(2)])
    report = es_backend.delete([ITEM + "1", ITEM + "nope", ITEM + "1"])
    es_backend.refresh()
    assert report.errors == []
    assert report.deleted == 1
    assert es_backend.count() == 1


# -- unreachable -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.ensure_index(),
        lambda b: b.upsert([_doc(1)]),
        lambda b: b.delete([ITEM + "1"]),
        lambda b: b.search(SearchQuery(q="proeftuin")),
        lambda b: b.get(ITEM + "1"),
        lambda b: b.count(),
        lambda b: b.refresh(),
    ],
    ids=["ensure_index", "upsert", "delete", "search", "get", "count", "refresh"],
)
def test_unreachable_server_raises_search_unavailable_naming_the_url(call) -> None:
    backend = ElasticsearchBackend("http://127.0.0.1:1", "innonet-unreachable", timeout_s=2)
    try:
        with pytest.raises(SearchUnavailable, match=r"http://127\.0\.0\.1:1") as info:
            call(backend)
        assert "not reachable" in str(info.value)
    finally:
        backend.close()


# -- the user's text never reaches a query parser ------------------------------------------------


HOSTILE = [
    'title:(foo AND "bar',
    "*",
    "?",
    "\\",
    "\\\\",
    "{}",
    "[1 TO *]",
    "{* TO 2024}",
    "/regex/",
    "/.*/",
    "foo~2",
    '"unclosed',
    "a && b || !c",
    "+(-",
    "_exists_:title",
    "published:>2020",
    "<script>alert(1)</script>",
    "proeftuin*",
    "AND OR NOT",
    "\u0000\u0001",
    "a" * 10_000,
    " ".join(["or"] * 5_000),
]


@pytest.mark.parametrize("q", HOSTILE)
def test_lucene_syntax_in_the_query_never_raises(es_backend: ElasticsearchBackend, q: str) -> None:
    es_backend.upsert([_doc(1), _doc(2, title="Foo bar en regex")])
    es_backend.refresh()
    result = es_backend.search(SearchQuery(q=q, filters={"network": [NET]}))
    assert result.total >= 0
    body = json.dumps(build_search_body(SearchQuery(q=q)))
    assert '"query_string"' not in body


def test_query_syntax_is_matched_as_words(es_backend: ElasticsearchBackend) -> None:
    es_backend.upsert([_doc(1), _doc(2, title="Foo bar en regex")])
    es_backend.refresh()
    assert [h.id for h in es_backend.search(SearchQuery(q='title:(foo AND "bar')).hits] == []
    assert [h.id for h in es_backend.search(SearchQuery(q='(foo) "bar"')).hits] == [ITEM + "2"]
    assert [h.id for h in es_backend.search(SearchQuery(q="/regex/")).hits] == [ITEM + "2"]
    assert es_backend.search(SearchQuery(q="proeftui*")).total == 0  # no prefix syntax


def test_the_last_page_within_the_result_window(es_backend: ElasticsearchBackend) -> None:
    es_backend.upsert([_doc(1)])
    es_backend.refresh()
    result = es_backend.search(SearchQuery(offset=10_000, size=100))
    assert result.total == 1
    assert result.hits == []


def test_repeated_counts_come_from_the_request_cache_until_the_index_changes(
    es_backend: ElasticsearchBackend, es_url: str, es_alias: str
) -> None:
    """First page: one body, cached as a whole (an exact repeat is a hit). Later pages: a
    counting body (the same for every page: a hit from the third page on) + a page body."""
    assert es_backend.upsert([_doc(i, source=f"src-{i % 2}") for i in range(10)]).errors == []
    es_backend.refresh()

    def cache_hits() -> int:
        stats = httpx.get(f"{es_url}/{es_alias}/_stats/request_cache", timeout=10).json()
        return stats["_all"]["total"]["request_cache"]["hit_count"]

    query = SearchQuery(q="proeftuin", size=3, facets=["source"])
    first = es_backend.search(query)
    before = cache_hits()
    assert es_backend.search(query) == first  # exact repeat of a first page
    assert cache_hits() == before + 1
    second = es_backend.search(query.model_copy(update={"offset": 3}))  # counted, page
    assert cache_hits() == before + 1
    third = es_backend.search(query.model_copy(update={"offset": 6}))  # same counts: cached
    assert cache_hits() == before + 2
    assert first.total == second.total == third.total == 10
    assert first.facets == second.facets == third.facets
    assert [(b.value, b.count) for b in first.facets["source"]] == [("src-0", 5), ("src-1", 5)]
    assert len(first.hits) == len(second.hits) == len(third.hits) == 3
    ids = [h.id for r in (first, second, third) for h in r.hits]
    assert len(set(ids)) == 9

    es_backend.upsert([_doc(99, source="src-9")])
    es_backend.refresh()
    changed = es_backend.search(query)  # the refresh dropped the cached answer
    assert changed.total == 11
    assert [(b.value, b.count) for b in changed.facets["source"]][-1] == ("src-9", 1)


def test_a_first_page_is_one_body_and_later_pages_count_apart() -> None:
    """The rule of :func:`search.elasticsearch.split_search` (why: docs/search.md)."""
    split = es_module.split_search
    query = SearchQuery(q="proeftuin", size=5, facets=["source", "type"])
    body = build_search_body(query)
    assert body is not None
    (one,) = split(body, "1s")
    assert one["size"] == 5
    assert one["track_total_hits"] is True
    assert set(one["aggregations"]) == {"source", "type"}
    assert one["timeout"] == "1s"
    assert "from_" not in one
    for later in (query.model_copy(update={"offset": 5}), query.model_copy(update={"after": [1.0, "x"]})):
        later_body = build_search_body(later)
        assert later_body is not None
        counts, page = split(later_body)
        assert counts["size"] == 0
        assert counts["track_total_hits"] is True
        assert counts["query"] == page["query"]
        assert page["track_total_hits"] is False
        assert "aggregations" not in page
    counts, page = split(body, split_first_page=True)  # the previous rule, for the bench's A/B
    assert counts["size"] == 0
    assert page["size"] == 5
    zero = build_search_body(query.model_copy(update={"size": 0}))
    assert zero is not None
    assert [b["size"] for b in split(zero)] == [0]
    collapsed = build_search_body(query.model_copy(update={"collapse": True, "offset": 5}))
    assert collapsed is not None
    assert len(split(collapsed)) == 1
    assert es_module.MSEARCH_HEADER == {"request_cache": True}


# -- mapping versions 4-5: what is indexed but not stored, and the move from an older version --


def test_derived_fields_are_searchable_but_not_stored(es_backend: ElasticsearchBackend, es_url: str) -> None:
    definition = json.loads(MAPPING_FILE.read_text(encoding="utf-8"))
    assert set(definition["mappings"]["_source"]["excludes"]) == es_module.DERIVED_FIELDS
    for field in (*es_module.ANALYSED_FIELDS, *es_module.STEMMED_FIELDS):
        expected = "positions" if field == "title_a" else "freqs"  # title_a: phrase prefixes (suggest)
        assert definition["mappings"]["properties"][field].get("index_options", "positions") == expected
    assert "suggest" not in definition["mappings"]["properties"]
    doc = _doc(1, title="Burgerparticipatie in gemeenten", language="nl")
    assert es_backend.upsert([doc]).indexed == 1
    es_backend.refresh()
    path = f"{es_url}/{es_backend.alias}/_doc/{quote(doc.id, safe='')}"
    stored = httpx.get(path, timeout=10).json()["_source"]
    assert not set(stored) & es_module.DERIVED_FIELDS
    assert stored["title"] == doc.title
    assert es_backend.get(doc.id) == doc
    # every derived field still answers: folded and stemmed words, year, suggestions, collapse
    assert [h.id for h in es_backend.search(SearchQuery(q="burgerparticipatie")).hits] == [doc.id]
    assert [h.id for h in es_backend.search(SearchQuery(q="participatie gemeente")).hits] == [doc.id]
    assert es_backend.search(SearchQuery(filters={"year": ["2024"]})).total == 1
    assert [s.id for s in es_backend.suggest("in gem")] == [doc.id]
    assert [s.id for s in es_backend.suggest("participatie")] == []  # a word's start, not its middle
    assert es_backend.search(SearchQuery(collapse=True)).total == 1


def test_related_items_come_from_the_stemmed_text_not_the_stored_source(
    es_backend: ElasticsearchBackend,
) -> None:
    docs = [
        _doc(1, title="Burgerparticipatie bij de omgevingswet", network="net-a", language="nl"),
        _doc(2, title="Participatie van burgers bij de omgevingswet", network="net-b", language="nl"),
        _doc(
            3,
            title="Weather radar calibration",
            summary="Radar images of rain.",
            network="net-b",
            language="en",
        ),
    ]
    assert es_backend.upsert(docs).indexed == 3
    es_backend.refresh()
    related = es_backend.related(docs[0].id)
    assert [h.id for h in related.hits] == [docs[1].id]  # itself left out, the unrelated one too


def _index_behind_alias(es_url: str, alias: str, name: str, definition: dict) -> None:
    """Create index ``name`` from ``definition`` (settings + mappings) as ``alias``'s write index:
    an index some other code version built."""
    body = {
        "settings": definition["settings"],
        "mappings": definition["mappings"],
        "aliases": {alias: {"is_write_index": True}},
    }
    httpx.put(f"{es_url}/{name}", json=body, timeout=30).raise_for_status()


def test_writes_into_an_older_mapping_version_say_how_to_rebuild_and_a_rebuild_moves_the_alias(
    es_url: str, es_alias: str
) -> None:
    from search.reindex import rebuild_alias

    old = json.loads(MAPPING_FILE.read_text(encoding="utf-8"))
    old["mappings"]["_meta"]["version"] = 2
    _index_behind_alias(es_url, es_alias, f"{es_alias}-v2", old)
    backend = ElasticsearchBackend(es_url, es_alias, timeout_s=30)
    try:
        with pytest.raises(
            SearchUnavailable, match=r"version 2; this code writes version 5.*innonet index --rebuild"
        ):
            backend.upsert([_doc(1)])
        _, dropped = rebuild_alias(backend, [[_doc(1), _doc(2)]])
        assert dropped == [f"{es_alias}-v2"]
        (name,) = httpx.get(f"{es_url}/_alias/{es_alias}", timeout=10).json()
        assert name.startswith(f"{es_alias}-v5-")
        assert backend.upsert([_doc(3)]).indexed == 1  # the rebuilt index takes writes again
        fresh = ElasticsearchBackend(es_url, es_alias, timeout_s=30)
        try:
            assert fresh.upsert([_doc(4)]).indexed == 1
        finally:
            fresh.close()
        backend.refresh()
        assert backend.count() == 4
    finally:
        backend.close()


def test_an_index_of_this_version_without_one_of_its_fields_is_refused_before_any_write(
    es_url: str, es_alias: str
) -> None:
    """Version 5's file gained ``marks`` on the day it was made: an index built in between says
    version 5 but its strict mapping refuses every document carrying ``marks``."""
    early = json.loads(MAPPING_FILE.read_text(encoding="utf-8"))
    del early["mappings"]["properties"]["marks"]
    _index_behind_alias(es_url, es_alias, f"{es_alias}-v5-early", early)
    backend = ElasticsearchBackend(es_url, es_alias, timeout_s=30)
    try:
        with pytest.raises(SearchUnavailable, match=r"version 5 without the field\(s\) marks;.*--rebuild"):
            backend.upsert([_doc(1)])
    finally:
        backend.close()


def test_the_exact_form_in_the_title_ranks_above_another_form_of_the_word(
    es_backend: ElasticsearchBackend,
) -> None:
    """The stemmed fields match both forms equally; the exact-word boost decides."""
    summary = "Een gemeente test een digitaal platform."
    docs = [
        _doc("plural", title="Proeftuinen in Gent", summary=summary),
        _doc("exact", title="Proeftuin in Gent", summary=summary),
    ]
    assert es_backend.upsert(docs).errors == []
    es_backend.refresh()
    for q, first in (("proeftuin", "exact"), ("proeftuinen", "plural")):
        hits = es_backend.search(SearchQuery(q=q, size=5)).hits
        assert [h.id for h in hits][:1] == [f"{ITEM}{first}"], q
        assert len(hits) == 2
