"""One scenario, once: a target (a fresh local topology, or a compose project restored), the
board, a workload, the faults, the verdict."""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sentinel_board.drills.drill import Drill, DrillTimeout
from sentinel_board.drills.options import Options
from sentinel_board.drills.scenarios import Scenario
from sentinel_board.drills.targets import ComposeTarget, LocalTarget, Target
from sentinel_board.drills.workload import Record, Workload
from sentinel_board.ha import sentinel_events
from sentinel_board.topology import Topology, TopologySpec, netns, servers
from sentinel_board.topology.ports import free_ports

WARM_UP_ACKS = 20
REQUEST_TIMEOUT = 60.0
RESUME_WITHIN = 30.0


@dataclass
class Result:
    scenario: str
    repetition: int
    down_after_ms: int
    read_from: str
    server: str = ""  # what ran the nodes, as it says: "Redis 7.0.15"
    target: str = "local"  # local, or compose
    image: str = ""  # compose: the image the nodes ran
    attempted: int = 0
    acknowledged: int = 0
    lost: int = 0
    duplicates: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    server_errors: int = 0  # 5xx answers but a 503 with Retry-After
    unanswered: int = 0  # requests whose connection closed without an answer, or timed out
    write_gap_s: float = 0.0
    read_gap_s: float = 0.0
    fault_to_switch_s: float | None = None
    switch_to_first_ack_s: float | None = None
    nodes_identical: bool = False
    isolated_accepted: int | None = None  # partition: writes the cut-off master took
    isolated_acknowledged: int | None = None  # ... and a replica confirmed (must be 0)
    skipped: str | None = None
    failed: list[str] = field(default_factory=list)
    started_at: float = 0.0
    faults: list[tuple[float, str]] = field(default_factory=list)
    events: list[tuple[float, str, str]] = field(default_factory=list)
    acks: list[float] = field(default_factory=list)
    error_times: list[float] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def on(self) -> str:
        """Where it ran: `local Redis 7.0.15`."""
        return f"{self.target} {self.server}"

    def figures(self) -> dict[str, Any]:
        """Everything but the timeline, for tables and JSON."""
        skip = {"faults", "events", "acks", "error_times"}
        data = {k: v for k, v in self.__dict__.items() if k not in skip}
        data["passed"] = self.passed
        return data


def _messages(raw: list[str]) -> list[str]:
    return [json.loads(item)["message"] for item in raw]


def _converged(target: Target) -> bool:
    views = [target.lists(node) for node in target.data_nodes if target.is_alive(node)]
    return None not in views and all(view == views[0] for view in views)


