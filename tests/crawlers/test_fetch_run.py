"""The crawl process stops when the process that started it is gone (``exit_when_orphaned``).

Real parts: a TCP server on 127.0.0.1 that accepts and never answers (the crawl would wait for its
60 s download deadline), a real starter process running ``python -m crawlers.fetching.run`` as
pipeline/fetch.py does, SIGKILLed mid-crawl.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from crawlers.fetching.run import scrapy_settings

REPO = Path(__file__).resolve().parents[2]


def _exited(pid: int) -> bool:
    """Gone, or a zombie nobody reaped yet (re-parented to an init that does not reap)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def test_an_orphaned_crawl_stops_and_removes_its_output(tmp_path: Path) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_hold() -> None:  # accepts, never answers
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except TimeoutError:
                continue

    threading.Thread(target=accept_and_hold, daemon=True).start()
    out = tmp_path / "out"
    out.mkdir()
    jobs = tmp_path / "jobs.json"
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/feed.xml"
    jobs.write_text(json.dumps([{"source_id": "s", "url": url, "platform": "rss", "options": {}}]))
    env = dict(os.environ)
    env["INNONET_SCRAPY"] = json.dumps(
        scrapy_settings(user_agent="t", timeout_s=60, max_bytes=10**6, allow_hosts=["127.0.0.1"], delay_s=0)
    )
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            f"p = subprocess.Popen([sys.executable, '-m', 'crawlers.fetching.run', {str(jobs)!r}, {str(out)!r}])\n"
            "print(p.pid, flush=True)\n"
            "time.sleep(300)\n",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    crawler = None
    try:
        crawler = int(starter.stdout.readline())  # type: ignore[union-attr]
        deadline = time.monotonic() + 60
        while not held and time.monotonic() < deadline:  # the crawl is waiting on the silent server
            time.sleep(0.05)
        assert held, "the crawl never connected"
        assert not _exited(crawler)
        starter.kill()
        starter.wait()
        deadline = time.monotonic() + 15  # the watch polls every second; the download deadline is 60 s
        while not _exited(crawler) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _exited(crawler), "the orphaned crawl kept running"
        assert not out.exists()
    finally:
        starter.kill()
        stop.set()
        for conn in held:
            conn.close()
        silent.close()
        if crawler is not None and not _exited(crawler):
            os.kill(crawler, signal.SIGKILL)
