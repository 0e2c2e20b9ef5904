"""One contract both search backends keep (see :class:`search.base.SearchBackend`).

Every test runs against the embedded backend and against a real Elasticsearch (marked
``integration``). A difference between the two is a bug in one of them, never a reason to
fork a test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from search.base import SearchBackend
from search.documents import FACET_FIELDS, SearchDocument, SearchQuery, SearchResult

NET_NL = "https://example.org/network/nl-lab"
NET_FR = "https://example.org/network/fr-lab"
NET_DE = "https://example.org/network/de-lab"
ITEM = "https://example.org/item/"


def _doc(n: str, **fields: object) -> SearchDocument:
    return SearchDocument(id=ITEM + n, **fields)


DOCS: list[SearchDocument] = [
    _doc(
        "01",
        type="news",
        title="Proeftuin voor burgerparticipatie in Utrecht",
        summary="De gemeente start een proeftuin met een digitaal platform.",
        body="Inwoners kunnen ideeën indienen en stemmen over buurtbudgetten.",
        language="nl",
        network=NET_NL,
        source="src-a",
        published=datetime(2024, 4, 1, 23, 30, tzinfo=UTC),
        url="https://example.org/nl/proeftuin",
        themes=["participation"],
    ),
    _doc(
        "02",
        type="news",
        title="Régulation expérimentale pour les services publics",
        summary="Le bac à sable réglementaire permet de tester des innovations.",
        body="L'administration évalue les résultats après un an.",
        language="fr",
        network=NET_FR,
        source="src-c",
        published=datetime(2024, 5, 10, 8, 0, tzinfo=UTC),
    ),
    _doc(
        "03",
        type="event",
        title="Regulation sandboxes explained",
        summary="A short primer on sandboxes for civil servants.",
        body="Sandboxes let agencies test rules with real users.",
        language="en",
        network=NET_FR,
        source="src-d",
        # 2024-04-01T23:00Z: earlier than item 01 although its local text sorts later.
        published=datetime(2024, 4, 2, 1, 0, tzinfo=timezone(timedelta(hours=2))),
    ),
    _doc(
        "08",  # upserted before 04 on purpose: same published, so id must break the tie
        type="news",
        title="Budget participatif à Bruxelles",
        summary="Les habitants décident des projets de quartier.",
        body="Plus de deux cents projets déposés cette année.",
        language="fr",
        network=NET_NL,
        source="src-b",
        published=datetime(2024, 2, 15, 12, 0, tzinfo=UTC),
    ),
    _doc(
        "04",
        type="news",
        title="Bürgerbeteiligung in Städten",
        summary="Wie Kommunen ihre Einwohner einbeziehen.",
        body="Beispiele aus München, Köln und Zürich zeigen neue Wege.",
        language="de",
        network=NET_DE,
        source="src-e",
        published=datetime(2024, 2, 15, 12, 0, tzinfo=UTC),
    ),
    _doc(
        "05",
        type="news",
        title="Social impact bonds in Ghent",
        summary="The city pilots outcome-based financing.",
        body="Investors are repaid when homelessness falls; the evaluation runs three years.",
        language="en",
        network=NET_NL,
        source="src-b",
        published=datetime(2024, 6, 20, 9, 0, tzinfo=UTC),
    ),
    _doc(
        "06",
        type="event",
        title="Werkdag over open data",
        summary="Een dag over datastandaarden voor gemeenten.",
        body=(
            "Met sprekers uit Ghent en Utrecht. "
            + "Gemeenten delen ervaringen met standaarden, catalogi en koppelingen. " * 20
        ),
        language="nl",
        network=NET_NL,
        source="src-a",
        published=None,
    ),
    _doc(
        "07",
        type="project",
        title="Digital twin for Rotterdam harbour",
        language=None,
        network=NET_DE,
        source="src-f",
        published=datetime(2023, 11, 30, 7, 0, tzinfo=UTC),
    ),
]

#: Ids by ``published`` descending (NULLs last), then id.
BY_DATE = ["05", "02", "01", "03", "04", "08", "07", "06"]


@pytest.fixture(
    params=[
        pytest.param("embedded_backend", id="embedded"),
        pytest.param("es_backend", id="elasticsearch", marks=pytest.mark.integration),
    ]
)
def backend(request: pytest.FixtureRequest) -> SearchBackend:
    """Each backend, empty, on its own index."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def seeded(backend: SearchBackend) -> SearchBackend:
    """The backend holding DOCS, searchable."""
    report = backend.upsert(DOCS)
    assert report.errors == []
    assert report.indexed == len(DOCS)
    backend.refresh()
    return backend


