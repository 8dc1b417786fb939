"""`serve`: it refuses to start, saying why, rather than serve 503s."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable

import pytest

from sentinel_board.topology import Topology
from sentinel_board.topology.ports import free_port
from tests.cli.commands import CLI


def test_serve_refuses_bad_settings_clearly() -> None:
    env = {**os.environ, "SENTINEL_BOARD_SENTINELS": "nonsense"}
    done = subprocess.run([*CLI, "serve"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "SENTINEL_BOARD_SENTINELS" in done.stdout and "is not host:port" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_serve_refuses_to_start_with_a_key_prefix_the_acl_forbids(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology(app_key_prefix="tenant-7:")
    env = {**os.environ, **topology.app_env(), "SENTINEL_BOARD_KEY_PREFIX": "tenant-8:"}
    argv = [*CLI, "serve", "--port", str(free_port())]
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("serve started, to answer every request 503")
    assert done.returncode == 2, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert "refused a command to the client's user (this user has no permissions" in said
    assert "the ACL of SENTINEL_BOARD_REDIS_USERNAME must allow" in said
    assert "Traceback" not in done.stdout + done.stderr
