"""The API in its own uvicorn process, for the load benches (bench_ldes.py, bench_search_load.py).

The load generator (wrk) and the server must not share a Python process or its GIL, and both
benches must start the server the same way, so the numbers they print compare.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.api.ldes_support import free_port

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def serve_api(env: dict[str, str], workers: int = 1, tree: Path | None = None) -> Iterator[str]:
    """Yield the base URL of ``api.main:app_factory`` under uvicorn with ``env`` added to ours.

    ``tree``: run the API's code from another checkout (its modules come first on the path),
    for a same-run comparison against an older commit.
    """
    port = free_port()
    env = dict(os.environ, **env)
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.main:app_factory", "--port", str(port)]
    cmd += ["--log-level", "warning", "--no-access-log", "--workers", str(workers)]
    # what uvicorn's "auto" picks when both are installed; named so a missing one fails loudly
    cmd += ["--loop", "uvloop", "--http", "httptools"]
    with server_process(cmd, env, tree or REPO, port) as url:
        yield url


@contextmanager
def server_process(
    cmd: list[str], env: dict[str, str], cwd: Path, port: int, ready: str = "/health", quiet: bool = False
) -> Iterator[str]:
    """Run ``cmd`` (an HTTP server on ``port``), yield its base URL once ``ready`` answers (at most
    ~30 s), and terminate it afterwards. ``quiet``: its stdout goes to /dev/null."""
    stdout = subprocess.DEVNULL if quiet else None
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=stdout)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(f"{url}{ready}", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)
