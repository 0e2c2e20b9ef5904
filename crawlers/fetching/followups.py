"""Which platforms fetch more than one URL, and how they name the next URLs.

A sitemap names pages (or more sitemaps); a listing page names the pages that carry the
items. The spider calls :func:`follow_ups` on every body it fetched for a job and fetches
what comes back, up to the job's page cap, so discovery stays in the platform modules
and navigation stays in the spider.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

FollowUps = Callable[[bytes, str, str | None, dict[str, Any], int], list[str]]


def _sitemap(
    body: bytes, url: str, content_type: str | None, options: dict[str, Any], depth: int
) -> list[str]:
    from crawlers.platforms.sitemap import follow_ups

    return follow_ups(body, url, content_type, options, depth)


def _html(body: bytes, url: str, content_type: str | None, options: dict[str, Any], depth: int) -> list[str]:
    from crawlers.platforms.html import follow_ups

    return follow_ups(body, url, content_type, options, depth)


def _ldes(body: bytes, url: str, content_type: str | None, options: dict[str, Any], depth: int) -> list[str]:
    from crawlers.platforms.ldes import follow_ups

    return follow_ups(body, url, content_type, options, depth)


FOLLOW_UPS: dict[str, FollowUps] = {"sitemap": _sitemap, "html": _html, "ldes": _ldes}


def follow_ups(
    platform: str, body: bytes, url: str, content_type: str | None, options: dict[str, Any], depth: int
) -> list[str]:
    """The next URLs to fetch for a job of ``platform`` after ``url`` answered ``body``."""
    finder = FOLLOW_UPS.get(platform)
    return finder(body, url, content_type, options, depth) if finder else []
