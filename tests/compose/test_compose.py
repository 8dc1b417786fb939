"""The seed's own deployment, Docker Compose, broken on purpose in real containers.

The tests share one project and run in order; each leaves it settled (every node up, the
sentinels agreeing, the replicas linked) for the next. Every write the workload had
acknowledged must be stored exactly once, on every data node, at the end of each.

Longer than 300 lines: the tests share that one project in their order, so they are one file.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from sentinel_board.compose import images
from sentinel_board.compose.engine import docker
from sentinel_board.compose.project import Project
from sentinel_board.drills.targets import ComposeTarget
from sentinel_board.drills.workload import Workload
from sentinel_board.topology import probe
from sentinel_board.topology.deploy import COMPOSE_DATA_HOSTS, COMPOSE_SENTINEL_HOSTS
from tests.compose.conftest import (
    DOWN_AFTER,
    assert_kept,
    config,
    in_container_netns,
    load,
    logged,
    settle,
    stored,
    switched_after,
    tilts,
)
from tests.helpers import wait_until, wait_until_async

pytestmark = [pytest.mark.failover, pytest.mark.timeout(900)]
# From the fault to Sentinel's +switch-master: its down-after, then about a second to agree,
# elect a leader, promote and see the promotion; 2 s more of margin on a loaded machine.
FAILOVER_WITHIN = DOWN_AFTER + 3


async def _become(project: Project, service: str, role: str, within: float = 60) -> None:
    async def has_role() -> bool:
        return await asyncio.to_thread(project.role, service) == role

    await wait_until_async(has_role, within, interval=0.2)


async def _master_changed(project: Project, old: str) -> str:
    async def named() -> str | None:
        master = await asyncio.to_thread(project.master)
        return master if master not in (None, old) else None

    await wait_until_async(named, 15, interval=0.1)
    new = await named()
    assert new is not None
    return new


async def _writes_after(workload: Workload, moment: float, within: float = 15) -> None:
    acked = workload.record.acked
    await wait_until_async(lambda: any(t > moment for t in acked.values()), within)


async def _fault_the_master(project: Project, verb: str) -> tuple[str, float, float]:
    """`docker <verb>` the master: which node it was, when, and how long until a sentinel
    logged +switch-master."""
    old = await asyncio.to_thread(project.master)
    assert old is not None
    at = time.time()
    await asyncio.to_thread(project.act, verb, old)
    return old, at, await asyncio.to_thread(switched_after, project, at)


async def _rewritten(project: Project, node: str, line: str) -> bool:
    return line in await asyncio.to_thread(config, project, node)


def _replicas(project: Project, master: str) -> list[str]:
    return [node for node in COMPOSE_DATA_HOSTS if node != master]


async def test_the_seeds_routes_answer_through_the_published_port(project: Project) -> None:
    async with httpx.AsyncClient(base_url=project.url, timeout=30) as client:
        index = await client.get("/")
        assert index.status_code == 200 and "unread" in index.text
        posted = await client.post("/message", data={"message": "hello from a container"})
        assert posted.status_code == 200 and "data-unread" in posted.text
        count = await client.get("/unread-list/size")
        assert count.status_code == 200 and count.text == posted.text
        page = await client.get("/messages")
        assert page.status_code == 200 and "hello from a container" in page.text
        assert (await client.post("/messages/flush")).status_code == 204
        lists = (await client.get("/api/messages")).json()
    assert "hello from a container" in [m["message"] for m in lists["read"]]
    assert "hello from a container" not in [m["message"] for m in lists["unread"]]


def test_no_password_in_any_environment_and_nothing_runs_as_root(project: Project) -> None:
    passwords = json.loads((project.out / "secrets.json").read_text()).values()
    containers = project.containers()
    assert set(containers) == {*COMPOSE_DATA_HOSTS, *COMPOSE_SENTINEL_HOSTS, "app"}
    for service, container in containers.items():
        inspected = docker("inspect", container).stdout
        assert not [p for p in passwords if p in inspected], f"{service}: a password shows"
        uid = docker("exec", container, "sh", "-c", "grep ^Uid: /proc/1/status").stdout.split()[1]
        user = "board" if service == "app" else images.SERVERS[images.server_choice()].user
        assert uid == docker("exec", container, "id", "-u", user).stdout.strip(), service
    env = json.loads(
        docker("inspect", "--format", "{{json .Config.Env}}", containers["app"]).stdout
    )
    assert "SENTINEL_BOARD_REDIS_PASSWORD_FILE=/run/secrets/redis-password" in env


async def test_five_master_kills_in_a_row_each_fail_over_fast_and_lose_nothing(
    project: Project, say: Callable[[str], None]
) -> None:
    took = []
    async with load(project, "kills") as workload:
        for _ in range(5):
            old, killed_at, seconds = await _fault_the_master(project, "kill")
            took.append(seconds)
            new = await _master_changed(project, old)
            await _writes_after(workload, killed_at + seconds)
            # Sentinel rewrote the configs on the volumes: the promoted node replicates from
            # nobody, the other replica from it.
            assert "replicaof" not in await asyncio.to_thread(config, project, new)
            other = next(node for node in _replicas(project, new) if node != old)
            rewritten = f"replicaof {new} 6379"
            await wait_until_async(
                lambda: _rewritten(project, other, rewritten),  # noqa: B023
                15,
            )
            await asyncio.to_thread(project.act, "start", old)
            await _become(project, old, "replica")
            await asyncio.to_thread(settle, project)
    say(f"5 master kills: +switch-master after {', '.join(f'{t:.2f}' for t in took)} s")
    assert max(took) <= FAILOVER_WITHIN, f"failovers took {took} s"
    assert_kept(project, workload.record, "kills")
    assert not tilts(project)


async def test_failover_when_dns_never_answers_for_the_stopped_name(
    project: Project, say: Callable[[str], None]
) -> None:
    if os.geteuid() != 0 or not (shutil.which("nsenter") and shutil.which("iptables")):
        pytest.skip("making DNS silent inside the containers needs root, nsenter and iptables")
    # Every query Docker's DNS forwards to the machine's resolvers is dropped: never answered.
    rules = [
        ["OUTPUT", "-p", protocol, "--dport", "53", "!", "-d", "127.0.0.11", "-j", "DROP"]
        for protocol in ("udp", "tcp")
    ]
    services = list(project.containers())
    for service in services:
        for rule in rules:
            in_container_netns(project, service, "iptables", "-w", "-I", *rule)
    try:
        sentinel = project.container("sentinel-1")
        lookup = ["timeout", "3", "getent", "hosts"]
        silent = docker("exec", sentinel, *lookup, "x.example", check=False)
        assert silent.returncode == 124, "the resolvers answered: the test would prove nothing"
        async with load(project, "dns") as workload:
            old, killed_at, took = await _fault_the_master(project, "kill")
            say(f"master kill with silent DNS: +switch-master after {took:.2f} s")
            assert took <= FAILOVER_WITHIN
            await _writes_after(workload, killed_at + took)
        assert not tilts(project)
        # Why: the stopped container's name is answered by Docker at once (not found), never
        # forwarded to the silent resolvers.
        stopped = docker("exec", sentinel, *lookup, old, check=False)
        assert stopped.returncode == 2, "the name of a stopped container was not answered"
    finally:
        for service in services:
            if project.running(service):  # a restarted container has a new namespace
                for rule in rules:
                    in_container_netns(project, service, "iptables", "-w", "-D", *rule)
    await asyncio.to_thread(project.act, "start", old)
    await _become(project, old, "replica")
    assert_kept(project, workload.record, "dns")


async def test_a_replica_killed_interrupts_nothing(project: Project) -> None:
    master = await asyncio.to_thread(project.master)
    assert master is not None
    replica = _replicas(project, master)[0]
    async with load(project, "replica") as workload:
        killed_at = time.time()
        await asyncio.to_thread(project.act, "kill", replica)

        def marked_down() -> bool:
            return any(
                logged(project, s, f"+sdown slave {replica}", killed_at)
                for s in COMPOSE_SENTINEL_HOSTS
            )

        await wait_until_async(lambda: asyncio.to_thread(marked_down), 15)
        await _writes_after(workload, time.time())
    assert workload.record.errors() == {}, "a request failed"
    await asyncio.to_thread(project.act, "start", replica)
    assert_kept(project, workload.record, "replica")


async def test_the_old_master_comes_back_with_another_address_as_a_replica(
    project: Project, tmp_path: Path
) -> None:
    """Recreated on its volume with another address (say, the file changed): found by name."""
    async with load(project, "moved") as workload:
        addresses = {node: project.address(node) for node in COMPOSE_DATA_HOSTS}
        old, _, _ = await _fault_the_master(project, "kill")
        old_address = addresses[old]
        assert old_address is not None
        await asyncio.to_thread(project.compose, "rm", "--force", "--stop", old)
        moved = old_address.rsplit(".", 1)[0] + f".{30 + int(old[-1])}"
        override = tmp_path / "moved.yaml"
        override.write_text(
            f"services:\n  {old}:\n    networks: {{default: {{ipv4_address: {moved}}}}}\n"
        )
        await asyncio.to_thread(replace(project, overrides=(override,)).up, old)
        assert project.address(old) == moved
        await _become(project, old, "replica")
    master = project.master()
    assert master is not None
    for sentinel in COMPOSE_SENTINEL_HOSTS:
        known = project.ask(sentinel, "SENTINEL", "REPLICAS", "mymaster")
        named = sorted(probe.fields(entry)["ip"] for entry in known)
        assert named == sorted(_replicas(project, master)), f"{sentinel} knows {named}"
    assert_kept(project, workload.record, "moved")


async def test_a_replica_restarted_while_the_master_is_down(project: Project) -> None:
    """The seed's failing order: one replica gone, the master dies, the other restarts."""
    master = await asyncio.to_thread(project.master)
    assert master is not None
    gone, restarted = _replicas(project, master)
    addresses = {node: project.address(node) for node in COMPOSE_DATA_HOSTS}
    async with (
        load(project, "restart") as workload,
        httpx.AsyncClient(base_url=project.url, timeout=30) as client,
    ):
        await asyncio.to_thread(project.act, "stop", gone)
        killed_at = time.time()
        await asyncio.to_thread(project.act, "kill", master)
        await asyncio.to_thread(project.act, "restart", restarted)
        await asyncio.to_thread(switched_after, project, killed_at)
        assert await _master_changed(project, master) == restarted
        # Alone, it takes no write that could be lost: a clear 503 until a replica is back.
        refused = await client.post("/api/messages", json={"message": "restart-alone"})
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert "replicas" in refused.json()["detail"]
        back_at = time.time()
        await asyncio.to_thread(project.act, "start", gone)
        await _writes_after(workload, back_at, within=30)
        await asyncio.to_thread(project.act, "start", master)
        await _become(project, master, "replica")
    # Each came back on its own address: none took the address of another while it was away.
    assert {node: project.address(node) for node in COMPOSE_DATA_HOSTS} == addresses
    assert_kept(project, workload.record, "restart")


