"""Every order of failures the drill knows, what each should do, and why."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sentinel_board.drills.drill import Drill

PAUSE = 2.0  # between two faults of one scenario


@dataclass(frozen=True)
class Scenario:
    name: str
    faults: str
    outcome: str
    why: str
    act: Callable[[Drill], Awaitable[None]]
    failover: bool  # a +switch-master must come
    clean: bool = False  # not one request may fail
    alone: bool = False  # a phase with one data node: no write may be acknowledged in it
    no_failover_phase: bool = False  # a phase where Sentinel cannot fail over
    partition: bool = False  # runs on network namespaces; a lone client writes to the master


async def master_kill(d: Drill) -> None:
    await d.kill("master")
    await d.event("+switch-master")


async def master_hang(d: Drill) -> None:
    frozen = await d.kill("master", sig=signal.SIGSTOP)
    await d.event("+switch-master")
    await d.kill("master", sig=signal.SIGCONT)
    await d.role(frozen, "replica")


async def replica_kill(d: Drill) -> None:
    await d.kill("replica")
    await d.event("+sdown")
    await d.pause(1)


async def alone_then_restore(d: Drill, *killed: str) -> None:
    await d.hold("alone", d.failover_deadline + 2)
    for node in killed:
        await d.start(node)


async def master_then_replica(d: Drill) -> None:
    master = await d.kill("master")
    await d.event("+switch-master")
    await d.pause(PAUSE)
    replica = await d.kill("replica")
    await alone_then_restore(d, master, replica)


async def replica_then_master(d: Drill) -> None:
    replica = await d.kill("replica")
    await d.pause(PAUSE)
    master = await d.kill("master")
    await d.event("+switch-master")
    await alone_then_restore(d, replica, master)


async def sentinel_minority(d: Drill) -> None:
    await d.kill("sentinel")
    await d.kill("master")
    await d.event("+switch-master")


async def sentinel_majority(d: Drill) -> None:
    first = await d.kill("sentinel")
    second = await d.kill("sentinel")
    await d.kill("master")
    await d.hold("no-failover", d.down_after * 3 + 2)
    await d.start(first)
    await d.start(second)
    await d.event("+switch-master", within=60)


async def old_master_returns(d: Drill) -> None:
    old = await d.kill("master")
    await d.event("+switch-master")
    await d.start(old)
    await d.role(old, "replica")


async def partition(d: Drill) -> None:
    master = await asyncio.to_thread(d.target.master_name) or d.target.data_nodes[0]
    lone = asyncio.create_task(d.lone_writer(master, d.down_after * 2 + 6))
    await d.pause(0.5)  # the lone client is writing before the cut
    await d.cut(master)
    await d.event("+switch-master")
    await lone
    await d.heal(master)
    await d.role(master, "replica", within=40)


SCENARIOS = {
    s.name: s
    for s in [
        Scenario(
            "master-kill", "SIGKILL the master",
            "a replica is promoted; the app follows",
            "The sentinels agree the master is down (quorum 2 of 3), elect a leader by majority "
            "and promote the replica with the most data; the app hears +switch-master.",
            master_kill, failover=True,
        ),
        Scenario(
            "master-hang", "SIGSTOP the master past down-after, then SIGCONT",
            "failover, then the old master rejoins as a replica",
            "A hung master looks dead to the sentinels. When it wakes, Sentinel demotes it; "
            "what it took while frozen was never acknowledged (no replica confirmed it).",
            master_hang, failover=True,
        ),
        Scenario(
            "replica-kill", "SIGKILL a replica",
            "nothing is interrupted",
            "The master keeps a replica to confirm writes (WAIT 1, min-replicas-to-write 1), "
            "so nobody waits; Sentinel only marks the dead replica down.",
            replica_kill, failover=False, clean=True,
        ),
        Scenario(
            "master-then-replica", "SIGKILL the master; after the failover, a replica",
            "failover, then reads go on and writes get 503 until a node returns",
            "The first fault fails over as usual. Then the new master has no replica: it takes "
            "no write that could be lost (min-replicas-to-write), so writes answer 503.",
            master_then_replica, failover=True, alone=True,
        ),
        Scenario(
            "replica-then-master", "SIGKILL a replica, then the master",
            "the last replica is promoted; reads go on, writes get 503 until a node returns",
            "Sentinel still has a majority and a replica to promote, so it fails over; the "
            "promoted node has no replica left, so writes wait for one (503 meanwhile).",
            replica_then_master, failover=True, alone=True,
        ),
        Scenario(
            "sentinel-minority", "SIGKILL one sentinel, then the master",
            "failover as usual",
            "Two of three sentinels are still a majority: they reach the quorum and can "
            "authorize a failover.",
            sentinel_minority, failover=True,
        ),
        Scenario(
            "sentinel-majority", "SIGKILL two sentinels, then the master; later restart them",
            "no failover while one sentinel is left; writes fail fast; recovery when they return",
            "One sentinel cannot reach the quorum nor win an election by majority, so no "
            "failover can happen; the app says so at once (503). Back to three, they fail over.",
            sentinel_majority, failover=True, no_failover_phase=True,
        ),
        Scenario(
            "old-master-returns", "SIGKILL the master; after the failover restart it",
            "the old master rejoins as a replica; nothing is wiped",
            "Sentinel remembers the old master as a replica and reconfigures it when it comes "
            "back; it resyncs from the new master and keeps no write of its own.",
            old_master_returns, failover=True,
        ),
        Scenario(
            "partition", "cut the master off the network; one client keeps writing to it; heal",
            "failover on the majority side; the isolated master acknowledges nothing; it rejoins",
            "The sentinels and replicas on the majority side fail over. The isolated master may "
            "take a write, but no replica can confirm it (WAIT), so it is never acknowledged; "
            "min-replicas-to-write stops it taking writes at all after max-lag; healed, Sentinel "
            "demotes it and its lone writes are dropped. Jepsen (2013) lost 56% here; we lose 0.",
            partition, failover=True, partition=True,
        ),
    ]
}  # fmt: skip
