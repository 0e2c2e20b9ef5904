"""Refuse URLs that would turn the harvester against our own network.

Partner URLs are untrusted: by default only public addresses may be fetched. An
operator allowlist (``Settings.fetch_allow_hosts``) admits named hosts or IPs, which is
how the demo and the tests reach 127.0.0.1 while everything else stays blocked. The
check runs before the first request and again on every redirect hop (a downloader
middleware), so a public URL cannot redirect into the intranet.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

ALLOWED_SCHEMES = ("http", "https")


class BlockedURL(ValueError):
    """The URL may not be fetched; ``code`` is the status shown to the partner."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_hosts: list[str] | tuple[str, ...] = ()) -> None:
    """Raise :class:`BlockedURL` unless ``url`` is http(s) to a public address or an allowed host."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise BlockedURL(
            "bad_url", f"only http and https URLs can be harvested, not {parts.scheme or 'none'!r}"
        )
    host = parts.hostname
    if not host:
        raise BlockedURL("bad_url", f"URL has no host: {url}")
    if host in allow_hosts:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise BlockedURL("dns_error", f"host {host!r} does not resolve: {exc.strerror}") from exc
    for info in infos:
        addr = info[4][0]
        ip = ipaddress.ip_address(addr.split("%")[0])
        if str(ip) in allow_hosts:
            continue
        if not _is_public(ip):
            raise BlockedURL(
                "blocked_address",
                f"{host} resolves to {ip}, a private, loopback, link-local or reserved address; "
                "an operator can allow it with INNONET_FETCH_ALLOW_HOSTS",
            )
