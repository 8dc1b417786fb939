"""The local topology's commands (cli/local.py): up, down, status, kill, start, watch."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from sentinel_board.topology import Topology, faults, probe, process
from sentinel_board.topology.ports import free_port
from tests.cli.commands import CLI, invoke, pids_of, ports
from tests.helpers import make_a_sentinel_disagree, refuse_the_app, wait_until


@pytest.mark.failover
def test_up_detach_status_kill_start_down(run_dir: Path) -> None:
    result = invoke("up", "--detach", "--no-app", *ports(run_dir))
    assert result.exit_code == 0, result.output
    assert "Quorum: reachable" in result.output
    assert "sentinel-board down --run-dir" in result.output
    pids = pids_of(run_dir)
    assert len(pids) == 6

    report: dict[str, Any] = json.loads(
        invoke("status", "--json", "--run-dir", str(run_dir)).output
    )
    assert set(report) >= {"master", "replicas", "sentinels", "app", "quorum_ok"}
    assert report["master"]["name"] == "redis-1" and report["quorum_ok"] is True

    killed = invoke("kill", "replica", "--run-dir", str(run_dir))
    assert killed.exit_code == 0
    assert f"Sent SIGKILL to redis-2 (the replica, port {report['replicas'][0]['port']}, pid " in (
        killed.output
    )
    assert "down" in invoke("status", "--run-dir", str(run_dir)).output
    started = invoke("start", "redis-2", "--run-dir", str(run_dir))
    assert started.exit_code == 0 and "Started redis-2" in started.output

    down = invoke("down", "--run-dir", str(run_dir))
    assert down.output.startswith("Stopped ")
    assert not any(process.is_alive(pid) for pid in pids_of(run_dir) + pids)
    assert invoke("down", "--run-dir", str(run_dir)).output.strip() == "Nothing was running."
    assert invoke("down", "--purge", "--run-dir", str(run_dir)).exit_code == 0
    again = invoke("down", "--run-dir", str(run_dir))
    assert again.exit_code == 0 and again.output.startswith("Nothing was running: no topology")


def test_up_s_default_quorum_is_a_majority_of_the_sentinels(run_dir: Path) -> None:
    one = invoke(
        "up", "--detach", "--no-app", "--replicas", "0", "--sentinels", "1", *ports(run_dir)
    )
    assert one.exit_code == 0, one.output
    assert Topology.open(run_dir).spec.quorum == 1
    config = (run_dir / "sentinel-1" / "sentinel.conf").read_text()
    assert any(line.startswith("sentinel monitor mymaster ") and line.endswith(" 1")
               for line in config.splitlines())  # fmt: skip


def test_up_with_the_app_serves_the_board_then_down(run_dir: Path) -> None:
    app_port = free_port()
    up = subprocess.run(
        [*CLI, "up", "--detach", "--app-port", str(app_port), *ports(run_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr
    assert f"http://127.0.0.1:{app_port}" in up.stdout
    response = httpx.post(f"http://127.0.0.1:{app_port}/message", data={"message": "hi"})
    assert response.status_code == 200 and 'data-unread="1"' in response.text
    pids = pids_of(run_dir)
    assert len(pids) == 7

    down = subprocess.run([*CLI, "down", "--run-dir", str(run_dir)], capture_output=True, text=True)
    assert down.returncode == 0
    assert not any(process.is_alive(pid) for pid in pids)


def test_up_in_the_foreground_stops_everything_on_ctrl_c(run_dir: Path) -> None:
    foreground = subprocess.Popen(
        [*CLI, "up", "--no-app", *ports(run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert foreground.stdout is not None
    try:
        lines = []
        for line in foreground.stdout:
            lines.append(line)
            if "Sentinel events follow" in line:  # said once Ctrl-C is handled
                break
        pids = pids_of(run_dir)
        assert len(pids) == 6, "".join(lines)
        foreground.send_signal(signal.SIGINT)
        rest, _ = foreground.communicate(timeout=30)
        assert foreground.returncode == 0
        assert "Stopped 6 processes." in rest
        assert not any(process.is_alive(pid) for pid in pids)
    finally:  # a failure leaves nothing behind: once seen, `up` outlived the test
        if foreground.poll() is None:
            foreground.kill()
        foreground.communicate()


def test_a_refused_up_leaves_no_run_dir_and_down_purge_removes_an_older_one(
    tmp_path: Path,
) -> None:
    run_dir = tmp_path / "run"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        refused = invoke("up", "--no-app", "--run-dir", str(run_dir), "--port-base", port)
    assert refused.exit_code == 1 and "already in use" in refused.output
    missing = invoke("up", "--run-dir", str(run_dir), "--server", "/no/redis-server")
    assert missing.exit_code == 1 and "not found" in missing.output
    assert not run_dir.exists(), "a refusal writes nothing, secrets.json included"

    run_dir.mkdir()  # what a refused up left before: its passwords, and nothing started
    (run_dir / "secrets.json").write_text("{}")
    purged = invoke("down", "--purge", "--run-dir", str(run_dir))
    assert purged.exit_code == 0 and "Removed" in purged.output
    assert not run_dir.exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not a run dir")
    kept = invoke("down", "--purge", "--run-dir", str(tmp_path / "mine"))
    assert "Nothing was running: no topology" in kept.output
    assert (tmp_path / "mine" / "notes.txt").exists()


def test_up_again_applies_sentinel_s_settings_and_names_what_cannot_change(
    run_dir: Path,
) -> None:
    first = ports(run_dir)
    assert invoke("up", "--detach", "--no-app", *first).exit_code == 0
    assert invoke("down", "--run-dir", str(run_dir)).exit_code == 0
    again = invoke("up", "--detach", "--no-app", *first, "--down-after-ms", "2000")
    assert again.exit_code == 0, again.output
    assert "Changed on every sentinel (SENTINEL SET): down-after-milliseconds 1000 -> 2000" in (
        again.output
    )
    topology = Topology.open(run_dir)
    for sentinel in topology.sentinel_nodes:
        master = probe.fields(topology.ask(sentinel, "SENTINEL", "MASTER", "mymaster"))
        assert master["down-after-milliseconds"] == "2000", sentinel.name
        assert "down-after-milliseconds mymaster 2000" in sentinel.config_path.read_text()
    assert invoke("down", "--run-dir", str(run_dir)).exit_code == 0
    other = invoke("up", "--detach", "--no-app", *first, "--sentinels", "1", "--quorum", "1")
    assert other.exit_code == 1
    said = " ".join(other.output.split())
    assert "its sentinel ports (--sentinel-port-base, --sentinels) cannot change" in said
    assert "--down-after-ms" in said


def test_a_key_prefix_is_in_app_env_and_survives_a_restart_of_the_app(run_dir: Path) -> None:
    app_port = free_port()
    up = subprocess.run(
        [*CLI, "up", "--detach", "--key-prefix", "tenant-7:", "--app-port", str(app_port),
         *ports(run_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert up.returncode == 0, up.stdout + up.stderr
    url = f"http://127.0.0.1:{app_port}/api/messages"
    assert httpx.post(url, json={"message": "before"}).status_code == 201
    topology = Topology.open(run_dir)
    assert topology.app is not None
    app_pid = topology.pid(topology.app)
    assert app_pid is not None
    process.stop(app_pid)
    started = invoke("start", "app", "--run-dir", str(run_dir))
    assert started.exit_code == 0, started.output
    after = httpx.post(url, json={"message": "after"})
    assert after.status_code == 201, after.text
    master = topology.node(topology.master_name() or "")
    assert topology.ask(master, "LLEN", "tenant-7:UNREAD") == 2
    assert "SENTINEL_BOARD_KEY_PREFIX=tenant-7:" in (run_dir / "app.env").read_text()


@pytest.mark.failover
def test_kill_cont_after_a_failover_names_the_node_it_wakes(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology()
    run_dir = str(topology.spec.run_dir)
    stopped = invoke("kill", "master", "--signal", "STOP", "--run-dir", run_dir)
    assert stopped.output.startswith("Sent SIGSTOP to redis-1 (the master, "), stopped.output
    wait_until(lambda: topology.master_by_sentinels() not in (None, "redis-1"), timeout=20)
    new = topology.master_by_sentinels()
    woken = invoke("kill", "master", "--signal", "CONT", "--run-dir", run_dir)
    assert woken.exit_code == 0, woken.output
    said = " ".join(woken.output.split())
    assert said.startswith(f"Sent SIGCONT to redis-1 (stopped, no longer the master: {new} is, ")


@pytest.mark.failover
def test_status_says_what_is_known_while_the_sentinels_disagree(
    make_topology: Callable[..., Topology],
) -> None:
    """As in the seconds of a failover, made to last: one sentinel names another master, and
    the master most name is dead (no failover: down-after is a minute)."""
    topology = make_topology(down_after_ms=60_000)
    make_a_sentinel_disagree(topology, topology.sentinel_nodes[2], topology.data_nodes[1])
    assert faults.kill(topology, "master").name == "redis-1"
    shown = invoke("status", "--run-dir", str(topology.spec.run_dir))
    text = " ".join(shown.output.split())
    assert shown.exit_code == 0 and "None" not in text, shown.output
    assert (
        "The sentinels disagree: sentinel-1, sentinel-2 name redis-1; sentinel-3 names redis-2"
        in text
    )
    assert "link down, offset unknown" in text, shown.output


def test_status_and_watch_say_which_sentinel_cannot_be_heard(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology(app=True)
    refused = topology.sentinel_nodes[2]
    where = f"127.0.0.1:{refused.port}"
    refuse_the_app(topology, refused)
    run_dir = str(topology.spec.run_dir)

    def app_told() -> dict[str, Any] | None:
        report = json.loads(invoke("status", "--json", "--run-dir", run_dir).output)
        heard = {s["sentinel"]: s for s in report["app"]["listener"] or []}
        return heard[where] if heard.get(where, {}).get("error") else None

    wait_until(app_told, timeout=15)
    assert str((app_told() or {})["error"]).startswith("AuthenticationError")
    # The board's health, as its status page and /api/status say it.
    health = json.loads(invoke("status", "--json", "--run-dir", run_dir).output)["app"]["health"]
    assert health["state"] == "degraded"
    assert any(p.startswith(f"sentinel {where} does not answer") for p in health["problems"])
    text = invoke("status", "--run-dir", run_dir).output
    assert f"The app does not hear sentinel {where}: AuthenticationError" in text
    assert "The board's health: degraded" in text
    assert f"  - sentinel {where} does not answer (AuthenticationError" in text

    watcher = subprocess.Popen(
        [*CLI, "watch", "--json", "--run-dir", run_dir],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert watcher.stderr is not None
        said = json.loads(watcher.stderr.readline())  # the pytest timeout bounds it
        assert said["listener"]["sentinel"] == where and not said["listener"]["listening"]
        assert said["listener"]["error"].startswith("AuthenticationError")
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.communicate(timeout=10)


@pytest.mark.failover
def test_watch_prints_each_sentinel_event_as_a_json_line(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology()
    watcher = subprocess.Popen(
        [*CLI, "watch", "--json", "--run-dir", str(topology.spec.run_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:

        def subscribed() -> bool:
            return all(
                "psub=1" in str(topology.ask(sentinel, "CLIENT", "LIST"))
                for sentinel in topology.sentinel_nodes
            )

        wait_until(subscribed, timeout=10)
        replica = faults.kill(topology, "replica")
        assert watcher.stdout is not None
        seen: list[dict[str, Any]] = []
        while not any(e["type"] == "+sdown" for e in seen):  # the pytest timeout bounds it
            seen.append(json.loads(watcher.stdout.readline()))
        sdown = next(e for e in seen if e["type"] == "+sdown")
        assert sdown["payload"].startswith(f"slave 127.0.0.1:{replica.port} ")
        assert set(sdown) == {"type", "payload", "received_at", "sentinel"}
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.communicate(timeout=10)
    assert watcher.returncode == 0
