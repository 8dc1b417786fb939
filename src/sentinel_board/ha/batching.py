"""Commands of concurrent requests, sent to Redis together.

Every command queued during one turn of the event loop goes out at the end of that turn as
one pipeline: one write to the socket, one read of the replies (auto-pipelining, as ioredis
and Lettuce do it). A request waits no longer than it would have for its own round trip,
and the per-command cost of redis-py (a pool checkout, a socket write and a read each) is
paid once per batch.

One batch at a time: while a batch is in flight, what comes meanwhile gathers into the next,
which goes as soon as the replies are in. So a batcher keeps one connection busy, however
many requests it serves (a long-lived client holds a steady number of them), and a burst
makes bigger batches, not more connections.

A batch of writes ends with a single WAIT. WAIT counts the replicas that acknowledged every
write sent before it on its connection, so its count answers for the whole batch: a group
commit, with one WAIT instead of one per request.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ExecAbortError, ResponseError

Command = tuple[str | int, ...]
Transaction = list[Command]  # sent between MULTI and EXEC; its reply is EXEC's
Replies = tuple[Any, Any]  # the command's (or the transaction's), and WAIT's
Waiting = list["asyncio.Future[Replies]"]  # who waits for one command's reply
Queued = list[tuple[Command | Transaction, Waiting]]


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
        self.on_batch = on_batch
        self._queued: Queued = []
        self._shared: dict[tuple[object, ...], Waiting] = {}  # shared reads of the queue
        self._in_flight: asyncio.Task[None] | None = None

    def submit(self, *command: str | int, shared: bool = False) -> asyncio.Future[Replies]:
        """The command's reply and WAIT's (None without `wait`). An error reply is returned,
        not raised: the caller decides what it means. A failed connection is raised.

        `shared`, for a read: the same command queued for the same batch is sent once and
        its reply given to each (not to be changed by any). Every one of them came before
        the batch was sent, so the reply is as fresh for each as its own would have been."""
        return self._queue(command, shared)

    def submit_transaction(
        self, commands: Sequence[Command], *, shared: bool = False
    ) -> asyncio.Future[Replies]:
        """As `submit`, for commands run as one (MULTI ... EXEC): the reply is EXEC's, the
        list of their replies, or the error of a command Redis refused as it was queued
        (the transaction then ran nothing)."""
        return self._queue(list(commands), shared)

    def _queue(self, item: Command | Transaction, shared: bool) -> asyncio.Future[Replies]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Replies] = loop.create_future()
        if shared and (waiting := self._shared.get(key := tuple(item))) is not None:
            waiting.append(future)
            return future
        if not self._queued and self._in_flight is None:
            loop.call_soon(self._send)  # at the end of this turn of the loop
        waiting = [future]
        self._queued.append((item, waiting))
        if shared:
            self._shared[key] = waiting
        return future

    def _send(self) -> None:
        if self._in_flight is not None or not self._queued:
            return
        queued, self._queued, self._shared = self._queued, [], {}
        self._in_flight = asyncio.ensure_future(self._run(queued))
        self._in_flight.add_done_callback(self._sent)

    def _sent(self, _: asyncio.Task[None]) -> None:
        self._in_flight = None
        self._send()  # what gathered meanwhile

    async def _run(self, queued: Queued) -> None:
        if self.on_batch is not None:
            self.on_batch(len(queued))
        pipe = self.client.pipeline(transaction=False)
        for item, _ in queued:
            if isinstance(item, list):
                pipe.execute_command("MULTI")
                for command in item:
                    pipe.execute_command(*command)
                pipe.execute_command("EXEC")
            else:
                pipe.execute_command(*item)
        if self.wait:
            pipe.execute_command("WAIT", *self.wait)
        try:
            replies = await pipe.execute(raise_on_error=False)
        except asyncio.CancelledError:
            for _, waiting in queued:
                for future in waiting:
                    future.cancel()
            raise
        except Exception as error:  # the connection failed: every command shares its fate
            for _, waiting in queued:
                for future in waiting:
                    if not future.done():  # else its request was cancelled
                        future.set_exception(error)
            return
        acks = replies.pop() if self.wait else None
        position = 0
        for item, waiting in queued:
            if isinstance(item, list):  # MULTI's reply, one QUEUED each, then EXEC's
                queued_replies = replies[position : position + len(item) + 1]
                position += len(item) + 1
                reply = _transaction_reply(replies[position], queued_replies)
            else:
                reply = replies[position]
            for shared, future in enumerate(waiting):
                if not future.done():  # an error for each its own: each raises it
                    own = copy.copy(reply) if shared and isinstance(reply, Exception) else reply
                    future.set_result((own, acks))
            position += 1


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
