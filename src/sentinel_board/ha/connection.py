"""Clients of one server, made the way the whole HA layer needs them.

Two things differ from redis-py's defaults. Its own retries are off: a retry inside one
command can reconnect to a dead master's address (redis/redis-py#3874), and every retry here
goes through a fresh discovery instead. And a connection that fails always fails as a
ConnectionError: on uvloop, a write to a transport that was closed under the connection (by a
peer's reset, or by our own close of a client while a request is in it) raises RuntimeError
("unable to perform operation on <TCPTransport closed=True ...>; the handler is closed"),
which would escape every retry.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    ConnectionPool,
    SSLConnection,
)
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from sentinel_board.ha.config import Address, tls_options


class _Guarded(Connection):
    async def send_packed_command(
        self, command: bytes | str | Iterable[bytes], check_health: bool = True
    ) -> None:
        try:
            await super().send_packed_command(command, check_health)
        except RuntimeError as error:  # the transport is closed: the connection failed
            await self.disconnect(nowait=True)
            raise RedisConnectionError(f"the connection was closed ({error})") from error


class GuardedConnection(_Guarded):
    """A TCP connection whose every failure is a ConnectionError."""


class GuardedSSLConnection(_Guarded, SSLConnection):
    """The same, over TLS."""


class ClosingPool(ConnectionPool):
    """A pool that, once closed, closes every connection given back to it.

    A connection still connecting, or in a request's hands, when its client is closed (the
    old master's, at a switch) would otherwise stay open once that request is done with it:
    a socket left half-closed (CLOSE_WAIT) by every failover whose master hung.
    """

    closed = False

    async def disconnect(self, inuse_connections: bool = True) -> None:
        if inuse_connections:  # the client's close; without, only the idle ones are dropped
            self.closed = True
        await super().disconnect(inuse_connections)

    async def release(self, connection: AbstractConnection) -> None:
        await super().release(connection)
        if self.closed:
            await connection.disconnect(nowait=True)


def client(
    address: Address,
    *,
    username: str | None = None,
    password: str | None = None,
    tls_ca: str | Path | None = None,
    socket_timeout: float | None,
    connect_timeout: float,
    client_name: str | None = None,
    decode_responses: bool = False,
) -> Redis:
    """A client of the server at `address`: no retries of its own, failures as above."""
    tls = tls_options(tls_ca)
    ssl = tls.pop("ssl", False)  # the pool takes the connection class instead
    pool = ClosingPool(
        connection_class=GuardedSSLConnection if ssl else GuardedConnection,
        host=address[0],
        port=address[1],
        username=username,
        password=password,
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(NoBackoff(), 0),
        client_name=client_name,
        decode_responses=decode_responses,
        **tls,
    )
    return Redis.from_pool(pool)


def address_of(client: Redis) -> Address:
    kwargs = client.connection_pool.connection_kwargs
    return str(kwargs["host"]), int(kwargs["port"])


async def command(client: Redis, *args: str | int) -> Any:
    """A raw command; redis-py leaves execute_command untyped."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


def as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def text_fields(entry: Any) -> dict[str, str]:
    """A SENTINEL MASTER or REPLICAS entry: redis-py may pair it into a dict already."""
    pairs = entry.items() if isinstance(entry, dict) else zip(entry[::2], entry[1::2], strict=False)
    return {as_text(k): as_text(v) for k, v in pairs}
