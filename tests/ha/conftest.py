"""The library's tests: HAConfig, not the board's settings; any key, as the admin user."""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from sentinel_board.ha import Address, HAConfig
from sentinel_board.topology import Topology


def config_for(topology: Topology, **changes: object) -> HAConfig:
    """A client of `topology` as its admin (the default user), failing over within 5 s."""
    credentials = topology.credentials
    values: dict[str, object] = {
        "sentinels": topology.sentinel_addresses,
        "password": credentials.admin if credentials else None,
        "sentinel_password": credentials.sentinel if credentials else None,
        "failover_deadline": 5.0,
    }
    return HAConfig(**(values | changes))  # type: ignore[arg-type]


@pytest.fixture
def config(topology: Topology) -> HAConfig:
    return config_for(topology)


@pytest.fixture
def key() -> str:
    """A key of the test's own on the shared topology."""
    return f"ha-test:{uuid.uuid4().hex}"


def node(config: HAConfig, address: Address) -> Redis:
    """A plain client of one data node, to look behind the HA client's back."""
    return Redis(
        host=address[0], port=address[1], username=config.username, password=config.password
    )


async def role_of(config: HAConfig, address: Address | None) -> str:
    assert address is not None
    async with node(config, address) as client:
        reply = await client.execute_command("ROLE")
    return str(reply[0].decode())
