from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    MasterDownError,
    NoPermissionError,
    NoScriptError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sentinel_board.batching import Batcher
from sentinel_board.config import Address, Settings, format_address, tls_options
from sentinel_board.events import SentinelEvent, parse_switch_master, sentinel_events

T = TypeVar("T")
logger = logging.getLogger("sentinel_board.redis_ha")


class Unavailable(Exception):
    """No master could serve the request within the failover deadline."""

    def __init__(self, reason: str, retry_after: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class NotReplicated(Unavailable):
    """The master took the write but too few replicas confirmed it in time."""


class MasterNotFound(Unavailable):
    """No sentinel named a master that answers ROLE as a master."""


class NoFailoverPossible(Unavailable):
    """No master, and too few sentinels answer to ever elect one: waiting cannot help."""


class CredentialsRefused(Unavailable):
    """Redis or a sentinel refused the app's credentials or a command: waiting cannot help."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, retry_after=30)  # until an operator fixes a setting or an ACL


DATA_CREDENTIALS = "SENTINEL_BOARD_REDIS_USERNAME and SENTINEL_BOARD_REDIS_PASSWORD"


def refusal(error: AuthenticationError | NoPermissionError, where: str) -> CredentialsRefused:
    """What to tell the user: which setting to check. Redis's own text names no secret."""
    if isinstance(error, NoPermissionError):
        return CredentialsRefused(
            f"{where} refused a command to the app's user ({error}): its ACL must allow the "
            "commands and keys listed in the README's Security section"
        )
    return CredentialsRefused(f"{where} refused {DATA_CREDENTIALS} ({describe(error)})")


@dataclass(frozen=True)
class Script:
    body: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.body.encode()).hexdigest())


@dataclass
class HAStats:
    retries: int = 0
    failovers_followed: int = 0
    unavailable: int = 0
    batches: int = 0  # pipelines sent by the batchers
    batched_commands: int = 0

    def count_batch(self, commands: int) -> None:
        self.batches += 1
        self.batched_commands += commands


def _no_retry() -> Retry:
    # Retrying inside one command can reconnect to a dead master's address
    # (redis/redis-py#3874); every retry here goes through a fresh discovery.
    return Retry(NoBackoff(), 0)


def _transient(error: Exception) -> bool:
    if isinstance(error, RedisConnectionError | RedisTimeoutError | OSError | asyncio.TimeoutError):
        return True
    if isinstance(error, ReadOnlyError | BusyLoadingError | MasterDownError):
        return True
    # NOREPLICAS: a new master before its replicas re-attach. A demoted master refuses WAIT,
    # and a WAIT blocked on it when it was demoted ends with UNBLOCKED.
    return isinstance(error, ResponseError) and str(error).startswith(
        ("NOREPLICAS", "WAIT cannot be used with replica", "UNBLOCKED")
    )


