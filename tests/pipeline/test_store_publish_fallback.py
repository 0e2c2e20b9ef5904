"""store_and_publish when a batch cannot be written: the items go one by one, the bad one alone.

A real corpus feed; one item carries a literal rdflib refuses to serialise (a language AND a
datatype), so its record cannot be rendered. Its batch transaction fails; the failure is logged;
every other item is stored with its member; the bad item is a RecordError and leaves no row.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from sqlalchemy import func, select

from crawlers.platforms.feed import parse_feed
from ontology.namespaces import SCHEMA
from pipeline.contracts import NetworkSpec, Registry, SourceReport, SourceSpec
from pipeline.map import map_items
from pipeline.store import store_and_publish
from pipeline.validate import validate_items
from store.ldes_models import LdesHeadRow, LdesMemberRow
from store.models import RecordRow
from store.repository import Store

BASE = "http://innonet.test"
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_a_bad_item_fails_alone_and_the_batch_failure_is_logged(
    tmp_path: Path, corpus: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite3'}")
    spec = SourceSpec(id="guardian", network="net-a", title="g", url="http://x/g")
    store.sync_registry(Registry(networks=[NetworkSpec(id="net-a", name="A")], sources=[spec]))
    body = (corpus / "rss_atom" / "guardian_rss2.xml").read_bytes()
    raw = store.save_payload(body, spec.url, "application/xml")
    mapped, _ = map_items(
        parse_feed(body, spec).items, spec, base=BASE, fetched_at=NOW, raw_sha256=raw, mapping_version="1"
    )
    items, _, _ = validate_items(mapped, spec.id)
    bad = items[3]
    broken = Literal("kapot", lang="en")
    broken._datatype = URIRef("http://www.w3.org/2001/XMLSchema#string")  # noqa: SLF001 - a term rdflib will not write (its own error)
    bad.derived.add((bad.iri, SCHEMA.alternativeHeadline, broken))
    report = SourceReport(source_id=spec.id, started_at=NOW)
    with caplog.at_level(logging.WARNING, logger="innonet.store"):
        versions = store_and_publish(store, items, report, raw, BASE, now=NOW)
    assert any(
        "one transaction failed" in r.getMessage() and "datatype AND language" in r.getMessage()
        for r in caplog.records
    )
    assert [(e.stage, e.code, e.item) for e in report.errors] == [("store", "store_failed", bad.native_id)]
    assert report.counts["new"] == len(items) - 1 == len(versions)
    assert report.counts["failed"] == 1
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(RecordRow)) == len(items) - 1
        assert s.scalar(select(func.count()).select_from(LdesMemberRow)) == len(items) - 1
        assert s.get(RecordRow, str(bad.iri)) is None
        assert s.get(LdesHeadRow, str(bad.iri)) is None
    store.close()
