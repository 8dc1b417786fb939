"""A stand-in for a sentinel that names whatever master a test tells it to.

Only the sentinel is fake: the data nodes it names are real redis-server processes.
It lets a test make a sentinel stale or wrong, which real sentinels do only by chance.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


def _bulk(text: str) -> bytes:
    data = text.encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


class FakeSentinel:
    def __init__(self, master: tuple[str, int] | None) -> None:
        self.master = master
        self.asked = 0
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                count = int(line[1:])
                args = []
                for _ in range(count):
                    await reader.readline()
                    args.append((await reader.readline()).strip().decode())
                if args[0].upper() == "SENTINEL":
                    self.asked += 1
                    if self.master is None:
                        writer.write(b"*-1\r\n")
                    else:
                        host, port = self.master
                        writer.write(b"*2\r\n" + _bulk(host) + _bulk(str(port)))
                elif args[0].upper() == "HELLO":  # redis-py's handshake, with AUTH when set
                    writer.write(b"%1\r\n+proto\r\n:" + args[1].encode() + b"\r\n")
                else:
                    writer.write(b"+OK\r\n")
                await writer.drain()
        except (ConnectionError, ValueError, IndexError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def fake_sentinel(master: tuple[str, int] | None) -> AsyncIterator[FakeSentinel]:
    sentinel = FakeSentinel(master)
    server = await asyncio.start_server(sentinel._serve, "127.0.0.1", 0)
    sentinel.port = server.sockets[0].getsockname()[1]
    async with server:
        yield sentinel
        server.close()
