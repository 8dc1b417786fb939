"""What a scenario acts on: the target's nodes, Sentinel's events, the faults it injected."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field

from sentinel_board.drills.targets import Target
from sentinel_board.ha import SentinelEvent


class DrillTimeout(Exception):
    """Something a scenario waits for did not happen in time."""


@dataclass
class Drill:
    target: Target
    down_after: float  # seconds
    failover_deadline: float
    events: list[SentinelEvent] = field(default_factory=list)
    faults: list[tuple[float, str]] = field(default_factory=list)
    phases: dict[str, tuple[float, float]] = field(default_factory=dict)
    isolated: list[dict[str, object]] = field(default_factory=list)  # the lone writer's record

    async def kill(self, role: str, *, index: int = 1, sig: signal.Signals = signal.SIGKILL) -> str:
        node = await asyncio.to_thread(self.target.kill, role, index, sig)
        self.faults.append((time.time(), f"{sig.name} {node} ({role})"))
        return node

    async def start(self, node: str) -> None:
        await asyncio.to_thread(self.target.start, node)
        self.faults.append((time.time(), f"start {node}"))

    async def cut(self, node: str) -> None:
        await asyncio.to_thread(self.target.cut, node)
        self.faults.append((time.time(), f"partition {node} (master)"))

    async def heal(self, node: str) -> None:
        await asyncio.to_thread(self.target.heal, node)
        self.faults.append((time.time(), f"heal {node}"))

    async def lone_writer(self, node: str, seconds: float) -> None:
        """Keep one client writing to `node` from where it is cut off with it, for `seconds`."""
        self.isolated = await asyncio.to_thread(self.target.lone_writer, node, seconds)

    async def pause(self, seconds: float) -> None:
        """The scenario's own pacing between two faults (not a wait for a condition)."""
        await asyncio.sleep(seconds)

    async def hold(self, phase: str, seconds: float) -> None:
        start = time.time()
        await asyncio.sleep(seconds)
        self.phases[phase] = (start, time.time())

    async def event(self, kind: str, *, after: float | None = None, within: float = 30) -> float:
        """When the first `kind` event came after `after` (default: the last fault)."""
        since = after if after is not None else self.faults[-1][0]
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for event in self.events:
                if event.type == kind and event.received_at >= since:
                    return event.received_at
            await asyncio.sleep(0.02)
        raise DrillTimeout(f"no {kind} within {within:g} s")

    async def role(self, node: str, role: str, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while await asyncio.to_thread(self.target.role, node) != role:
            if time.monotonic() > deadline:
                raise DrillTimeout(f"{node} is not a {role} within {within:g} s")
            await asyncio.sleep(0.1)
