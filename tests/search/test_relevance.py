"""The relevance set (tests/search/relevance.py): stemming + compounds must find what folding finds, and more.

Both analyses are measured on the same index; the numbers are printed (``-s``) and quoted
in docs/search.md. Runs on both backends (they index the same tokens).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from search.base import SearchBackend
from tests.search.relevance import CASES, corpus_documents, evaluate


@pytest.fixture(
    params=[
        pytest.param("embedded_backend", id="embedded"),
        pytest.param("es_backend", id="elasticsearch", marks=pytest.mark.integration),
    ]
)
def indexed(request: pytest.FixtureRequest, corpus: Path) -> tuple[SearchBackend, list]:
    backend: SearchBackend = request.getfixturevalue(request.param)
    docs = corpus_documents(corpus)
    assert len(docs) > 80
    assert backend.upsert(docs).errors == []
    backend.refresh()
    return backend, docs


def test_stemming_and_compounds_find_more_than_folding(indexed) -> None:
    backend, docs = indexed
    stem = evaluate(backend, docs, "stem")
    fold = evaluate(backend, docs, "fold")
    for language in ("nl", "fr", "en"):
        cases = [c for c in CASES if c.language == language]
        s = sum(c in stem["found"] for c in cases)
        f = sum(c in fold["found"] for c in cases)
        print(f"{backend.name} {language}: stem+compounds {s}/{len(cases)}, folding only {f}/{len(cases)}")
    assert set(fold["found"]) <= set(stem["found"])  # nothing folding found is lost
    assert stem["missed"] == [], [c.query for c in stem["missed"]]
    assert len(fold["missed"]) >= 8, "the set must contain cases that need language analysis"
