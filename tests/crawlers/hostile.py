"""A hostile origin and canary listeners on loopback (reliability.md harness H1/H2).

``HostileServer`` serves scripted routes over real HTTP: slow drip, gzip/deflate/brotli
bombs, a 5 GB Content-Length, an endless chunked stream, redirect loops and redirects into
internal addresses, 429 with Retry-After, login pages, XXE and billion-laughs feeds, and a
robots.txt whose behaviour each instance chooses. ``Canary`` listens on an address the
tests never allowlist and records every connection: the expected count is zero.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import brotli

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
GOOD_FEED = (CORPUS / "rss_atom" / "guardian_rss2.xml").read_bytes()
BOMB_SIZE = 64 * 1024 * 1024  # 64 MiB of zeros: a few hundred KB on the wire


def _bomb(codec: str) -> bytes:
    zeros = b"\0" * BOMB_SIZE
    if codec == "gzip":
        return gzip.compress(zeros, compresslevel=9)
    if codec == "deflate":
        return zlib.compress(zeros, 9)
    return brotli.compress(zeros, quality=5)


BOMBS = {codec: _bomb(codec) for codec in ("gzip", "deflate", "br")}


class Canary:
    """A TCP listener that counts connections (and never answers anything useful)."""

    def __init__(self, host: str = "127.0.0.2", port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(50)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.hits = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _run(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.hits += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self.thread.join(timeout=2)
        self.sock.close()


class HostileServer:
    """Scripted routes on 127.0.0.1; ``robots`` picks the robots.txt behaviour of this host."""

    def __init__(
        self, robots: str = "allow", canary_url: str = "", host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.robots = robots
        self.canary_url = canary_url
        self.log: list[tuple[str, dict[str, str]]] = []
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Quiet."""

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                with outer.lock:
                    outer.log.append((self.path, dict(self.headers)))
                    outer.active += 1
                    outer.max_active = max(outer.max_active, outer.active)
                try:
                    outer.route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with outer.lock:
                        outer.active -= 1

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://{host}:{self.server.server_address[1]}"

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.log if p == path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- routes ---------------------------------------------------------------------------------
    def route(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?", 1)[0]
        handler: Callable[[BaseHTTPRequestHandler], None] | None = getattr(
            self, "r_" + path.strip("/").replace("-", "_").replace(".", "_").replace("/", "__"), None
        )
        if handler is None:
            self.send(h, 404, b"not found", "text/plain")
        else:
            handler(h)

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str, **headers: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            h.send_header(name.replace("_", "-"), value)
        h.end_headers()
        h.wfile.write(body)

    def redirect(self, h: BaseHTTPRequestHandler, target: str, status: int = 302) -> None:
        self.send(h, status, b"", "text/plain", Location=target)

    def r_robots_txt(self, h: BaseHTTPRequestHandler) -> None:
        if self.robots == "allow":
            self.send(h, 200, b"User-agent: *\nDisallow: /private\n", "text/plain")
        elif self.robots == "404":
            self.send(h, 404, b"no robots here", "text/plain")
        elif self.robots == "503":
            self.send(h, 503, b"<html>maintenance</html>", "text/html")
        elif self.robots == "disallow_all":
            self.send(h, 200, b"User-agent: innonet\nDisallow: /\n", "text/plain")

    def r_feed_xml(self, h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            h.send_response(304)
            h.send_header("ETag", '"v1"')
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        self.send(h, 200, GOOD_FEED, "application/rss+xml", ETag='"v1"')

    def r_paced(self, h: BaseHTTPRequestHandler) -> None:
        time.sleep(0.3)
        self.send(h, 200, GOOD_FEED, "application/rss+xml")

    def r_private__feed_xml(self, h: BaseHTTPRequestHandler) -> None:
        self.r_feed_xml(h)

    def r_slow(self, h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", "100000")
        h.end_headers()
        for _ in range(200):
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(0.2)

    def r_silent(self, h: BaseHTTPRequestHandler) -> None:
        time.sleep(8)

    def _bomb(self, h: BaseHTTPRequestHandler, codec: str) -> None:
        self.send(h, 200, BOMBS[codec], "application/rss+xml", Content_Encoding=codec)

    def r_bomb_gzip(self, h: BaseHTTPRequestHandler) -> None:
        self._bomb(h, "gzip")

    def r_bomb_deflate(self, h: BaseHTTPRequestHandler) -> None:
        self._bomb(h, "deflate")

    def r_bomb_br(self, h: BaseHTTPRequestHandler) -> None:
        self._bomb(h, "br")

    def r_huge_length(self, h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Content-Length", str(5 * 1024**3))
        h.end_headers()
        h.wfile.write(b"<rss>")
        time.sleep(2)

    def r_endless(self, h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "application/rss+xml")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"<item>" + b"x" * 65536 + b"</item>"
        for _ in range(10000):
            h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")

    def r_loop_a(self, h: BaseHTTPRequestHandler) -> None:
        self.redirect(h, "/loop-b")

    def r_loop_b(self, h: BaseHTTPRequestHandler) -> None:
        self.redirect(h, "/loop-a")

    def r_to_metadata(self, h: BaseHTTPRequestHandler) -> None:
        self.redirect(h, "http://169.254.169.254/latest/meta-data/")

    def r_to_ten(self, h: BaseHTTPRequestHandler) -> None:
        self.redirect(h, "http://10.0.0.5/feed.xml", 301)

    def r_to_canary(self, h: BaseHTTPRequestHandler) -> None:
        self.redirect(h, self.canary_url + "/x")

    def r_hop1(self, h: BaseHTTPRequestHandler) -> None:
        self.redirect(h, "/hop2")

    def r_hop2(self, h: BaseHTTPRequestHandler) -> None:
        self.redirect(h, self.canary_url + "/hop3")

    def r_to_file(self, h: BaseHTTPRequestHandler) -> None:
        self.redirect(h, "file:///etc/passwd")

    def r_moved(self, h: BaseHTTPRequestHandler) -> None:
        self.redirect(h, "/feed.xml", 301)

    def r_login(self, h: BaseHTTPRequestHandler) -> None:
        self.send(h, 200, b"<!doctype html><html><body><form>Log in</form></body></html>", "text/html")

    def r_empty(self, h: BaseHTTPRequestHandler) -> None:
        self.send(h, 200, b"", "application/rss+xml")

    def r_gone(self, h: BaseHTTPRequestHandler) -> None:
        self.send(h, 410, b"gone", "text/plain")

    def r_busy(self, h: BaseHTTPRequestHandler) -> None:
        self.send(h, 429, b"slow down", "text/plain", Retry_After="120")

    def r_xxe_xml(self, h: BaseHTTPRequestHandler) -> None:
        body = (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY x SYSTEM "{self.canary_url}/xxe">]>\n'
            '<rss version="2.0"><channel><title>t</title><item><title>&x; item</title>'
            "<link>http://example.org/1</link></item></channel></rss>"
        ).encode()
        self.send(h, 200, body, "application/rss+xml")

    def r_dtd_xml(self, h: BaseHTTPRequestHandler) -> None:
        body = (
            f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{self.canary_url}/rss.dtd">\n'
            '<rss version="2.0"><channel><title>t</title><item><title>dtd item</title>'
            "<link>http://example.org/2</link></item></channel></rss>"
        ).encode()
        self.send(h, 200, body, "application/rss+xml")

    def r_laughs_xml(self, h: BaseHTTPRequestHandler) -> None:
        levels = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
        body = (
            f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY l0 "lol">{levels}]>'
            '<rss version="2.0"><channel><title>&l9;</title><item><title>&l9;</title>'
            "<link>http://example.org/3</link></item></channel></rss>"
        ).encode()
        self.send(h, 200, body, "application/rss+xml")

    def r_sitemap_laughs_xml(self, h: BaseHTTPRequestHandler) -> None:
        levels = "".join(f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
        body = (
            f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY l0 "lol">{levels}]>'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>&l9;</loc></url></urlset>'
        ).encode()
        self.send(h, 200, body, "application/xml")

    def r_jsonld_canary(self, h: BaseHTTPRequestHandler) -> None:
        body = (
            '<!doctype html><html><head><script type="application/ld+json">{"@context": "'
            + self.canary_url
            + '/ctx", "@type": "NewsArticle", "headline": "Context test", "url": "http://example.org/c"}'
            "</script></head><body></body></html>"
        ).encode()
        self.send(h, 200, body, "text/html")
