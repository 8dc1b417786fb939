"""The replicas for reads that may be stale (read_from=replica_preferred).

One link per replica, shared by every request, made under a lock so that concurrent
requests never make two. A failed read does not close the link (other requests may be in
it; redis-py drops the broken connection by itself): the request tries another replica, and
the failed one goes last until the sentinels are asked again. A link is closed once the
sentinels no longer list its replica and no request is in it, and all of them at `aclose`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sentinel_board.ha.config import Address, format_address
from sentinel_board.ha.discovery import Discovery
from sentinel_board.ha.errors import describe
from sentinel_board.ha.link import Link

T = TypeVar("T")
logger = logging.getLogger("sentinel_board.ha")
ATTEMPTS = 2  # a replica being re-pointed by Sentinel drops its clients: try another one
REFRESH = 5.0  # s: the sentinels' list of replicas is asked again this often
AFTER_FAILURE = 0.5  # s: ... or this soon after a read failed, at most


class ReplicaPool:
    def __init__(
        self,
        discovery: Discovery,
        connect: Callable[[Address], Redis],
        new_link: Callable[[Address, Redis], Link],
    ) -> None:
        self._discovery = discovery
        self._connect = connect
        self._new_link = new_link
        self._lock = asyncio.Lock()
        self._order: list[Address] = []  # up replicas, the preferred first
        self._asked_at = -math.inf
        self._failed_at = 0.0
        self._links: dict[Address, Link] = {}
        self._users: dict[Link, int] = {}
        self._retired: list[Link] = []  # no longer listed; closed once no request is in it

    @property
    def links(self) -> dict[Address, Link]:
        return dict(self._links)

    async def run(self, op: Callable[[Link], Awaitable[T]]) -> tuple[bool, T | None]:
        """(True, what `op` returned on a replica), or (False, None) when none could serve."""
        tried: set[Address] = set()
        for _ in range(ATTEMPTS):
            link = await self._pick(avoid=tried)
            if link is None:
                break
            self._users[link] = self._users.get(link, 0) + 1
            try:
                return True, await op(link)
            except (TimeoutError, RedisError, OSError) as error:
                logger.info("replica %s: read failed (%s)", format_address(link.address),
                            describe(error))  # fmt: skip
                tried.add(link.address)
                self._failed(link.address)
            finally:
                await self._release(link)
        return False, None

    async def _pick(self, avoid: set[Address]) -> Link | None:
        async with self._lock:
            since = time.monotonic() - self._asked_at
            failed = self._failed_at > self._asked_at or not self._order
            if since > REFRESH or (failed and since > AFTER_FAILURE):
                await self._refresh()
            address = next((a for a in self._order if a not in avoid), None)
            if address is None:
                return None
            if (link := self._links.get(address)) is None:
                link = self._links[address] = self._new_link(address, self._connect(address))
            return link

    async def _refresh(self) -> None:
        """Ask the sentinels which replicas are up (the lock is held)."""
        self._asked_at = time.monotonic()
        listed = await self._discovery.replicas()
        if listed is None:  # no sentinel answers: keep what we knew
            return
        self._order = listed
        for address in [a for a in self._links if a not in listed]:
            self._retired.append(self._links.pop(address))
        await self._close_unused()

    def _failed(self, address: Address) -> None:
        self._failed_at = time.monotonic()
        if address in self._order:  # last, until the sentinels are asked again
            self._order.remove(address)
            self._order.append(address)

    async def _release(self, link: Link) -> None:
        self._users[link] -= 1
        if not self._users[link]:
            del self._users[link]
            await self._close_unused()

    async def _close_unused(self) -> None:
        if not self._retired:  # the usual case, on every read's release
            return
        # Taken off the list in one step, before any await: a concurrent release (or a
        # refresh) closing the others while one closes never finds a link already taken.
        unused = [link for link in self._retired if link not in self._users]
        self._retired = [link for link in self._retired if link in self._users]
        for link in unused:
            await link.aclose()

    async def aclose(self) -> None:
        links = [*self._links.values(), *self._retired]
        self._links.clear()
        self._retired.clear()
        self._order.clear()
        for link in links:
            await link.aclose()
