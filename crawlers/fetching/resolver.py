"""The DNS resolver of the crawl process: the address guard at connect time.

Scrapy's HTTP handler connects through ``reactor.connectTCP``, which asks the installed
resolver for the host's address and connects to exactly that answer. Checking the answer
here (instead of resolving once more in a middleware) means the address that was checked
is the address that is connected to: a DNS-rebinding name that answers a public address
to a first lookup and 127.0.0.1 to a second gets no second lookup.

``INNONET_RESOLVE`` (name -> list of addresses, like ``curl --resolve``) lets an operator
pin names, and lets tests play a hostile DNS server: a list of several addresses is
answered in rotation, one per lookup, which is what a rebinding server does.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.defer import Deferred

from crawlers.fetching.guard import BlockedURL, check_address

#: Names this process refused, with the reason. Twisted's HostnameEndpoint reports any
#: resolver failure as "no results" (DNSLookupError); the error classifier looks here to
#: tell the partner ``blocked_address`` instead of ``dns_error``.
REFUSED: dict[str, BlockedURL] = {}


class GuardedResolver(CachingThreadedResolver):
    """IPv4 resolver that refuses private, loopback and reserved answers unless allowlisted."""

    def __init__(
        self,
        reactor: Any,
        cache_size: int,
        timeout: float,
        allow_hosts: Sequence[str] = (),
        pinned: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.allow_hosts = list(allow_hosts)
        self._pinned: dict[str, Iterator[str]] = {
            name.lower(): itertools.cycle(addresses)
            for name, addresses in (pinned or {}).items()
            if addresses
        }

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> GuardedResolver:
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(
            reactor,
            cache_size,
            settings.getfloat("DNS_TIMEOUT"),
            settings.getlist("INNONET_ALLOW_HOSTS"),
            settings.getdict("INNONET_RESOLVE"),
        )

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:  # noqa: N802 - Twisted API
        pinned = self._pinned.get(name.lower())
        answer: Deferred[str] = (
            defer.succeed(next(pinned)) if pinned is not None else super().getHostByName(name, timeout)
        )
        answer.addCallback(self._checked, name)
        return answer

    def _checked(self, address: str, name: str) -> str:
        try:
            check_address(name, address, self.allow_hosts)
        except BlockedURL as exc:
            REFUSED[name.lower()] = exc
            raise
        return address
