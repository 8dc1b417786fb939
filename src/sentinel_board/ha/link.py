"""A link to one server: its client and the batchers that send through it, as one unit.

They are made together, used together and closed together: when the master changes, the
old link is closed and dropped whole, so nothing of an old master outlives the switch.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sentinel_board.ha.batching import Batcher
from sentinel_board.ha.config import Address, format_address


@dataclass(eq=False)
class Link:
    address: Address
    client: Redis
    reads: Batcher  # commands of concurrent requests, one pipeline per loop turn
    writes: Batcher  # the same, each batch ending with one WAIT

    @classmethod
    def make(
        cls,
        address: Address,
        client: Redis,
        *,
        wait: tuple[int, int] | None,
        on_batch: Callable[[int], None] | None = None,
    ) -> Link:
        """`wait`: (replicas, timeout in ms) of the WAIT that ends a batch of writes."""
        return cls(
            address,
            client,
            Batcher(client, on_batch=on_batch),
            Batcher(client, wait=wait, on_batch=on_batch),
        )

    async def aclose(self) -> None:
        """Close the client: requests still in it fail as a lost connection, and retry.
        A connection to a hung server may not close in time: it is dropped all the same."""
        with contextlib.suppress(TimeoutError, RedisError, OSError):
            await self.client.aclose()

    def __repr__(self) -> str:
        return f"Link({format_address(self.address)})"