async def _wait(predicate: Any, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return True
        await asyncio.sleep(0.1)
    return False


async def run(scenario: Scenario, repetition: int, options: Options, work_dir: Path) -> Result:
    """A run on a local topology of its own, stopped after."""
    server = servers.find(options.server)
    result = Result(
        scenario.name, repetition, options.down_after_ms, options.read_from, server.label
    )
    if scenario.partition and (why := netns.available()) is not None:
        result.skipped = f"skipped: {why} (run the drill as root)"
        return result
    *ports, app_port = free_ports(7)
    spec = TopologySpec(
        run_dir=work_dir / f"{scenario.name}-{repetition}",
        data_ports=tuple(ports[:3]),
        sentinel_ports=tuple(ports[3:]),
        app_port=app_port,
        down_after_ms=options.down_after_ms,
        extra_env={
            "SENTINEL_BOARD_READ_FROM": options.read_from,
            "SENTINEL_BOARD_FAILOVER_DEADLINE": str(options.failover_deadline),
        },
        netns_subnet=netns.free_subnet() if scenario.partition else None,
        server=server.path,
    )
    topology = await asyncio.to_thread(Topology.up, spec)
    drill = Drill(LocalTarget(topology), options.down_after_ms / 1000, options.failover_deadline)
    try:
        await _exercise(scenario, drill, result)
    finally:
        await asyncio.to_thread(topology.down)
    return result


async def run_on(
    scenario: Scenario, repetition: int, options: Options, target: ComposeTarget
) -> Result:
    """A run on a compose project that outlives it: every container back and linked first.
    `options` are the project's own (its down-after, the board's deadline and read_from)."""
    await asyncio.to_thread(target.restore)
    result = Result(
        scenario.name, repetition, options.down_after_ms, options.read_from, target.server,
        target="compose", image=target.image,
    )  # fmt: skip
    drill = Drill(target, options.down_after_ms / 1000, options.failover_deadline)
    await _exercise(scenario, drill, result)
    return result


async def _exercise(scenario: Scenario, drill: Drill, result: Result) -> None:
    target = drill.target

    async def listen() -> None:
        events = sentinel_events(target.sentinel_addresses, **target.sentinel_options)
        async for event in events:
            drill.events.append(event)

    listener = asyncio.create_task(listen())
    # Messages of this run only: a compose project keeps those of the runs before.
    prefix = f"{scenario.name}-{result.repetition}-{uuid.uuid4().hex[:6]}-w"
    async with httpx.AsyncClient(base_url=target.app_url, timeout=REQUEST_TIMEOUT) as client:
        workload = Workload(client, prefix=prefix)
        if not await _wait(lambda: len(workload.record.acked) >= WARM_UP_ACKS, 15):
            result.failed.append("the board did not take writes before the fault")
        result.started_at = time.time()
        try:
            await scenario.act(drill)
        except DrillTimeout as error:
            result.failed.append(str(error))
        acted = time.time()

        def resumed() -> bool:
            return len(workload.record.ack_times(since=max(acted, time.time() - 1))) >= 5

        if not await _wait(resumed, RESUME_WITHIN):
            result.failed.append(f"writes did not resume within {RESUME_WITHIN:g} s")
        record = await workload.stop()
    listener.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await listener
    result.nodes_identical = await _wait(lambda: _converged(target), 20)
    _judge(scenario, drill, record, result, prefix)


def true_master(target: Target) -> str | None:
    """The one live data node whose ROLE says master (sentinels may still be catching up)."""
    masters = [node for node in target.data_nodes if target.role(node) == "master"]
    return masters[0] if len(masters) == 1 else None


def _judge(scenario: Scenario, drill: Drill, record: Record, result: Result, prefix: str) -> None:
    target = drill.target
    master = true_master(target)
    stored = target.lists(master) if master else None
    everything = _messages(stored[0] + stored[1]) if stored else []
    messages = [message for message in everything if message.startswith(prefix)]
    start = result.started_at

    result.attempted = len(record.attempted)
    result.acknowledged = len(record.acked)
    result.lost = len(set(record.acked) - set(messages)) if stored else 0
    result.duplicates = sum(n - 1 for n in Counter(messages).values() if n > 1)
    result.errors = {str(k): v for k, v in sorted(record.errors().items())}
    result.server_errors = record.server_errors()
    result.unanswered = record.unanswered()
    result.write_gap_s = record.longest_gap(record.ack_times(since=start - 1))
    result.read_gap_s = record.longest_gap(record.ok_times("read", since=start - 1))
    result.faults = drill.faults
    result.events = [(e.received_at, e.type, e.payload) for e in drill.events]
    result.acks = record.ack_times()
    result.error_times = [s.at for s in record.samples if not s.ok]

    switches = [e.received_at for e in drill.events if e.type == "+switch-master"]
    master_fault = next((t for t, what in drill.faults if what.endswith("(master)")), start)
    if switches:
        result.fault_to_switch_s = switches[0] - master_fault
        after = [t for t in result.acks if t >= switches[0]]
        result.switch_to_first_ack_s = after[0] - switches[0] if after else None

    failed = result.failed
    if result.server_errors:
        failed.append(
            f"{result.server_errors} answers were a 5xx other than a 503 with Retry-After"
        )
    if result.unanswered:
        failed.append(
            f"{result.unanswered} requests got no answer (the connection closed, or "
            f"{REQUEST_TIMEOUT:g} s passed)"
        )
    if stored is None:
        failed.append("no single master to read the lists from at the end")
    if result.lost:
        failed.append(f"{result.lost} acknowledged writes lost")
    if result.duplicates:
        failed.append(f"{result.duplicates} messages stored twice")
    if not result.nodes_identical:
        failed.append("the data nodes did not end with identical lists")
    if scenario.failover and not switches:
        failed.append("no failover (+switch-master) happened")
    if not scenario.failover and switches:
        failed.append("a failover happened that should not have")
    if scenario.clean and result.errors:
        failed.append(f"requests failed: {result.errors}")
    if scenario.alone:
        begin, end = drill.phases["alone"]
        grace = 1.5  # writes a replica confirmed just before its death
        acked_alone = [t for t in result.acks if begin + grace <= t <= end]
        if acked_alone:
            failed.append(f"{len(acked_alone)} writes acknowledged with one data node")
        if not any(s.status == 503 and begin <= s.at <= end for s in record.samples):
            failed.append("no 503 while one data node was left")
        if not any(
            s.ok and s.kind == "read" and begin + grace <= s.at <= end for s in record.samples
        ):
            failed.append("reads stopped while one data node was left")
    if scenario.partition:
        _judge_partition(drill, set(everything), result)
    if scenario.no_failover_phase:
        begin, end = drill.phases["no-failover"]
        if any(begin <= t <= end for t in switches):
            failed.append("a failover happened without a majority of sentinels")
        late = [s.latency for s in record.samples if s.status == 503 and begin <= s.at <= end]
        if not late:
            failed.append("no 503 while no failover was possible")
        elif statistics.median(late) > 1.0:
            failed.append(f"503s were slow (median {statistics.median(late):.2f} s), not fast")


def _judge_partition(drill: Drill, stored: set[str], result: Result) -> None:
    cut = next(t for t, what in drill.faults if what.startswith("partition"))
    after_cut = [w for w in drill.isolated if float(str(w["at"])) > cut]
    result.isolated_accepted = sum(bool(w["accepted"]) for w in after_cut)
    result.isolated_acknowledged = sum(bool(w["acked"]) for w in after_cut)
    if not after_cut:
        result.failed.append("the lone client wrote nothing to the isolated master")
    if result.isolated_acknowledged:
        result.failed.append(
            f"the isolated master had {result.isolated_acknowledged} writes confirmed"
        )
    # Before the cut the lone client was an ordinary one: what it had confirmed must stay.
    if missing := {str(w["message"]) for w in drill.isolated if w["acked"]} - stored:
        result.failed.append(f"{len(missing)} writes the lone client had confirmed were lost")
