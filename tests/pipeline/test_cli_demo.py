"""The README's first command, for real: `innonet demo` harvests, indexes and serves.

Runs the CLI in a child process (as a user would), waits for the API and searches it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_serves_search_results_from_real_feeds(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INNONET_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "demo"),
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else "demo exited"
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            raise AssertionError("the demo API did not come up within 120 s")
        body = httpx.get(f"{base}/search", params={"q": "Wochenvorschau"}).json()
        assert body["total"] == 1
        hit = body["hits"][0]
        assert hit["source"] == "spiegel-update"
        assert hit["id"].startswith(f"{base}/id/news/")
        ttl = httpx.get(hit["id"], headers={"Accept": "text/turtle"}, follow_redirects=True)
        assert ttl.status_code == 200
        assert "NewsArticle" in ttl.text
        sources = {s["id"]: s for s in httpx.get(f"{base}/sources").json()}
        assert sources["not-a-feed"]["error_code"] == "not_a_feed"
        assert sources["gone-feed"]["error_code"] == "http_404"
        assert sources["truncated-feed"]["error_code"] == "malformed_feed"
        assert sources["guardian-us"]["status"] == "ok"
    finally:
        proc.terminate()
        try:
            out, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "harvesting" in out, "the demo shows harvest progress"
    assert "indexed" in out
