"""Do two trees give the same outputs? Parse, map + validate, clustering and the store, on the whole corpus.

Speed work on the ingest path (issue 4) must not change what is stored. This runs the same dumps
in a reference tree (a git worktree of an earlier commit) and in this tree, each in its own
interpreter with that tree's modules, and compares them:

* ``parse``: ``parse_feed`` over every corpus file and sample feed, four content types, fast path
  and feedparser path: each RawItem's fields (datetimes with their zones), fields set and type;
  errors, warnings and fatal outcomes.
* ``map``: every corpus batch (``tests.ontology.test_fast_validation.all_corpus_batches``) plus the
  feeds mapped as news without their language, as events and as cases, half with upstream network
  chains: sorted content N-Triples, content hash, provenance (blank nodes renamed in order of
  appearance), unmapped tags, batch proofs and ``validate_items``' outcome.
* ``cluster``: every corpus item's exact keys, bands and signature (``keys_of``, ``keys_of_many``),
  two rounds of ``assign_all`` (the second all copies), and the cluster tables and record cluster
  lines of a SQLite store after ``bench_ingest``'s sources and after the corpus batches stored twice.
* ``store``: a store built with the harvest's path (``process_fetched``) from ``bench_ingest``'s
  sources, three rounds (new, unchanged, titles changed), every table dumped with generated times,
  version stamps and per-process blank-node labels normalised, plus the schema.

    git worktree add --detach /tmp/ref <commit>   # it must see ../shared like this tree (a symlink will do)
    .venv/bin/python -m bench.sameness /tmp/ref [parse map cluster store] [--items 1000]

Prints SAME or DIFFERENT per stage (with the first differing keys) and exits 1 if any stage differs.
The dumps use functions both trees have; a tree that renamed one needs this file updated.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

STAGES = ("parse", "map", "cluster", "store")


def dump_parse(_items: int) -> Any:
    from crawlers.platforms.feed import parse_feed
    from pipeline.contracts import SourceSpec
    from tests.conftest import CORPUS

    source = SourceSpec(id="same", network="n", title="t", url="http://x", language="nl")
    types = (
        None,
        "application/rss+xml",
        "text/xml; charset=iso-8859-1",
        "application/atom+xml; charset=utf-8",
    )
    samples = Path.cwd() / "crawlers" / "samples" / "feeds"
    out = {}
    for path in sorted([*CORPUS.rglob("*"), *samples.rglob("*")]):
        if not path.is_file() or path.name in ("MANIFEST.tsv", "SHA256SUMS", "README.md"):
            continue
        name = path.name if samples in path.parents else str(path.relative_to(CORPUS))
        body = path.read_bytes()
        for content_type in types:
            for fast in (True, False):
                try:
                    o = parse_feed(body, source, content_type, use_fast=fast)
                    value: Any = (
                        [
                            (repr(i.model_dump()), sorted(i.model_fields_set), type(i).__name__)
                            for i in o.items
                        ],
                        [e.model_dump() for e in o.errors],
                        list(o.warnings),
                        o.fatal.model_dump() if o.fatal else None,
                    )
                except Exception as exc:  # noqa: BLE001 - an exception is an output too
                    value = ("EXC", type(exc).__name__, str(exc))
                out[f"{name} {content_type} fast={fast}"] = value
    return out


_BLANK = re.compile(r"_:[A-Za-z0-9]+")


def _renamed(lines: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    return sorted(
        _BLANK.sub(lambda m: seen.setdefault(m.group(0), f"_:b{len(seen)}"), line) for line in lines
    )


def dump_map(_items: int) -> Any:
    from datetime import UTC, datetime

    from crawlers.platforms.feed import parse_feed
    from ontology.fast_validation import batch_proofs, item_triples
    from pipeline.contracts import SourceSpec
    from pipeline.map import map_items
    from pipeline.store import content_hash
    from pipeline.validate import validate_items
    from tests.conftest import CORPUS
    from tests.ontology.test_fast_validation import all_corpus_batches

    batches = all_corpus_batches(CORPUS)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    chain = ["https://a.example/net", "not an iri", "https://b.example/n2"]
    for kind, keep_language in (
        ("news", False),
        ("event", False),
        ("event", True),
        ("case", False),
        ("case", True),
    ):
        source = SourceSpec(id=f"x{kind}", network="net-x", title="x", url="http://x")
        for path in sorted((CORPUS / "rss_atom").glob("*.xml")):
            try:
                items = parse_feed(path.read_bytes(), source).items
            except Exception:  # noqa: BLE001 - files the feed adapter refuses have no items to map
                continue
            items = [
                i.model_copy(update={"kind": kind, **({} if keep_language else {"language": None})})
                for i in items
            ]
            if kind == "news":
                items = [
                    i.model_copy(update={"extra": {**i.extra, "network_chain": chain}}) if n % 2 else i
                    for n, i in enumerate(items)
                ]
            mapped, _ = map_items(
                items,
                source,
                base="http://innonet.test",
                fetched_at=now,
                raw_sha256="cd" * 32,
                mapping_version="2",
            )
            if mapped:
                batches.append(mapped)
    out: list[Any] = []
    for batch in batches:
        proofs = batch_proofs([(m.iri, item_triples(m.content, m.provenance)) for m in batch])
        valid, errors, warnings = validate_items(batch, "s")
        for m, proof in zip(batch, proofs, strict=True):
            out.append({
                "iri": str(m.iri), "kind": m.kind, "content": sorted(m.content.serialize(format="nt").splitlines()),
                "hash": content_hash(m), "prov": _renamed(m.provenance.serialize(format="nt").splitlines()),
                "unmapped": m.unmapped, "proof": proof,
            })  # fmt: skip
        out.append(
            {
                "valid": [v.native_id for v in valid],
                "errors": [e.message for e in errors],
                "warnings": warnings,
            }
        )
    return out


def _cluster_tables(store: Any) -> Any:
    from sqlalchemy import text

    with store.engine.connect() as conn:
        keys = [list(r) for r in conn.execute(text("SELECT key, cluster FROM cluster_keys ORDER BY key"))]
        signatures = [
            list(r)
            for r in conn.execute(text("SELECT cluster, signature FROM cluster_signatures ORDER BY cluster"))
        ]
        records = [
            [iri, chash, sorted(line for line in graph.splitlines() if "cluster" in line)]
            for iri, chash, graph in conn.execute(
                text("SELECT iri, content_hash, graph FROM records ORDER BY iri")
            )
        ]
    return {"keys": keys, "signatures": signatures, "records": records}


def dump_cluster(items: int) -> Any:
    import ontology.cluster as clustering
    from bench.bench_ingest import BASE, NOW, _store, corpus_feeds, whole_ours, whole_sources
    from pipeline.contracts import SourceReport, SourceSpec
    from pipeline.store import cluster_input, store_and_publish
    from tests.conftest import CORPUS
    from tests.ontology.test_fast_validation import all_corpus_batches

    batches = all_corpus_batches(CORPUS)
    inputs = [[cluster_input(m.iri, m.raw) for m in b] for b in batches]
    flat = [x for b in inputs for x in b]
    out: dict[str, Any] = {
        "keys_of_many": [[k.exact, k.bands, k.signature] for k in clustering.keys_of_many(flat)],
        "keys_of": [[k.exact, k.bands, k.signature] for k in map(clustering.keys_of, flat)],
    }
    clusterer = clustering.Clusterer(lambda k: hashlib.sha256(k.encode()).hexdigest()[:16])
    out["assign_all"] = [
        [c, k.exact, k.bands, k.signature]
        for _ in range(2)
        for b in inputs
        for c, k in clusterer.assign_all(b)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        whole_ours(tmp, whole_sources(corpus_feeds(), items, "same"), "feeds")
        _, store = _store(tmp, "feeds", [])
        out["store_feeds"] = _cluster_tables(store)
        store.close()
        specs = [
            (SourceSpec(id=f"s{i}", network="bench-net", title="t", url=f"http://x/{i}"), b"")
            for i in range(len(batches))
        ]
        settings, store = _store(tmp, "all", specs)
        for _ in range(2):
            for i, batch in enumerate(batches):
                report = SourceReport(source_id=f"s{i}", started_at=NOW)
                store_and_publish(store, batch, report, None, BASE, settings.ldes_page_size, now=NOW)
        out["store_all"] = _cluster_tables(store)
        store.close()
    return out


#: Columns whose values are times or ids of the run that wrote them, not outputs.
_GENERATED = {
    ("records", "first_seen_at"), ("records", "updated_at"), ("ldes_members", "generated_at"),
    ("ldes_members", "day"), ("harvest_runs", "started_at"), ("harvest_runs", "finished_at"),
    ("harvest_runs", "duration_ms"), ("harvest_runs", "id"), ("fetch_states", "last_attempt_at"),
    ("fetch_states", "last_success_at"), ("raw_payloads", "first_fetched_at"),
}  # fmt: skip
_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)?")
_VERSION = re.compile(r"/versie/\d{8}T\d{6}Z")
_PROCESS_BLANK = re.compile(r"_:N[0-9a-f]{8,}")


def _normalised(table: str, column: str, value: Any) -> Any:
    if (table, column) in _GENERATED:
        return "<generated>"
    if isinstance(value, bytes):
        return f"bytes:{len(value)}:{hashlib.sha256(value).hexdigest()}"
    if isinstance(value, str):
        value = _PROCESS_BLANK.sub("_:B", _VERSION.sub("/versie/T", value))
        if table in ("ldes_members", "harvest_runs", "fetch_states", "unmapped_tags"):
            value = _STAMP.sub("<time>", value)
    return value


def dump_store(items: int) -> Any:
    from bench.bench_ingest import _fetched, _store, corpus_feeds, whole_sources
    from pipeline.harvest import process_fetched

    sources = whole_sources(corpus_feeds(), items, "d")
    with tempfile.TemporaryDirectory() as tmp:
        settings, store = _store(tmp, "dump", sources)
        for round_ in range(
            3
        ):  # new items; the same again (unchanged); titles changed (updated, new members)
            for spec, body in sources:
                changed = body.replace(b"</title>", b" (v2)</title>", 3) if round_ == 2 else body
                process_fetched(settings, store, spec, _fetched(store, spec, changed))
        path = settings.resolved_database_url.removeprefix("sqlite:///")
        store.close()
        con = sqlite3.connect(path)
        out: dict[str, Any] = {}
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            columns = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
            rows = [
                [_normalised(table, c, v) for c, v in zip(columns, row, strict=True)]
                for row in con.execute(f"SELECT * FROM {table}")
            ]  # noqa: S608 - names from sqlite_master
            out[table] = {"columns": columns, "rows": sorted(rows, key=lambda r: json.dumps(r, default=str))}
        out["__schema__"] = sorted(
            con.execute("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name != 'sqlite_sequence'")
        )
        con.close()
    return out


def _dump(stage: str, items: int, out: str) -> None:
    """In a tree's interpreter (cwd = the tree): one stage's outputs as JSON."""
    sys.path.insert(0, os.getcwd())
    value = {"parse": dump_parse, "map": dump_map, "cluster": dump_cluster, "store": dump_store}[stage](items)
    Path(out).write_text(json.dumps(value, sort_keys=True, default=repr), encoding="utf-8")


def _first_differences(a: Any, b: Any, path: str = "", limit: int = 5) -> list[str]:
    if type(a) is not type(b) or not isinstance(a, dict | list):
        return [] if a == b else [path or "<root>"]
    if isinstance(a, dict):
        keys = sorted(set(a) | set(b), key=str)
        found = [f"{path}/{k} (only in one)" for k in keys if (k in a) != (k in b)]
        for k in keys:
            if k in a and k in b and len(found) < limit:
                found += _first_differences(a[k], b[k], f"{path}/{k}", limit - len(found))
        return found[:limit]
    found = [f"{path} (length {len(a)} vs {len(b)})"] if len(a) != len(b) else []
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if len(found) >= limit:
            break
        found += _first_differences(x, y, f"{path}[{i}]", limit - len(found))
    return found[:limit]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--dump"]:
        _dump(argv[1], int(argv[2]), argv[3])
        return 0
    reference = Path(argv[0]).resolve()
    stages = [a for a in argv[1:] if a in STAGES] or list(STAGES)
    items = int(argv[argv.index("--items") + 1]) if "--items" in argv else 1000
    here = Path(__file__).resolve().parent.parent
    differ = False
    with tempfile.TemporaryDirectory() as tmp:
        for stage in stages:
            dumps = []
            for tree in (reference, here):
                out = Path(tmp) / f"{stage}-{len(dumps)}.json"
                subprocess.run(
                    [sys.executable, str(Path(__file__).resolve()), "--dump", stage, str(items), str(out)],
                    cwd=tree, check=True,
                )  # fmt: skip
                dumps.append(out.read_bytes())
            same = dumps[0] == dumps[1]
            differ |= not same
            size = len(json.loads(dumps[1]))
            print(
                f"{stage:8s} {'SAME' if same else 'DIFFERENT'}  ({size} top-level entries, {len(dumps[1]):,} bytes)"
            )
            if not same:
                for where in _first_differences(json.loads(dumps[0]), json.loads(dumps[1])):
                    print(f"           differs at {where}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
