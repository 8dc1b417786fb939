"""A TCP proxy in front of a real server, whose links a test can freeze.

A frozen link forwards nothing either way and is never closed: to the client it is a
half-open connection, as when the server's host vanishes without a reset. Connections made
after the freeze are forwarded as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class Proxy:
    target: tuple[str, int]
    port: int = 0
    connections: int = 0  # accepted so far
    _live: list[asyncio.Event] = field(default_factory=list)  # set: that link is frozen
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def freeze(self) -> None:
        """Every link open now stops forwarding, and stays open."""
        for frozen in self._live:
            frozen.set()
        self._live.clear()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, frozen: asyncio.Event
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if frozen.is_set():
                    await asyncio.Event().wait()  # swallow it, and everything after: forever
                writer.write(data)
                await writer.drain()
        if not frozen.is_set():
            writer.close()

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        server_r, server_w = await asyncio.open_connection(*self.target)
        self._writers += [client_w, server_w]
        frozen = asyncio.Event()
        self._live.append(frozen)
        for reader, writer in ((client_r, server_w), (server_r, client_w)):
            task = asyncio.create_task(self._pipe(reader, writer, frozen))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()


@asynccontextmanager
async def tcp_proxy(target: tuple[str, int]) -> AsyncIterator[Proxy]:
    proxy = Proxy(target)
    server = await asyncio.start_server(proxy._serve, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        async with server:
            yield proxy
            server.close()
    finally:
        await proxy._close()
