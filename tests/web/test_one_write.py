"""uvicorn's protocol with the writes of one loop turn sent as one (web/one_write.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from sentinel_board.topology.ports import free_port
from sentinel_board.web.one_write import KEEP_AT_MOST, OneWriteTransport
from sentinel_board.web.server import HTTP_PROTOCOL
from tests.helpers import wait_until_async


class Recorded(asyncio.Transport):
    """What reaches the socket's transport: each write, and whether it was closed."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def write_eof(self) -> None:
        self.writes.append(b"<eof>")

    def abort(self) -> None:
        self.aborted = self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 7

    def get_extra_info(self, name: str, default: object = None) -> object:
        return {"peername": ("127.0.0.1", 1234)}.get(name, default)


async def next_turn() -> None:
    await asyncio.sleep(0)


async def test_the_writes_of_one_turn_go_out_as_one_in_order() -> None:
    real = Recorded()
    transport = OneWriteTransport(real, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"body")
    assert real.writes == [] and transport.get_write_buffer_size() == 7 + 23
    await next_turn()
    assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    transport.write(b"next")
    await next_turn()
    transport.write(b"and the next")
    await next_turn()
    assert real.writes[1:] == [b"next", b"and the next"], "a write waits one turn, no more"
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1234), "the rest passes on"


async def test_a_large_body_is_sent_at_once_and_every_way_of_writing_keeps_the_order() -> None:
    real = Recorded()
    transport = OneWriteTransport(real, asyncio.get_running_loop())
    transport.write(b"headers ")
    transport.write(b"x" * KEEP_AT_MOST)
    assert real.writes == [b"headers " + b"x" * KEEP_AT_MOST], "not kept past the limit"
    transport.writelines([b"a", b"b"])
    transport.write_eof()
    assert real.writes[1:] == [b"ab", b"<eof>"], "what was kept, then the end"
    await next_turn()
    assert len(real.writes) == 3 and transport.get_write_buffer_size() == 7


async def test_closing_sends_what_was_kept_first_and_aborting_drops_it() -> None:
    real = Recorded()
    transport = OneWriteTransport(real, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    assert real.writes == [b"last words"] and real.closed
    await next_turn()
    assert real.writes == [b"last words"], "sent once"

    real = Recorded()
    transport = OneWriteTransport(real, asyncio.get_running_loop())
    transport.write(b"never sent")
    transport.abort()
    await next_turn()
    assert real.writes == [] and real.aborted


async def test_a_transport_closed_meanwhile_is_not_written_to() -> None:
    real = Recorded()
    transport = OneWriteTransport(real, asyncio.get_running_loop())
    transport.write(b"too late")
    real.close()  # the peer went away
    await next_turn()
    assert real.writes == []


@pytest.fixture
async def served() -> AsyncIterator[tuple[str, asyncio.Event]]:
    """uvicorn with the protocol, serving a small answer, a stream that sends its first
    chunk and then waits for the test, and an answer that closes the connection."""
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        headers = [(b"content-type", b"text/plain")]
        if path == "/close":
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if path == "/stream":
            await send({"type": "http.response.body", "body": b"first\n", "more_body": True})
            await release.wait()
            await send({"type": "http.response.body", "body": b"second\n"})
        else:
            await send({"type": "http.response.body", "body": path.encode() * 1000})

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off", http=HTTP_PROTOCOL)  # fmt: skip
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        await wait_until_async(lambda: server.started, timeout=10)
        yield f"http://127.0.0.1:{port}", release
    finally:
        release.set()
        server.should_exit = True
        await serving


async def test_served_answers_are_whole_on_one_connection_and_after_a_close(
    served: tuple[str, asyncio.Event],
) -> None:
    url, _ = served
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        for path in ("/a", "/b", "/a"):  # one kept-alive connection
            response = await client.get(path)
            assert response.status_code == 200 and response.content == path.encode() * 1000
        closed = await client.get("/close")
        assert closed.headers["connection"] == "close"
        assert closed.content == b"/close" * 1000, "what was kept went out before the close"


async def test_a_stream_s_headers_and_first_chunk_arrive_before_it_ends(
    served: tuple[str, asyncio.Event],
) -> None:
    url, release = served
    async with (
        httpx.AsyncClient(base_url=url, timeout=10) as client,
        client.stream("GET", "/stream") as stream,
    ):
        lines = stream.aiter_lines()
        assert stream.status_code == 200
        assert await anext(lines) == "first", "sent at the end of its turn, not held"
        release.set()
        assert await anext(lines) == "second"