def search(backend: SearchBackend, q: str | None = None, **kwargs: object) -> SearchResult:
    return backend.search(SearchQuery(q=q, **kwargs))


def ids(result: SearchResult) -> list[str]:
    """Short ids of the hits, in order."""
    return [h.id.removeprefix(ITEM) for h in result.hits]


def buckets(result: SearchResult, field: str) -> list[tuple[str, int]]:
    return [(b.value, b.count) for b in result.facets[field]]


# -- full text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("twin", ["07"]),  # title only
        ("primer", ["03"]),  # summary only
        ("homelessness", ["05"]),  # body only
        ("Proeftuin", ["01"]),  # title and summary of one document, case-insensitive
    ],
)
def test_finds_a_word_in_each_field(seeded: SearchBackend, q: str, expected: list[str]) -> None:
    result = search(seeded, q)
    assert ids(result) == expected
    assert result.total == len(expected)
    assert result.hits[0].document == next(d for d in DOCS if d.id == ITEM + expected[0])


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("regulation", {"02", "03"}),  # unaccented query finds "Régulation"
        ("régulation", {"02", "03"}),  # accented query finds "Regulation"
        ("REGULATION", {"02", "03"}),
        ("burgerbeteiligung", {"04"}),
        ("STÄDTEN", {"04"}),
        ("ideeen", {"01"}),  # "ideeën"
        ("evalue resultats", {"02"}),  # "évalue les résultats"
        ("munchen zurich", {"04"}),
    ],
)
def test_accent_and_case_folding_both_ways(seeded: SearchBackend, q: str, expected: set[str]) -> None:
    result = search(seeded, q)
    assert set(ids(result)) == expected
    assert result.total == len(expected)


def test_all_terms_must_match(seeded: SearchBackend) -> None:
    assert set(ids(search(seeded, "ghent"))) == {"05", "06"}
    assert ids(search(seeded, "ghent financing")) == ["05"]  # "financing" only in 05
    assert ids(search(seeded, "ghent utrecht")) == ["06"]  # 01 has Utrecht but not Ghent
    empty = search(seeded, "ghent bruxelles")
    assert empty.total == 0
    assert empty.hits == []


def test_relevance_prefers_a_short_title_match(seeded: SearchBackend) -> None:
    result = search(seeded, "ghent")
    assert ids(result) == ["05", "06"]  # title of 05 vs. once in the long body of 06
    scores = [h.score for h in result.hits]
    assert all(s is not None for s in scores)
    assert scores[0] > scores[1]


def test_total_counts_all_matches_beyond_the_page(seeded: SearchBackend) -> None:
    result = search(seeded, "ghent", size=1)
    assert result.total == 2
    assert len(result.hits) == 1
    result = search(seeded, None, size=2)
    assert result.total == len(DOCS)
    assert len(result.hits) == 2
    result = search(seeded, None, size=0)
    assert result.total == len(DOCS)
    assert result.hits == []
    assert buckets(result, "type") == [("news", 5), ("event", 2), ("project", 1)]


# -- facets and filters --------------------------------------------------------------------


def test_facets_over_everything(seeded: SearchBackend) -> None:
    result = search(seeded)
    assert set(result.facets) == set(FACET_FIELDS)
    assert buckets(result, "type") == [("news", 5), ("event", 2), ("project", 1)]
    # ties broken by value ascending: de-lab before fr-lab although fr-lab was indexed first
    assert buckets(result, "network") == [(NET_NL, 4), (NET_DE, 2), (NET_FR, 2)]
    assert buckets(result, "source") == [
        ("src-a", 2),
        ("src-b", 2),
        ("src-c", 1),
        ("src-d", 1),
        ("src-e", 1),
        ("src-f", 1),
    ]
    # item 07 has no language: not counted, and no empty bucket
    assert buckets(result, "language") == [("en", 2), ("fr", 2), ("nl", 2), ("de", 1)]


def test_facet_size_limits_buckets(seeded: SearchBackend) -> None:
    result = search(seeded, facet_size=3)
    assert buckets(result, "source") == [("src-a", 2), ("src-b", 2), ("src-c", 1)]
    assert buckets(result, "type") == [("news", 5), ("event", 2), ("project", 1)]


