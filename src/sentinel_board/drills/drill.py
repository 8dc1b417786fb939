"""What a scenario acts on: the topology, Sentinel's events, the faults it injected."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from dataclasses import dataclass, field

from sentinel_board.events import SentinelEvent
from sentinel_board.topology import Node, Topology, netns, process


class DrillTimeout(Exception):
    """Something a scenario waits for did not happen in time."""


@dataclass
class Drill:
    topology: Topology
    down_after: float  # seconds
    failover_deadline: float
    events: list[SentinelEvent] = field(default_factory=list)
    faults: list[tuple[float, str]] = field(default_factory=list)
    phases: dict[str, tuple[float, float]] = field(default_factory=dict)
    isolated: list[dict[str, object]] = field(default_factory=list)  # the lone writer's record

    async def kill(
        self, role: str, *, index: int = 1, sig: signal.Signals = signal.SIGKILL
    ) -> Node:
        node = await asyncio.to_thread(self.topology.kill, role, index, sig)
        self.faults.append((time.time(), f"{sig.name} {node.name} ({role})"))
        return node

    async def start(self, node: Node) -> None:
        await asyncio.to_thread(self.topology.start, node.name)
        self.faults.append((time.time(), f"start {node.name}"))

    async def cut(self, node: Node) -> None:
        await asyncio.to_thread(netns.cut, node)
        self.faults.append((time.time(), f"partition {node.name} (master)"))

    async def heal(self, node: Node) -> None:
        await asyncio.to_thread(netns.heal, node)
        self.faults.append((time.time(), f"heal {node.name}"))

    async def lone_writer(self, node: Node, seconds: float) -> None:
        """Keep one client writing to `node` from inside its namespace, for `seconds`."""
        out = node.dir / "lone-writer.jsonl"
        argv = [sys.executable, "-m", "sentinel_board.drills.lone_writer"]
        argv += [str(node.port), str(seconds), str(out)]
        pid = process.spawn(
            netns.wrap(node, argv),
            workdir=node.dir,
            pid_path=node.dir / "lone-writer.pid",
            log_path=node.dir / "lone-writer.log",
            env=self.topology.credentials.app_env() if self.topology.credentials else None,
        )
        await asyncio.to_thread(process.wait_gone, pid, seconds + 10)
        self.isolated = [json.loads(line) for line in out.read_text().splitlines()]

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

    async def role(self, node: Node, role: str, within: float = 30) -> None:
        deadline = time.monotonic() + within
        while await asyncio.to_thread(self.topology.role, node) != role:
            if time.monotonic() > deadline:
                raise DrillTimeout(f"{node.name} is not a {role} within {within:g} s")
            await asyncio.sleep(0.1)
