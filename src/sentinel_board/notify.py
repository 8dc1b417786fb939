"""Notification: each Sentinel event of interest POSTed to webhooks, once across all workers.

Every worker hears every sentinel. Before sending, a worker claims the event in Redis
(SET NX, replicated with WAIT like any write); only the claim's winner sends it. While no
master exists the claim waits for the failover, so events are sent once it completes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import SecretStr

from sentinel_board import __version__
from sentinel_board.ha import RedisHA, Script, SentinelEvent, Unavailable
from sentinel_board.ha.connection import as_text
from sentinel_board.ha.events import concerns
from sentinel_board.keys import Keys

logger = logging.getLogger("sentinel_board.notify")

# KEYS: the claim key. ARGV: this claim's id, how long it holds (ms). Returns the winner's id.
CLAIM = Script("""
redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
return redis.call('GET', KEYS[1])
""")

QUEUE_LIMIT = 1000
BACKOFF = 0.5  # seconds before the second attempt; doubled each time, at most MAX_BACKOFF
MAX_BACKOFF = 30.0
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass
class NotifyStats:
    heard: int = 0  # events of interest
    claimed: int = 0  # won here
    sent: int = 0  # deliveries that a receiver took
    retried: int = 0
    failed: int = 0  # given up after every attempt, or refused by the receiver
    claimed_elsewhere: int = 0
    unclaimed: int = 0  # sent without a claim: no master for a whole failover deadline
    dropped: int = 0


@dataclass(frozen=True)
class Delivery:
    id: str
    type: str
    body: bytes


def event_id(event: SentinelEvent) -> str:
    """The same for every worker that hears the event, from whichever sentinel: its type and
    the instance it is about, not the details each sentinel adds (`+odown master mymaster
    10.0.0.1 6379 #quorum 2/2`, and `#quorum 3/2` from a sentinel that counted later)."""
    return hashlib.sha256(f"{event.type}\n{_about(event.payload)}".encode()).hexdigest()[:32]


def _about(payload: str) -> str:
    """`<master|slave|sentinel> <name> <ip> <port>`, and `@ <master> <ip> <port>` when it is
    not a master, as Sentinel begins an event about an instance; any other payload whole."""
    words = payload.split()
    if len(words) < 4 or words[0] not in ("master", "slave", "sentinel"):
        return payload
    return " ".join(words[:8] if words[4:5] == ["@"] else words[:4])


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the HMAC of `<timestamp>.<body>`: a replayed old body fails the check."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, tolerance: float = 300
) -> bool:
    """What a receiver checks: the signature, and a timestamp within `tolerance` seconds."""
    try:
        fresh = abs(time.time() - int(timestamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(sign(secret, timestamp, body), signature)


# The Sentinel events notified unless SENTINEL_BOARD_WEBHOOK_EVENTS says otherwise.
NOTIFIED_EVENTS = (
    "+sdown", "-sdown", "+odown", "-odown", "+try-failover", "+elected-leader",
    "+promoted-slave", "+switch-master", "+failover-end", "+failover-end-for-timeout",
    "-failover-abort-not-elected", "-failover-abort-no-good-slave", "+convert-to-slave",
    "+reboot", "+tilt", "-tilt",
)  # fmt: skip


class NotifierSettings(Protocol):
    """What the notifier reads of the settings (config.Settings has it all)."""

    @property
    def webhooks(self) -> Sequence[str]: ...
    @property
    def webhook_events(self) -> Sequence[str]: ...
    @property
    def webhook_timeout(self) -> float: ...
    @property
    def webhook_attempts(self) -> int: ...
    @property
    def webhook_dedup_seconds(self) -> int: ...
    @property
    def webhook_secret(self) -> SecretStr | None: ...
    @property
    def master_name(self) -> str: ...
    @property
    def key_prefix(self) -> str: ...
    @property
    def failover_deadline(self) -> float: ...


def redact(url: str) -> str:
    """A webhook URL as logs show it: its path and query often carry a token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}/…"


