"""The batcher's promises (ha/batching.py), each a test against a real Redis.

Longer than 300 lines: one module's contract, one test per promise it makes (batching,
replies, errors, cancellation, shared reads, timeouts), kept together to be read as one.
"""

from __future__ import annotations

import asyncio
import errno
import os
import uuid
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, ExecAbortError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sentinel_board.ha import Address
from sentinel_board.ha.batching import Batcher
from sentinel_board.ha.connection import client as new_client
from sentinel_board.topology import Topology
from sentinel_board.topology.ports import free_port
from tests.helpers import wait_until_async


def key() -> str:
    return f"batching:{uuid.uuid4().hex}"


def own_client(topology: Topology, **options: Any) -> Redis:
    """A client of the master with a pool of its own: what a test does to its connections
    touches no other test's."""
    node = topology.node(topology.master_name() or "")
    return Redis(host=node.host, port=node.port, password=topology.password(node), **options)


async def blpop_in_flight(master: Redis) -> bool:
    """A BLPOP waits in Redis: the batch that sent it is in flight."""
    return any(client.get("cmd") == "blpop" for client in await master.client_list())


async def test_the_commands_of_one_loop_turn_go_out_as_one_pipeline(master: Redis) -> None:
    sizes: list[int] = []
    batcher = Batcher(master, on_batch=sizes.append)
    counter = key()
    replies = await asyncio.gather(*(batcher.submit("INCR", counter) for _ in range(50)))
    assert [reply for reply, _ in replies] == list(range(1, 51)), "in the order submitted"
    assert all(wait is None for _, wait in replies)
    assert sizes == [50]
    reply, _ = await batcher.submit("INCR", counter)
    assert (reply, sizes) == (51, [50, 1]), "a command after that turn goes in a batch of its own"


async def test_one_batch_at_a_time_what_comes_meanwhile_goes_next_together(
    topology: Topology, master: Redis
) -> None:
    """A burst makes bigger batches, not more connections: a long-lived client keeps a
    steady number of them (the endurance drill's open files varied with each failover's
    burst)."""
    sizes: list[int] = []
    async with own_client(topology) as own:
        batcher = Batcher(own, on_batch=sizes.append)
        waiting, counter = key(), key()
        first = batcher.submit("BLPOP", waiting, 30)
        await wait_until_async(lambda: blpop_in_flight(master), timeout=10)
        meanwhile = []
        for _ in range(5):  # five turns of the loop
            meanwhile.append(batcher.submit("INCR", counter))
            await asyncio.sleep(0)
        assert not any(future.done() for future in meanwhile), "they wait for the first"
        await master.rpush(waiting, "go")
        assert tuple((await first)[0]) == (waiting.encode(), b"go")
        assert [reply for reply, _ in await asyncio.gather(*meanwhile)] == [1, 2, 3, 4, 5]
        assert sizes == [1, 5]
        pool = own.connection_pool
        assert len(pool._available_connections) + len(pool._in_use_connections) == 1


async def test_an_error_reply_is_returned_to_its_command_alone(master: Redis) -> None:
    text, counter = key(), key()
    await master.set(text, "not a list")
    batcher = Batcher(master)
    (wrong, _), (right, _) = await asyncio.gather(
        batcher.submit("LLEN", text), batcher.submit("INCR", counter)
    )
    assert isinstance(wrong, ResponseError) and "WRONGTYPE" in str(wrong)
    assert right == 1


async def test_a_batch_of_writes_ends_with_one_wait_that_answers_for_all(
    pair: tuple[Address, Address],
) -> None:
    (host, port), (replica_host, replica_port) = pair
    async with (
        Redis(host=host, port=port) as master,
        Redis(host=replica_host, port=replica_port) as replica,
    ):
        await master.config_resetstat()
        batcher = Batcher(master, wait=(1, 5000))
        items = key()
        replies = await asyncio.gather(*(batcher.submit("RPUSH", items, n) for n in range(20)))
        assert sorted(reply for reply, _ in replies) == list(range(1, 21))
        assert {acks for _, acks in replies} == {1}, "WAIT's count answers for every write"
        assert await replica.llen(items) == 20, "acknowledged: the replica has them all"
        stats = await master.info("commandstats")
        assert stats["cmdstat_wait"]["calls"] == 1
        assert stats["cmdstat_rpush"]["calls"] == 20