async def command(client: Redis, *args: str | int) -> Any:
    """A raw command; redis-py leaves execute_command untyped."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


def text_fields(entry: Any) -> dict[str, str]:
    """A SENTINEL MASTER or REPLICAS entry: redis-py may pair it into a dict already."""
    pairs = entry.items() if isinstance(entry, dict) else zip(entry[::2], entry[1::2], strict=False)
    return {as_text(k): as_text(v) for k, v in pairs}


def as_text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class RedisHA:
    """The master of a Sentinel-monitored set, found and followed through failovers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stats = HAStats()
        self._sentinels: list[tuple[Address, Redis]] = [
            (address, self._client(address, sentinel=True)) for address in settings.sentinels
        ]
        self._master: Redis | None = None
        self._master_address: Address | None = None
        self._generation = 0
        self._discovered_at = 0.0
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._replica: Redis | None = None
        self._replica_asked_at = 0.0
        self.on_command: Callable[[float], None] | None = None  # seconds one attempt took
        self.recent_events: collections.deque[SentinelEvent] = collections.deque(maxlen=100)
        self._subscribers: set[asyncio.Queue[SentinelEvent]] = set()
        self._batchers: weakref.WeakKeyDictionary[Redis, tuple[Batcher, Batcher]] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def master_address(self) -> Address | None:
        return self._master_address

    @property
    def sentinel_clients(self) -> list[tuple[Address, Redis]]:
        """The sentinels, the one that last answered first."""
        return list(self._sentinels)

    @property
    def current_master(self) -> tuple[Address, Redis] | None:
        if self._master is None or self._master_address is None:
            return None
        return self._master_address, self._master

    def _client(self, address: Address, *, sentinel: bool = False) -> Redis:
        s = self.settings
        password = s.sentinel_password if sentinel else s.redis_password
        timeout = s.sentinel_timeout if sentinel else s.socket_timeout + s.ack_timeout_ms / 1000
        return Redis(
            host=address[0],
            port=address[1],
            username=None if sentinel else s.redis_username,
            password=password.get_secret_value() if password else None,
            **tls_options(s.tls_ca_file),
            socket_timeout=timeout,
            socket_connect_timeout=s.sentinel_timeout if sentinel else s.connect_timeout,
            retry=_no_retry(),
            client_name="sentinel-board",
        )

    def follow_switch_master(self) -> None:
        """Listen to every sentinel and switch at +switch-master, not at the next error."""
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch_sentinels())

    async def _watch_sentinels(self) -> None:
        password = self.settings.sentinel_password
        events = sentinel_events(
            self.settings.sentinels,
            password=password.get_secret_value() if password else None,
            tls_ca=self.settings.tls_ca_file,
        )
        async for event in events:
            logger.info(
                "sentinel %s %s", event.type, event.payload,
                extra={"sentinel_event": {"type": event.type, "payload": event.payload,
                                          "sentinel": event.sentinel}},
            )  # fmt: skip
            self.recent_events.append(event)
            for queue in self._subscribers:
                if queue.qsize() < 1000:  # a reader that does not read loses events, not memory
                    queue.put_nowait(event)
            if event.type != "+switch-master":
                continue
            try:
                switch = parse_switch_master(event.payload)
                if switch.master_name == self.settings.master_name:
                    await self._adopt(switch.new, f"+switch-master from sentinel {event.sentinel}")
            except Exception:  # the requests' own discovery still follows; keep listening
                logger.exception("could not follow %s %s", event.type, event.payload)

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[SentinelEvent]]:
        """Notification: Sentinel's events as the board hears them, each once."""
        queue: asyncio.Queue[SentinelEvent] = asyncio.Queue()
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    async def _adopt(self, address: Address, reason: str) -> None:
        async with self._lock:
            if address == self._master_address:
                return
            client, _ = await self._confirmed_master(address)
            if client is not None:  # else not yet, or not any more: discovery will decide
                await self._switch(address, client, reason)

    async def _confirmed_master(self, address: Address) -> tuple[Redis | None, str]:
        """A client of `address` if it answers ROLE as a master, else why not.

        The current master's client is reused; a new one is closed when refused.
        """
        client = self._master if address == self._master_address else self._client(address)
        assert client is not None
        try:
            role = await command(client, "ROLE")
            problem = "" if role[0] == b"master" else f"answers ROLE {as_text(role[0])}"
        except (AuthenticationError, NoPermissionError) as error:
            if client is not self._master:
                await client.aclose()
            raise refusal(error, f"master {format_address(address)}") from None
        except (TimeoutError, RedisError, OSError) as error:
            problem = describe(error)
        if not problem:
            return client, ""
        if client is not self._master:
            await client.aclose()
        return None, problem

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
        for client in (self._master, self._replica):
            if client is not None:
                await client.aclose()
        for _, client in self._sentinels:
            await client.aclose()

    async def read(self, op: Callable[[Redis], Awaitable[T]], *, stale_ok: bool = False) -> T:
        """On the master; with read_from=replica_preferred and `stale_ok`, on a replica first."""
        if stale_ok and self.settings.read_from == "replica_preferred":
            failed: set[Address] = set()
            # A replica being re-pointed by Sentinel drops its clients: try another one.
            for _ in range(2):
                replica = await self._current_replica(avoid=failed, now=bool(failed))
                if replica is None:
                    break
                try:
                    return await op(replica)
                except (TimeoutError, RedisError, OSError) as error:
                    logger.info("replica read failed (%s)", describe(error))
                    kwargs = replica.connection_pool.connection_kwargs
                    failed.add((kwargs["host"], kwargs["port"]))
                    self._replica = None
                    await replica.aclose()
        return await self._with_failover(op)

    async def call(self, *command: str | int, stale_ok: bool = False) -> Any:
        """One command, sent together with those of concurrent requests (see `batching`)."""

        async def batched(client: Redis) -> Any:
            reply, _ = await self._batchers_of(client)[0].submit(*command)
            if isinstance(reply, Exception):
                raise reply
            return reply

        return await self.read(batched, stale_ok=stale_ok)

    def _batchers_of(self, client: Redis) -> tuple[Batcher, Batcher]:
        """The client's batchers: for reads, and for writes (each batch ends with a WAIT)."""
        if (batchers := self._batchers.get(client)) is None:
            acks = self.settings.min_replica_acks
            wait = (acks, self.settings.ack_timeout_ms) if acks else None
            count = self.stats.count_batch
            batchers = self._batchers[client] = (
                Batcher(client, on_batch=count),
                Batcher(client, wait=wait, on_batch=count),
            )
        return batchers

    async def _current_replica(
        self, avoid: set[Address] | None = None, now: bool = False
    ) -> Redis | None:
        """A replica the sentinels see up; asked for at most twice a second."""
        recently = time.monotonic() - self._replica_asked_at < 0.5
        if self._replica is not None or (recently and not now):
            return self._replica
        self._replica_asked_at = time.monotonic()
        for _, sentinel in self._sentinels:
            try:
                replicas = await command(
                    sentinel, "SENTINEL", "REPLICAS", self.settings.master_name
                )
            except (TimeoutError, RedisError, OSError):
                continue
            # Up replicas, those in sync first. While the master is down every replica's link
            # is down too, yet it still answers, stale by the failover's length at most.
            entries = [e for e in map(text_fields, replicas or []) if e.get("flags") == "slave"]
            entries.sort(key=lambda e: e.get("master-link-status") != "ok")
            for entry in entries:
                address = (entry["ip"], int(entry["port"]))
                if address not in (avoid or set()):
                    self._replica = self._client(address)
                    return self._replica
            return None
        return None

    async def write(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[str | int],
        *,
        deadline: float | None = None,
    ) -> Any:
        """Run a Lua script on the master, then WAIT for replicas, in one round trip shared
        with the writes of concurrent requests (see `batching`)."""
        s = self.settings

        async def attempt(client: Redis) -> Any:
            batcher = self._batchers_of(client)[1]
            result, acks = await batcher.submit("EVALSHA", script.sha, len(keys), *keys, *args)
            if isinstance(result, NoScriptError):  # a new or restarted master: send the body
                result, acks = await self._eval_then_wait(client, script, keys, args)
            acks = acks or 0
            for reply in (result, acks):
                if isinstance(reply, Exception):
                    raise reply
            if acks < s.min_replica_acks:
                raise NotReplicated(
                    f"the write reached the master but {acks} of {s.min_replica_acks} replicas "
                    f"confirmed it within {s.ack_timeout_ms} ms"
                )
            return result

        return await self._with_failover(attempt, deadline)

    async def _eval_then_wait(
        self, client: Redis, script: Script, keys: Sequence[str], args: Sequence[str | int]
    ) -> tuple[Any, Any]:
        """The script's reply and WAIT's (a count, or an error) from one round trip."""
        acks = self.settings.min_replica_acks
        pipe = client.pipeline(transaction=False)
        pipe.execute_command("EVAL", script.body, len(keys), *keys, *args)
        if acks:
            pipe.execute_command("WAIT", acks, self.settings.ack_timeout_ms)
        replies = await pipe.execute(raise_on_error=False)
        return replies[0], replies[1] if acks else 0

    async def _with_failover(
        self, op: Callable[[Redis], Awaitable[T]], within: float | None = None
    ) -> T:
        within = within or self.settings.failover_deadline
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        delay = 0.02
        last_error: str | None = None
        while True:
            generation = self._generation
            try:
                if self._master is None or last_error is not None:
                    await self._rediscover(generation, last_error or "first use")
                assert self._master is not None
                started = time.perf_counter()
                result = await op(self._master)
                if self.on_command is not None:
                    self.on_command(time.perf_counter() - started)
                return result
            except Unavailable as error:
                if not isinstance(error, NotReplicated | MasterNotFound):
                    raise
                last_error = error.reason
            except (AuthenticationError, NoPermissionError) as error:
                self.stats.unavailable += 1
                where = self._master_address and format_address(self._master_address)
                raise refusal(error, f"master {where}") from None
            except (TimeoutError, RedisError, OSError) as error:
                # Whatever a master we have since left answered, the new one may not.
                if not _transient(error) and self._generation == generation:
                    raise
                last_error = describe(error)
            if loop.time() + delay > deadline:
                self.stats.unavailable += 1
                raise Unavailable(
                    f"no master served the request within {within:g} s (last error: {last_error})",
                    retry_after=max(1, round(within / 5)),
                )
            self.stats.retries += 1
            # A +switch-master wakes every waiting request at once.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), delay)
            delay = min(delay * 2, 0.1)

    async def _rediscover(self, seen_generation: int, reason: str) -> None:
        async with self._lock:
            recently = time.monotonic() - self._discovered_at < 0.05
            if self._master is not None and (self._generation != seen_generation or recently):
                return
            address, client = await self._discover()
            self._discovered_at = time.monotonic()
            if client is self._master:
                self._generation += 1
                return
            await self._switch(address, client, reason)

    async def _switch(self, address: Address, client: Redis, reason: str) -> None:
        """Make `client` the master's (the lock is held); wake the requests that wait."""
        old, old_address = self._master, self._master_address
        self._master, self._master_address = client, address
        self._generation += 1
        self._changed.set()
        self._changed = asyncio.Event()
        if old is None:
            logger.info("master of %r is %s", self.settings.master_name, format_address(address))
            return
        self.stats.failovers_followed += 1
        old_text = format_address(old_address) if old_address else "?"
        logger.warning(
            "following failover: master %s -> %s (%s)",
            old_text,
            format_address(address),
            reason,
            extra={"failover": {"old": old_text, "new": format_address(address), "why": reason}},
        )
        await old.aclose()

    async def _discover(self) -> tuple[Address, Redis]:
        """Ask the sentinels in turn; trust an answer only once ROLE confirms it."""
        problems: list[str] = []
        silent = 0
        refused: list[str] = []
        for index, (sentinel_address, sentinel) in enumerate(self._sentinels):
            where = format_address(sentinel_address)
            try:
                reply = await command(
                    sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.settings.master_name
                )
            except (AuthenticationError, NoPermissionError) as error:
                refused.append(f"{where}: {describe(error)}")
                continue
            except (TimeoutError, RedisError, OSError) as error:
                problems.append(f"sentinel {where}: {describe(error)}")
                silent += 1
                continue
            if not reply:
                problems.append(f"sentinel {where} does not know {self.settings.master_name!r}")
                continue
            address = (as_text(reply[0]), int(reply[1]))
            client, problem = await self._confirmed_master(address)
            if client is None:
                problems.append(f"master {format_address(address)}: {problem}")
                continue
            if index:
                self._sentinels.insert(0, self._sentinels.pop(index))
            return address, client
        if refused:  # a wrong password is not a failover: say so at once
            raise CredentialsRefused(
                f"sentinel {'; '.join(refused)}: check SENTINEL_BOARD_SENTINEL_PASSWORD"
            )
        reasons = "; ".join(dict.fromkeys(problems)) or "no sentinels configured"
        total = len(self._sentinels)
        answered = total - silent
        if answered <= total // 2:
            raise NoFailoverPossible(
                f"only {answered} of {total} sentinels answer, and a failover needs a majority "
                f"of them ({reasons})",
                retry_after=2,
            )
        raise MasterNotFound(reasons)
