"""The address guard refuses internal targets unless an operator allows them."""

from __future__ import annotations

import pytest

from crawlers.fetching.guard import BlockedURL, check_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed",
        "http://localhost:8080/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
    ],
)
def test_internal_addresses_are_blocked(url: str) -> None:
    with pytest.raises(BlockedURL) as info:
        check_url(url)
    assert info.value.code == "blocked_address"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("file:///etc/passwd", "blocked_scheme"),
        ("ftp://example.org/x", "blocked_scheme"),
        ("gopher://x/", "blocked_scheme"),
        ("javascript:alert(1)", "blocked_scheme"),
        ("data:text/xml,<rss/>", "blocked_scheme"),
        ("http:///nohost", "bad_url"),
        ("http://public.test@127.0.0.1/", "bad_url"),
        ("http://127.0.0.1:99999/", "bad_url"),
    ],
)
def test_bad_schemes_and_hosts(url: str, code: str) -> None:
    with pytest.raises(BlockedURL) as info:
        check_url(url)
    assert info.value.code == code


@pytest.mark.parametrize(
    "url",
    [
        "http://100.64.0.1/",  # shared address space: not "private" to Python, still not public
        "http://[fd00::1]/",
        "http://[fe80::1%25lo]/",
        "http://[::]/",
        "http://192.0.2.10/",  # documentation range (explicit deny table, CVE-2024-4032)
        "http://198.18.0.1/",
    ],
)
def test_special_purpose_ranges_are_blocked(url: str) -> None:
    with pytest.raises(BlockedURL) as info:
        check_url(url)
    assert info.value.code == "blocked_address"


def test_allowlist_admits_only_what_it_names() -> None:
    check_url("http://127.0.0.1:9999/feed", allow_hosts=["127.0.0.1"])
    with pytest.raises(BlockedURL):
        check_url("http://10.0.0.1/feed", allow_hosts=["127.0.0.1"])
    with pytest.raises(BlockedURL):
        check_url("http://169.254.169.254/", allow_hosts=["127.0.0.1"])


def test_public_literal_address_passes() -> None:
    check_url("http://93.184.215.14/feed")
