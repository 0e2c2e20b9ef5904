"""The API hot path's small HTTP/1.1 client (search/es_http.py) against real loopback servers:
content-length and chunked answers, keep-alive reuse, a connection the server closed, a
server that never answers, ``Connection: close``; and against the real Elasticsearch."""

from __future__ import annotations

import asyncio

import pytest

from search.es_http import HttpError, KeepAliveClient, speaks

pytestmark = pytest.mark.integration


async def _serve(handler) -> tuple[asyncio.Server, str]:  # noqa: ANN001
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


def test_answers_by_length_and_chunked_reuse_one_connection() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            while True:
                body = await _read_request(reader)
                if body == b"chunked":
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        b"4\r\nchun\r\n3;ext=1\r\nked\r\n0\r\n\r\n"
                    )
                else:
                    answer = b"echo:" + body
                    writer.write(
                        b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer)
                    )
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    async def run() -> None:
        server, url = await _serve(handler)
        client = KeepAliveClient(url, 5)
        assert await client.post("/x", b"hello", b"text/plain") == (201, b"echo:hello")
        assert await client.post("/x", b"chunked", b"text/plain") == (200, b"chunked")
        assert await client.post("/x", b"again", b"text/plain") == (201, b"echo:again")
        assert connections == 1
        await client.close()
        with pytest.raises(HttpError, match="closed"):
            await client.post("/x", b"late", b"text/plain")
        server.close()

    asyncio.run(run())


def test_a_connection_closed_by_the_server_is_replaced_and_a_silent_server_times_out() -> None:
    async def closes_after_one(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        body = await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()  # the client still holds it as idle keep-alive

    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)

    async def run() -> None:
        server, url = await _serve(closes_after_one)
        client = KeepAliveClient(url, 5)
        for word in (b"one", b"two", b"three"):
            assert await client.post("/", word, b"text/plain") == (200, word)
        server.close()
        silent, url = await _serve(never_answers)
        slow = KeepAliveClient(url, 0.2)
        with pytest.raises(HttpError, match="no answer within"):
            await slow.post("/", b"x", b"text/plain")
        silent.close()
        refused = KeepAliveClient("http://127.0.0.1:1", 1)
        with pytest.raises(HttpError):
            await refused.post("/", b"x", b"text/plain")

    asyncio.run(run())


def test_connection_close_answers_are_not_reused() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        await writer.drain()
        writer.close()

    async def run() -> None:
        server, url = await _serve(handler)
        client = KeepAliveClient(url, 5)
        assert await client.post("/", b"a", b"text/plain") == (200, b"until the end")
        assert await client.post("/", b"b", b"text/plain") == (200, b"until the end")
        assert connections == 2
        assert client._idle == []
        server.close()

    asyncio.run(run())


def test_elasticsearch_answers_through_it(es_url: str) -> None:
    async def run() -> tuple[int, bytes]:
        client = KeepAliveClient(es_url, 10)
        try:
            return await client.post("/_msearch", b'{}\n{"size":0}\n', b"application/x-ndjson")
        finally:
            await client.close()

    status, body = asyncio.run(run())
    assert status == 200
    assert b'"responses"' in body


def test_only_plain_http() -> None:
    with pytest.raises(ValueError, match="plain http"):
        KeepAliveClient("https://127.0.0.1:9200", 1)


def test_only_plain_http_urls_without_credentials_take_the_small_client() -> None:
    assert speaks("http://127.0.0.1:9200")
    assert speaks("http://es.internal:9200/prefix")
    assert not speaks("https://es.example.org:9200")
    assert not speaks("http://elastic:secret@127.0.0.1:9200")
    assert not speaks("http://")
    with pytest.raises(ValueError, match="plain http"):
        KeepAliveClient("https://es.example.org:9200", 1.0)


def test_answers_arriving_in_pieces_are_put_together() -> None:
    """The client parses as bytes arrive (a Protocol): a header, chunk-size line, chunk data or
    the closing chunk cut anywhere, chunk extensions and trailers, still give the same answer."""
    answers = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nB\r\nhello world\r\n0\r\nX-Trailer: 1\r\n\r\n",
    ]
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        try:
            for answer in answers * 2:
                await _read_request(reader)
                step = 1 if connections == 1 else 7
                for i in range(0, len(answer), step):
                    writer.write(answer[i : i + step])
                    await writer.drain()
                    await asyncio.sleep(0.001)
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    async def run() -> None:
        server, url = await _serve(handler)
        client = KeepAliveClient(url, 5)
        for _ in range(len(answers) * 2):
            assert await client.post("/", b"q", b"text/plain") == (200, b"hello world")
        assert connections == 1  # every answer complete, so the connection was kept
        await client.close()
        server.close()

    asyncio.run(run())


def test_a_malformed_answer_is_an_error_and_its_connection_is_dropped() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        if connections == 1:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        elif connections == 2:  # extra bytes after a complete answer: not reused
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")
        else:
            writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(0.5)
        writer.close()

    async def run() -> None:
        server, url = await _serve(handler)
        client = KeepAliveClient(url, 5)
        with pytest.raises(HttpError, match="ValueError"):
            await client.post("/", b"a", b"text/plain")
        assert await client.post("/", b"b", b"text/plain") == (200, b"ok")
        assert client._idle == []
        with pytest.raises(HttpError, match="not an HTTP/1.x answer"):
            await client.post("/", b"c", b"text/plain")
        assert connections == 3
        server.close()

    asyncio.run(run())