async def test_a_paused_master_rejoins_as_a_replica(project: Project) -> None:
    async with load(project, "pause") as workload:
        old, paused_at, took = await _fault_the_master(project, "pause")
        await _writes_after(workload, paused_at + took)
        await asyncio.to_thread(project.act, "unpause", old)
        await _become(project, old, "replica")
    # What it took while frozen (requests in its buffers) was never confirmed by a replica.
    assert_kept(project, workload.record, "pause")


async def test_a_partitioned_master_acknowledges_nothing_and_loses_nothing(
    project: Project,
) -> None:
    target = ComposeTarget(project)  # cut and heal as the drills do: network disconnect/connect
    old = await asyncio.to_thread(project.master)
    assert old is not None
    address = project.address(old)
    async with load(project, "partition") as workload:
        lone = asyncio.create_task(asyncio.to_thread(project.lone_writer, old, DOWN_AFTER * 2 + 8))
        replica = _replicas(project, old)[0]

        def lone_writes_reach_a_replica() -> bool:
            return any(m.startswith("isolated-") for m in stored(project, replica) or [])

        # Cut only once the lone client writes, and a replica has what it wrote.
        await wait_until_async(lambda: asyncio.to_thread(lone_writes_reach_a_replica), 30)
        await asyncio.to_thread(target.cut, old)
        cut_at = time.time()  # once disconnected: writes just before may still be confirmed
        took = await asyncio.to_thread(switched_after, project, cut_at)
        await _writes_after(workload, cut_at + took)
        writes = await lone
        await asyncio.to_thread(target.heal, old)
        await _become(project, old, "replica")
    assert project.address(old) == address, "healed on its own address"
    isolated = [w for w in writes if float(str(w["at"])) > cut_at + 0.1]
    assert isolated, "the lone client wrote nothing to the isolated master"
    assert not [w for w in isolated if w["acked"]], "a write on the isolated master was confirmed"
    assert_kept(project, workload.record, "partition")  # settled: the same on every node
    confirmed = {str(w["message"]) for w in writes if w["acked"]}
    assert confirmed, "before the cut, a replica confirmed the lone client's writes"
    assert confirmed <= set(stored(project, old) or []), "what a replica confirmed was kept"


def test_restarting_a_sentinel_or_a_node_keeps_what_sentinel_rewrote(project: Project) -> None:
    master = project.master()
    assert master is not None
    monitor = f"sentinel monitor mymaster {master} 6379"
    assert monitor in config(project, "sentinel-2")
    project.act("restart", "sentinel-2")
    rewritten = config(project, "sentinel-2")
    assert monitor in rewritten and "known-replica" in rewritten and "known-sentinel" in rewritten

    def names(sentinel: str) -> str | None:
        reply = project.ask(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
        return reply[0] if reply else None

    wait_until(lambda: names("sentinel-2") == master, 30)
    replica = _replicas(project, master)[0]
    project.act("restart", replica)
    assert f"replicaof {master} 6379" in config(project, replica)
    wait_until(lambda: project.ask(replica, "INFO", "replication", timeout=1) is not None, 30)
    link = project.ask(replica, "INFO", "replication")
    assert link["role"] == "slave" and link["master_host"] == master
    settle(project)
