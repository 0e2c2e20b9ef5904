"""A minimal HTTP/1.1 keep-alive client on an asyncio Protocol, for the API's search hot path.

Why not aiohttp (used here before): per request it builds a ClientRequest/ClientResponse
pair, header multidicts, a timer context and a payload writer; on this 2-core box that was
~0.1-0.2 ms of Python per search (bench/search_breakdown.py), the largest part of the API's
own cost once Elasticsearch's answer is excluded. Elasticsearch on loopback needs none of
it: one POST with a known body, an answer with ``content-length`` (or chunked), keep-alive.

Why a Protocol and not asyncio streams (used here before): a StreamReader wakes the waiting
task as soon as any bytes arrive, and Elasticsearch 8 writes a search answer as chunks (the
data, then the closing ``0`` chunk, often in separate segments), so one answer took several
``readuntil``/``readexactly`` awaits and event-loop passes. Here ``data_received`` parses
what has arrived and wakes the task once, when the answer is complete
(bench/bench_api_overhead.py measures the difference).

Scope, on purpose: plain ``http://`` only, no redirects, no compression (none asked), no
proxies. Anything unexpected raises :class:`HttpError`; the caller turns that into
SearchUnavailable and falls back to the official client (which retries).
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from urllib.parse import urlsplit


class HttpError(Exception):
    """The request could not be sent or its answer could not be read."""


#: Idle keep-alive connections kept per client (the API's concurrent searches reuse them).
MAX_IDLE = 64
#: Largest answer header block accepted.
MAX_HEADER_BYTES = 65536
#: Answer header blocks read lately, with what they say (status, length, chunked, keep-alive):
#: Elasticsearch sends every search answer with the same chunked head, so it is read once.
_HEADS: dict[bytes, tuple[int, int, bool, bool]] = {}
HEADS_KEPT = 64


@lru_cache(maxsize=16)
def speaks(base_url: str) -> bool:
    """Whether :class:`KeepAliveClient` can talk to ``base_url``: plain ``http://`` with a host and
    no credentials in the URL. Callers check this first, so an ``https://`` or ``user:password@``
    Elasticsearch URL takes the official client's path instead of failing over on every request."""
    parts = urlsplit(base_url)
    return parts.scheme == "http" and bool(parts.hostname) and parts.username is None


