"""The retry policy: what is retried, how long to wait between attempts, and until when.

A failure a failover explains (errors.is_transient), or any failure on a master we have
since left, is retried: wait a little (20 ms doubling to 100 ms, less if the master
changes meanwhile), ask the sentinels again (cut short at the deadline), try again, until
the deadline; then Unavailable. Refused credentials, no failover possible, and a master
refusing commands for a condition of its own (out of memory, a failed save, busy:
ServerRefused) end it at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import AuthenticationError, NoPermissionError, RedisError

from sentinel_board.ha.config import format_address
from sentinel_board.ha.errors import (
    MasterNotFound,
    NotReplicated,
    Unavailable,
    describe,
    is_transient,
    refusal,
    server_refusal,
)
from sentinel_board.ha.link import Link
from sentinel_board.ha.master import MasterFollower
from sentinel_board.ha.stats import HAStats

T = TypeVar("T")
FIRST_DELAY = 0.02
MAX_DELAY = 0.1


def retry_after(within: float) -> int:
    """What a 503 says to wait once a failover deadline of `within` s has passed (a failover
    may still bring a master): a fifth of it, at least 1 s (2 s for the default 10 s)."""
    return max(1, round(within / 5))


def _too_late(within: float, last_error: str | None) -> Unavailable:
    return Unavailable(
        f"no master served the request within {within:g} s (last error: {last_error})",
        retry_after=retry_after(within),
    )


async def with_failover(
    master: MasterFollower,
    op: Callable[[Link], Awaitable[T]],
    *,
    within: float,
    stats: HAStats,
    on_attempt: Callable[[float], None] | None = None,
    since: float | None = None,
) -> T:
    """`op` on the master's link, retried through failovers for `within` seconds from
    `since` (the loop's time; by default now). `on_attempt` is told how long each successful
    attempt took."""
    loop = asyncio.get_running_loop()
    deadline = (loop.time() if since is None else since) + within
    delay = FIRST_DELAY
    last_error: str | None = None
    tried = master.generation  # the generation of the master the last attempt went to
    while True:
        link = master.link
        bound: asyncio.Timeout | None = None
        try:
            if link is None or last_error is not None:
                # Asks the sentinels only if no other request did since that attempt, and no
                # +switch-master moved the client: requests failing together share one. It
                # ends at the deadline, however many sentinels and hung masters are left.
                async with asyncio.timeout_at(deadline) as bound:
                    link = await master.rediscover(tried, last_error or "first use")
            tried = master.generation
            started = time.perf_counter()
            result = await op(link)
            if on_attempt is not None:
                on_attempt(time.perf_counter() - started)
            return result
        except (NotReplicated, MasterNotFound) as error:
            last_error = error.reason
        except (AuthenticationError, NoPermissionError) as error:
            stats.unavailable += 1
            where = format_address(link.address) if link else "?"
            raise refusal(error, f"master {where}") from None
        except Unavailable:
            stats.unavailable += 1
            raise
        except (TimeoutError, RedisError, OSError) as error:
            if bound is not None and bound.expired():
                stats.unavailable += 1
                raise _too_late(within, last_error or "the sentinels named no master") from None
            # Whatever a master we have since left answers, the new one may not.
            if not is_transient(error) and master.generation == tried:
                where = f"master {format_address(link.address) if link else '?'}"
                if refused := server_refusal(error, where, retry_after(within)):
                    stats.unavailable += 1
                    raise refused from None
                raise
            last_error = describe(error)
        if loop.time() + delay > deadline:
            stats.unavailable += 1
            raise _too_late(within, last_error)
        stats.retries += 1
        await master.changed(delay)  # a new master wakes every waiting request at once
        delay = min(delay * 2, MAX_DELAY)
