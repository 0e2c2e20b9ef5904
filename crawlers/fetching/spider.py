"""The Scrapy spider that fetches source URLs: navigation only, no parsing.

It fetches each job's URL politely (robots.txt per RFC 9309, per-host concurrency and
delay, our user agent), conditionally (ETag / Last-Modified) and safely (address guard on
every hop and at connect time, size cap after decompression, total deadline, redirect
cap), stores each body under its SHA-256 and writes one result line per job. Multi-page
platforms (sitemap, listing pages) name follow-up URLs, which are fetched the same way
and reported as the job's ``pages``. Parsing happens later, from the stored bytes.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from crawlers.fetching.errors import classify
from crawlers.fetching.followups import follow_ups
from crawlers.fetching.guard import BlockedURL, check_url_static

#: Every status reaches the spider except redirects, which RedirectMiddleware follows (capped,
#: each hop through the guard). ``handle_httpstatus_all`` would switch redirects off.
HANDLED_STATUSES = [code for code in range(100, 600) if code not in (301, 302, 303, 307, 308)]
#: Statuses whose Retry-After we record (RFC 9110 §10.2.3).
RETRY_AFTER_STATUSES = (429, 503)
#: Longest wait a Retry-After may impose (a day), so a typo cannot park a source forever.
MAX_RETRY_AFTER_S = 86400.0


class GuardMiddleware:
    """Downloader middleware: scheme and literal-address checks on every request, redirects included.

    Host names are checked where they are resolved (:mod:`crawlers.fetching.resolver`).
    """

    def __init__(self, allow_hosts: list[str]) -> None:
        self.allow_hosts = allow_hosts

    @classmethod
    def from_crawler(cls, crawler: Any) -> GuardMiddleware:
        return cls(crawler.settings.getlist("INNONET_ALLOW_HOSTS"))

    def process_request(self, request: scrapy.Request, spider: scrapy.Spider | None = None) -> None:
        check_url_static(request.url, self.allow_hosts)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value) if value.isdigit() else None
    except ValueError:
        seconds = None
    if seconds is None:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))


def _unfollowed_redirect(response: Response) -> tuple[str, str]:
    """A redirect Scrapy refused to follow: to a non-http scheme (file:, data:, ftp:) or nowhere."""
    target = _header(response, b"Location") or ""
    scheme = target.split(":", 1)[0].lower() if ":" in target else ""
    if scheme and scheme not in ("http", "https"):
        return "blocked_scheme", f"{response.url} redirects to a {scheme}: URL, which is never fetched"
    return (
        f"http_{response.status}",
        f"{response.url} answered HTTP {response.status} without a usable Location",
    )


def _header(response: Response, name: bytes) -> str | None:
    return response.headers.get(name, b"").decode("latin-1") or None


class FetchSpider(scrapy.Spider):
    """Fetch a list of jobs ``{source_id, url, etag, last_modified, platform, options}``."""

    name = "innonet-fetch"

    def __init__(self, jobs_file: str, out_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.jobs = json.loads(Path(jobs_file).read_text(encoding="utf-8"))
        self.out_dir = Path(out_dir)
        (self.out_dir / "bodies").mkdir(parents=True, exist_ok=True)
        self.results = (self.out_dir / "results.jsonl").open("a", encoding="utf-8")
        self.done: set[str] = set()
        self.started: dict[str, float] = {}
        self.main: dict[str, dict[str, Any]] = {}
        self.pages: dict[str, list[dict[str, Any]]] = {}
        self.pending: dict[str, int] = {}
        self.seen: dict[str, set[str]] = {}

    async def start(self):  # type: ignore[override]
        allow = self.settings.getlist("INNONET_ALLOW_HOSTS")
        for job in self.jobs:
            self.started[job["source_id"]] = time.monotonic()
            try:
                check_url_static(job["url"], allow)
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
                meta={"job": job, "handle_httpstatus_list": HANDLED_STATUSES},
                dont_filter=True,
            )

    # --- the source's own URL -------------------------------------------------------------------
    def parse(self, response: Response, **kwargs: Any) -> Any:
        job = response.meta["job"]
        base: dict[str, Any] = {
            "final_url": response.url,
            "status": response.status,
            "content_type": _header(response, b"Content-Type"),
            "etag": _header(response, b"ETag"),
            "last_modified": _header(response, b"Last-Modified"),
        }
        if response.status in RETRY_AFTER_STATUSES:
            base["retry_after_s"] = retry_after_seconds(_header(response, b"Retry-After"))
        if response.status == 304:
            self._write(job, ok=True, not_modified=True, **base)
            return
        if response.status >= 400 or response.status < 200:
            self._write(
                job,
                error_code=f"http_{response.status}",
                error_message=f"the server answered HTTP {response.status} for {response.url}",
                **base,
            )
            return
        body = response.body
        digest = self._archive(body)
        base.update(ok=True, body_sha256=digest, body_size=len(body))
        sid = job["source_id"]
        self.main[sid], self.pages[sid], self.pending[sid] = base, [], 0
        self.seen[sid] = {job["url"], response.url}
        yield from self._follow(job, body, response.url, base["content_type"], depth=0)
        self._maybe_finish(job)

    # --- follow-up pages ------------------------------------------------------------------------
    def _follow(
        self, job: dict[str, Any], body: bytes, url: str, content_type: str | None, depth: int
    ) -> Any:
        sid = job["source_id"]
        options = job.get("options") or {}
        cap = int(options.get("max_pages", self.settings.getint("INNONET_MAX_PAGES", 50)))
        try:
            urls = follow_ups(job.get("platform", "feed"), body, url, content_type, options, depth)
        except Exception as exc:  # noqa: BLE001 - a bad page must not stop the job
            self.logger.warning("follow-ups of %s failed: %s", url, exc)
            urls = []
        allow = self.settings.getlist("INNONET_ALLOW_HOSTS")
        for next_url in urls:
            if next_url in self.seen[sid]:
                continue
            if len(self.seen[sid]) - 1 >= cap:
                self.main[sid].setdefault("page_cap_reached", cap)
                break
            self.seen[sid].add(next_url)
            try:
                check_url_static(next_url, allow)
            except BlockedURL as exc:
                self.pages[sid].append({"url": next_url, "error_code": exc.code, "error_message": str(exc)})
                continue
            self.pending[sid] += 1
            yield scrapy.Request(
                next_url,
                callback=self.parse_page,
                errback=self.page_failed,
                meta={"job": job, "depth": depth + 1, "handle_httpstatus_list": HANDLED_STATUSES},
                dont_filter=True,
            )

    def parse_page(self, response: Response, **kwargs: Any) -> Any:
        job = response.meta["job"]
        sid = job["source_id"]
        self.pending[sid] -= 1
        page: dict[str, Any] = {
            "url": response.url,
            "status": response.status,
            "content_type": _header(response, b"Content-Type"),
        }
        if 200 <= response.status < 300:
            page["body_sha256"] = self._archive(response.body)
            self.pages[sid].append(page)
            yield from self._follow(
                job, response.body, response.url, page["content_type"], response.meta["depth"]
            )
        else:
            page["error_code"] = f"http_{response.status}"
            page["error_message"] = f"the server answered HTTP {response.status} for {response.url}"
            self.pages[sid].append(page)
        self._maybe_finish(job)

    def page_failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        job = request.meta["job"]
        sid = job["source_id"]
        self.pending[sid] -= 1
        code, message = classify(failure, request.url)
        self.pages[sid].append({"url": request.url, "error_code": code, "error_message": message})
        self._maybe_finish(job)

    def _maybe_finish(self, job: dict[str, Any]) -> None:
        sid = job["source_id"]
        if self.pending.get(sid, 0) == 0 and sid in self.main and sid not in self.done:
            fields = dict(self.main[sid])
            fields.pop("page_cap_reached", None)
            self._write(job, pages=self.pages[sid], **fields)

    # --- failures and output --------------------------------------------------------------------
    def failed(self, failure: Failure) -> None:
        job = failure.request.meta["job"]  # type: ignore[attr-defined]
        code, message = classify(failure, failure.request.url)  # type: ignore[attr-defined]
        response = getattr(failure.value, "response", None)
        if response is not None and 300 <= response.status < 400:
            code, message = _unfollowed_redirect(response)
        self._write(job, error_code=code, error_message=message)

    def _archive(self, body: bytes) -> str:
        digest = hashlib.sha256(body).hexdigest()
        path = self.out_dir / "bodies" / digest
        if not path.exists():
            path.write_bytes(body)
        return digest

    def _write(self, job: dict[str, Any], **fields: Any) -> None:
        sid = job["source_id"]
        if sid in self.done:
            return
        self.done.add(sid)
        line = {"source_id": sid, "url": job["url"], "fetched_at": datetime.now(UTC).isoformat()}
        if sid in self.started:
            line["duration_ms"] = int((time.monotonic() - self.started[sid]) * 1000)
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
