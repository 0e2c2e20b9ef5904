"""Loopback "hosts" for the crawl benchmarks: one real HTTP server per 127.0.1.x address.

Shared by bench_crawl.py and bench_orchestration.py so both measure the same setup:
ten real-world feeds from the corpus and a robots.txt, served on N addresses.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack
from pathlib import Path

from crawlers.samples.server import serve_directory

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "rss_atom"
FEEDS = [
    "guardian_rss2.xml",
    "heise_de_atom.xml",
    "spiegel_de_rss2.xml",
    "wordpress_rss2_dc_atom.xml",
    "golem_de_iso-8859-1.xml",
    "bbc_rss2_media.xml",
    "techcrunch_feedburner_rss2.xml",
    "nrcan_earthquakes_fr.xml",
    "laut_de_rss10.rdf.xml",
    "youtube_atom_media.xml",
]


def serve_on_hosts(stack: ExitStack, root: Path, n_hosts: int) -> tuple[list[str], list[str]]:
    """Copy the feeds under ``root/served`` and serve them on 127.0.1.1..n; returns (hosts, base URLs)."""
    served = root / "served"
    served.mkdir()
    for name in FEEDS:
        shutil.copy(CORPUS / name, served / name)
    (served / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    hosts = [f"127.0.1.{i + 1}" for i in range(n_hosts)]
    return hosts, [stack.enter_context(serve_directory(served, host=h)) for h in hosts]
