"""A real HTTP server on 127.0.0.1 that serves a folder of recorded real-world files.

The offline demo and the tests harvest from it, so every fetch goes through the same
Scrapy path as production. Files are served byte-exact, with a Content-Type guessed from
the name (feeds as XML), ETag and Last-Modified so conditional GET can be exercised.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Handler(SimpleHTTPRequestHandler):
    """Static files plus ETag / If-None-Match, quiet logs."""

    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".xml": "application/xml",
        ".rdf": "application/rdf+xml",
        ".json": "application/json",
        ".ics": "text/calendar",
        ".ttl": "text/turtle",
    }

    def send_head(self):  # type: ignore[override]
        path = Path(self.translate_path(self.path))
        if path.is_file():
            data = path.read_bytes()
            etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return None
            self.send_response(200)
            self.send_header("Content-Type", self.guess_type(str(path)))
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(path.stat().st_mtime, usegmt=True))
            self.end_headers()
            from io import BytesIO

            return BytesIO(data)
        return super().send_head()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Silence per-request logging; the harvest report says what happened."""


@contextmanager
def serve_directory(root: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``root`` over HTTP in a background thread; yields the base URL."""
    handler = partial(_Handler, directory=str(root))
    server = ThreadingHTTPServer((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, name="samples-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
