"""The local topology is locked down by default: passwords, ACL users, owner-only files."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Callable

import pytest
import redis

from sentinel_board.topology import Topology, probe
from sentinel_board.topology.credentials import APP_USER
from sentinel_board.topology.status import collect


def status_output(topology: Topology) -> str:
    command = [sys.executable, "-m", "sentinel_board", "status"]
    command += ["--run-dir", str(topology.spec.run_dir)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def test_secrets_and_configs_are_readable_by_the_owner_only(topology: Topology) -> None:
    run_dir = topology.spec.run_dir
    private = [run_dir / "secrets.json", run_dir / "app.env"]
    private += [node.config_path for node in [*topology.data_nodes, *topology.sentinel_nodes]]
    for path in private:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert topology.credentials is not None
    env = (run_dir / "app.env").read_text()
    assert f"SENTINEL_BOARD_REDIS_PASSWORD={topology.credentials.app}\n" in env
    assert repr(topology.credentials) == "Credentials(...)"


@pytest.mark.parametrize("kind", ["data node", "sentinel"])
def test_a_client_without_the_password_gets_noauth(topology: Topology, kind: str) -> None:
    node = topology.data_nodes[0] if kind == "data node" else topology.sentinel_nodes[0]
    # RESP2, so that the first command is the PING itself rather than redis-py's HELLO.
    with (
        redis.Redis(host=node.host, port=node.port, protocol=2) as anonymous,
        pytest.raises(redis.AuthenticationError, match="Authentication required"),
    ):
        anonymous.ping()
    with (
        probe.client(node.host, node.port, password="not-the-password") as guessing,
        pytest.raises(redis.AuthenticationError, match="invalid username-password"),
    ):
        guessing.ping()


def test_the_app_user_may_run_only_what_the_app_needs(topology: Topology) -> None:
    assert topology.credentials is not None
    master = topology.node(topology.master_name() or "")
    with redis.Redis(
        host=master.host, port=master.port, username=APP_USER, password=topology.credentials.app
    ) as app:
        assert app.llen("UNREAD") >= 0
        for forbidden in (
            lambda: app.flushall(),
            lambda: app.config_get("requirepass"),
            lambda: app.keys("*"),
            lambda: app.execute_command("ACL", "LIST"),
        ):
            with pytest.raises(redis.exceptions.NoPermissionError):
                forbidden()
        # Not through a script either: ACLs apply to what a script calls.
        with pytest.raises(redis.ResponseError, match="can't run this command"):
            app.eval("return redis.call('DEL', KEYS[1])", 1, "UNREAD")


def test_the_app_user_may_touch_only_its_keys(make_topology: Callable[..., Topology]) -> None:
    topology = make_topology(app_key_prefix="board:")
    assert topology.credentials is not None
    master = topology.node(topology.master_name() or "")
    with redis.Redis(
        host=master.host, port=master.port, username=APP_USER, password=topology.credentials.app
    ) as app:
        assert app.llen("board:UNREAD") == 0
        with pytest.raises(redis.exceptions.NoPermissionError, match="key"):
            app.llen("UNREAD")


def test_status_says_auth_is_on_and_shows_no_secret(topology: Topology) -> None:
    report = collect(topology).as_json()
    assert report["auth"] is True
    shown = status_output(topology)
    assert "Auth: on" in shown
    assert topology.credentials is not None
    everything = json.dumps(report) + shown
    for secret in vars(topology.credentials).values():
        assert secret not in everything


def test_no_auth_opts_out_and_status_warns(make_topology: Callable[..., Topology]) -> None:
    topology = make_topology(auth=False)
    assert topology.credentials is None
    assert not (topology.spec.run_dir / "secrets.json").exists()
    node = topology.data_nodes[0]
    assert probe.ask(node.host, node.port, "PING") is True
    assert "requirepass" not in node.config_path.read_text()
    assert collect(topology).as_json()["auth"] is False
    shown = status_output(topology)
    assert "Auth: OFF" in shown
