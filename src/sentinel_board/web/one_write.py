"""uvicorn's httptools protocol, sending what a response writes in one turn of the loop at once.

uvicorn writes a response's status line and headers to the socket when the app sends
`http.response.start`, and its body at `http.response.body`: two `send()` calls for every
small response, each one a trip through the TCP stack (on loopback, the receiver's side of
it too). In the profile of the count they were a third of a worker's time. Here every
write made during one turn of the event loop is kept and goes out as one, at the end of
that turn: the headers and the body of a small response become one `send()`. Nothing waits
longer than the turn it was written in (a stream's headers and each of its events go out
as they did), nor once 64 KiB are kept (a large body goes under the transport's flow
control, as before); the order of writes is kept, and closing the connection (or ending
its writes) sends what is kept first. `serve` runs uvicorn with it (`http=` takes the
class, or its import path).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

KEEP_AT_MOST = HIGH_WATER_LIMIT  # bytes kept before they are sent at once: uvicorn's 64 KiB


class OneWriteTransport:
    """A transport that gathers the writes of one loop turn and passes everything else on."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._kept: list[bytes] = []
        self._size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._kept:
            self._loop.call_soon(self._flush)
        self._kept.append(bytes(data))
        self._size += len(data)
        if self._size >= KEEP_AT_MOST:  # a large body: sent now, under the transport's
            self._flush()  # flow control (it pauses the writer when its buffer is full)

    def writelines(self, lines: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in lines:
            self.write(data)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def _flush(self) -> None:
        if self._kept:
            data = b"".join(self._kept) if len(self._kept) > 1 else self._kept[0]
            self._kept.clear()
            self._size = 0
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._kept.clear()
        self._size = 0
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._size

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading...
        return getattr(self._transport, name)


class OneWriteProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped = OneWriteTransport(transport, self.loop)
        super().connection_made(wrapped)  # type: ignore[arg-type]