class Notifier:
    def __init__(
        self,
        ha: RedisHA,
        settings: NotifierSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.ha = ha
        self.settings = settings
        self.stats = NotifyStats()
        self._events = frozenset(settings.webhook_events)
        self._client = httpx.AsyncClient(
            timeout=settings.webhook_timeout, transport=transport, follow_redirects=False
        )
        self._queues: dict[str, asyncio.Queue[Delivery]] = {
            url: asyncio.Queue(QUEUE_LIMIT) for url in settings.webhooks
        }
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._listen()))
        for url, queue in self._queues.items():
            self._tasks.append(asyncio.create_task(self._deliver_all(url, queue)))

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    async def _listen(self) -> None:
        with self.ha.subscribe() as queue:
            while True:
                event = await queue.get()
                if event.type in self._events:
                    self.stats.heard += 1
                    try:
                        await self.notify(event)
                    except Exception:  # one bad event must not end notification
                        logger.exception("could not notify %s %s", event.type, event.payload)

    async def notify(self, event: SentinelEvent) -> bool:
        """Claim the event; if this process won, queue it for every URL. In event order."""
        ident = event_id(event)
        claimed = await self._claim(ident)
        if claimed is None:
            self.stats.claimed_elsewhere += 1
            return False
        self.stats.claimed += claimed
        body = {
            "id": ident,
            "type": event.type,
            "payload": event.payload,
            "instance": concerns(event),
            "master_name": self.settings.master_name,
            "sentinel": event.sentinel,
            "time": datetime.fromtimestamp(event.received_at, UTC).isoformat(),
            "deduplicated": claimed,
        }
        delivery = Delivery(ident, event.type, json.dumps(body, ensure_ascii=False).encode())
        for url, queue in self._queues.items():
            try:
                queue.put_nowait(delivery)
            except asyncio.QueueFull:
                self.stats.dropped += 1
                logger.error("webhook %s: %d deliveries waiting, dropped %s", redact(url),
                             QUEUE_LIMIT, event.type)  # fmt: skip
        return True

    async def _claim(self, ident: str) -> bool | None:
        """True: this process sends it. None: another one does. False: no master to ask for
        a whole failover deadline, so it is sent anyway, marked not deduplicated."""
        key = Keys(self.settings.key_prefix).notify(ident)
        # One id per claim, not per process: a retried claim finds its own id and wins, while
        # the same event heard again later, even here, finds an older claim and loses.
        claim = uuid.uuid4().hex
        ttl_ms = self.settings.webhook_dedup_seconds * 1000
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.settings.failover_deadline
        while True:
            try:
                winner = await self.ha.write(CLAIM, [key], [claim, ttl_ms])
                return True if as_text(winner) == claim else None
            except Unavailable as error:
                if loop.time() >= give_up:
                    self.stats.unclaimed += 1
                    logger.warning("sending without deduplication: %s", error.reason)
                    return False
            await asyncio.sleep(0.5)  # no failover possible yet: ask the sentinels again

    async def _deliver_all(self, url: str, queue: asyncio.Queue[Delivery]) -> None:
        while True:
            await self._deliver(url, await queue.get())

    async def _deliver(self, url: str, delivery: Delivery) -> None:
        """POST with retries and backoff; in order, so one URL's outage delays only its own."""
        secret = self.settings.webhook_secret
        for attempt in range(1, self.settings.webhook_attempts + 1):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"sentinel-board/{__version__}",
                "X-Sentinel-Board-Event": delivery.type,
                "X-Sentinel-Board-Delivery": delivery.id,
                "X-Sentinel-Board-Timestamp": timestamp,
            }
            if secret is not None:
                headers["X-Sentinel-Board-Signature"] = sign(
                    secret.get_secret_value(), timestamp, delivery.body
                )
            wait = min(MAX_BACKOFF, BACKOFF * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
            try:
                response = await self._client.post(url, content=delivery.body, headers=headers)
            except httpx.HTTPError as error:
                problem = type(error).__name__
            else:
                if response.is_success:
                    self.stats.sent += 1
                    logger.info("webhook %s: sent %s", redact(url), delivery.type)
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUSES:
                    break
                with contextlib.suppress(ValueError):
                    wait = min(MAX_BACKOFF, float(response.headers.get("Retry-After", "")))
            if attempt == self.settings.webhook_attempts:
                break
            self.stats.retried += 1
            logger.info("webhook %s: %s (attempt %d), retrying in %.1f s",
                        redact(url), problem, attempt, wait)  # fmt: skip
            await asyncio.sleep(wait)
        self.stats.failed += 1
        logger.error("webhook %s: gave up on %s after %d attempts (%s)",
                     redact(url), delivery.type, attempt, problem)  # fmt: skip
