"""The endurance drill: one topology and one board for N faults in rotation, under load.

Each fault is injected, waited out (its Sentinel events), undone, and followed by recovery
before the next: every node running, one master with every replica in sync, every sentinel
agreeing. Then the checks every drill makes (nothing acknowledged lost, nothing stored
twice, the data nodes alike, a failover exactly when one is due, no 5xx but a 503 with
Retry-After, no request left without an answer) and the write window; then the board's and
Redis's resources are sampled (see `resources`). The faults, and what the drill looks at, go
through an `EnduranceTarget` (drills/endurance_target.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from sentinel_board.drills.endurance_target import EnduranceTarget
from sentinel_board.drills.ledger import Ledger, until
from sentinel_board.drills.options import EnduranceOptions
from sentinel_board.drills.resources import Sample, sample, verdicts
from sentinel_board.drills.runner import true_master
from sentinel_board.drills.workload import Record, Workload
from sentinel_board.ha import SentinelEvent, sentinel_events
from sentinel_board.store import retry_window
from sentinel_board.topology import TopologyError

ROTATION = ("master-kill", "master-hang", "replica-kill", "sentinel-kill", "partition")
FAILOVER = {"master-kill", "master-hang", "partition"}  # each must bring one +switch-master
EVENT_WITHIN = 30.0  # s: for a fault's Sentinel event
SETTLE_WITHIN = 60.0  # s: for recovery after a fault
REQUEST_TIMEOUT = 60.0
WARM_UP_ACKS = 20


class Timeout(Exception):
    """What a fault waits for did not happen in time."""


@dataclass
class FaultResult:
    number: int
    kind: str
    started_at: float
    seconds: float = 0.0  # from the fault to the end of its checks
    switches: int = 0  # failovers meanwhile: distinct +switch-master (old -> new master)
    switched: list[str] = field(default_factory=list)  # each report: when, who, payload
    write_window_s: float = 0.0  # the longest time without an acknowledged write
    lost: int = 0  # acknowledged before the check, and not stored (all so far)
    duplicates: int = 0  # stored twice (all so far)
    errors: dict[str, int] = field(default_factory=dict)  # failed requests by status
    server_errors: int = 0  # 5xx but a 503 with Retry-After
    unanswered: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failed


@dataclass
class EnduranceResult:
    options: EnduranceOptions
    faults: list[FaultResult] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    verdicts: list[tuple[str, bool, str]] = field(default_factory=list)  # what, held, figures
    attempted: int = 0
    acknowledged: int = 0
    partition: str | None = None  # why partitions were left out, if they were
    failed: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failed and all(f.passed for f in self.faults)


class Run:
    """One endurance run: the target, Sentinel's events as heard, the workload's record."""

    def __init__(self, target: EnduranceTarget, options: EnduranceOptions, record: Record) -> None:
        self.target = target
        self.options = options
        self.record = record
        self.events: list[SentinelEvent] = []

    async def _do(self, act: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(act, *args)

    async def _signal(self, role: str, sig: signal.Signals = signal.SIGKILL) -> str:
        """Signal whichever node has `role` now; its name."""
        node: str = await self._do(self.target.kill, role, 1, sig)
        return node

    async def event(self, kind: str, since: float, about: str = "") -> None:
        """Wait for a `kind` event heard after `since` whose payload mentions `about`."""

        async def heard() -> bool:
            return any(
                e.type == kind and e.received_at >= since and about in e.payload
                for e in self.events
            )

        if not await until(heard, EVENT_WITHIN):
            raise Timeout(f"no {kind} {about} within {EVENT_WITHIN:g} s".replace("  ", " "))

    async def master_kill(self, since: float) -> None:
        node = await self._signal("master")
        await self.event("+switch-master", since)
        await self._do(self.target.start, node)

    async def master_hang(self, since: float) -> None:
        await self._signal("master", signal.SIGSTOP)
        await self.event("+switch-master", since)
        await self._signal("master", signal.SIGCONT)

    async def replica_kill(self, since: float) -> None:
        node = await self._signal("replica")
        await self.event("+sdown", since, "slave")
        await self._do(self.target.start, node)

    async def sentinel_kill(self, since: float) -> None:
        node = await self._signal("sentinel")
        await self.event("+sdown", since, "sentinel")
        await self._do(self.target.start, node)

    async def partition(self, since: float) -> None:
        master = await self._do(true_master, self.target)
        if master is None:
            raise Timeout("no single master to cut off")
        await self._do(self.target.cut, master)
        try:
            await self.event("+switch-master", since)
        finally:
            await self._do(self.target.heal, master)


async def endure(
    target: EnduranceTarget,
    options: EnduranceOptions,
    progress: Callable[[FaultResult], None] | None = None,
) -> EnduranceResult:
    """`options.faults` faults on `target`, under load; `progress` is told of each."""
    result = EnduranceResult(options, partition=target.partition_unavailable())
    kinds = [k for k in ROTATION if k != "partition" or result.partition is None]
    # Connections kept however long they idle: each that closes opens again to any worker.
    limits = httpx.Limits(keepalive_expiry=None)
    async with httpx.AsyncClient(
        base_url=target.app_url, timeout=REQUEST_TIMEOUT, limits=limits
    ) as client:
        # Half the writers without an Idempotency-Key: the app's own dedup keys must expire.
        workload = Workload(client, pace=options.pace, keyless=2)
        run = Run(target, options, workload.record)

        async def listen() -> None:
            events = sentinel_events(target.sentinel_addresses, **target.sentinel_options)
            async for event in events:
                run.events.append(event)

        listener = asyncio.create_task(listen())
        ledger = Ledger(target)
        try:
            if not await until(_acked_at_least(run.record, WARM_UP_ACKS), 30):
                result.failed.append("the board did not take writes before the first fault")
            for number in range(1, options.faults + 1):
                kind = kinds[(number - 1) % len(kinds)]
                fault = await _fault(run, ledger, number, kind)
                result.faults.append(fault)
                result.samples.append(await sample(target, number))
                if progress is not None:
                    progress(fault)
        finally:
            try:
                record = await workload.stop()
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
    final: list[str] = []
    stored = await ledger.stored(final)
    result.attempted, result.acknowledged = len(record.attempted), len(record.acked)
    if stored is not None:
        lost = len(set(record.acked) - set(stored))
        duplicates = sum(n - 1 for n in stored.values() if n > 1)
        final += [f"{lost} acknowledged writes lost"] if lost else []
        final += [f"{duplicates} messages stored twice"] if duplicates else []
    result.failed += final
    # The lists and the probe; every client key; the app's own keys for the posts of its
    # retry window (with a few seconds for the sample's own lag).
    window = retry_window(options.failover_deadline) + 5
    bounds = [3 + record.keys_written(s.at, window) for s in result.samples]
    result.verdicts = verdicts(result.samples, bounds)
    result.failed += [f"{what}: {figures}" for what, held, figures in result.verdicts if not held]
    return result


def _acked_at_least(
    record: Record, count: int, since: float = 0.0
) -> Callable[[], Awaitable[bool]]:
    async def enough() -> bool:
        return len(record.ack_times(since=since)) >= count

    return enough


async def _fault(run: Run, ledger: Ledger, number: int, kind: str) -> FaultResult:
    target, record = run.target, run.record
    started = time.time()
    fault = FaultResult(number, kind, started)
    act: Callable[[float], Awaitable[None]] = getattr(run, kind.replace("-", "_"))
    try:
        await act(started)
    except (Timeout, TopologyError) as error:
        fault.failed.append(str(error))

    async def settled() -> bool:
        return await asyncio.to_thread(target.unsettled) is None

    if not await until(settled, SETTLE_WITHIN):
        why = await asyncio.to_thread(target.unsettled)
        fault.failed.append(f"not recovered within {SETTLE_WITHIN:g} s: {why}")
    recovered = time.time()
    if not await until(_acked_at_least(record, 5, since=recovered), 30):
        fault.failed.append("writes did not resume within 30 s of recovery")
    checked_at = time.time()
    stored = await ledger.stored(fault.failed)
    if stored is not None:
        fault.lost = len({m for m, t in record.acked.items() if t < checked_at} - set(stored))
        fault.duplicates = sum(n - 1 for n in stored.values() if n > 1)
    fault.seconds = time.time() - started
    _judge(run, fault, checked_at)
    return fault


def _judge(run: Run, fault: FaultResult, until_: float) -> None:
    record, started = run.record, fault.started_at
    # Every sentinel reports a switch; one that learns it late (its next hello, two seconds
    # or more on a loaded machine) reports it again past the listener's folding window.
    reports = [
        e for e in run.events if e.type == "+switch-master" and started <= e.received_at <= until_
    ]
    fault.switched = [f"{e.received_at - started:.2f} s {e.sentinel}: {e.payload}" for e in reports]
    fault.switches = len({e.payload for e in reports})
    fault.write_window_s = record.longest_gap(record.ack_times(since=started - 1, until=until_))
    answers = [s for s in record.samples if started <= s.at <= until_]
    failed = [s for s in answers if not s.ok]
    fault.errors = {str(k): v for k, v in sorted(Counter(s.status for s in failed).items())}
    fault.server_errors = sum(s.server_error for s in answers)
    fault.unanswered = sum(s.status == 0 for s in answers)
    expected = 1 if fault.kind in FAILOVER else 0
    problems = fault.failed
    if fault.switches != expected:
        problems.append(f"{fault.switches} failovers (+switch-master), {expected} expected")
    if fault.lost:
        problems.append(f"{fault.lost} acknowledged writes lost")
    if fault.duplicates:
        problems.append(f"{fault.duplicates} messages stored twice")
    if fault.server_errors:
        problems.append(f"{fault.server_errors} answers were a 5xx but a 503 with Retry-After")
    if fault.unanswered:
        problems.append(f"{fault.unanswered} requests got no answer")
    if not expected and failed:
        problems.append(f"requests failed where nothing may: {fault.errors}")
