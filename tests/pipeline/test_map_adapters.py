"""The real platform adapters' RawItems through map + validate: every corpus item conforms or is quarantined."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rdflib import Literal

from crawlers.platforms.uitdatabank import parse_uitdatabank
from ontology.namespaces import SCHEMA
from pipeline.contracts import SourceSpec
from pipeline.map import map_items
from pipeline.validate import validate_items

UIT = SourceSpec(
    id="uit", network="publiq", title="UiT", url="http://x", platform="uitdatabank", kind="event"
)


def test_uitdatabank_adapter_items_conform_or_are_quarantined_with_a_reason(corpus: Path) -> None:
    outcomes: dict[str, tuple[int, list[str]]] = {}
    for path in sorted((corpus / "events_jsonld").glob("uitdatabank_event_*.json")):
        items = parse_uitdatabank(path.read_bytes(), UIT).items
        mapped, errors = map_items(
            items,
            UIT,
            base="http://innonet.test",
            fetched_at=datetime.now(UTC),
            raw_sha256=None,
            mapping_version="1",
        )
        assert not errors
        valid, invalid, _ = validate_items(mapped, "uit")
        assert len(valid) + len(invalid) == len(mapped) == len(items)
        outcomes[path.stem] = (len(valid), [e.message for e in invalid])
        for item in valid:
            names = set(item.content.objects(item.iri, SCHEMA.name))
            assert all(isinstance(n, Literal) and n.language for n in names)
    # The one event without any date is quarantined, with advice a partner can act on.
    assert outcomes["uitdatabank_event_original-with-optional-fields"][0] == 0
    assert (
        "an event needs one start date" in outcomes["uitdatabank_event_original-with-optional-fields"][1][0]
    )
    assert sum(v for v, _ in outcomes.values()) == 8
