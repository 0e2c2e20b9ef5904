"""robots.txt with RFC 9309 behaviour, replacing Scrapy's RobotsTxtMiddleware.

Scrapy's middleware parses whatever body comes back (a 503 error page becomes "allow
all") and treats a robots.txt it could not download as "allow all". RFC 9309 §2.3.1.3-4
says the opposite for the second case: 4xx ("unavailable") means allow all, but 5xx or
a network error ("unreachable") means assume complete disallow. Here:

* 2xx: parse the first 500 KiB (Protego), honour ``Crawl-delay`` on the host's slot;
* 4xx: allow all;
* 5xx, timeout, refused, too many redirects: ``robots_unreachable``, nothing fetched this run.
"""

from __future__ import annotations

from typing import Any

from protego import Protego
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Request
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from crawlers.fetching.errors import FetchRefused, classify

#: Redirects are followed for robots.txt too (RFC 9309: at least five hops).
HANDLED_STATUSES = [code for code in range(100, 600) if code not in (301, 302, 303, 307, 308)]

#: RFC 9309 §2.5: crawlers should parse at least the first 500 KiB.
ROBOTS_MAX_BYTES = 500 * 1024
#: A Crawl-delay above this is capped (a partner's typo must not stall a whole run).
MAX_CRAWL_DELAY_S = 30.0


#: Failures of the robots.txt request that say more about the host than "robots unreachable".
HOST_FAILURES = ("blocked_address", "blocked_scheme", "dns_error", "connection_refused", "tls_error")


class _Unreachable:
    """Sentinel parser: robots.txt could not be read, so everything is disallowed."""

    def __init__(self, reason: str, code: str = "robots_unreachable") -> None:
        self.reason = reason
        self.code = code


class RFC9309RobotsMiddleware(RobotsTxtMiddleware):
    """Obey robots.txt the way RFC 9309 says, with a precise refusal code."""

    async def robot_parser(self, request: Request) -> Any:  # type: ignore[override]
        url = urlparse_cached(request)
        netloc = url.netloc
        if netloc not in self._parsers:
            waiting: Deferred[Any] = Deferred()
            self._parsers[netloc] = waiting
            robots_request = Request(
                f"{url.scheme}://{netloc}/robots.txt",
                priority=self.DOWNLOAD_PRIORITY,
                meta={"dont_obey_robotstxt": True, "handle_httpstatus_list": HANDLED_STATUSES},
                callback=NO_CALLBACK,
                dont_filter=True,
            )
            try:
                response = await self.crawler.engine.download_async(robots_request)
                parser = self._from_response(response.status, response.body)
            except Exception as exc:  # noqa: BLE001 - every failure means "unreachable"
                code, message = classify(exc, robots_request.url)
                parser = (
                    _Unreachable(message, code)
                    if code in HOST_FAILURES
                    else _Unreachable(f"{code}: {message}")
                )
            self._parsers[netloc] = parser
            self._stats.inc_value("robotstxt/request_count")
            waiting.callback(parser)
            return parser
        parser = self._parsers[netloc]
        if isinstance(parser, Deferred):
            # a fired Deferred hands its result to the first waiter only: read the table again
            await maybe_deferred_to_future(parser)
            return self._parsers[netloc]
        return parser

    def _from_response(self, status: int, body: bytes) -> Any:
        if 200 <= status < 300:
            text = body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
            return Protego.parse(text)
        if 400 <= status < 500:
            return Protego.parse("")
        return _Unreachable(f"robots.txt answered HTTP {status}")

    def process_request_2(self, rp: Any, request: Request) -> None:
        if isinstance(rp, _Unreachable) and rp.code != "robots_unreachable":
            raise FetchRefused(rp.code, rp.reason)
        if isinstance(rp, _Unreachable):
            raise FetchRefused(
                "robots_unreachable",
                f"robots.txt could not be read ({rp.reason}); RFC 9309 says to assume everything "
                "is disallowed, so nothing was fetched this run",
            )
        if rp is None:
            return
        agent = self._robotstxt_useragent or self._default_useragent
        if isinstance(agent, bytes):
            agent = agent.decode("latin-1")
        if not rp.can_fetch(request.url, agent):
            self._stats.inc_value("robotstxt/forbidden")
            raise FetchRefused("robots_disallowed", "robots.txt disallows this URL for our user agent")
        delay = rp.crawl_delay(agent)
        if delay:
            downloader = self.crawler.engine.downloader
            slot = downloader.slots.get(downloader.get_slot_key(request))
            if slot is not None:
                slot.delay = max(slot.delay, min(float(delay), MAX_CRAWL_DELAY_S))
