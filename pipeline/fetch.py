"""Stage 1, fetch: get each source's bytes with Scrapy, archive them content-addressed.

The crawl runs in a child process (see :mod:`crawlers.fetching.run`); this module
prepares its jobs from the stored fetch state (for conditional GET), enforces an overall
deadline, and stores every body in the raw payload archive before anything parses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from crawlers.fetching.run import scrapy_settings
from pipeline.contracts import FetchResult, SourceSpec
from pipeline.settings import Settings
from store.repository import Store, aware


def fetch_sources(
    settings: Settings,
    store: Store,
    sources: Sequence[SourceSpec],
    on_result: Callable[[FetchResult], None] | None = None,
) -> list[FetchResult]:
    """Fetch every source once; returns one result per source, in the given order.

    ``on_result`` is called as each source's answer arrives, so the caller can process
    and report sources while slower ones are still downloading.
    """
    if not sources:
        return []
    jobs = []
    deferred: list[FetchResult] = []
    now = datetime.now(UTC)
    for src in sources:
        state = store.fetch_state(src.id)
        wait_until = aware(state.retry_after_until) if state else None
        if wait_until is not None and wait_until > now:
            deferred.append(
                FetchResult(
                    source_id=src.id,
                    url=src.url,
                    error_code="retry_later",
                    error_message=f"the server asked us (Retry-After) not to come back before "
                    f"{wait_until.isoformat(timespec='seconds')}; not fetched this run",
                    retry_after_s=(wait_until - now).total_seconds(),
                    fetched_at=now,
                )
            )
            continue
        jobs.append(
            {
                "source_id": src.id,
                "url": src.url,
                "platform": src.platform,
                "options": src.options,
                "etag": state.etag if state else None,
                "last_modified": state.last_modified if state else None,
            }
        )
    for result in deferred:
        if on_result:
            on_result(result)
    if not jobs:
        return deferred
    with tempfile.TemporaryDirectory(prefix="innonet-fetch-") as tmp:
        work = Path(tmp)
        jobs_file = work / "jobs.json"
        jobs_file.write_text(json.dumps(jobs), encoding="utf-8")
        env = dict(os.environ)
        env["INNONET_SCRAPY"] = json.dumps(
            scrapy_settings(
                user_agent=settings.user_agent,
                timeout_s=settings.fetch_timeout_s,
                max_bytes=settings.fetch_max_bytes,
                allow_hosts=list(settings.fetch_allow_hosts),
                delay_s=settings.fetch_delay_s,
                per_host=settings.fetch_per_host,
                max_redirects=settings.fetch_max_redirects,
                dns_timeout_s=settings.fetch_dns_timeout_s,
                max_pages=settings.fetch_max_pages,
                resolve=settings.fetch_resolve,
            )
        )
        crash = ""
        results: dict[str, FetchResult] = {}
        log_path = work / "crawler.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "crawlers.fetching.run", str(jobs_file), str(work)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + settings.fetch_process_timeout_s
        reader = _ResultReader(work, store)
        while proc.poll() is None:
            for result in reader.new_results():
                results.setdefault(result.source_id, result)
                if on_result:
                    on_result(result)
            if time.monotonic() > deadline:
                proc.kill()
                crash = f"crawl exceeded its deadline of {settings.fetch_process_timeout_s:.0f} s"
                break
            time.sleep(0.05)
        proc.wait()
        if proc.returncode not in (0, None) and not crash:
            tail = log_path.read_text(errors="replace").strip()[-500:]
            crash = f"crawler process exited with {proc.returncode}: {tail}"
        for result in reader.new_results():
            results.setdefault(result.source_id, result)
            if on_result:
                on_result(result)
    now = datetime.now(UTC)
    ordered = []
    for job in jobs:
        result = results.get(job["source_id"])
        if result is None:
            result = FetchResult(
                source_id=job["source_id"],
                url=job["url"],
                error_code="fetch_error",
                error_message=crash or "the crawler produced no result for this source",
                fetched_at=now,
            )
            if on_result:
                on_result(result)
        ordered.append(result)
    return deferred + ordered


class _ResultReader:
    """Reads the crawler's result lines as they are written and archives their bodies."""

    def __init__(self, work: Path, store: Store) -> None:
        self.work, self.store, self.offset = work, store, 0

    def new_results(self) -> list[FetchResult]:
        path = self.work / "results.jsonl"
        if not path.exists():
            return []
        with path.open("rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        out = []
        for line in complete.decode("utf-8").splitlines():
            result = FetchResult.model_validate_json(line)
            if result.body_sha256:
                body = (self.work / "bodies" / result.body_sha256).read_bytes()
                self.store.save_payload(body, result.final_url or result.url, result.content_type)
            for page in result.pages:
                if page.body_sha256:
                    body = (self.work / "bodies" / page.body_sha256).read_bytes()
                    self.store.save_payload(body, page.url, page.content_type)
            out.append(result)
        return out
