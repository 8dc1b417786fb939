from __future__ import annotations

import json
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis

from sentinel_board.topology import (
    Topology,
    TopologyError,
    TopologySpec,
    faults,
    probe,
    process,
    servers,
)
from sentinel_board.topology.status import collect
from tests.conftest import local_spec
from tests.helpers import wait_until


def replicaof(topology: Topology, name: str) -> str | None:
    lines = topology.node(name).config_path.read_text().splitlines()
    found = [line for line in lines if line.startswith("replicaof ")]
    return found[-1] if found else None


def test_up_renders_every_config_and_is_ready(topology: Topology) -> None:
    spec = topology.spec
    master, *replicas = topology.data_nodes
    assert "min-replicas-to-write 1" in master.config_path.read_text()
    assert "appendonly yes" in master.config_path.read_text()
    for node in replicas:
        assert replicaof(topology, node.name) == f"replicaof 127.0.0.1 {master.port}"
        replication = topology.info(node, "replication")
        assert replication["master_link_status"] == "up"
    for node in topology.sentinel_nodes:
        text = node.config_path.read_text()
        assert f"sentinel monitor mymaster 127.0.0.1 {master.port} 2" in text
        assert f"sentinel down-after-milliseconds mymaster {spec.down_after_ms}" in text
    assert topology.sentinels_agree()
    assert topology.master_name() == "redis-1"
    manifest = json.loads((spec.run_dir / "topology.json").read_text())
    assert manifest["app_url"] is None
    assert [(n["name"], n["port"]) for n in manifest["nodes"]] == [
        (node.name, node.port) for node in topology.nodes
    ]
    assert manifest["nodes"][0]["pid_file"] == str(master.pid_path)
    assert TopologySpec.load(spec.run_dir) == spec


def status_json(topology: Topology) -> Any:
    """What `status --json` prints, read back as a client reads it."""
    return json.loads(json.dumps(collect(topology).as_json()))


def test_status_reports_the_topology_as_the_sentinels_see_it(topology: Topology) -> None:
    report = status_json(topology)
    assert report["quorum_ok"] is True
    assert report["app"] is None
    assert report["master_source"] == "sentinels"
    master = report["master"]
    assert {k: master[k] for k in ("name", "host", "role", "alive")} == {
        "name": "redis-1",
        "host": "127.0.0.1",
        "role": "master",
        "alive": True,
    }
    assert master["pid"] == topology.pid(topology.node("redis-1"))
    assert [r["name"] for r in report["replicas"]] == ["redis-2", "redis-3"]
    for replica in report["replicas"]:
        assert replica["role"] == "replica" and replica["alive"] and replica["link"] == "up"
        assert isinstance(replica["offset"], int) and isinstance(replica["lag"], int)
    assert [s["name"] for s in report["sentinels"]] == ["sentinel-1", "sentinel-2", "sentinel-3"]
    for sentinel in report["sentinels"]:
        assert sentinel["names_master"] == f"127.0.0.1:{master['port']}"
        assert set(sentinel) >= {"name", "host", "port", "pid", "role", "alive"}


