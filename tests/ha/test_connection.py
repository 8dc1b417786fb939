"""Every failure of a connection is a ConnectionError, whichever event loop runs it."""

from __future__ import annotations

import uvloop
from redis.asyncio import Redis

from sentinel_board.ha import HAConfig, RedisHA
from sentinel_board.ha.connection import client as new_client


async def _abort_connections(client: Redis) -> int:
    """Close the transport of every connection of `client` (no request is in flight) under
    redis-py, which still holds them open: what a peer's reset, or our own close of a client
    while a request is in it, leaves. A batcher keeps its connection between batches."""
    pool = client.connection_pool
    connections = [*pool._available_connections, *pool._in_use_connections]
    for connection in connections:
        assert connection._writer is not None
        connection._writer.transport.abort()
    return len(connections)


def test_a_connection_closed_under_a_request_is_retried_on_uvloop(config: HAConfig) -> None:
    """uvloop, which the server runs on, raises RuntimeError ("unable to perform operation on
    <TCPTransport closed=True ...>; the handler is closed"), not ConnectionError, for a write to
    a closed transport: it was a 500 in the master-hang drill. It is retried like any failed
    connection. (A batcher makes its kept connection again once its close has arrived, before
    its batch: the pool's connections, which redis-py gives out unchecked, meet the error.)"""

    async def scenario() -> tuple[object, object, int]:
        async with RedisHA(config) as ha:
            await ha.call("PING")  # the batcher's connection, kept
            current = ha.current_master
            assert current is not None
            assert await current[1].ping()  # one of the pool's, given back to it
            assert await _abort_connections(current[1]) == 2
            batched = await ha.call("PING")
            retries = ha.stats.retries
            direct = await ha.read(lambda client: client.ping())
            return batched, direct, ha.stats.retries - retries

    batched, direct, retried = uvloop.run(scenario())
    assert (batched, direct) == (True, True)
    assert retried == 1, "the write to the closed transport failed as a connection, and was retried"


async def test_a_connection_used_after_its_client_closed_is_closed_too(config: HAConfig) -> None:
    """A request that took the old master's link before a switch may use it after the switch
    closed it: redis-py connects again, and that connection stayed open in a pool nobody
    held (a socket in CLOSE_WAIT per failover whose master hung, found by the endurance
    drill). Given back to a closed client, it is closed."""
    async with RedisHA(config) as ha:
        await ha.call("PING")
        master = ha.master_address
    assert master is not None
    client = new_client(master, password=config.password, socket_timeout=1, connect_timeout=1)
    await client.ping()
    await client.aclose()
    assert await client.ping(), "a late request is still served"
    pool = client.connection_pool
    connections = [*pool._available_connections, *pool._in_use_connections]
    assert connections and not any(c.is_connected for c in connections)
