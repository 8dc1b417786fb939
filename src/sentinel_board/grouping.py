"""Calls made while one is in flight, made together as one.

`Grouped(run)` is called with one item at a time, and calls `run` with every item that came
during one turn of the event loop, or while its previous call was in flight: one call at a
time, as the HA layer's batches go. `run` answers each item in order, with its result or an
exception for that item alone; an exception `run` raises is every item's.

What for: a Redis script that takes ten posts costs Redis, its replicas and the app much less
than ten scripts that take one each (one command to parse, one script call, one transaction to
replicate, one reply). What comes while a call is in flight would mostly have waited for the
HA layer's batch anyway; a call in flight through a failover (its retries) holds the next one
back, so a caller that counts a deadline gives when its item came (the store's `since`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")
Run = Callable[[list[Item]], Awaitable[list[Result | BaseException]]]


class Grouped(Generic[Item, Result]):
    def __init__(self, run: Run[Item, Result], *, most: int) -> None:
        """`most`: the largest group `run` is given; more items wait for the next call."""
        self._run = run
        self._most = most
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._in_flight: asyncio.Task[None] | None = None

    def __call__(self, item: Item) -> asyncio.Future[Result]:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._in_flight is None:
            self._start()
        return future

    def _start(self) -> None:
        """A call for what waits: its task's first step comes at the end of this turn of the
        loop, and takes what came by then."""
        self._in_flight = asyncio.ensure_future(self._answer())
        self._in_flight.add_done_callback(self._done)

    def _done(self, _: asyncio.Task[None]) -> None:
        self._in_flight = None
        if self._waiting:  # what came meanwhile
            self._start()

    async def _answer(self) -> None:
        waiting = [each for each in self._waiting if not each[1].done()]  # else given up on
        group, self._waiting = waiting[: self._most], waiting[self._most :]
        if not group:
            return
        try:
            results = await self._run([item for item, _ in group])
            if len(results) != len(group):
                raise RuntimeError(f"{len(results)} answers for a group of {len(group)}")
        except asyncio.CancelledError:
            for _, future in group:
                future.cancel()
            raise
        except Exception as error:  # every item's
            for _, future in group:
                if not future.done():  # else its caller gave up on it
                    future.set_exception(error)
            return
        for (_, future), result in zip(group, results, strict=True):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