async def test_a_failed_connection_fails_every_command_of_the_batch() -> None:
    async with Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1) as nowhere:
        batcher = Batcher(nowhere)
        results = await asyncio.gather(
            *(batcher.submit("PING") for _ in range(3)), return_exceptions=True
        )
    assert len(results) == 3
    assert all(isinstance(result, RedisConnectionError) for result in results)


async def test_a_cancelled_command_leaves_the_others_their_replies(master: Redis) -> None:
    batcher = Batcher(master)
    counter = key()
    first, gone, last = (batcher.submit("INCR", counter) for _ in range(3))
    gone.cancel()
    assert [(await first)[0], (await last)[0]] == [1, 3], "sent already, so still counted"
    assert gone.cancelled()


async def test_a_transaction_goes_in_the_batch_and_gets_exec_s_reply(master: Redis) -> None:
    sizes: list[int] = []
    batcher = Batcher(master, on_batch=sizes.append)
    items, counter = key(), key()
    await master.rpush(items, "a", "b", "c")
    before, snapshot, between, other, after = await asyncio.gather(
        batcher.submit("INCR", counter),
        batcher.submit_transaction([("LRANGE", items, 0, -1), ("LLEN", items)]),
        batcher.submit("INCR", counter),
        batcher.submit_transaction([("INCR", counter), ("RPUSH", items, "d")]),
        batcher.submit("LLEN", items),
    )
    assert sizes == [5], "five replies of one batch, two of them transactions"
    assert before[0] == 1 and between[0] == 2
    assert snapshot[0] == [[b"a", b"b", b"c"], 3]
    assert other[0] == [3, 4]
    assert after[0] == 4, "each reply where its command was, whatever came before it"


async def test_a_refused_transaction_is_an_error_reply_for_it_alone(master: Redis) -> None:
    text, counter = key(), key()
    await master.set(text, "not a list")
    batcher = Batcher(master)
    (refused, _), (run, _), (right, _) = await asyncio.gather(
        batcher.submit_transaction([("INCR", counter), ("NOSUCHCOMMAND",)]),
        batcher.submit_transaction([("LLEN", text), ("INCR", counter)]),
        batcher.submit("INCR", counter),
    )
    assert isinstance(refused, ResponseError) and "unknown command" in str(refused)
    assert isinstance(refused.__cause__, ExecAbortError), "the refused command's own error"
    wrong, counted = run
    assert isinstance(wrong, ResponseError) and "WRONGTYPE" in str(wrong)
    assert counted == 1, "the refused transaction ran nothing; this one ran whole"
    assert right == 2


async def test_a_shared_read_is_sent_once_per_batch_and_each_gets_its_reply(
    master: Redis,
) -> None:
    sizes: list[int] = []
    batcher = Batcher(master, on_batch=sizes.append)
    items, counter = key(), key()
    await master.rpush(items, "a", "b")
    gathered = [batcher.submit("LLEN", items, shared=True) for _ in range(20)]
    gathered += [batcher.submit("INCR", counter) for _ in range(3)]  # not shared: each sent
    gathered += [batcher.submit_transaction([("LRANGE", items, 0, -1)], shared=True)]
    gone = batcher.submit_transaction([("LRANGE", items, 0, -1)], shared=True)
    gone.cancel()  # one sharer gone: the others still get the reply
    replies = await asyncio.gather(*gathered)
    assert [reply for reply, _ in replies] == [2] * 20 + [1, 2, 3] + [[[b"a", b"b"]]]
    assert sizes == [1 + 3 + 1], "one LLEN, three INCRs, one transaction"
    await master.set(counter, "not a list")
    first, second = await asyncio.gather(
        *(batcher.submit("LLEN", counter, shared=True) for _ in "ab")
    )
    assert isinstance(first[0], ResponseError) and isinstance(second[0], ResponseError)
    assert first[0] is not second[0], "an error each: each request raises its own"


