"""Worker processes for parse + map + validate (pipeline/workers.py) change nothing but speed.

The same corpus sources go through the harvest with and without a worker pool: every report and
every stored record must be the same. Real feeds (every rss_atom corpus file, good and broken,
plus calendars), a real HTTP server, real worker processes.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rdflib import Graph
from rdflib.compare import isomorphic
from sqlalchemy import select

from pipeline.contracts import FetchResult, NetworkSpec, Registry, SourceReport, SourceSpec
from pipeline.harvest import harvest, harvest_workers, process_fetched
from pipeline.parse import platform_defaults
from pipeline.workers import Prepared, SourceQueue
from store.ldes_models import LdesHeadRow
from store.models import RecordRow
from store.repository import Store
from tests.conftest import write_registry

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _corpus_sources(corpus: Path) -> list[tuple[SourceSpec, Path]]:
    files = sorted((corpus / "rss_atom").glob("*.xml"))
    calendars = sorted((corpus / "ical").glob("*.ics"))[:6]
    out = []
    for i, path in enumerate(files + calendars):
        platform = "ical" if path.suffix == ".ics" else "feed"
        spec = SourceSpec(
            id=f"s{i:02d}", network="net-a", title=path.stem, url=f"http://x/{path.name}", platform=platform
        )
        out.append((spec, path))
    return out


def _run(tmp: Path, corpus: Path, workers: int) -> tuple[list[SourceReport], list[tuple], list[tuple]]:
    """Every corpus source through a SourceQueue as harvest() runs it; reports and stored rows."""
    from pipeline.settings import Settings

    settings = Settings(data_dir=tmp, base_url="http://innonet.test")  # type: ignore[call-arg]
    store = Store(settings.resolved_database_url)
    sources = _corpus_sources(corpus)
    store.sync_registry(
        Registry(networks=[NetworkSpec(id="net-a", name="A")], sources=[s for s, _ in sources])
    )
    reports: list[SourceReport] = []
    prepared_in_worker: list[bool] = []

    def finish(
        src: SourceSpec, result: FetchResult, prepared: Prepared | None, error: BaseException | None
    ) -> None:
        assert error is None
        prepared_in_worker.append(prepared is not None)
        reports.append(process_fetched(settings, store, src, result, prepared))

    with SourceQueue(
        finish,
        store,
        workers=workers,
        defaults=platform_defaults(settings),
        base=settings.base_url,
        mapping_version=settings.mapping_version,
    ) as queue:
        for spec, path in sources:
            body = path.read_bytes()
            sha = store.save_payload(body, spec.url, None)
            result = FetchResult(
                source_id=spec.id,
                url=spec.url,
                status=200,
                ok=True,
                body_sha256=sha,
                body_size=len(body),
                fetched_at=NOW,
            )
            queue.put(spec, result)
        queue.drain()
    assert all(prepared_in_worker) == (workers > 0)  # the pool really did the work
    with store.session() as s:
        records = [
            tuple(row)
            for row in s.execute(
                select(
                    RecordRow.iri,
                    RecordRow.source_id,
                    RecordRow.kind,
                    RecordRow.native_id,
                    RecordRow.content_hash,
                    RecordRow.graph,
                    RecordRow.raw_sha256,
                ).order_by(RecordRow.iri)
            )
        ]
        heads = [
            tuple(row)
            for row in s.execute(
                select(LdesHeadRow.item_iri, LdesHeadRow.content_hash).order_by(LdesHeadRow.item_iri)
            )
        ]
    store.close()
    return reports, records, heads


def _comparable(report: SourceReport) -> tuple:
    return (
        report.source_id,
        report.status,
        report.error_code,
        report.message,
        dict(report.counts),
        [e.model_dump() for e in report.errors],
    )


def test_a_worker_pool_gives_the_same_reports_and_records(tmp_path: Path, corpus: Path) -> None:
    alone = _run(tmp_path / "alone", corpus, workers=0)
    pooled = _run(tmp_path / "pooled", corpus, workers=1)
    assert [_comparable(r) for r in pooled[0]] == [_comparable(r) for r in alone[0]]
    statuses = {r.status for r in alone[0]}
    assert {"ok", "failed"} <= statuses  # good and broken feeds both went through
    assert sum(r.counts.get("new", 0) for r in alone[0]) > 300
    # The same stored records (same fetch time); graphs compared by isomorphism (the network chain is
    # a list with fresh blank nodes on every run, with or without workers).
    assert [r[:5] + r[6:] for r in pooled[1]] == [r[:5] + r[6:] for r in alone[1]]
    for mine, theirs in zip(pooled[1], alone[1], strict=True):
        assert isomorphic(
            Graph().parse(data=mine[5], format="nt"), Graph().parse(data=theirs[5], format="nt")
        )
    assert pooled[2] == alone[2]  # and the same published heads


def test_harvest_with_workers_reports_as_without(make_settings, tmp_path: Path, corpus: Path) -> None:
    """The whole harvest (real crawl over HTTP) with a pool and without: the same reports."""
    from crawlers.samples.server import serve_directory

    served = tmp_path / "served"
    served.mkdir()
    for path in sorted((corpus / "rss_atom").glob("*.xml"))[:12]:
        shutil.copy(path, served / path.name)
    (served / "not_a_feed.txt").write_text("Sorry, our CMS is down.\n")
    names = sorted(p.name for p in served.iterdir())
    sources = [
        {"id": f"h{i:02d}", "network": "net-a", "title": name, "url": "{samples}/" + name}
        for i, name in enumerate(names)
    ]
    results = {}
    with serve_directory(served) as url:
        for workers in (0, 1):
            settings = make_settings(
                data_dir=tmp_path / f"data{workers}",
                registry_path=write_registry(tmp_path / f"registry{workers}.yaml", sources),
                samples_url=url,
                harvest_workers=workers,
                harvest_workers_min_sources=1,
            )
            assert harvest_workers(settings, len(sources)) == workers
            reports = harvest(settings)
            results[workers] = sorted(_comparable(r) for r in reports)
            store = Store(settings.resolved_database_url)
            results[f"records{workers}"] = store.count_records()
            store.close()
    assert results[1] == results[0]
    assert results["records1"] == results["records0"] > 100


@pytest.mark.parametrize(("sources", "expected"), [(5, 0), (20, 1), (500, 1)])
def test_small_harvests_run_without_workers(make_settings, sources: int, expected: int) -> None:
    assert (
        harvest_workers(make_settings(harvest_workers=1, harvest_workers_min_sources=20), sources) == expected
    )
