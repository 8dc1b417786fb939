"""Wrong credentials, ACL refusals and missing sentinels: each a clear answer, never a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import pytest

from sentinel_board.topology import Topology, faults
from sentinel_board.topology.ports import free_port
from sentinel_board.web.app import StartupRefused
from tests.helpers import app_client, settings_for

SECRET = "hunter2-not-the-password"


@pytest.mark.parametrize(
    ("changes", "setting"),
    [
        ({"redis_password": SECRET}, "SENTINEL_BOARD_REDIS_PASSWORD"),
        ({"redis_password": None, "redis_username": None}, "SENTINEL_BOARD_REDIS_PASSWORD"),
        ({"redis_username": "nobody"}, "SENTINEL_BOARD_REDIS_USERNAME"),
        ({"sentinel_password": SECRET}, "SENTINEL_BOARD_SENTINEL_PASSWORD"),
        ({"sentinel_password": None}, "SENTINEL_BOARD_SENTINEL_PASSWORD"),
    ],
)
async def test_refused_credentials_stop_the_app_naming_the_setting(
    topology: Topology, changes: dict[str, object], setting: str
) -> None:
    with pytest.raises(StartupRefused) as refused:
        async with app_client(settings_for(topology, **changes)):
            pass
    assert setting in str(refused.value)
    assert SECRET not in str(refused.value)


def test_serve_with_a_wrong_password_exits_with_the_setting_not_the_secret(
    topology: Topology,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_BOARD_")}
    env |= {k: v for k, v in topology.app_env().items()}
    env["SENTINEL_BOARD_REDIS_PASSWORD"] = SECRET
    done = subprocess.run(
        [sys.executable, "-m", "sentinel_board", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "SENTINEL_BOARD_REDIS_PASSWORD" in output and "Hint:" in output
    assert SECRET not in output and "Traceback" not in output


async def test_a_command_the_acl_refuses_is_a_clear_503(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology(app_key_prefix="board:")  # the app below uses unprefixed keys
    async with app_client(settings_for(topology, failover_deadline=2)) as client:
        responses = [
            await client.post("/api/messages", json={"message": "not allowed"}),
            await client.get("/api/messages"),  # a transaction (MULTI): refused as it is queued
            await client.get("/messages"),  # the page: its answer in plain text
        ]
    for response in responses:
        assert response.status_code == 503, response.request.url
        api = response.request.url.path.startswith("/api/")
        detail = response.json()["detail"] if api else response.text
        assert "refused a command to the client's user (this user has no permissions" in detail
        assert "the ACL of SENTINEL_BOARD_REDIS_USERNAME must allow the commands and keys" in detail
        assert response.headers["Retry-After"] == "30", "not a failover: no point retrying at once"


@pytest.mark.failover
async def test_with_every_sentinel_down_a_new_app_answers_503_then_recovers(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology()
    for _ in topology.sentinel_nodes:
        faults.kill(topology, "sentinel")
    async with app_client(settings_for(topology, failover_deadline=2)) as client:
        response = await client.post("/api/messages", json={"message": "nobody to ask"})
        assert response.status_code == 503
        assert "only 0 of 3 sentinels answer" in response.json()["detail"]
        assert int(response.headers["Retry-After"]) >= 1

        topology.start(topology.sentinel_nodes[0].name)
        response = await client.post("/api/messages", json={"message": "one is back"})
        assert response.status_code == 201
