"""Sentinel's notifications: every sentinel's Pub/Sub events, each reported once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sentinel_board.config import Address, format_address, tls_options

DEDUP_WINDOW = 5.0
RECONNECT_DELAY = 0.5
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


async def _listen(
    address: Address, options: dict[str, Any], queue: asyncio.Queue[SentinelEvent]
) -> None:
    where = format_address(address)
    while True:
        client = Redis(
            host=address[0],
            port=address[1],
            **options,
            socket_timeout=None,
            socket_connect_timeout=0.5,
            decode_responses=True,
        )
        try:
            async with client.pubsub() as pubsub:
                await pubsub.psubscribe("*")
                async for message in pubsub.listen():
                    if message["type"] == "pmessage" and message["channel"] not in NOISE:
                        event = SentinelEvent(
                            message["channel"], message["data"], time.time(), where
                        )
                        await queue.put(event)
        except (RedisError, OSError):
            pass
        finally:
            await client.aclose()
        await asyncio.sleep(RECONNECT_DELAY)


async def sentinel_events(
    sentinels: list[Address], *, password: str | None = None, tls_ca: str | Path | None = None
) -> AsyncIterator[SentinelEvent]:
    """Listen to every sentinel, reconnecting to any that dies; yield each event once."""
    queue: asyncio.Queue[SentinelEvent] = asyncio.Queue()
    options = {"password": password, **tls_options(tls_ca)}
    tasks = [asyncio.create_task(_listen(address, options, queue)) for address in sentinels]
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
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
