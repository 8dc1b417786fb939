"""Every failure of a connection is a ConnectionError, whichever event loop runs it."""

from __future__ import annotations

import uvloop
from redis.asyncio import Redis

from sentinel_board.ha import HAConfig, RedisHA


def _abort_connections(client: Redis) -> int:
    """Close every idle connection's transport under redis-py, which still holds them open:
    what a peer's reset, or our own close of a client while a request is in it, leaves."""
    connections = list(client.connection_pool._available_connections)
    for connection in connections:
        assert connection._writer is not None
        connection._writer.transport.abort()
    return len(connections)


def test_a_connection_closed_under_a_request_is_retried_on_uvloop(config: HAConfig) -> None:
    """uvloop, which the server runs on, raises RuntimeError ("unable to perform operation on
    <TCPTransport closed=True ...>; the handler is closed"), not ConnectionError, for a write to
    a closed transport: it was a 500 in the master-hang drill. It is retried like any failed
    connection."""

    async def scenario() -> tuple[object, object]:
        async with RedisHA(config) as ha:
            await ha.call("PING")
            current = ha.current_master
            assert current is not None
            assert _abort_connections(current[1]) >= 1
            batched = await ha.call("PING")
            assert _abort_connections(current[1]) >= 1
            direct = await ha.read(lambda client: client.ping())
            return batched, direct

    assert uvloop.run(scenario()) == (True, True)
