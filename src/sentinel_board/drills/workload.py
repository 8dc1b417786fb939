"""Concurrent HTTP clients of the board, keeping the record a drill judges."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Literal

import httpx

Kind = Literal["write", "read", "flush"]
RETRY_PAUSE = 0.05


@dataclass(frozen=True)
class Sample:
    at: float  # wall clock, to line up with Sentinel's events
    kind: Kind
    status: int  # 0: no answer
    latency: float
    retry_after: bool = False  # the answer said when to retry (Retry-After)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def server_error(self) -> bool:
        """A 5xx, but a 503 with Retry-After: the board's way of saying "wait"."""
        return self.status >= 500 and not (self.status == 503 and self.retry_after)


@dataclass
class Record:
    samples: list[Sample] = field(default_factory=list)
    attempted: set[str] = field(default_factory=set)
    acked: dict[str, float] = field(default_factory=dict)  # message -> when acknowledged
    keyed: list[float] = field(default_factory=list)  # when each message with a key was posted
    keyless: list[float] = field(default_factory=list)  # ... each without one

    def keys_written(self, at: float, window: float) -> int:
        """The dedup keys the posts made until `at` may still hold, at most: every client key
        (kept a day), and one of the app's own for each post of the last `window` seconds (it
        makes one for each group of posts it sends as one, so fewer)."""
        return sum(t <= at for t in self.keyed) + sum(at - window <= t <= at for t in self.keyless)

    def ack_times(self, since: float = 0.0, until: float = float("inf")) -> list[float]:
        return sorted(t for t in self.acked.values() if since <= t <= until)

    def longest_gap(self, times: list[float]) -> float:
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def ok_times(self, kind: Kind, since: float = 0.0) -> list[float]:
        return sorted(s.at for s in self.samples if s.kind == kind and s.at >= since and s.ok)

    def server_errors(self) -> int:
        return sum(sample.server_error for sample in self.samples)

    def unanswered(self) -> int:
        return sum(sample.status == 0 for sample in self.samples)

    def errors(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for sample in self.samples:
            if not sample.ok:
                counts[sample.status] = counts.get(sample.status, 0) + 1
        return counts


async def _request(
    client: httpx.AsyncClient, record: Record, kind: Kind, method: str, url: str, **options: object
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **options)  # type: ignore[arg-type]
    except httpx.TransportError:
        response = None
    status = response.status_code if response is not None else 0
    retry_after = response is not None and "retry-after" in response.headers
    latency = time.perf_counter() - started
    record.samples.append(Sample(time.time(), kind, status, latency, retry_after))
    return response


async def write(
    client: httpx.AsyncClient,
    record: Record,
    name: str,
    stop: asyncio.Event,
    pace: float = 0.0,
    keyed: bool = True,
) -> None:
    """Post unique messages, `pace` seconds apart. `keyed`: each with an Idempotency-Key,
    retried until acknowledged, as the API says; else without one, posted once (a retry
    without a key could store it twice: the board retries on its own until its deadline)."""
    for n in itertools.count():
        if stop.is_set():
            return
        if n and pace:
            await asyncio.sleep(pace)
        text = f"{name}-{n}"
        headers = {"Idempotency-Key": str(uuid.uuid4())} if keyed else {}
        record.attempted.add(text)
        (record.keyed if keyed else record.keyless).append(time.time())
        while not stop.is_set():
            response = await _request(
                client, record, "write", "POST", "/api/messages",
                json={"message": text}, headers=headers,
            )  # fmt: skip
            if response is not None and response.status_code == 201:
                record.acked[text] = time.time()
                break
            if not keyed or (response is not None and response.status_code not in (502, 503, 504)):
                break  # no key to retry with; or not a failover: the same answer again
            await asyncio.sleep(RETRY_PAUSE)


async def read(client: httpx.AsyncClient, record: Record, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await _request(client, record, "read", "GET", "/api/unread-list/size")
        await asyncio.sleep(0.02)


async def flush(client: httpx.AsyncClient, record: Record, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await _request(client, record, "flush", "POST", "/api/messages/flush")
        await asyncio.sleep(0.5)


class Workload:
    """Writers, readers and a flusher against one board, until stopped."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        writers: int = 4,
        readers: int = 2,
        prefix: str = "w",
        pace: float = 0.0,
        keyless: int = 0,
    ) -> None:
        """`prefix` starts every message, so that workloads on one board tell theirs apart;
        `pace`: each writer's pause between two messages (0: none, as fast as it can);
        `keyless`: how many of the writers post without an Idempotency-Key."""
        self.record = Record()
        self._stop = asyncio.Event()
        r, stop = self.record, self._stop
        self._tasks = [
            *(
                asyncio.create_task(write(client, r, f"{prefix}{i}", stop, pace, i >= keyless))
                for i in range(writers)
            ),
            *(asyncio.create_task(read(client, r, stop)) for _ in range(readers)),
            asyncio.create_task(flush(client, r, stop)),
        ]

    async def stop(self) -> Record:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.record
