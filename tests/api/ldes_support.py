"""Helpers for the event-stream tests: a real uvicorn server on 127.0.0.1 and the npm ldes-client."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from rdflib import Graph, URIRef

from tests.needs import missing

NPM_PREFIX = Path(os.environ.get("INNONET_NPM_PREFIX", Path.home() / ".cache" / "innonet" / "npm"))
LDES_CLIENT = NPM_PREFIX / "node_modules" / ".bin" / "ldes-client"
IS_VERSION_OF = URIRef("http://purl.org/dc/terms/isVersionOf")
AS_DELETE = URIRef("https://www.w3.org/ns/activitystreams#Delete")
RDF_TYPE = URIRef("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(app) -> Iterator[str]:
    """Serve a FastAPI app with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def ldes_client_path() -> Path:
    """The official client installed by bin/setup; fails under CI, skips elsewhere, when missing."""
    if not (LDES_CLIENT.exists() and shutil.which("node")):
        missing(f"npm ldes-client not installed at {LDES_CLIENT} (bin/setup --test-tools installs it)")
    return LDES_CLIENT


def members_of(nquads: str) -> dict[str, tuple[str, bool]]:
    """version IRI -> (item IRI, is tombstone), from the client's printed members."""
    g = Graph()
    g.parse(data=nquads, format="nquads")
    out = {}
    for version, item in g.subject_objects(IS_VERSION_OF):
        out[str(version)] = (str(item), (version, RDF_TYPE, AS_DELETE) in g)
    return out


def wait_ready(url: str) -> None:
    httpx.get(url, timeout=10).raise_for_status()
