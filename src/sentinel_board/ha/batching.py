"""Commands of concurrent requests, sent to Redis together.

Every command queued during one turn of the event loop goes out at the end of that turn as
one pipeline: one write to the socket, one read of the replies (auto-pipelining, as ioredis
and Lettuce do it). A request waits no longer than it would have for its own round trip,
and the per-command cost of redis-py (a socket write and a read each) is paid once per
batch.

One batch at a time: while a batch is in flight, what comes meanwhile gathers into the next,
which goes as soon as the replies are in. So a batcher needs one connection, however many
requests it serves: it keeps one of the client's pool from batch to batch (a long-lived
client holds a steady number of them), and a burst makes bigger batches, not more
connections.

A batch of writes ends with a single WAIT. WAIT counts the replicas that acknowledged every
write sent before it on its connection, so its count answers for the whole batch: a group
commit, with one WAIT instead of one per request.

A batch is written and read on a connection of the client's pool directly, not through
redis-py's Pipeline: each command is packed by hiredis when it is submitted (a bad argument
fails its own request, not the batch), and the batch is one write of those bytes followed by
one read per reply. The replies are what the client's own commands would return (its
response callbacks apply), an error reply as the value of its command. Pipeline's packing in
Python and its bookkeeping per command and per batch were about a tenth of the worker's CPU
for a post and for a count.
"""

from __future__ import annotations

import asyncio
import codecs
import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import hiredis
from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ExecAbortError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Command = tuple[str | int, ...]
Replies = tuple[Any, Any]  # the command's (or the transaction's), and WAIT's
Waiting = list["asyncio.Future[Replies]"]  # who waits for one command's reply
MULTI, EXEC = hiredis.pack_command(("MULTI",)), hiredis.pack_command(("EXEC",))  # packed once


@dataclass(frozen=True, slots=True)
class _Queued:
    packed: bytes  # the command, or MULTI, the transaction's commands and EXEC
    replies: int  # how many replies it takes: 1, or the transaction's commands + 2
    callback: Callable[[Any], Any] | None  # the client's response callback, for a command
    waiting: Waiting