def test_only_the_facets_asked_for_are_counted(seeded: SearchBackend) -> None:
    result = search(seeded, facets=["language", "type", "theme"])
    assert list(result.facets) == ["type", "theme", "language"]  # result order, not request order
    assert buckets(result, "type") == [("news", 5), ("event", 2), ("project", 1)]
    assert buckets(result, "language") == [("en", 2), ("fr", 2), ("nl", 2), ("de", 1)]
    assert list(search(seeded, "nothingmatchesthis", facets=["year"]).facets) == ["year"]
    assert search(seeded, facets=[]).facets == {}
    assert search(seeded, "$$$", facets=["source"]).facets == {"source": []}  # nothing searchable


def test_facets_follow_the_query_and_the_filters(seeded: SearchBackend) -> None:
    result = search(seeded, "ghent")
    assert buckets(result, "network") == [(NET_NL, 2)]
    assert buckets(result, "type") == [("event", 1), ("news", 1)]

    result = search(seeded, filters={"network": [NET_NL]})
    assert result.total == 4
    assert buckets(result, "network") == [(NET_NL, 4)]
    assert buckets(result, "language") == [("nl", 2), ("en", 1), ("fr", 1)]
    assert buckets(result, "type") == [("news", 3), ("event", 1)]


def test_filters_or_within_a_field_and_across_fields(seeded: SearchBackend) -> None:
    one = search(seeded, filters={"network": [NET_FR]})
    assert set(ids(one)) == {"02", "03"}
    both = search(seeded, filters={"network": [NET_FR, NET_DE]})
    assert set(ids(both)) == {"02", "03", "04", "07"}
    assert both.total == 4
    across = search(seeded, filters={"network": [NET_FR, NET_DE], "type": ["news"]})
    assert set(ids(across)) == {"02", "04"}
    three = search(seeded, filters={"network": [NET_NL], "language": ["en", "fr"], "source": ["src-b"]})
    assert set(ids(three)) == {"05", "08"}
    with_text = search(seeded, "regulation", filters={"language": ["en"]})
    assert ids(with_text) == ["03"]


def test_filters_are_exact(seeded: SearchBackend) -> None:
    assert search(seeded, filters={"language": ["NL"]}).total == 0
    assert search(seeded, filters={"network": ["https://example.org/network/nl"]}).total == 0
    assert search(seeded, filters={"source": ["src"]}).total == 0
    assert search(seeded, filters={"source": ["src-a"]}).total == 2


def test_filter_edge_cases(seeded: SearchBackend) -> None:
    # an empty value list is no constraint; a field that is not a facet field matches nothing
    assert search(seeded, filters={"network": [], "type": ["event"]}).total == 2
    unknown = search(seeded, filters={"title": ["Werkdag over open data"]})
    assert unknown.total == 0
    assert unknown.hits == []


# -- writes ----------------------------------------------------------------------------------


def test_upsert_is_idempotent_and_replaces(seeded: SearchBackend) -> None:
    report = seeded.upsert(DOCS)
    seeded.refresh()
    assert report.errors == []
    assert seeded.count() == len(DOCS)
    assert search(seeded).total == len(DOCS)

    old = next(d for d in DOCS if d.id == ITEM + "05")
    new = old.model_copy(
        update={"title": "Social outcome contracts in Ghent", "network": NET_FR, "source": "src-z"}
    )
    assert seeded.upsert([new]).indexed == 1
    seeded.refresh()
    assert seeded.count() == len(DOCS)
    assert search(seeded, "bonds").total == 0  # old title text is gone from the index
    assert ids(search(seeded, "contracts")) == ["05"]
    assert seeded.get(ITEM + "05") == new
    facets = search(seeded)
    assert buckets(facets, "network") == [(NET_FR, 3), (NET_NL, 3), (NET_DE, 2)]
    assert ("src-z", 1) in buckets(facets, "source")


def test_a_bad_document_is_reported_and_does_not_stop_the_others(backend: SearchBackend) -> None:
    good = [DOCS[0], DOCS[1]]
    bad = SearchDocument.model_construct(
        id=ITEM + "bad", type="news", title="Kapot", network=NET_NL, source="src-a", published="not-a-date"
    )
    report = backend.upsert([good[0], bad, good[1]])
    backend.refresh()
    assert report.indexed == 2
    assert [e.id for e in report.errors] == [ITEM + "bad"]
    assert report.errors[0].reason
    assert backend.count() == 2
    assert backend.get(ITEM + "bad") is None
    assert {h.id for h in search(backend).hits} == {good[0].id, good[1].id}


def test_delete(seeded: SearchBackend) -> None:
    report = seeded.delete([ITEM + "01"])
    seeded.refresh()
    assert report.errors == []
    assert report.deleted == 1
    assert seeded.count() == len(DOCS) - 1
    assert seeded.get(ITEM + "01") is None
    assert search(seeded, "proeftuin").total == 0
    assert buckets(search(seeded), "source")[0] == ("src-b", 2)  # src-a went from 2 to 1

    report = seeded.delete([ITEM + "does-not-exist"])
    seeded.refresh()
    assert report.errors == []
    assert seeded.count() == len(DOCS) - 1