async def test_a_shared_read_never_gets_the_reply_of_a_batch_sent_before_it(
    topology: Topology, master: Redis
) -> None:
    sizes: list[int] = []
    async with own_client(topology) as own:
        batcher = Batcher(own, on_batch=sizes.append)
        waiting, counter = key(), key()
        held = batcher.submit("BLPOP", waiting, 30)  # keeps the first batch in flight
        before = batcher.submit("INCR", counter)
        sent = batcher.submit("GET", counter, shared=True)
        await wait_until_async(lambda: blpop_in_flight(master), timeout=10)
        later = batcher.submit("INCR", counter)
        after = batcher.submit("GET", counter, shared=True)
        await master.rpush(waiting, "go")
        await asyncio.gather(held, before, later)
        assert (await sent)[0] == b"1", "read in its batch, before the later INCR"
        assert (await after)[0] == b"2", "came after that batch was sent: sent again"
        assert sizes == [3, 2]


async def test_replies_are_what_the_client_s_own_commands_return(master: Redis) -> None:
    """Sent without redis-py's Pipeline, a reply still goes through the client's response
    callbacks; a command named in two words is sent as Redis takes it."""
    batcher = Batcher(master)
    name = key()
    (pong, _), (stored, _), (value, _), (config, _) = await asyncio.gather(
        batcher.submit("PING"),
        batcher.submit("SET", name, "v"),
        batcher.submit("GET", name),
        batcher.submit("CONFIG GET", "maxmemory-policy"),
    )
    assert (pong, stored, value) == (True, True, b"v")
    assert config == await master.config_get("maxmemory-policy")


async def test_a_bad_argument_fails_its_own_command_not_the_batch(master: Redis) -> None:
    batcher = Batcher(master)
    counter, other = key(), key()
    first = batcher.submit("INCR", counter)
    for bad in (None, True):  # refused as redis-py refuses them
        with pytest.raises(DataError, match="Invalid input"):
            batcher.submit("SET", counter, bad)  # type: ignore[arg-type]
    with pytest.raises(DataError):
        batcher.submit_transaction([("INCR", counter), ("SET", counter, None)])  # type: ignore[list-item]
    # What hiredis does not take itself goes through the client's encoder, as redis-py's.
    stored = batcher.submit("SET", other, bytearray(b"kept"))  # type: ignore[arg-type]
    assert (await first)[0] == 1
    assert (await stored)[0] is True and await master.get(other) == b"kept"
    assert (await batcher.submit("INCR", counter))[0] == 2


async def test_text_is_encoded_as_the_client_says(topology: Topology, master: Redis) -> None:
    name = key()
    async with own_client(topology, encoding="latin-1") as own:
        assert (await Batcher(own).submit("SET", name, "é"))[0] is True
    assert await master.get(name) == b"\xe9"


async def test_a_batch_that_times_out_fails_whole_and_the_next_reads_its_own(
    topology: Topology,
) -> None:
    """A reply that does not come in time fails every command of its batch, those whose
    replies were read included; the next batch gets its own replies."""
    node = topology.node(topology.master_name() or "")
    async with own_client(topology, socket_timeout=0.5) as own:
        batcher = Batcher(own)
        results = await asyncio.gather(
            batcher.submit("PING"),
            batcher.submit("BLPOP", key(), 5),
            batcher.submit("PING"),
            return_exceptions=True,
        )
        assert all(isinstance(result, RedisTimeoutError) for result in results), results
        assert str(results[0]) == f"Timeout reading from {node.host}:{node.port}"
        assert (await batcher.submit("ECHO", "mine"))[0] == b"mine"
        pool = own.connection_pool
        assert len(pool._available_connections) + len(pool._in_use_connections) == 1


async def test_a_transport_timeout_fails_the_batch_and_closes_its_connection(
    topology: Topology, master: Redis
) -> None:
    """A connection the kernel gives up on (ETIMEDOUT, as after TCP's retransmissions) fails
    every command of its batch as a timeout, a reply already read included: none is answered
    None, and the connection is closed, not given back with a reply unread."""
    async with own_client(topology) as own:
        batcher = Batcher(own)
        held = asyncio.gather(
            batcher.submit("PING"), batcher.submit("BLPOP", key(), 30), return_exceptions=True
        )
        await wait_until_async(lambda: blpop_in_flight(master), timeout=10)
        [connection] = own.connection_pool._in_use_connections
        assert connection._reader is not None
        # What asyncio does when the kernel reports the connection timed out.
        lost = TimeoutError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT))
        connection._reader.set_exception(lost)
        results = await held
        assert all(isinstance(result, RedisTimeoutError) for result in results), results
        assert not connection.is_connected
        assert (await batcher.submit("ECHO", "mine"))[0] == b"mine", "on a new connection"


