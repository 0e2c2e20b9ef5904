"""Under a real uvicorn (uvloop + httptools, as production runs it), the fast path writes its
answer's head and body in one piece (api.routers.search._write_at_once): the raw bytes on the
wire are the route's (status line, uvicorn's headers, ours, body), keep-alive connections go on
serving, and a closing connection gets ``connection: close`` and is closed, as uvicorn does."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
import uvicorn

from api.main import create_app
from api.routers.search import SearchFastPath
from tests.api.ldes_support import free_port
from tests.search.test_contract_features import DOCS

pytestmark = pytest.mark.integration


@contextmanager
def served(app, access_log: bool) -> Iterator[int]:
    """``app`` under uvicorn in a thread, with the production flags; yields the port."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=access_log,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive()
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _read_answer(sock: socket.socket, buf: bytearray) -> tuple[list[bytes], bytes]:
    """One answer from ``sock`` (content-length framed): its head lines and body."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the answer's head"
        buf += chunk
    end = buf.index(b"\r\n\r\n")
    head = bytes(buf[:end]).split(b"\r\n")
    (length,) = [int(line.split(b":", 1)[1]) for line in head if line.lower().startswith(b"content-length:")]
    while len(buf) < end + 4 + length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before the answer's body"
        buf += chunk
    body = bytes(buf[end + 4 : end + 4 + length])
    del buf[: end + 4 + length]
    return head, body


def _request(target: str, extra: bytes = b"") -> bytes:
    return b"GET " + target.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + b"\r\n"


def _same_but_date(fast: list[bytes], routed: list[bytes]) -> None:
    """Same head lines in the same order; the date header may have ticked between the two."""
    assert len(fast) == len(routed)
    for a, b in zip(fast, routed, strict=True):
        if a.startswith(b"date: ") and b.startswith(b"date: "):
            continue
        assert a == b


@pytest.fixture
def app(make_settings, es_url, es_alias, es_backend):
    assert es_backend.upsert(DOCS).errors == []
    es_backend.refresh()
    settings = make_settings(search_backend="elasticsearch", es_url=es_url, es_index=es_alias)
    return create_app(settings)


def _fast_path(app) -> SearchFastPath:
    assert isinstance(app.middleware_stack, SearchFastPath)  # outermost: it gets uvicorn's own send
    return app.middleware_stack


@pytest.mark.parametrize("access_log", [False, True])
def test_the_fast_answer_on_the_wire_is_the_routes(app, access_log) -> None:
    query = urlencode([("q", "sandbox"), ("facet", "type"), ("highlight", "true")])
    with served(app, access_log) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(10)
        buf = bytearray()
        for round_ in range(3):  # one keep-alive connection: every answer complete and in step
            # pipelined: uvicorn starts the second request when the first answer is complete
            sock.sendall(_request(f"/search?{query}") + _request(f"/search?{query}&format=json"))
            quick_head, quick_body = _read_answer(sock, buf)
            routed_head, routed_body = _read_answer(sock, buf)  # the route (format)
            assert quick_head[0] == b"HTTP/1.1 200 OK"
            assert any(line.startswith(b"server: uvicorn") for line in quick_head)
            _same_but_date(quick_head, routed_head)
            assert quick_body == routed_body
            assert b'"total":2' in quick_body
            assert _fast_path(app).direct == round_ + 1
    # in one piece unless an access log line is due (uvicorn's own send then writes it)
    assert _fast_path(app).at_once == (0 if access_log else 3)


def test_a_closing_connection_is_closed_after_the_fast_answer(app) -> None:
    heads, bodies = [], []
    with served(app, access_log=False) as port:
        for target in ("/search?q=sandbox", "/search?q=sandbox&format=json"):
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.settimeout(10)
                sock.sendall(_request(target, b"Connection: close\r\n"))
                buf = bytearray()
                head, body = _read_answer(sock, buf)
                assert buf == b""
                assert sock.recv(1) == b""  # closed by the server
                heads.append(head)
                bodies.append(body)
    assert _fast_path(app).at_once == 1
    assert b"connection: close" in heads[0]
    _same_but_date(heads[0], heads[1])
    assert bodies[0] == bodies[1]


def test_the_middleware_the_search_fast_path_bypasses_is_known(make_settings) -> None:
    """The fast path sits in front of every middleware (install_fast_path): a middleware added
    later (CORS, compression, security headers) would shape the route's answers but not the
    everyday GET /search ones. Adding one must come with a decision for the fast path too."""
    app = create_app(make_settings())
    assert [m.cls.__name__ for m in app.user_middleware] == ["ClosedPageFastPath", "BodyLimit"], (
        "a new middleware: GET /search answers from SearchFastPath skip it; apply it there too "
        "(or route those requests through it), then update this list"
    )