def test_get(seeded: SearchBackend) -> None:
    for doc in DOCS:
        assert seeded.get(doc.id) == doc
    assert seeded.get(ITEM + "nope") is None


def test_empty_index(backend: SearchBackend) -> None:
    assert backend.count() == 0
    result = search(backend)
    assert result.total == 0
    assert result.hits == []
    assert search(backend, "anything").total == 0


# -- listing and paging ----------------------------------------------------------------------


@pytest.mark.parametrize("q", [None, "", "   "])
def test_no_query_lists_everything_newest_first(seeded: SearchBackend, q: str | None) -> None:
    result = search(seeded, q)
    assert result.total == len(DOCS)
    assert ids(result) == BY_DATE


def test_paging_has_no_overlap_and_no_gap(seeded: SearchBackend) -> None:
    pages = [search(seeded, size=3, offset=offset) for offset in (0, 3, 6)]
    assert [len(p.hits) for p in pages] == [3, 3, 2]
    assert all(p.total == len(DOCS) for p in pages)
    assert [i for p in pages for i in ids(p)] == BY_DATE
    beyond = search(seeded, size=3, offset=20)
    assert beyond.hits == []
    assert beyond.total == len(DOCS)
    deepest = search(seeded, size=100, offset=10_000)  # the largest page SearchQuery allows
    assert deepest.hits == []
    assert deepest.total == len(DOCS)

    first, second = search(seeded, "ghent", size=1), search(seeded, "ghent", size=1, offset=1)
    assert ids(first) + ids(second) == ["05", "06"]


# -- hostile and odd input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('"', []),
        ('"proeftuin', ["01"]),
        ("*", []),
        ("burgerpartic*", []),  # no prefix syntax: "burgerpartic" is a word nobody wrote
        ("proef*", ["01"]),  # ... but "proef" is a part of the Dutch compound "proeftuin"
        ("title:(x AND", []),
        ("title:proeftuin", []),  # no field syntax: "title" is a word too
        ("NEAR(proeftuin bonds)", []),
        ("proeftuin OR bonds", []),  # no OR: all of proeftuin, or, bonds
        ("burgerparticipatie -proeftuin", ["01"]),  # no NOT: both words required
        ("a OR b -c", []),
        ("\\", []),
        ("\\proeftuin\\", ["01"]),
        ("proeftuin^5", []),  # "5" is a token too
        ("(proeftuin)", ["01"]),
        ("'; DROP TABLE documents; --", []),
        ('{"query": {"match_all": {}}}', []),
        ("!!! ??? ... ,,, ;;; :: -- ++", []),  # only punctuation: no hits, not everything
        ("lorem ipsum dolor " * 2000, []),
        ("x" * 5000, []),
    ],
)
def test_hostile_queries_never_raise(seeded: SearchBackend, q: str, expected: list[str]) -> None:
    result = search(seeded, q)
    assert isinstance(result, SearchResult)
    assert ids(result) == expected
    assert result.total == len(expected)
    assert seeded.count() == len(DOCS)


def test_unicode_beyond_latin(seeded: SearchBackend) -> None:
    extra = [
        _doc(
            "10",
            type="news",
            title="東京 スマートシティ 実証実験",
            summary="市民参加型のデータ活用",
            language="ja",
            network=NET_DE,
            source="src-g",
            published=datetime(2024, 7, 1, tzinfo=UTC),
        ),
        _doc(
            "11",
            type="news",
            title="🚀 Launch of a civic tech lab 🏛️",
            body="Ελληνικά και русский текст side by side.",
            language="en",
            network=NET_DE,
            source="src-g",
            published=datetime(2024, 7, 2, tzinfo=UTC),
        ),
    ]
    assert seeded.upsert(extra).errors == []
    seeded.refresh()
    assert ids(search(seeded, "東京")) == ["10"]
    assert ids(search(seeded, "スマートシティ")) == ["10"]
    assert ids(search(seeded, "🚀 civic")) == ["11"]
    assert search(seeded, "🚀").total == 0
    assert ids(search(seeded, "РУССКИЙ")) == ["11"]
    assert ids(search(seeded, "ελληνικα")) == ["11"]  # accent-folded Greek
    assert seeded.get(ITEM + "11") == extra[1]
    assert ids(search(seeded, size=2)) == ["11", "10"]
