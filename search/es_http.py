"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the API's search hot path.

Why not aiohttp (used here before): per request it builds a ClientRequest/ClientResponse
pair, header multidicts, a timer context and a payload writer; on this 2-core box that was
~0.1-0.2 ms of Python per search (bench/search_breakdown.py), the largest part of the API's
own cost once Elasticsearch's answer is excluded. Elasticsearch on loopback needs none of
it: one POST with a known body, an answer with ``content-length`` (or chunked), keep-alive.

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


@lru_cache(maxsize=16)
def speaks(base_url: str) -> bool:
    """Whether :class:`KeepAliveClient` can talk to ``base_url``: plain ``http://`` with a host and
    no credentials in the URL. Callers check this first, so an ``https://`` or ``user:password@``
    Elasticsearch URL takes the official client's path instead of failing over on every request."""
    parts = urlsplit(base_url)
    return parts.scheme == "http" and bool(parts.hostname) and parts.username is None


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
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.closed = False

    async def post(self, path: str, body: bytes, content_type: bytes) -> tuple[int, bytes]:
        """(status, answer bytes). A pooled connection the server closed meanwhile is retried
        once on a new connection (searches are safe to repeat)."""
        if self.closed:
            raise HttpError("client closed")
        head = (
            b"POST " + (self._prefix + path).encode("latin-1") + b" HTTP/1.1\r\n" + self._host_header
            + b"Content-Type: " + content_type + b"\r\nContent-Length: " + str(len(body)).encode()
            + b"\r\n\r\n"
        )  # fmt: skip
        try:
            async with asyncio.timeout(self.timeout_s):
                while self._idle:
                    reader, writer = self._idle.pop()
                    try:
                        return await self._exchange(reader, writer, head, body)
                    except (OSError, asyncio.IncompleteReadError, HttpError):
                        writer.close()  # stale keep-alive connection: try the next / a new one
                    except BaseException:  # cancelled or timed out mid-answer: never reuse it
                        writer.close()
                        raise
                reader, writer = await asyncio.open_connection(self.host, self.port)
                try:
                    return await self._exchange(reader, writer, head, body)
                except BaseException:
                    writer.close()
                    raise
        except TimeoutError as exc:
            raise HttpError(f"no answer within {self.timeout_s:g} s") from exc
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes, body: bytes
    ) -> tuple[int, bytes]:
        writer.write(head + body)
        header = await reader.readuntil(b"\r\n\r\n")
        if len(header) > MAX_HEADER_BYTES:
            raise HttpError("answer header too large")
        lines = header.split(b"\r\n")
        status_line = lines[0].split(b" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
            raise HttpError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
        status = int(status_line[1])
        length = -1
        chunked = False
        http11 = status_line[0] == b"HTTP/1.1"
        keep = http11
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                token = value.strip().lower()
                keep = token != b"close" if http11 else token == b"keep-alive"
        if chunked:
            data = await self._chunked(reader)
        elif length >= 0:
            data = await reader.readexactly(length)
        else:  # no length: the body ends with the connection
            data = await reader.read()
            keep = False
        if keep and not self.closed and len(self._idle) < MAX_IDLE:
            self._idle.append((reader, writer))
        else:
            writer.close()
        return status, data

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)

    async def close(self) -> None:
        """Close the idle connections; later posts are refused."""
        self.closed = True
        while self._idle:
            _, writer = self._idle.pop()
            writer.close()
