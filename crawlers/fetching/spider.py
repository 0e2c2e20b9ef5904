"""The Scrapy spider that fetches source URLs: navigation only, no parsing.

It fetches each job's URL once, politely (robots.txt, per-host concurrency and delay,
our user agent), conditionally (ETag / Last-Modified) and safely (address guard on
every hop, size cap, deadline), stores each body under its SHA-256 and writes one
result line per job. Parsing happens later, from the stored bytes.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.internet.error import (
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure

from crawlers.fetching.guard import BlockedURL, check_url


class GuardMiddleware:
    """Downloader middleware: re-check the address guard on every request, redirects included."""

    def __init__(self, allow_hosts: list[str]) -> None:
        self.allow_hosts = allow_hosts

    @classmethod
    def from_crawler(cls, crawler: Any) -> GuardMiddleware:
        return cls(crawler.settings.getlist("INNONET_ALLOW_HOSTS"))

    def process_request(self, request: scrapy.Request, spider: scrapy.Spider | None = None) -> None:
        check_url(request.url, self.allow_hosts)


def _error_code(failure: Failure) -> tuple[str, str]:
    """Map a download failure to one precise status code and a human message."""
    exc = failure.value
    if isinstance(exc, BlockedURL):
        return exc.code, str(exc)
    if failure.check(TimeoutError, TCPTimedOutError):
        return "deadline_exceeded", f"no complete answer within the fetch deadline ({exc})"
    if failure.check(DNSLookupError):
        return "dns_error", f"host does not resolve ({exc})"
    if failure.check(ConnectionRefusedError):
        return "connection_refused", f"connection refused ({exc})"
    name = type(exc).__name__
    text = str(exc)
    if "maxsize" in text.lower() or "Cancelled" in name or "cancel" in text.lower():
        return "too_large", f"response larger than the size cap or cancelled: {text or name}"
    if name == "IgnoreRequest" and "robots" in text.lower():
        return "robots_disallowed", "robots.txt disallows this URL for our user agent"
    return "fetch_error", f"{name}: {text}"


class FetchSpider(scrapy.Spider):
    """Fetch a list of jobs ``{source_id, url, etag, last_modified}``."""

    name = "innonet-fetch"

    def __init__(self, jobs_file: str, out_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs = json.loads(Path(jobs_file).read_text(encoding="utf-8"))
        self.out_dir = Path(out_dir)
        (self.out_dir / "bodies").mkdir(parents=True, exist_ok=True)
        self.results = (self.out_dir / "results.jsonl").open("a", encoding="utf-8")
        self.done: set[str] = set()

    async def start(self):  # type: ignore[override]
        allow = self.settings.getlist("INNONET_ALLOW_HOSTS")
        for job in self.jobs:
            try:
                check_url(job["url"], allow)
            except BlockedURL as exc:
                self._write(job, error_code=exc.code, error_message=str(exc))
                continue
            headers = {}
            if job.get("etag"):
                headers["If-None-Match"] = job["etag"]
            if job.get("last_modified"):
                headers["If-Modified-Since"] = job["last_modified"]
            yield scrapy.Request(
                job["url"],
                headers=headers,
                callback=self.parse,
                errback=self.failed,
                meta={"job": job, "handle_httpstatus_all": True},
                dont_filter=True,
            )

    def parse(self, response: Response, **kwargs: Any) -> None:
        job = response.meta["job"]
        base = {
            "final_url": response.url,
            "status": response.status,
            "content_type": response.headers.get(b"Content-Type", b"").decode("latin-1") or None,
            "etag": response.headers.get(b"ETag", b"").decode("latin-1") or None,
            "last_modified": response.headers.get(b"Last-Modified", b"").decode("latin-1") or None,
        }
        if response.status == 304:
            self._write(job, ok=True, not_modified=True, **base)
            return
        if response.status >= 400:
            self._write(
                job,
                error_code=f"http_{response.status}",
                error_message=f"the server answered HTTP {response.status} for {response.url}",
                **base,
            )
            return
        body = response.body
        digest = hashlib.sha256(body).hexdigest()
        (self.out_dir / "bodies" / digest).write_bytes(body)
        self._write(job, ok=True, body_sha256=digest, body_size=len(body), **base)

    def failed(self, failure: Failure) -> None:
        job = failure.request.meta["job"]  # type: ignore[attr-defined]
        code, message = _error_code(failure)
        self._write(job, error_code=code, error_message=message)

    def _write(self, job: dict[str, Any], **fields: Any) -> None:
        self.done.add(job["source_id"])
        line = {"source_id": job["source_id"], "url": job["url"], "fetched_at": datetime.now(UTC).isoformat()}
        line.update(fields)
        self.results.write(json.dumps(line) + "\n")
        self.results.flush()

    def closed(self, reason: str) -> None:
        for job in self.jobs:
            if job["source_id"] not in self.done:
                self._write(
                    job,
                    error_code="fetch_error",
                    error_message=f"no answer before the crawl ended ({reason})",
                )
        self.results.close()
