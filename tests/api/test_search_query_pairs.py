"""The fast path's query-string reader (api.routers.search.query_pairs) gives what
urllib.parse.parse_qsl(keep_blank_values=True) gives (the route's reader, through Starlette)
on every string: blanks, missing '=', '+', good and broken %-escapes, UTF-8 and latin-1 text."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from api.routers.search import query_pairs

PIECES = [
    "q",
    "a",
    "=",
    "&",
    "+",
    "%",
    "%2B",
    "%26",
    "%3D",
    "%C3%A9",
    "%zz",
    "%4",
    "é",
    "€",
    " ",
    "x y",
    "&&",
]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=14))
def test_query_pairs_read_like_parse_qsl(pieces: list[str]) -> None:
    qs = "".join(pieces)
    assert query_pairs(qs) == parse_qsl(qs, keep_blank_values=True)


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6))
def test_encoded_parameters_come_back(params: list[tuple[str, str]]) -> None:
    qs = urlencode(params)
    assert query_pairs(qs) == parse_qsl(qs, keep_blank_values=True)
    qs = qs.encode().decode("latin-1")  # as the fast path reads an ASGI query string
    assert query_pairs(qs) == parse_qsl(qs, keep_blank_values=True)


def test_an_everyday_query_string() -> None:
    qs = "q=burger+participatie&size=20&facet=type&facet=theme&theme=https%3A%2F%2Fx%2Ft1&highlight=false"
    assert query_pairs(qs) == parse_qsl(qs, keep_blank_values=True)
    assert query_pairs("") == [] == query_pairs("&&")
