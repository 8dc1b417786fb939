"""Sentinel's notifications: every sentinel's Pub/Sub events, each reported once.

One connection per sentinel, subscribed to every event. A connection that fails is made
again every half second; what failed is logged once per cause, not per retry, and kept in
the listener's `states` for status pages. A quiet connection is pinged every heartbeat: a
half-open one (the sentinel's host gone without a reset) answers nothing and fails nothing,
so three heartbeats without an answer end it, and a new one is made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from sentinel_board.ha import connection
from sentinel_board.ha.config import Address, format_address
from sentinel_board.ha.errors import describe

logger = logging.getLogger("sentinel_board.ha.events")
DEDUP_WINDOW = 5.0
RECONNECT_DELAY = 0.5
MISSED_HEARTBEATS = 3
NOISE = frozenset({"__sentinel__:hello"})


@dataclass(frozen=True)
class SentinelEvent:
    type: str
    payload: str
    received_at: float
    sentinel: str


@dataclass(frozen=True)
class SwitchMaster:
    master_name: str
    old: Address
    new: Address


def parse_switch_master(payload: str) -> SwitchMaster:
    """`<name> <old-ip> <old-port> <new-ip> <new-port>`"""
    name, old_ip, old_port, new_ip, new_port = payload.split()
    return SwitchMaster(name, (old_ip, int(old_port)), (new_ip, int(new_port)))


def concerns(event: SentinelEvent) -> str:
    """The instance an event is about, as people read it: `replica 10.0.0.2:6379`."""
    if event.type == "+switch-master":
        switch = parse_switch_master(event.payload)
        old, new = format_address(switch.old), format_address(switch.new)
        return f"{switch.master_name}: {old} → {new}"
    words = event.payload.split(" @ ")[0].split()
    if len(words) == 4 and words[0] in ("master", "slave", "sentinel"):
        kind = "replica" if words[0] == "slave" else words[0]
        name = f" {words[1]}" if kind == "master" else ""
        return f"{kind}{name} {words[2]}:{words[3]}"
    return event.payload


@dataclass(frozen=True)
class ListenerState:
    """Whether one sentinel's events are heard; if not, the last reason why (never a secret)."""

    sentinel: str
    listening: bool = False
    error: str | None = None
    since: float = field(default_factory=time.time)  # when this state began (Unix time)


class Stalled(Exception):
    """No answer, not even to PING, for several heartbeats."""


class SentinelListener:
    def __init__(
        self,
        sentinels: Sequence[Address],
        *,
        password: str | None = None,
        tls_ca: str | Path | None = None,
        connect_timeout: float = 0.5,
        heartbeat: float = 1.0,
        on_change: Callable[[ListenerState], None] | None = None,
    ) -> None:
        """`on_change` is told each sentinel's new state: listening, or failing and why."""
        self._sentinels = list(sentinels)
        self._password = password
        self._tls_ca = tls_ca
        self._connect_timeout = connect_timeout
        self._heartbeat = heartbeat
        self._on_change = on_change
        self._states = {address: ListenerState(format_address(address)) for address in sentinels}

    @property
    def states(self) -> list[ListenerState]:
        return [self._states[address] for address in self._sentinels]

    async def events(self) -> AsyncIterator[SentinelEvent]:
        """Every sentinel's events, each once though several report it (same type and
        payload within 5 s), until the iteration ends."""
        queue: asyncio.Queue[SentinelEvent] = asyncio.Queue()
        tasks = [asyncio.create_task(self._listen(a, queue)) for a in self._sentinels]
        seen: dict[tuple[str, str], float] = {}
        try:
            while True:
                event = await queue.get()
                now = time.monotonic()
                for key in [k for k, t in seen.items() if now - t > DEDUP_WINDOW]:
                    del seen[key]
                key = (event.type, event.payload)
                if key in seen:
                    continue
                seen[key] = now
                yield event
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self, address: Address, queue: asyncio.Queue[SentinelEvent]) -> None:
        task = asyncio.current_task()
        assert task is not None
        # A cancel a library swallowed (Python 3.11's wait_for can, when the awaited
        # operation fails at the same moment) must still end the loop.
        while not task.cancelling():
            client = connection.client(
                address,
                password=self._password,
                tls_ca=self._tls_ca,
                socket_timeout=None,  # quiet is normal; the heartbeat tells dead from quiet
                connect_timeout=self._connect_timeout,
                decode_responses=True,
            )
            try:
                async with client.pubsub() as pubsub:
                    async with asyncio.timeout(self._connect_timeout * 2):
                        await pubsub.psubscribe("*")
                    await self._receive(address, pubsub, queue)
            except (RedisError, OSError, TimeoutError, Stalled) as error:
                self._failing(address, describe(error))
            finally:
                await client.aclose()
            await asyncio.sleep(RECONNECT_DELAY)

    async def _receive(
        self, address: Address, pubsub: PubSub, queue: asyncio.Queue[SentinelEvent]
    ) -> None:
        where = format_address(address)
        loop = asyncio.get_running_loop()
        heard_at = loop.time()
        while True:
            message = await pubsub.get_message(timeout=self._heartbeat)
            if message is None:
                quiet = loop.time() - heard_at
                if quiet >= self._heartbeat * MISSED_HEARTBEATS:
                    raise Stalled(f"no answer for {quiet:.1f} s, not even to PING")
                await pubsub.ping()
                continue
            heard_at = loop.time()
            if message["type"] == "psubscribe":
                self._listening(address)
            elif message["type"] == "pmessage" and message["channel"] not in NOISE:
                await queue.put(
                    SentinelEvent(message["channel"], message["data"], time.time(), where)
                )

    def _failing(self, address: Address, error: str) -> None:
        state = self._states[address]
        if state.error == error:
            return  # the same cause again: said once already
        logger.warning(
            "not hearing sentinel %s's events: %s; trying again every %g s",
            state.sentinel, error, RECONNECT_DELAY,
            extra={"sentinel_listener": {"sentinel": state.sentinel, "error": error}},
        )  # fmt: skip
        self._change(address, replace(state, listening=False, error=error, since=time.time()))

    def _listening(self, address: Address) -> None:
        state = self._states[address]
        if state.listening:
            return
        if state.error is not None:
            logger.info("hearing sentinel %s's events again", state.sentinel)
        self._change(address, ListenerState(state.sentinel, listening=True))

    def _change(self, address: Address, state: ListenerState) -> None:
        self._states[address] = state
        if self._on_change is not None:
            with contextlib.suppress(Exception):  # a reporter's failure must not stop listening
                self._on_change(state)


async def sentinel_events(
    sentinels: Sequence[Address],
    *,
    password: str | None = None,
    tls_ca: str | Path | None = None,
    on_change: Callable[[ListenerState], None] | None = None,
) -> AsyncIterator[SentinelEvent]:
    """Listen to every sentinel, reconnecting to any that fails; yield each event once."""
    listener = SentinelListener(sentinels, password=password, tls_ca=tls_ca, on_change=on_change)
    async for event in listener.events():
        yield event
