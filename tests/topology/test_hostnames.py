"""Nodes known by name, as in containers: the configs `render-config` writes, run for real.

Every node is `localhost` (Redis's own hostname test does the same): the sentinels must
resolve, announce and record the name, never the address it resolved to.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sentinel_board.topology import Topology, faults
from tests.helpers import app_client, settings_for, wait_until

pytestmark = pytest.mark.failover


def master_address(topology: Topology) -> list[str]:
    return list(
        topology.ask(topology.sentinel_nodes[0], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")
    )


async def test_a_topology_of_names_fails_over_and_keeps_the_names(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology(host="localhost")
    first, second, third = topology.data_nodes
    for sentinel in topology.sentinel_nodes:
        ask = topology.ask
        assert ask(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster")[0] == "localhost"
        assert {r["ip"] for r in ask(sentinel, "SENTINEL", "REPLICAS", "mymaster")} == {"localhost"}
        assert {s["ip"] for s in ask(sentinel, "SENTINEL", "SENTINELS", "mymaster")} == {
            "localhost"
        }, "each sentinel announces its name"

    async with app_client(settings_for(topology, failover_deadline=15), timeout=30) as client:
        assert (await client.post("/api/messages", json={"message": "before"})).status_code == 201
        faults.kill(topology, "master")
        wait_until(lambda: master_address(topology)[1] != str(first.port), timeout=20)
        response = await client.post("/api/messages", json={"message": "after"})
        assert response.status_code == 201, response.text
        page = (await client.get("/api/messages")).json()
        assert [m["message"] for m in page["unread"]] == ["before", "after"]

    promoted = topology.node(master_address(topology)[1])
    assert promoted in (second, third) and master_address(topology)[0] == "localhost"
    # Sentinel rewrote its config and the remaining replica's with the name, not an address.
    replica = third if promoted is second else second
    wait_until(
        lambda: f"replicaof localhost {promoted.port}" in replica.config_path.read_text(),
        timeout=10,
    )
    for sentinel in topology.sentinel_nodes:
        config = sentinel.config_path.read_text()
        assert f"sentinel monitor mymaster localhost {promoted.port} 2" in config
        assert "127.0.0.1" not in config.replace("bind 127.0.0.1", "")
