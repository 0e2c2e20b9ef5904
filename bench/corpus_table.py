"""The corpus table: every corpus file of the crawled kinds, served from 127.0.0.1, harvested.

Prints one row per file (file, platform, outcome, records) and a summary. Every file must
either yield records or give its source a precise error code: no crash (``internal_error``),
no hang (the whole run is bounded), no unexplained ``fetch_error``.

    .venv/bin/python bench/corpus_table.py [--markdown]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CORPUS = REPO.parent / "shared" / "corpus"
#: corpus folder -> platform (files in these folders are the kinds issue 3 crawls)
KINDS = {
    "rss_atom": "feed",
    "feedparser_tests": "feed",
    "ical": "ical",
    "html_structured": "html",
    "sitemaps": "sitemap",
    "opml": "opml",
    "events_jsonld": "uitdatabank",
}
SKIP_SUFFIXES = (".expected.json", ".expected.jsonld")


def corpus_sources(served: Path) -> list[dict]:
    """Copy the corpus files into ``served`` and return one registry entry per file."""
    sources = []
    for folder, platform in KINDS.items():
        for path in sorted((CORPUS / folder).iterdir()):
            if not path.is_file() or path.name.endswith(SKIP_SUFFIXES):
                continue
            name = f"{folder}__{path.name}"
            shutil.copy(path, served / name)
            sid = "c-" + "".join(ch if ch.isalnum() else "-" for ch in name.lower())[:90].strip("-")
            sources.append(
                {
                    "id": sid,
                    "network": "net-a",
                    "title": name,
                    "url": "{samples}/" + name,
                    "platform": platform,
                    "kind": "event" if platform in ("ical", "uitdatabank") else "news",
                    "_file": f"{folder}/{path.name}",
                }
            )
    return sources


def run() -> tuple[list[tuple[str, str, str, int, int]], float]:
    import yaml

    from crawlers.samples.server import serve_directory
    from pipeline.harvest import harvest
    from pipeline.settings import Settings

    with tempfile.TemporaryDirectory(prefix="innonet-corpus-") as tmp:
        root = Path(tmp)
        served = root / "served"
        served.mkdir()
        sources = corpus_sources(served)
        files = {s["id"]: s.pop("_file") for s in sources}
        registry = root / "registry.yaml"
        registry.write_text(
            yaml.safe_dump({"networks": [{"id": "net-a", "name": "A"}], "sources": sources}), encoding="utf-8"
        )
        with serve_directory(served) as url:
            settings = Settings(
                data_dir=root / "data",
                registry_path=registry,
                samples_url=url,
                fetch_allow_hosts=["127.0.0.1"],
                fetch_delay_s=0.0,
                fetch_per_host=4,
                fetch_timeout_s=20.0,
                base_url="http://innonet.test",
                ical_window_past_days=36500,
                ical_window_future_days=3650,
            )
            started = time.monotonic()
            reports = harvest(settings)
            elapsed = time.monotonic() - started
        platforms = {s["id"]: s["platform"] for s in sources}
        rows = []
        for r in sorted(reports, key=lambda r: files[r.source_id]):
            outcome = r.status if r.status in ("ok", "partial") else f"{r.status}: {r.error_code}"
            rows.append(
                (
                    files[r.source_id],
                    platforms[r.source_id],
                    outcome,
                    r.counts.get("new", 0),
                    r.counts.get("failed", 0),
                )
            )
        return rows, elapsed


def main() -> int:
    markdown = "--markdown" in sys.argv
    rows, elapsed = run()
    if markdown:
        print("| file | platform | outcome | records | failed records |\n|---|---|---|---|---|")
    for file, platform, outcome, records, failed in rows:
        if markdown:
            print(f"| {file} | {platform} | {outcome} | {records} | {failed} |")
        else:
            print(f"{file:70s} {platform:12s} {outcome:32s} {records:6d} {failed:4d}")
    bad = [r for r in rows if "internal_error" in r[2] or "fetch_error" in r[2]]
    with_records = sum(1 for r in rows if r[3] > 0)
    print(
        f"\n{len(rows)} files, {with_records} yielded records, {len(rows) - with_records} gave a precise status, "
        f"{len(bad)} crashed or hung; {sum(r[3] for r in rows)} records in {elapsed:.1f} s"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
