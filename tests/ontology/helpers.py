"""Shared test helpers: graph comparison with a readable diff, and the case fixture as a RawItem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import graph_diff, isomorphic, to_isomorphic

from pipeline.contracts import RawItem

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
BASE = "http://innonet.test"


def assert_isomorphic(got: Graph, want: Graph) -> None:
    if not isomorphic(got, want):
        _, only_got, only_want = graph_diff(to_isomorphic(got), to_isomorphic(want))
        pytest.fail(
            f"unexpected:\n{only_got.serialize(format='nt')}\nmissing:\n{only_want.serialize(format='nt')}"
        )


def case_item(name: str = "case_gent_burgerbudget.json", source_id: str = "lab") -> RawItem:
    doc = json.loads((DATA / name).read_text(encoding="utf-8"))
    return RawItem(
        source_id=source_id,
        native_id=doc["native_id"],
        kind="case",
        title=doc["title"],
        summary=doc["summary"],
        url=doc["url"],
        language=doc.get("language"),
        tags=doc.get("tags", []),
        extra={"case": doc["case"]},
    )
