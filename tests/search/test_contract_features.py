"""The contract for the issue-5 features, on both backends (Elasticsearch marked integration).

Facets of public-sector innovation, date ranges, upcoming events, distance, sorting,
cursor paging, suggestions and language analysis keep the same semantics in both backends;
what only Elasticsearch has (collapsing clusters, related items) raises ``Unsupported`` on
the embedded one, naming the feature.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from search.base import SearchBackend, Unsupported
from search.documents import FACET_FIELDS, GeoFilter, Location, SearchDocument, SearchQuery, SearchResult

ITEM = "https://example.org/item/"
THEME = "https://w3id.org/innonet/concepts/theme/"
STAGE = "https://w3id.org/innonet/concepts/stage/"
LEVEL = "https://w3id.org/innonet/concepts/level/"
FACET = "https://w3id.org/innonet/concepts/facet/"
GHENT = Location(name="Het Pand", address="Onderbergen 1, Gent", lat=51.0519, lon=3.7217)
BRUSSELS = Location(name="BOZAR", lat=50.8444, lon=4.3597)
PARIS = Location(name="Station F", lat=48.8339, lon=2.3707)


def _doc(n: str, **fields: object) -> SearchDocument:
    values: dict[str, object] = {"type": "NewsArticle", "network": "lab-nl", "source": "src-a"}
    values.update(fields)
    return SearchDocument(id=ITEM + n, **values)


DOCS = [
    _doc(
        "e1",
        type="Event",
        title="Werkdag burgerparticipatie",
        summary="Gemeenten delen hun ervaringen met proeftuinen.",
        language="nl",
        start=datetime(2031, 3, 1, 9, tzinfo=UTC),
        location=GHENT,
        themes=[THEME + "participation"],
        government_levels=[LEVEL + "local"],
        country="BEL",
        published=datetime(2030, 12, 1, tzinfo=UTC),
    ),
    _doc(
        "e2",
        type="Event",
        title="Sommet de l'innovation publique",
        summary="Les administrations présentent leurs expérimentations.",
        language="fr",
        network="lab-fr",
        source="src-f",
        start=datetime(2031, 1, 15, 9, tzinfo=UTC),
        location=PARIS,
        country="FRA",
        published=datetime(2030, 11, 1, tzinfo=UTC),
    ),
    _doc(
        "e3",
        type="Event",
        title="Open data day Brussels",
        language="en",
        start=datetime(2020, 3, 7, 9, tzinfo=UTC),
        location=BRUSSELS,
        country="BEL",
        published=datetime(2020, 1, 10, tzinfo=UTC),
    ),
    _doc(
        "c1",
        type="Case",
        title="Regulatory sandboxes for mobility",
        summary="Cities tested new mobility rules in a sandbox.",
        language="en",
        network="lab-en",
        source="src-e",
        themes=[THEME + "mobility", THEME + "regulation"],
        opsi_facets=[FACET + "anticipatory"],
        lifecycle_stages=[STAGE + "testing"],
        government_levels=[LEVEL + "national"],
        barriers=["https://w3id.org/innonet/concepts/barrier/legal"],
        country="GBR",
        regions=["https://sws.geonames.org/2643743/"],
        published=datetime(2024, 6, 1, tzinfo=UTC),
        cluster="https://example.org/cluster/sandbox",
    ),
    _doc(
        "c2",
        type="Case",
        title="Regulatory sandbox for mobility (republished)",
        summary="A sandbox for new mobility rules.",
        language="en",
        network="lab-nl",
        themes=[THEME + "mobility"],
        published=datetime(2024, 6, 2, tzinfo=UTC),
        cluster="https://example.org/cluster/sandbox",
    ),
    _doc(
        "n1",
        type="NewsArticle",
        title="Bürgerbeteiligung in der Verwaltungsreform",
        summary="Kommunen beteiligen ihre Einwohner.",
        language="de",
        network="lab-de",
        themes=[THEME + "participation"],
        published=datetime(2023, 3, 1, tzinfo=UTC),
    ),
]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(
    params=[
        pytest.param("embedded_backend", id="embedded"),
        pytest.param("es_backend", id="elasticsearch", marks=pytest.mark.integration),
    ]
)
def seeded(request: pytest.FixtureRequest) -> SearchBackend:
    backend: SearchBackend = request.getfixturevalue(request.param)
    report = backend.upsert(DOCS)
    assert report.errors == []
    backend.refresh()
    return backend


def ids(result: SearchResult) -> list[str]:
    return [h.id.removeprefix(ITEM) for h in result.hits]


def counts(result: SearchResult, facet: str) -> dict[str, int]:
    return {b.value: b.count for b in result.facets[facet]}


def test_every_facet_is_counted_and_filters(seeded: SearchBackend) -> None:
    result = seeded.search(SearchQuery(size=0))
    assert set(result.facets) == set(FACET_FIELDS)
    assert counts(result, "type") == {"Event": 3, "Case": 2, "NewsArticle": 1}
    assert counts(result, "theme") == {
        THEME + "participation": 2,
        THEME + "mobility": 2,
        THEME + "regulation": 1,
    }
    assert counts(result, "opsi_facet") == {FACET + "anticipatory": 1}
    assert counts(result, "lifecycle_stage") == {STAGE + "testing": 1}
    assert counts(result, "government_level") == {LEVEL + "local": 1, LEVEL + "national": 1}
    assert counts(result, "country") == {"BEL": 2, "FRA": 1, "GBR": 1}
    assert counts(result, "region") == {"https://sws.geonames.org/2643743/": 1}
    assert counts(result, "year") == {"2024": 2, "2030": 2, "2020": 1, "2023": 1}
    assert counts(result, "barrier") == {"https://w3id.org/innonet/concepts/barrier/legal": 1}
    multi = seeded.search(SearchQuery(filters={"theme": [THEME + "mobility"], "country": ["GBR"]}))
    assert ids(multi) == ["c1"]
    years = seeded.search(SearchQuery(filters={"year": ["2030", "2023"]}))
    assert set(ids(years)) == {"e1", "e2", "n1"}


def test_date_ranges_and_upcoming_events(seeded: SearchBackend) -> None:
    in_2024 = seeded.search(
        SearchQuery(
            published_from=datetime(2024, 1, 1, tzinfo=UTC), published_to=datetime(2024, 12, 31, tzinfo=UTC)
        )
    )
    assert set(ids(in_2024)) == {"c1", "c2"}
    upcoming = seeded.search(SearchQuery(start_from=NOW, sort="start"))
    assert ids(upcoming) == ["e2", "e1"]  # soonest first; the 2020 event is past
    assert ids(seeded.search(SearchQuery(sort="start", filters={"type": ["Event"]}))) == ["e3", "e2", "e1"]


def test_distance_from_a_point(seeded: SearchBackend) -> None:
    near_ghent = seeded.search(SearchQuery(near=GeoFilter(lat=51.05, lon=3.72, km=60), sort="distance"))
    assert ids(near_ghent) == ["e1", "e3"]  # Ghent (0 km), Brussels (~50 km); Paris is ~265 km
    assert near_ghent.hits[0].distance_km == pytest.approx(0.15, abs=0.1)
    assert near_ghent.hits[1].distance_km == pytest.approx(50.3, abs=0.5)
    wide = seeded.search(SearchQuery(near=GeoFilter(lat=51.05, lon=3.72, km=400), sort="distance"))
    assert ids(wide) == ["e1", "e3", "e2"]


def test_sort_by_date_and_cursor_paging_without_gap_or_overlap(seeded: SearchBackend) -> None:
    by_date = ["e1", "e2", "c2", "c1", "n1", "e3"]
    assert ids(seeded.search(SearchQuery(sort="date"))) == by_date
    for sort, q in (("date", None), ("relevance", "mobility"), ("start", None)):
        full = ids(seeded.search(SearchQuery(sort=sort, q=q, size=100)))
        pages: list[str] = []
        after = None
        for _ in range(10):
            page = seeded.search(SearchQuery(sort=sort, q=q, size=2, after=after))
            pages += ids(page)
            if len(page.hits) < 2:
                break
            after = page.hits[-1].sort
        assert pages == full, sort


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("participatie", {"e1"}),  # part of the Dutch compound "burgerparticipatie"
        ("gemeente proeftuin", {"e1"}),  # plural/inflected forms: "Gemeenten", "proeftuinen"
        ("beteiligung", {"n1"}),  # part of the German compound "Bürgerbeteiligung"
        ("verwaltung", {"n1"}),  # part of "Verwaltungsreform"
        ("expérimentation administration", {"e2"}),  # "administrations", "expérimentations"
        ("sandboxes", {"c1", "c2"}),  # "sandbox" and "sandboxes"
        ("the sandbox", {"c1", "c2"}),  # an English stop word is not required
    ],
)
def test_language_analysis(seeded: SearchBackend, q: str, expected: set[str]) -> None:
    assert set(ids(seeded.search(SearchQuery(q=q)))) == expected
    folded_only = seeded.search(SearchQuery(q=q, analysis="fold"))
    assert set(ids(folded_only)) <= expected  # folding alone finds no more, often fewer


def test_suggestions_complete_a_prefix_of_a_title_word(seeded: SearchBackend) -> None:
    assert {s.id.removeprefix(ITEM) for s in seeded.suggest("regulat")} == {"c1", "c2"}
    assert {s.text for s in seeded.suggest("Bürgerbet")} == {"Bürgerbeteiligung in der Verwaltungsreform"}
    assert {s.id.removeprefix(ITEM) for s in seeded.suggest("data d")} == {"e3"}  # from a later word
    assert {s.id.removeprefix(ITEM) for s in seeded.suggest("Regulatory sandboxes f")} == {"c1"}
    assert seeded.suggest("zzz") == []
    assert seeded.suggest("  ") == []
    assert len(seeded.suggest("regulat", size=1)) == 1


def test_collapse_and_related_need_elasticsearch_or_work(seeded: SearchBackend) -> None:
    if seeded.name == "embedded":
        with pytest.raises(Unsupported, match="Elasticsearch"):
            seeded.search(SearchQuery(q="sandbox", collapse=True))
        with pytest.raises(Unsupported, match="Elasticsearch"):
            seeded.related(ITEM + "c1")
        return
    collapsed = seeded.search(SearchQuery(q="sandbox mobility", collapse=True))
    assert len(collapsed.hits) == 1
    assert collapsed.hits[0].shared_by == 2  # lab-en and lab-nl share the cluster
    related = seeded.related(ITEM + "c1")
    assert ids(related)[0] == "c2"
    assert "c1" not in ids(related)


def test_distance_filter_with_another_sort(seeded: SearchBackend) -> None:
    """Found by schemathesis: a radius with sort=date (not distance) once broke the embedded SQL."""
    near = GeoFilter(lat=51.05, lon=3.72, km=400)
    assert ids(seeded.search(SearchQuery(near=near, sort="date"))) == ["e1", "e2", "e3"]
    assert ids(seeded.search(SearchQuery(q="open data", near=near))) == ["e3"]