class Batcher:
    def __init__(
        self,
        client: Redis,
        *,
        wait: tuple[int, int] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        """`wait`: (replicas, timeout in ms) for the WAIT that ends every batch;
        `on_batch` is told the number of commands of each batch sent (a transaction counts
        once, and so does a read shared by several requests)."""
        self.client = client
        self.wait = wait
        self._encoder = client.connection_pool.get_encoder()  # type: ignore[no-untyped-call]
        # hiredis packs text as UTF-8, strictly: a client set otherwise packs through its own.
        encoding = codecs.lookup(self._encoder.encoding).name, self._encoder.encoding_errors
        self._utf8 = encoding == ("utf-8", "strict")
        self._wait = self._pack(("WAIT", *wait)) if wait else b""
        self.on_batch = on_batch
        self._queued: list[_Queued] = []
        self._shared: dict[tuple[object, ...], Waiting] = {}  # shared reads of the queue
        self._in_flight: asyncio.Task[None] | None = None
        self._connection: AbstractConnection | None = None  # the pool's, kept (see _checkout)

    def submit(self, *command: str | int, shared: bool = False) -> asyncio.Future[Replies]:
        """The command's reply and WAIT's (None without `wait`). An error reply is returned,
        not raised: the caller decides what it means. A failed connection is raised.

        `shared`, for a read: the same command queued for the same batch is sent once and
        its reply given to each (not to be changed by any). Every one of them came before
        the batch was sent, so the reply is as fresh for each as its own would have been."""
        if shared and (future := self._join(command)) is not None:
            return future  # packed once, for the first
        packed = self._pack(command)
        callback = self.client.response_callbacks.get(str(command[0]))
        return self._queue(packed, 1, callback, command if shared else None)

    def submit_transaction(
        self, commands: Sequence[Command], *, shared: bool = False
    ) -> asyncio.Future[Replies]:
        """As `submit`, for commands run as one (MULTI ... EXEC): the reply is EXEC's, the
        list of their replies, or the error of a command Redis refused as it was queued
        (the transaction then ran nothing)."""
        key = tuple(commands) if shared else None
        if key is not None and (future := self._join(key)) is not None:
            return future
        packed = b"".join([MULTI, *map(self._pack, commands), EXEC])
        return self._queue(packed, len(commands) + 2, None, key)

    def _join(self, shared: tuple[object, ...]) -> asyncio.Future[Replies] | None:
        """A future for the reply of the same read queued for this batch, if there is one."""
        waiting = self._shared.get(shared)
        if waiting is None:
            return None
        future: asyncio.Future[Replies] = asyncio.get_running_loop().create_future()
        waiting.append(future)
        return future

    def _queue(
        self,
        packed: bytes,
        replies: int,
        callback: Callable[[Any], Any] | None,
        shared: tuple[object, ...] | None,
    ) -> asyncio.Future[Replies]:
        future: asyncio.Future[Replies] = asyncio.get_running_loop().create_future()
        if self._in_flight is None:
            self._start()
        waiting = [future]
        self._queued.append(_Queued(packed, replies, callback, waiting))
        if shared is not None:
            self._shared[shared] = waiting
        return future

    def _start(self) -> None:
        """A batch for what is queued: its task's first step comes at the end of this turn
        of the loop, and takes what was queued by then."""
        self._in_flight = asyncio.ensure_future(self._run())
        self._in_flight.add_done_callback(self._sent)

    def _sent(self, _: asyncio.Task[None]) -> None:
        self._in_flight = None
        if self._queued:  # what gathered meanwhile
            self._start()

    async def _run(self) -> None:
        queued, self._queued, self._shared = self._queued, [], {}
        if not queued:
            return
        try:
            if self.on_batch is not None:
                self.on_batch(len(queued))
            packed = b"".join([each.packed for each in queued] + [self._wait])
            expected = sum(each.replies for each in queued) + bool(self._wait)
            try:
                connection = await self._checkout()
                replies = await _exchange(connection, packed, expected)
            except BaseException:  # it may have replies left unread: given back, not kept
                await asyncio.shield(self._release())
                raise
            if getattr(self.client.connection_pool, "closed", False):
                await asyncio.shield(self._release())  # a closed client's: closed now
            await self._answer(queued, replies)
        except asyncio.CancelledError:
            for each in queued:
                for future in each.waiting:
                    future.cancel()
            raise
        except Exception as error:  # the connection failed: every command shares its fate
            for each in queued:
                for future in each.waiting:
                    if not future.done():  # else its request was cancelled, or answered
                        future.set_exception(error)

    async def _checkout(self) -> AbstractConnection:
        """A connection of the client's pool, kept for the batches that follow: one batch is
        in flight at a time, so one connection serves them all, without the pool's lock and
        bookkeeping at every batch (a third of a batch's cost in the app, with the timer task
        redis-py's write makes). One whose close by the server (CLIENT KILL, its `timeout`, a
        replica Sentinel re-points) has arrived is made again by the batch's write, not
        failed; one closed later fails its batch, which the HA layer retries, as before."""
        if self._connection is None:
            pool = self.client.connection_pool
            self._connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        elif self._connection.is_connected and await self._connection.can_read():
            await self._connection.disconnect()  # at its end, or a reply nobody asked for
        return self._connection

    async def _release(self) -> None:
        """Give the kept connection back to the pool (the next batch takes one again); only
        from the batch's own task, which is the connection's one user."""
        connection, self._connection = self._connection, None
        if connection is not None:
            await self.client.connection_pool.release(connection)

    async def _answer(self, queued: list[_Queued], replies: list[Any]) -> None:
        acks = replies[-1] if self.wait else None
        position = 0
        for each in queued:
            position += each.replies
            reply = replies[position - 1]
            if each.replies > 1:  # MULTI's reply, one QUEUED each, then EXEC's
                reply = _transaction_reply(reply, replies[position - each.replies : position - 1])
            elif each.callback is not None and not isinstance(reply, Exception):
                try:
                    reply = each.callback(reply)
                    if inspect.isawaitable(reply):
                        reply = await reply
                except Exception as error:  # as the command's own reply would raise it
                    reply = error
            for shared, future in enumerate(each.waiting):
                if not future.done():  # an error for each its own: each raises it
                    future.set_result((_copy(reply) if shared else reply, acks))

    def _pack(self, command: Sequence[Any]) -> bytes:
        """A command in Redis's protocol, as redis-py packs it: a first argument such as
        "CLIENT LIST" is its words; what hiredis does not take (an int's subclass, a
        bytearray; bool and None, which redis-py refuses) goes through the client's encoder."""
        name = command[0]
        if isinstance(name, str) and " " in name:
            command = (*name.split(), *command[1:])
        if self._utf8:
            try:
                return _packed(tuple(command))
            except TypeError:
                pass
        return _packed(tuple(bytes(self._encoder.encode(each)) for each in command))


async def _exchange(connection: AbstractConnection, packed: bytes, replies: int) -> list[Any]:
    """One write of a batch, then its replies in order: an error reply as a value, a failed
    connection raised (redis-py closes the connection then, so that no reply left unread
    answers the next batch).

    The connection's socket timeout bounds the batch whole, its write and the reading of
    its replies, not each step: a timer set and cancelled for each reply was a tenth of a
    post's cost in the store, and redis-py writes under a timeout in a task of its own. The
    write and the reads go without one meanwhile (redis-py then treats a transport's own
    timeout as a failure, as before), and a step the batch's timer cuts short closes the
    connection, as redis-py's own timeout does."""
    answers: list[Any] = []
    bound, connection.socket_timeout = connection.socket_timeout, None
    try:
        async with asyncio.timeout(bound):
            await connection.send_packed_command(packed)
            for _ in range(replies):
                try:
                    answers.append(await connection.read_response())
                except ResponseError as error:
                    answers.append(error)
    except TimeoutError:
        raise RedisTimeoutError(f"Timeout reading from {_where(connection)}") from None
    finally:
        connection.socket_timeout = bound
    return answers


def _where(connection: AbstractConnection) -> str:
    """host:port, as redis-py's errors name a server (or a Unix socket's path)."""
    if path := getattr(connection, "path", None):
        return str(path)
    return f"{getattr(connection, 'host', '?')}:{getattr(connection, 'port', '?')}"


def _packed(command: tuple[Any, ...]) -> bytes:
    packed: bytes = hiredis.pack_command(command)
    return packed


def _copy(reply: Any) -> Any:
    """An error reply again, for another request to raise (with the same cause)."""
    if not isinstance(reply, Exception):
        return reply
    own = copy.copy(reply)
    own.__cause__ = reply.__cause__
    return own


def _transaction_reply(exec_reply: Any, queued: list[Any]) -> Any:
    """EXEC's reply; for a transaction Redis refused as it was queued (EXECABORT), the error
    of the command it refused, as redis-py's own transactions raise it, so that it keeps its
    meaning (NOPERM: the ACL; MASTERDOWN: retry)."""
    if isinstance(exec_reply, ExecAbortError):
        for reply in queued:
            if isinstance(reply, ResponseError):
                reply.__cause__ = exec_reply
                return reply
    return exec_reply
