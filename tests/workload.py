"""Concurrent HTTP writers and readers, keeping the record a failover test checks."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from dataclasses import dataclass, field

import httpx


@dataclass
class Record:
    acked: dict[str, float] = field(default_factory=dict)  # message -> when acknowledged
    statuses: list[int] = field(default_factory=list)
    failed_reads: int = 0
    reads: int = 0

    def longest_gap(self, since: float) -> float:
        times = sorted(t for t in self.acked.values() if t >= since)
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)

    def acked_after(self, moment: float) -> int:
        return sum(1 for t in self.acked.values() if t > moment)


async def write(client: httpx.AsyncClient, record: Record, name: str, stop: asyncio.Event) -> None:
    """Post unique messages; retry each with its key until acknowledged, as the API says."""
    n = 0
    while not stop.is_set():
        text, key = f"{name}-{n}", str(uuid.uuid4())
        while True:
            try:
                response = await client.post(
                    "/api/messages", json={"message": text}, headers={"Idempotency-Key": key}
                )
            except httpx.TransportError:
                record.statuses.append(0)
                continue
            record.statuses.append(response.status_code)
            if response.status_code == 201:
                record.acked[text] = time.monotonic()
                break
            assert response.status_code == 503, response.text
            if stop.is_set():
                return
            await asyncio.sleep(0.05)
        n += 1
        await asyncio.sleep(0.005)


async def read(client: httpx.AsyncClient, record: Record, stop: asyncio.Event) -> None:
    while not stop.is_set():
        response = await client.get("/api/unread-list/size")
        record.reads += 1
        if response.status_code != 200:
            record.failed_reads += 1
        await asyncio.sleep(0.01)