class _Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request, parses the answer as its bytes arrive and
    completes :attr:`waiter` with (status, body) when the whole answer is in."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.lost = False
        self._buf = bytearray()
        self._reset()

    def _reset(self) -> None:
        self._status = 0
        self._body_at = -1  # where the body starts in _buf (-1: header not complete yet)
        self._length = -1
        self._chunked = False
        self.keep = False
        self._pos = 0  # chunked: where the next chunk-size line starts
        self._parts: list[bytes] = []

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        waiter = self.waiter
        if self._buf or waiter is None or waiter.done():
            self._buf += data
            buf: bytes | bytearray = self._buf
        else:  # the first bytes of an answer, usually all of it: read them without a copy first
            buf = data
        if waiter is None or waiter.done():
            return
        try:
            answer = self._parse(buf)
        except Exception as exc:  # noqa: BLE001 - anything malformed: the caller's HttpError
            waiter.set_exception(
                exc if isinstance(exc, HttpError) else HttpError(f"{type(exc).__name__}: {exc}")
            )
            return
        if answer is not None:
            waiter.set_result(answer)
        elif buf is data:  # not complete: keep the bytes (the parse's offsets count from them)
            self._buf += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self._body_at >= 0 and self._length < 0 and not self._chunked:  # body ends with the connection
            waiter.set_result((self._status, bytes(self._buf[self._body_at :])))
        else:
            waiter.set_exception(HttpError(f"connection closed before the answer was complete ({exc})"))

    # -- the exchange --

    def send(self, request: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Write ``request``; the future completes with its answer."""
        assert self.transport is not None
        self._buf.clear()
        self._reset()
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def _parse(self, buf: bytes | bytearray) -> tuple[int, bytes] | None:
        """(status, body) when the answer in ``buf`` (the bytes since the request was sent) is
        complete, else None (more bytes needed)."""
        if self._body_at < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER_BYTES:
                    raise HttpError("answer header too large")
                return None
            if end > MAX_HEADER_BYTES:
                raise HttpError("answer header too large")
            self._head(bytes(buf[:end]))
            self._body_at = self._pos = end + 4
        if self._chunked:
            while True:
                eol = buf.find(b"\r\n", self._pos)
                if eol < 0:
                    return None
                size = int(bytes(buf[self._pos : eol]).split(b";", 1)[0].strip(), 16)
                if size == 0:
                    if buf[eol + 2 : eol + 4] == b"\r\n":
                        end = eol + 4
                    else:  # trailers, up to an empty line
                        last = buf.find(b"\r\n\r\n", eol)
                        if last < 0:
                            return None
                        end = last + 4
                    body = b"".join(self._parts)
                    break
                start = eol + 2
                if len(buf) < start + size + 2:
                    return None
                self._parts.append(bytes(buf[start : start + size]))
                self._pos = start + size + 2
        elif self._length >= 0:
            end = self._body_at + self._length
            if len(buf) < end:
                return None
            body = bytes(buf[self._body_at : end])
        else:
            return None  # no length: the body ends with the connection (connection_lost)
        if len(buf) != end:
            self.keep = False  # bytes after the answer: this connection is out of step
        return self._status, body

    def _head(self, header: bytes) -> None:
        known = _HEADS.get(header)
        if known is None:
            self._read_head(header)
            if len(_HEADS) >= HEADS_KEPT:
                _HEADS.clear()
            _HEADS[header] = (self._status, self._length, self._chunked, self.keep)
        else:
            self._status, self._length, self._chunked, self.keep = known

    def _read_head(self, header: bytes) -> None:
        lines = header.split(b"\r\n")
        status_line = lines[0].split(b" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
            raise HttpError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
        self._status = int(status_line[1])
        http11 = status_line[0] == b"HTTP/1.1"
        self.keep = http11
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                self._length = int(value)
            elif name == b"transfer-encoding":
                self._chunked = b"chunked" in value.lower()
            elif name == b"connection":
                token = value.strip().lower()
                self.keep = token != b"close" if http11 else token == b"keep-alive"
        if not self._chunked and self._length < 0:
            self.keep = False

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _Deadline:
    """One request's time limit: when it passes, the answer being awaited fails (one timer
    per request, no task cancellation)."""

    __slots__ = ("conn", "expired", "timeout_s")

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.conn: _Connection | None = None
        self.expired = False

    def expire(self) -> None:
        self.expired = True
        waiter = self.conn.waiter if self.conn is not None else None
        if waiter is not None and not waiter.done():
            waiter.set_exception(HttpError(f"no answer within {self.timeout_s:g} s"))


class KeepAliveClient:
    """POSTs to one ``http://host:port`` over a pool of keep-alive connections (one event loop)."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        if not speaks(base_url):
            raise ValueError(f"KeepAliveClient speaks plain http without credentials only, not {base_url!r}")
        parts = urlsplit(base_url)
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        self._prefix = parts.path.rstrip("/")
        self._host_header = f"Host: {parts.netloc}\r\n".encode("latin-1")
        self._idle: list[_Connection] = []
        self.closed = False

    async def post(self, path: str, body: bytes, content_type: bytes) -> tuple[int, bytes]:
        """(status, answer bytes). A pooled connection the server closed meanwhile is retried
        once on a new connection (searches are safe to repeat)."""
        if self.closed:
            raise HttpError("client closed")
        request = b"".join(  # one copy of the body, not one per +
            (
                b"POST ", (self._prefix + path).encode("latin-1"), b" HTTP/1.1\r\n", self._host_header,
                b"Content-Type: ", content_type, b"\r\nContent-Length: ", str(len(body)).encode(),
                b"\r\n\r\n", body,
            )
        )  # fmt: skip
        loop = asyncio.get_running_loop()
        deadline = _Deadline(self.timeout_s)
        timer = loop.call_later(self.timeout_s, deadline.expire)
        try:
            while self._idle:
                conn = self._idle.pop()
                if conn.lost:
                    continue
                try:
                    return await self._exchange(conn, request, deadline)
                except HttpError:
                    if deadline.expired:
                        raise
                    # a stale keep-alive connection: try the next / a new one
            try:
                async with asyncio.timeout_at(timer.when()):
                    _, conn = await loop.create_connection(_Connection, self.host, self.port)
            except TimeoutError as exc:
                raise HttpError(f"no answer within {self.timeout_s:g} s") from exc
            except OSError as exc:
                raise HttpError(f"{type(exc).__name__}: {exc}") from exc
            return await self._exchange(conn, request, deadline)
        finally:
            timer.cancel()

    async def _exchange(self, conn: _Connection, request: bytes, deadline: _Deadline) -> tuple[int, bytes]:
        try:
            deadline.conn = conn
            status, data = await conn.send(request)
        except BaseException:  # a broken answer, cancelled or timed out mid-answer: never reuse it
            conn.close()
            raise
        if conn.keep and not conn.lost and not self.closed and len(self._idle) < MAX_IDLE:
            self._idle.append(conn)
        else:
            conn.close()
        return status, data

    async def close(self) -> None:
        """Close the idle connections; later posts are refused."""
        self.closed = True
        while self._idle:
            self._idle.pop().close()
