"""Refuse URLs that would turn the harvester against our own network.

Partner URLs are untrusted: by default only public addresses may be fetched. An
operator allowlist (``Settings.fetch_allow_hosts``) admits named hosts or IPs, which is
how the demo and the tests reach 127.0.0.1 while everything else stays blocked.

Two checks, one policy (:func:`check_address`):

* :func:`check_url_static` runs on every request, redirect hops included (a downloader
  middleware): scheme allowlist and IP literals, no DNS lookup;
* :class:`crawlers.fetching.resolver.GuardedResolver` checks the address a host *name*
  resolves to, inside the resolver the connection itself uses. The checked address is
  the one connected to, so DNS rebinding (a second lookup answering 127.0.0.1) has no
  second lookup to exploit.

:func:`check_url` (used at registration) resolves names itself, for an early answer.
Python 3.11.7's ``ipaddress.is_global`` misses some IANA special ranges (CVE-2024-4032),
so an explicit deny table is checked as well.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")

#: IANA special-purpose ranges (RFC 6890 and successors) refused whatever ``is_global`` says.
DENY_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
        "::/128",
        "::1/128",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "2002::/16",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedURL(ValueError):
    """The URL may not be fetched; ``code`` is the status shown to the partner."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _is_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return _is_public(ip.ipv4_mapped)
        if ip.scope_id:
            return False
    if any(ip in net for net in DENY_NETWORKS if net.version == ip.version):
        return False
    return ip.is_global and not ip.is_multicast


def _parse_ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]").split("%")[0])
    except ValueError:
        return None


def check_address(host: str, address: str, allow_hosts: Iterable[str] = ()) -> None:
    """Raise ``blocked_address`` unless ``address`` (what ``host`` resolved to) may be connected to."""
    allow = set(allow_hosts)
    if host in allow or address in allow:
        return
    ip = _parse_ip(address)
    if ip is None or not _is_public(ip):
        raise BlockedURL(
            "blocked_address",
            f"{host} resolves to {address}, a private, loopback, link-local or reserved address; "
            "an operator can allow it with INNONET_FETCH_ALLOW_HOSTS",
        )


def check_url_static(url: str, allow_hosts: Iterable[str] = ()) -> str:
    """Scheme and IP-literal checks that need no DNS; returns the host (names go to the resolver)."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise BlockedURL(
            "blocked_scheme", f"only http and https URLs can be harvested, not {parts.scheme or 'none'!r}"
        )
    if parts.username is not None or parts.password is not None:
        raise BlockedURL("bad_url", "URLs with user names or passwords are not harvested")
    host = parts.hostname
    if not host:
        raise BlockedURL("bad_url", f"URL has no host: {url}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise BlockedURL("bad_url", f"URL has a bad port: {exc}") from exc
    ip = _parse_ip(host)
    if ip is not None:
        check_address(host, str(ip), allow_hosts)
    elif host.rstrip(".").endswith((".onion", ".i2p")):
        raise BlockedURL("blocked_address", f"{host} is not on the public web")
    return host


def check_url(url: str, allow_hosts: Iterable[str] = ()) -> None:
    """Raise :class:`BlockedURL` unless ``url`` is http(s) to a public address or an allowed host.

    Resolves host names now (every answer must be public); used when a source is registered.
    The fetcher checks again at connect time, which is the check that counts.
    """
    allow = list(allow_hosts)
    host = check_url_static(url, allow)
    if _parse_ip(host) is not None or host in allow:
        return
    parts = urlsplit(url)
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise BlockedURL("dns_error", f"host {host!r} does not resolve: {exc.strerror}") from exc
    for info in infos:
        check_address(host, str(info[4][0]), allow)