async def test_a_batch_cut_short_leaves_no_reply_for_the_next(
    topology: Topology, master: Redis
) -> None:
    """A batch cancelled while its replies are awaited closes its connection: the next
    batch never reads the reply the first one left behind."""
    async with own_client(topology) as own:
        batcher = Batcher(own)
        waiting = key()
        held = batcher.submit("BLPOP", waiting, 30)
        await wait_until_async(lambda: blpop_in_flight(master), timeout=10)
        assert batcher._in_flight is not None
        batcher._in_flight.cancel()
        with pytest.raises(asyncio.CancelledError):
            await held

        async def gone() -> bool:
            return not await blpop_in_flight(master)

        await wait_until_async(gone, timeout=10)
        await master.rpush(waiting, "late")
        assert (await batcher.submit("PING"))[0] is True
        assert await master.lrange(waiting, 0, -1) == [b"late"], "no BLPOP took it"


def _as_int(response: Any, **kwargs: Any) -> int:
    return int(response)


async def test_a_response_callback_that_fails_is_its_own_command_s_error(
    topology: Topology,
) -> None:
    async with own_client(topology) as own:
        own.set_response_callback("ECHO", _as_int)
        batcher = Batcher(own)
        (seven, _), (wrong, _), (pong, _), (shared, _), (again, _) = await asyncio.gather(
            batcher.submit("ECHO", "7"),
            batcher.submit("ECHO", "x"),
            batcher.submit("PING"),
            *(batcher.submit("ECHO", "y", shared=True) for _ in "ab"),
        )
    assert seven == 7
    assert isinstance(wrong, ValueError), "returned as its reply: the caller raises it"
    assert pong is True
    assert isinstance(shared, ValueError) and isinstance(again, ValueError)
    assert shared is not again, "shared, the error is each one's own"


async def test_a_batcher_keeps_one_connection_from_batch_to_batch(topology: Topology) -> None:
    """One batch is in flight at a time, so one connection serves them all: it stays the
    batcher's between batches (no checkout and release each), and is given back to the
    pool when a batch fails on it."""
    async with own_client(topology, socket_timeout=0.5) as own:
        batcher = Batcher(own)
        ids = [(await batcher.submit("CLIENT ID"))[0] for _ in range(3)]
        assert len(set(ids)) == 1, "three batches, one connection"
        pool = own.connection_pool
        assert (len(pool._in_use_connections), len(pool._available_connections)) == (1, 0)
        [failed] = await asyncio.gather(batcher.submit("BLPOP", key(), 5), return_exceptions=True)
        assert isinstance(failed, RedisTimeoutError)
        assert (len(pool._in_use_connections), len(pool._available_connections)) == (0, 1)
        assert (await batcher.submit("CLIENT ID"))[0] not in ids, "a new one, taken again"


async def test_a_kept_connection_the_server_closed_is_made_again_not_failed(
    topology: Topology, master: Redis
) -> None:
    """As the pool checks a connection it gives: a batch after the server closed the
    batcher's connection (CLIENT KILL, a replica re-pointed by Sentinel) is sent on a new one."""
    async with own_client(topology) as own:
        batcher = Batcher(own)
        first = (await batcher.submit("CLIENT ID"))[0]
        [connection] = own.connection_pool._in_use_connections
        reader = connection._reader
        assert reader is not None
        assert await master.execute_command("CLIENT KILL ID", first) == 1
        await wait_until_async(reader.at_eof, timeout=10)
        second = (await batcher.submit("CLIENT ID"))[0]
        assert second != first, "answered, on a new connection"


async def test_a_batch_on_a_closed_client_closes_its_connection_after(topology: Topology) -> None:
    """A late batch on the old master's client, closed at a switch, is still answered, and
    its connection is closed after it, not kept open by the batcher (CLOSE_WAIT)."""
    node = topology.node(topology.master_name() or "")
    own = new_client((node.host, node.port), password=topology.password(node),
                     socket_timeout=5, connect_timeout=5)  # fmt: skip
    batcher = Batcher(own)
    assert (await batcher.submit("PING"))[0] is True
    await own.aclose()
    assert (await batcher.submit("PING"))[0] is True, "a late request is still served"
    pool = own.connection_pool
    connections = [*pool._available_connections, *pool._in_use_connections]
    assert connections and not any(c.is_connected for c in connections)
