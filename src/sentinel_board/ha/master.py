"""Following the master: its link, replaced whole when the master changes, the old one closed.

The old link is closed outside the lock, in a task of its own that `aclose` waits for:
closing a hung master's connections can take a while, and no request waits for it.

A change comes from a request's rediscovery (its command failed) or from the sentinels'
+switch-master (`adopt`), whichever is first; requests waiting to retry are woken at once.
Many requests failing together share one rediscovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis

from sentinel_board.ha.config import Address, HAConfig, format_address
from sentinel_board.ha.discovery import Discovery
from sentinel_board.ha.link import Link
from sentinel_board.ha.stats import HAStats

logger = logging.getLogger("sentinel_board.ha")
REDISCOVERY_SHARED = 0.05  # s: requests failing within this share one rediscovery


class MasterFollower:
    def __init__(
        self,
        config: HAConfig,
        discovery: Discovery,
        stats: HAStats,
        new_link: Callable[[Address, Redis], Link],
    ) -> None:
        self.config = config
        self.discovery = discovery
        self.stats = stats
        self._new_link = new_link
        self.link: Link | None = None
        self.generation = 0  # moves on at every switch and every rediscovery
        self._discovered_at = 0.0
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._closing: set[asyncio.Task[None]] = set()  # old links being closed

    def _current(self) -> tuple[Address, Redis] | None:
        return None if self.link is None else (self.link.address, self.link.client)

    async def rediscover(self, seen_generation: int, reason: str) -> Link:
        """The master's link after asking the sentinels again, unless the master changed or
        was confirmed since `seen_generation` (or just now)."""
        async with self._lock:
            recently = time.monotonic() - self._discovered_at < REDISCOVERY_SHARED
            if self.link is not None and (self.generation != seen_generation or recently):
                return self.link
            address, client = await self.discovery.find(self._current())
            self._discovered_at = time.monotonic()
            if self.link is not None and client is self.link.client:
                self.generation += 1
                return self.link
            await self._switch(self._new_link(address, client), reason)
            assert self.link is not None
            return self.link

    async def adopt(self, address: Address, reason: str) -> None:
        """Switch to `address` (a sentinel said so) once ROLE confirms it is the master."""
        async with self._lock:
            if self.link is not None and address == self.link.address:
                return
            client, _ = await self.discovery.confirm(address, self._current())
            if client is not None:  # else not yet, or not any more: discovery will decide
                await self._switch(self._new_link(address, client), reason)

    async def _switch(self, link: Link, reason: str) -> None:
        """Make `link` the master's (the lock is held); wake the requests that wait; close
        the old link whole, in a task: nothing waits for it but `aclose`."""
        old, self.link = self.link, link
        self.generation += 1
        self._changed.set()
        self._changed = asyncio.Event()
        new = format_address(link.address)
        if old is None:
            logger.info("master of %r is %s", self.config.master_name, new)
            return
        self.stats.failovers_followed += 1
        was = format_address(old.address)
        logger.warning(
            "following failover: master %s -> %s (%s)", was, new, reason,
            extra={"failover": {"old": was, "new": new, "why": reason}},
        )  # fmt: skip
        closing = asyncio.create_task(old.aclose())
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def changed(self, within: float) -> None:
        """Return when the master changes, or after `within` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._changed.wait()

    async def aclose(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            await link.aclose()
        await asyncio.gather(*self._closing)  # Link.aclose raises nothing
