"""RedisHA: the master of a Sentinel-monitored set, found, verified and followed.

    async with RedisHA(HAConfig(sentinels=[("10.0.0.1", 26379), ...])) as redis:
        count = await redis.write(INCR, ["visits"], [])  # after WAIT: a replica has it
        value = await redis.call("GET", "visits")

What it does that redis-py's own Sentinel client does not: it checks with ROLE that the node
a sentinel names is the master; it listens to every sentinel and switches at +switch-master,
not at the next error; it retries through a failover (never against a dead master's address)
until a deadline, then raises Unavailable saying why; it confirms every write with WAIT;
and it sends the commands of concurrent requests as one pipeline.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self, TypeVar

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from sentinel_board.ha import connection
from sentinel_board.ha.batching import Command
from sentinel_board.ha.config import Address, HAConfig
from sentinel_board.ha.discovery import Discovery
from sentinel_board.ha.errors import NotReplicated
from sentinel_board.ha.events import (
    ListenerState,
    SentinelEvent,
    SentinelListener,
    parse_switch_master,
)
from sentinel_board.ha.link import Link
from sentinel_board.ha.master import MasterFollower
from sentinel_board.ha.replicas import ReplicaPool
from sentinel_board.ha.retry import with_failover
from sentinel_board.ha.stats import HAStats

T = TypeVar("T")
logger = logging.getLogger("sentinel_board.ha")
SUBSCRIBER_QUEUE = 1000  # a subscriber that does not read loses events, not memory


@dataclass(frozen=True)
class Script:
    """A Lua script, sent by its SHA1 (EVALSHA), and whole once to a master without it."""

    body: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.body.encode()).hexdigest())


class RedisHA:
    def __init__(self, config: HAConfig) -> None:
        self.config = config
        self.stats = HAStats()
        self.on_command: Callable[[float], None] | None = None  # seconds one attempt took
        self.recent_events: collections.deque[SentinelEvent] = collections.deque(maxlen=100)
        self._discovery = Discovery(config, self._connect)
        self._master = MasterFollower(config, self._discovery, self.stats, self._link)
        self._replicas = ReplicaPool(self._discovery, lambda a: self._connect(a, False), self._link)
        self._listener = SentinelListener(
            config.sentinels,
            password=config.sentinel_password,
            tls_ca=config.tls_ca_file,
            connect_timeout=config.sentinel_timeout,
            heartbeat=config.listener_heartbeat,
        )
        self._watcher: asyncio.Task[None] | None = None
        self._subscribers: set[asyncio.Queue[SentinelEvent]] = set()

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def start(self) -> None:
        """Listen to every sentinel: switch at +switch-master, keep `recent_events`, feed
        `subscribe()`. Without it, the client still follows a failover at the next error."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch())

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        await self._replicas.aclose()
        await self._master.aclose()
        await self._discovery.aclose()

    # -- what it serves ------------------------------------------------------

    async def write(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int],
        *,
        within: float | None = None,
        since: float | None = None,
    ) -> Any:
        """Run a Lua script on the master, then WAIT for `min_replica_acks` replicas, in one
        round trip shared with the writes of concurrent requests. Retried through failovers
        for `within` seconds (default `failover_deadline`) from `since` (the event loop's
        time, for a caller that waited before this call; by default now); then Unavailable
        (NotReplicated when the master took it but no replica confirmed it). A script may run
        again after an ambiguous failure: make it idempotent."""
        acks_needed = self.config.min_replica_acks

        async def attempt(link: Link) -> Any:
            result, acks = await link.writes.submit("EVALSHA", script.sha, len(keys), *keys, *args)
            if isinstance(result, NoScriptError):  # a new or restarted master: send the body
                result, acks = await link.writes.submit(
                    "EVAL", script.body, len(keys), *keys, *args
                )
            for reply in (result, acks):
                if isinstance(reply, Exception):
                    raise reply
            if (acks or 0) < acks_needed:
                raise NotReplicated(
                    f"the write reached the master but {acks or 0} of {acks_needed} replicas "
                    f"confirmed it within {self.config.ack_timeout_ms} ms"
                )
            return result

        return await self._on_master(attempt, within, since)

    async def call(self, *command: str | int, stale_ok: bool = False, shared: bool = False) -> Any:
        """One command, sent together with those of concurrent requests; on the master, or
        with read_from=replica_preferred and `stale_ok`, on a replica first. `shared`, for a
        read: the same command of concurrent requests is sent once (see Batcher.submit)."""

        async def batched(link: Link) -> Any:
            reply, _ = await link.reads.submit(*command, shared=shared)
            if isinstance(reply, Exception):
                raise reply
            return reply

        return await self._read(batched, stale_ok)

    async def transaction(
        self, *commands: Command, stale_ok: bool = False, shared: bool = False
    ) -> list[Any]:
        """Several commands run as one (MULTI ... EXEC), sent as `call` sends one: for reads
        that must be one snapshot. Their replies, in order."""

        async def batched(link: Link) -> list[Any]:
            reply, _ = await link.reads.submit_transaction(commands, shared=shared)
            if isinstance(reply, Exception):
                raise reply
            for each in reply:
                if isinstance(each, Exception):
                    raise each
            return list(reply)

        return await self._read(batched, stale_ok)

    async def read(self, op: Callable[[Redis], Awaitable[T]], *, stale_ok: bool = False) -> T:
        """`op` with a client of the master (or of a replica, as for `call`), retried through
        failovers. For what `call` and `transaction` do not send, such as a client's own methods."""
        return await self._read(lambda link: op(link.client), stale_ok)

    async def _read(self, op: Callable[[Link], Awaitable[T]], stale_ok: bool) -> T:
        if stale_ok and self.config.read_from == "replica_preferred":
            served, result = await self._replicas.run(op)
            if served:
                return result  # type: ignore[return-value]
        return await self._on_master(op, None)

    async def _on_master(
        self, op: Callable[[Link], Awaitable[T]], within: float | None, since: float | None = None
    ) -> T:
        return await with_failover(
            self._master,
            op,
            within=within or self.config.failover_deadline,
            stats=self.stats,
            on_attempt=self.on_command,
            since=since,
        )

    # -- what it knows -------------------------------------------------------

    @property
    def master_address(self) -> Address | None:
        link = self._master.link
        return None if link is None else link.address

    @property
    def current_master(self) -> tuple[Address, Redis] | None:
        """The master in use now and its client, to look at it (INFO); None before the first
        request or `start`'s first switch."""
        link = self._master.link
        return None if link is None else (link.address, link.client)

    @property
    def sentinel_clients(self) -> list[tuple[Address, Redis]]:
        """The sentinels, the one that last answered first."""
        return list(self._discovery.sentinels)

    @property
    def listeners(self) -> list[ListenerState]:
        """Whether each sentinel's events are heard, and if not why."""
        return self._listener.states

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[SentinelEvent]]:
        """Sentinel's events as they are heard (each once), while in the `with` block."""
        queue: asyncio.Queue[SentinelEvent] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    # -- inside --------------------------------------------------------------

    def _connect(self, address: Address, sentinel: bool) -> Redis:
        c = self.config
        return connection.client(
            address,
            username=None if sentinel else c.username,
            password=c.sentinel_password if sentinel else c.password,
            tls_ca=c.tls_ca_file,
            socket_timeout=c.sentinel_timeout if sentinel else c.command_timeout,
            connect_timeout=c.sentinel_timeout if sentinel else c.connect_timeout,
            client_name=c.client_name,
        )

    def _link(self, address: Address, client: Redis) -> Link:
        acks = self.config.min_replica_acks
        wait = (acks, self.config.ack_timeout_ms) if acks else None
        return Link.make(address, client, wait=wait, on_batch=self.stats.count_batch)

    async def _watch(self) -> None:
        async for event in self._listener.events():
            logger.info(
                "sentinel %s %s", event.type, event.payload,
                extra={"sentinel_event": {"type": event.type, "payload": event.payload,
                                          "sentinel": event.sentinel}},
            )  # fmt: skip
            self.recent_events.append(event)
            for queue in self._subscribers:
                if queue.qsize() < SUBSCRIBER_QUEUE:
                    queue.put_nowait(event)
            if event.type == "+switch-master":
                await self._follow(event)

    async def _follow(self, event: SentinelEvent) -> None:
        try:
            switch = parse_switch_master(event.payload)
            if switch.master_name == self.config.master_name:
                await self._master.adopt(
                    switch.new, f"+switch-master from sentinel {event.sentinel}"
                )
        except Exception:  # the requests' own discovery still follows; keep listening
            logger.exception("could not follow %s %s", event.type, event.payload)
