"""The hot path's shortcuts (ontology/triples.py, clean_text) give exactly what they replace.

``plain_literal``/``lang_literal``/``utc_datetime_literal`` skip rdflib's parse-and-reserialise of
each literal; ``nt_line`` renders a triple without rdflib's per-term dispatch. Both are only worth
having if nothing downstream can tell: every slot of every literal, and every N-Triples line, is
compared with rdflib's own constructor and ``_nt_row`` on corpus values and on edge cases.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import nh3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import BNode, Literal, URIRef
from rdflib.plugins.serializers.nt import _nt_row

from ontology.mapping.common import clean_text
from ontology.namespaces import SCHEMA
from ontology.triples import (
    ItemGraph,
    lang_literal,
    nt_line,
    nt_lines_of,
    plain_literal,
    utc_datetime_literal,
)
from tests.ontology.test_fast_validation import all_corpus_batches

# XSD terms as plain IRIs: pytest probes module globals, and rdflib's XSD namespace warns on each probe.
XSD_DATETIME, XSD_STRING, XSD_TOKEN = (
    URIRef("http://www.w3.org/2001/XMLSchema#" + name) for name in ("dateTime", "string", "token")
)


EDGE_TEXTS = [
    "",
    "plain",
    'a "quoted"\nline\r\twith \\ backslash',
    "\u2028 line separator \u0085 next line \x00 nul \x7f",
    "é ü ß ’ ﬁ 😀 \U0001d165",
    " leading and trailing ",
]


def slots(lit: Literal) -> tuple:
    value = lit._value  # noqa: SLF001 - the slots are the contract
    tz = getattr(value, "tzinfo", None)
    return (
        type(lit),
        str(lit),
        lit._language,  # noqa: SLF001
        lit._datatype,  # noqa: SLF001
        type(lit._datatype),  # noqa: SLF001
        type(value),
        value,
        tz,
        lit._ill_typed,  # noqa: SLF001
        hash(lit),
    )


def same(ours: Literal, ref: Literal) -> None:
    assert slots(ours) == slots(ref)
    assert ours == ref
    assert ours.eq(ref)
    assert ours.n3() == ref.n3()
    assert ours.toPython() == ref.toPython()


def _corpus_literals(corpus: Path) -> list[Literal]:
    return [
        o
        for batch in all_corpus_batches(corpus)
        for m in batch
        for g in (m.content, m.provenance)
        for _, _, o in g
        if isinstance(o, Literal)
    ]


def test_literal_shortcuts_equal_rdflib_on_corpus_and_edge_values(corpus: Path) -> None:
    literals = _corpus_literals(corpus)
    texts = [str(lit) for lit in literals] + EDGE_TEXTS
    langs = sorted({lit.language for lit in literals if lit.language} | {"nl", "nl-be", "en-GB", "x-y1"})
    for value in texts:
        same(plain_literal(value), Literal(value))
        for lang in langs:
            same(lang_literal(value, lang), Literal(value, lang=lang))
    dated = [lit for lit in literals if lit.datatype == XSD_DATETIME]
    assert len(dated) > 300
    for lit in dated:
        same(utc_datetime_literal(lit.toPython()), lit)


@pytest.mark.parametrize("lang", ["nl1", "1nl", "nl_BE", "nl-", "n l"])
def test_an_invalid_language_tag_fails_as_rdflib_fails(lang: str) -> None:
    with pytest.raises(ValueError, match="is not a valid language tag") as ours:
        lang_literal("x", lang)
    with pytest.raises(ValueError, match="is not a valid language tag") as ref:
        Literal("x", lang=lang)
    assert str(ours.value) == str(ref.value)


def _reference_datetime(value: datetime) -> Literal:
    """What ontology/mapping/common.dt_literal wrote before the shortcut."""
    return Literal(value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z", datatype=XSD_DATETIME)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
        ),
    )
)
def test_datetime_shortcut_equals_rdflib_for_any_instant(value: datetime) -> None:
    same(utc_datetime_literal(value), _reference_datetime(value))


S = URIRef("http://e/s")


@pytest.mark.parametrize(
    "triple",
    [
        (S, SCHEMA.name, Literal('a "q"\n\r\\ \u2028', lang="en")),
        (S, SCHEMA.name, Literal("x", datatype=XSD_STRING)),
        (S, SCHEMA.name, Literal(1)),
        (S, SCHEMA.name, Literal(1.5)),
        (S, SCHEMA.url, URIRef("http://e/o?a=1&b=é")),
        (BNode("b1"), SCHEMA.name, BNode("b2")),
        (S, SCHEMA.name, Literal("plain")),
    ],
)
def test_nt_line_is_rdflibs_row(triple) -> None:
    assert nt_line(triple) == _nt_row(triple)


def test_nt_line_fails_on_an_invalid_iri_as_rdflib_does() -> None:
    bad = (S, SCHEMA.url, URIRef("http://e/a b"))
    with pytest.raises(Exception, match="does not look like a valid URI"):
        _nt_row(bad)
    with pytest.raises(Exception, match="does not look like a valid URI"):
        nt_line(bad)


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from([None, "nl", "en-gb"]), st.sampled_from([None, XSD_STRING, XSD_TOKEN]))
def test_nt_line_equals_rdflib_for_any_literal(text: str, lang: str | None, datatype) -> None:
    lit = Literal(text, lang=lang) if lang else Literal(text, datatype=datatype)
    triple = (S, SCHEMA.name, lit)
    assert nt_line(triple) == _nt_row(triple)
    if lang:
        assert lang_literal(text, lang) == lit
    elif datatype is None:
        same(plain_literal(text), lit)


def test_nt_lines_of_is_rdflibs_rows_on_every_corpus_item(corpus: Path) -> None:
    """The one-loop renderer (remembered IRI forms, one escape search per literal) on real texts."""
    items = [m for batch in all_corpus_batches(corpus) for m in batch]
    escaped = 0
    for m in items:
        triples = [*m.content, *m.provenance, *m.derived]
        lines = nt_lines_of(triples)
        assert lines == [_nt_row(t) for t in triples]
        escaped += sum('\\"' in line or "\\n" in line or "\\\\" in line for line in lines)
    assert escaped > 50  # quotes, newlines and backslashes in real titles and summaries were rendered
    # No corpus text has a character outside the BMP (only a script comment does): the real texts again,
    # each with an emoji and a musical symbol inside, as language-tagged and typed literals.
    texts = [str(o) for m in items for _, _, o in m.content if type(o) is Literal]
    extended = [
        (
            S,
            SCHEMA.name,
            Literal(f"{t[:40]}\U0001f600{t[40:]}\U0001d165", lang="en")
            if i % 2
            else Literal(t + "\U0001f496"),
        )
        for i, t in enumerate(texts)
    ]
    assert nt_lines_of(extended) == [_nt_row(t) for t in extended]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([S, URIRef("http://e/t"), BNode("b1")]),
            st.sampled_from([SCHEMA.name, SCHEMA.url]),
            st.one_of(
                st.text().map(Literal),
                st.text().map(lambda t: Literal(t, lang="nl")),
                st.text().map(lambda t: Literal(t, datatype=XSD_TOKEN)),
                st.sampled_from([S, URIRef("http://e/o?a=1&b=é"), BNode("b2")]),
            ),
        ),
        max_size=12,
    )
)
def test_nt_lines_of_equals_rdflib_for_any_triples(triples) -> None:
    assert nt_lines_of(triples) == [_nt_row(t) for t in triples]


def test_an_invalid_iri_fails_every_time_never_remembered() -> None:
    bad = (S, SCHEMA.url, URIRef("http://e/a b"))
    for _ in range(2):
        with pytest.raises(Exception, match="does not look like a valid URI"):
            nt_lines_of([bad])
        with pytest.raises(Exception, match="does not look like a valid URI"):
            nt_lines_of([(URIRef("http://e/a b"), SCHEMA.url, S)])


def test_item_graph_lines_follow_every_change() -> None:
    """The rendered lines are kept per state: any change renders again, a sum of two reuses both."""
    a = ItemGraph([(S, SCHEMA.name, Literal("x"))])
    first = a.nt_lines()
    assert a.nt_lines() is first
    a.add((S, SCHEMA.url, URIRef("http://e/o")))
    assert a.nt_lines() == [_nt_row(t) for t in a]
    a.remove((S, SCHEMA.name, None))
    assert a.nt_lines() == ["<http://e/s> <http://schema.org/url> <http://e/o> .\n"]
    b = ItemGraph([(S, SCHEMA.name, Literal("y"))])
    b.nt_lines()
    assert (a + b).nt_lines() == a.nt_lines() + b.nt_lines()
    overlap = a + ItemGraph([*a, *b])  # shared triples: one line each, in a's order first
    assert overlap.nt_lines() == a.nt_lines() + b.nt_lines()
    a += b
    assert a.nt_lines() == [_nt_row(t) for t in a]


def _sanitised_text(value: str | None) -> str | None:
    """clean_text without its shortcut: nh3 with no tags allowed, entities unescaped, spaces collapsed."""
    if not value:
        return None
    return " ".join(html.unescape(nh3.clean(value, tags=set())).split()) or None


@settings(max_examples=2000, deadline=None)
@given(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
        st.text(alphabet=st.characters(max_codepoint=0x200)),
        st.text(alphabet=st.sampled_from(list("ab <>&;\x00\r\n\t\x0c\xa0\u2028'\"/=p"))),
    )
)
def test_clean_text_shortcut_equals_the_sanitiser(value: str) -> None:
    assert clean_text(value) == _sanitised_text(value)


def test_clean_text_equals_the_sanitiser_on_corpus_text(corpus: Path) -> None:
    raws = [m.raw for batch in all_corpus_batches(corpus) for m in batch if m.raw is not None]
    values = [v for r in raws for v in (r.title, r.summary, r.body_html, r.organizer, r.location_name) if v]
    assert sum("<" not in v and "&" not in v for v in values) > 300  # the shortcut is exercised
    for value in values:
        assert clean_text(value) == _sanitised_text(value)
