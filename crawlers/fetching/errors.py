"""One precise status code and a human message for every way a fetch can fail.

The partner sees the code (``blocked_address``, ``too_large``, ``deadline_exceeded``,
``robots_disallowed``, ...), so every failure Scrapy or Twisted can raise is classified
here, in one table, instead of leaking exception class names to the status page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from twisted.internet import error as terror
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from crawlers.fetching.guard import BlockedURL


class FetchRefused(IgnoreRequest):
    """A request our own middlewares refused, with the partner-facing code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _inner(exc: BaseException) -> list[BaseException]:
    """Twisted wraps connection failures in lists of failures; unwrap them."""
    found: list[BaseException] = [exc]
    for attr in ("reasons", "args"):
        for part in getattr(exc, attr, ()) or ():
            if isinstance(part, Failure):
                found.extend(_inner(part.value))
            elif isinstance(part, list):
                for sub in part:
                    if isinstance(sub, Failure):
                        found.extend(_inner(sub.value))
            elif isinstance(part, BaseException):
                found.append(part)
    return found


def classify(failure: Failure | BaseException, url: str | None = None) -> tuple[str, str]:
    """Map a download failure (of ``url``) to one precise status code and a human message."""
    from crawlers.fetching.resolver import REFUSED

    exc = failure.value if isinstance(failure, Failure) else failure
    chain = _inner(exc)
    for item in chain:
        if isinstance(item, BlockedURL | FetchRefused):
            return item.code, str(item)
    host = (urlsplit(url).hostname or "").lower() if url else ""
    if host in REFUSED and any(isinstance(i, CannotResolveHostError | terror.DNSLookupError) for i in chain):
        return REFUSED[host].code, str(REFUSED[host])
    text = " ".join(str(e) for e in chain)
    lowered = text.lower()
    for item in chain:
        if isinstance(item, DownloadTimeoutError | terror.TimeoutError | terror.TCPTimedOutError):
            return "deadline_exceeded", f"no complete answer within the fetch deadline ({item})"
        if isinstance(item, CannotResolveHostError | terror.DNSLookupError):
            return "dns_error", f"the host name does not resolve ({item})"
        if isinstance(item, DownloadConnectionRefusedError | terror.ConnectionRefusedError):
            return "connection_refused", "the server refused the connection (nothing listens on that port)"
        if isinstance(item, DownloadCancelledError):
            return "too_large", f"the response is larger than the size cap: {item}"
        if isinstance(item, ResponseDataLossError):
            return "truncated", "the server closed the connection before sending the whole response"
    if "during decompression" in lowered:
        return "too_large", f"the response grows beyond the size cap when decompressed: {text}"
    if "max redirections" in lowered:
        return "too_many_redirects", "the URL redirects more times than allowed (redirect loop or long chain)"
    if "forbidden by robots.txt" in lowered:
        return "robots_disallowed", "robots.txt disallows this URL for our user agent"
    if any(word in lowered for word in ("ssl", "tls", "certificate", "handshake")):
        return "tls_error", f"the TLS connection failed: {text[:300]}"
    for item in chain:
        if isinstance(item, ResponseNeverReceived | ResponseFailed | terror.ConnectionLost):
            return "connection_lost", f"the connection dropped before a complete answer ({text[:300]})"
        if isinstance(item, terror.ConnectError):
            return "connection_failed", f"could not connect ({item})"
    return "fetch_error", f"{type(exc).__name__}: {text[:300]}"
