"""Run the fetch spider in its own process: ``python -m crawlers.fetching.run JOBS OUT``.

Scrapy's Twisted reactor can start only once per process, and a harvest runs inside
long-lived processes (the API's demo, Airflow workers, pytest), so every crawl gets a
fresh process. Settings arrive as JSON in the environment variable INNONET_SCRAPY.
"""

from __future__ import annotations

import json
import os
import sys

from scrapy.crawler import CrawlerProcess

from crawlers.fetching.spider import FetchSpider


def scrapy_settings(
    *,
    user_agent: str,
    timeout_s: float,
    max_bytes: int,
    allow_hosts: list[str],
    delay_s: float,
) -> dict[str, object]:
    """Scrapy settings derived from innonet's Settings, in one place."""
    return {
        "USER_AGENT": user_agent,
        "ROBOTSTXT_OBEY": True,
        "DOWNLOAD_TIMEOUT": timeout_s,
        "DOWNLOAD_MAXSIZE": max_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "DOWNLOAD_DELAY": delay_s,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 2,
        "RETRY_TIMES": 1,
        "REDIRECT_MAX_TIMES": 5,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "INNONET_ALLOW_HOSTS": allow_hosts,
        "DOWNLOADER_MIDDLEWARES": {"crawlers.fetching.spider.GuardMiddleware": 50},
    }


def main(argv: list[str]) -> int:
    jobs_file, out_dir = argv[1], argv[2]
    settings = json.loads(os.environ.get("INNONET_SCRAPY", "{}"))
    process = CrawlerProcess(settings=settings, install_root_handler=True)
    process.crawl(FetchSpider, jobs_file=jobs_file, out_dir=out_dir)
    process.start()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