@pytest.mark.failover
def test_kill_master_fails_over_and_sentinel_rewrites_the_configs(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology()
    killed = faults.kill(topology, "master")
    assert killed.name == "redis-1"
    assert not topology.is_alive("redis-1")
    wait_until(lambda: topology.master_name() not in (None, "redis-1"), timeout=15)
    new = topology.master_name()
    assert new is not None
    other = next(n.name for n in topology.data_nodes if n.name not in ("redis-1", new))

    assert replicaof(topology, new) is None, "the promoted replica's file lost its replicaof"
    new_port = topology.node(new).port
    wait_until(lambda: replicaof(topology, other) == f"replicaof 127.0.0.1 {new_port}", 10)

    topology.start("redis-1")
    wait_until(lambda: topology.role(topology.node("redis-1")) == "replica", timeout=20)

    def names_the_master() -> bool:
        # The master of now: on a loaded machine Sentinel may have failed over once more.
        master = topology.master_name()
        port = topology.node(master).port if master else None
        return replicaof(topology, "redis-1") == f"replicaof 127.0.0.1 {port}"

    wait_until(names_the_master, 10)
    assert topology.master_name() != "redis-1", "the returning old master took over"


@pytest.mark.failover
def test_kill_and_start_a_replica_and_a_sentinel(make_topology: Callable[..., Topology]) -> None:
    topology = make_topology()
    replica = faults.kill(topology, "replica", index=2)
    assert replica.name == "redis-3"
    assert not topology.is_alive("redis-3")
    assert {r.name: r.alive for r in collect(topology).replicas}["redis-3"] is False

    sentinel = faults.kill(topology, "sentinel")
    assert sentinel.name == "sentinel-1" and not topology.is_alive("sentinel-1")
    assert collect(topology).quorum_ok is True, "two of three sentinels still authorize"

    faults.kill(topology, "sentinel")
    faults.kill(topology, "sentinel")
    report = status_json(topology)
    assert report["quorum_ok"] is False
    assert (report["master"]["name"], report["master_source"]) == ("redis-1", "role")
    assert [s["alive"] for s in report["sentinels"]] == [False, False, False]

    topology.start("redis-3")
    topology.start(str(sentinel.port))
    wait_until(
        lambda: topology.info(replica, "replication").get("master_link_status") == "up",
        timeout=10,
    )
    assert topology.ask(sentinel, "PING") is True
    with pytest.raises(TopologyError, match="already running"):
        topology.start("redis-3")


@pytest.mark.failover
def test_stop_and_continue_the_master(make_topology: Callable[..., Topology]) -> None:
    topology = make_topology(down_after_ms=5000)
    frozen = faults.kill(topology, "master", sig=signal.SIGSTOP)
    pid = topology.pid(frozen)
    assert pid is not None and process.is_stopped(pid)
    assert faults.kill(topology, "master", sig=signal.SIGCONT) == frozen
    assert not process.is_stopped(pid)


@pytest.mark.failover
def test_up_again_after_a_failover_keeps_the_promoted_master_and_every_message(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology()
    host, old = topology.spec.host, topology.node("redis-1")
    with probe.client(host, old.port, password=topology.password(old)) as master:
        master.rpush("UNREAD", "before")
        master.wait(1, 1000)
    faults.kill(topology, "master")
    wait_until(lambda: topology.master_name() not in (None, "redis-1"), timeout=15)
    promoted = topology.node(topology.master_name() or "")
    with probe.client(host, promoted.port, password=topology.password(promoted)) as master:

        def pushed() -> bool:
            try:
                return bool(master.rpush("UNREAD", "after"))
            except redis.ResponseError:  # NOREPLICAS until a replica re-attaches
                return False

        wait_until(pushed, timeout=10)
        assert master.wait(1, 1000) == 1
    topology.down()

    again = Topology.up(topology.spec)
    assert again.master_name() == promoted.name, "not redis-1, whose data is older"
    assert again.role(old) == "replica"

    def everywhere() -> bool:
        return all(
            again.ask(n, "LRANGE", "UNREAD", 0, -1) == ["before", "after"] for n in again.data_nodes
        )

    wait_until(everywhere, timeout=10)


def test_up_refuses_a_run_dir_of_another_shape(tmp_path: Path) -> None:
    local_spec(tmp_path).save()
    with pytest.raises(TopologyError, match="holds the data of a topology with other ports"):
        Topology.up(local_spec(tmp_path))


def test_down_stops_everything_by_pid_and_keeps_data_unless_purged(tmp_path: Path) -> None:
    topology = Topology.up(local_spec(tmp_path / "run"))
    pids = [topology.pid(node) for node in topology.nodes]
    assert all(pids)
    stopped = topology.down()
    assert {n.name for n in stopped} == {n.name for n in topology.nodes}
    for pid in pids:
        assert pid is not None and not process.is_alive(pid)
    assert (tmp_path / "run" / "redis-1" / "appendonlydir").is_dir()
    assert topology.down() == [], "a second down finds nothing to stop"
    topology.down(purge=True)
    assert not (tmp_path / "run").exists()


def test_a_failed_up_stops_what_it_started_and_can_be_retried(tmp_path: Path) -> None:
    spec = local_spec(tmp_path, app=True, extra_env={"SENTINEL_BOARD_SENTINELS": "nonsense"})
    with pytest.raises(TopologyError, match="the app exited") as caught:
        Topology.up(spec)
    assert "SENTINEL_BOARD_SENTINELS" in str(caught.value), "the app's log tail is shown"
    pids = [process.read_pid(node.pid_path) for node in Topology(spec).nodes]
    assert pids == [None] * 7, "every pid file is gone with its process"
    assert not Topology(spec).running()

    again = Topology.up(replace(spec, app_port=None, extra_env={}))
    try:
        assert again.master_name() == "redis-1"
    finally:
        again.down()


def test_refuses_a_run_dir_with_a_live_topology(topology: Topology) -> None:
    again = local_spec(topology.spec.run_dir)
    with pytest.raises(TopologyError, match="already runs a topology") as caught:
        Topology.up(again)
    assert "sentinel-board down" in caught.value.hint
    assert topology.sentinels_agree(), "the refusal touched nothing"


def test_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        spec = local_spec(tmp_path, sentinel_ports=(port,), quorum=1)
        with pytest.raises(
            TopologyError, match=f"port {port} \\(for sentinel-1\\) is already in use"
        ):
            Topology.up(spec)
    assert not (tmp_path / "redis-1").exists(), "nothing was started"


def test_a_sentinel_that_cannot_start_is_named_with_its_log(tmp_path: Path) -> None:
    real = servers.find("redis").path
    wrapper = tmp_path / "redis-server"
    wrapper.write_text(
        "#!/bin/sh\n"
        'case "$*" in *--sentinel*) echo "Sentinel refuses to start: a test"; exit 1;; esac\n'
        f'exec {real} "$@"\n'
    )
    wrapper.chmod(0o755)
    spec = local_spec(tmp_path / "run", server=str(wrapper))
    with pytest.raises(TopologyError, match="sentinel-1 exited") as caught:
        Topology.up(spec)
    assert "Sentinel refuses to start: a test" in str(caught.value)
    assert not Topology(spec).running(), "the data nodes it started are stopped"


def test_a_recycled_pid_is_never_signalled(tmp_path: Path) -> None:
    """A pid file naming a process that is not ours (here: this test) is not ours to stop."""
    spec = local_spec(tmp_path)
    node = spec.data_nodes[0]
    node.dir.mkdir(parents=True)
    node.pid_path.write_text(f"{os.getpid()}\n")
    assert Topology(spec).pid(node) is None
    assert Topology(spec).down() == []


def test_on_another_system_than_linux_the_launcher_refuses_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.platform", "darwin")
    with pytest.raises(TopologyError, match="runs on Linux only, not on darwin") as caught:
        Topology.up(local_spec(tmp_path))
    assert "make compose-up" in caught.value.hint
    assert not (tmp_path / "topology.json").exists(), "refused before anything was made"
