from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from sentinel_board.config import Settings
from sentinel_board.topology import Topology, faults
from sentinel_board.topology.ports import free_port
from tests.helpers import (
    app_client,
    make_a_sentinel_disagree,
    refuse_the_app,
    settings_for,
    wait_until_async,
)


async def test_healthz_asks_nothing_of_redis() -> None:
    settings = Settings(sentinels=[("127.0.0.1", free_port())], failover_deadline=0.2)
    async with app_client(settings) as client:
        response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_writes_to_the_master(client: httpx.AsyncClient, topology: Topology) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    master = topology.node(topology.master_name() or "")
    assert response.json() == {"status": "ready", "master": f"127.0.0.1:{master.port}"}


async def test_readyz_is_503_with_the_reason_when_no_master(settings: Settings) -> None:
    nowhere = settings.model_copy(update={"sentinels": [("127.0.0.1", free_port())]})
    async with app_client(nowhere) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["reason"].startswith("only 0 of 1 sentinels answer")


async def test_readyz_is_503_when_no_replica_confirms(settings: Settings) -> None:
    greedy = settings.model_copy(update={"min_replica_acks": 3, "ack_timeout_ms": 50})
    async with app_client(greedy) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert "of 3 replicas confirmed it" in response.json()["reason"]


async def test_status_shows_the_sentinels_view_and_the_apps(
    client: httpx.AsyncClient, topology: Topology
) -> None:
    await client.post("/api/messages", json={"message": "so the app has found its master"})
    body = (await client.get("/api/status")).json()
    master = topology.node(topology.master_name() or "")
    assert body["master_name"] == "mymaster"
    assert body["app"]["master"] == f"127.0.0.1:{master.port}"
    assert body["master"]["port"] == str(master.port)
    assert body["master"]["num-other-sentinels"] == "2"
    assert sorted(int(r["port"]) for r in body["replicas"]) == sorted(
        n.port for n in topology.data_nodes if n != master
    )
    assert all(r["master-link-status"] == "ok" for r in body["replicas"])
    # From the master's INFO: how far behind each replica is.
    assert all(r["lag_bytes"] >= 0 and r["lag_seconds"] >= 0 for r in body["replicas"])
    assert isinstance(body["events"], list)
    assert body["notifications"] is None  # no webhook configured
    assert body["quorum_ok"] is True
    assert [s["reachable"] for s in body["sentinels"]] == [True, True, True]
    assert {s["names_master"] for s in body["sentinels"]} == {f"127.0.0.1:{master.port}"}


async def test_status_with_a_dead_sentinel_says_so(settings: Settings) -> None:
    dead = ("127.0.0.1", free_port())
    with_dead = settings.model_copy(update={"sentinels": [dead, *settings.sentinels]})
    async with app_client(with_dead) as client:
        body = (await client.get("/api/status")).json()
    first = body["sentinels"][0]
    assert first["reachable"] is False and "ConnectionError" in first["error"]
    assert body["quorum_ok"] is True


async def test_the_status_page_shows_the_topology(
    client: httpx.AsyncClient, topology: Topology
) -> None:
    await client.post("/api/messages", json={"message": "so the app has found its master"})
    master = topology.node(topology.master_name() or "")
    page = await client.get("/status")
    assert page.status_code == 200
    assert '<script src="/static/status.js"' in page.text
    panel = (await client.get("/status/panel")).text
    assert f'<dd id="sentinel-master"><code>127.0.0.1:{master.port}</code></dd>' in panel
    assert 'data-health="ok"' in panel
    for sentinel in topology.sentinel_nodes:
        assert f"<code>127.0.0.1:{sentinel.port}</code>" in panel


async def test_the_status_page_says_what_is_wrong(settings: Settings) -> None:
    dead = ("127.0.0.1", free_port())
    with_dead = settings.model_copy(update={"sentinels": [dead, *settings.sentinels]})
    async with app_client(with_dead) as client:
        await client.get("/unread-list/size")
        body = (await client.get("/api/status")).json()
        panel = (await client.get("/status/panel")).text
    assert body["health"]["state"] == "degraded"
    [problem] = body["health"]["problems"]
    assert problem.startswith(f"sentinel 127.0.0.1:{dead[1]} does not answer (ConnectionError")
    assert 'data-health="degraded"' in panel
    assert f"sentinel 127.0.0.1:{dead[1]} does not answer" in panel


async def test_the_status_page_without_any_sentinel_says_down() -> None:
    settings = Settings(sentinels=[("127.0.0.1", free_port())], failover_deadline=0.2)
    async with app_client(settings) as client:
        body = (await client.get("/api/status")).json()
        panel = (await client.get("/status/panel")).text
    assert body["health"] == {"state": "down", "problems": ["no sentinel answers"]}
    assert 'data-health="down"' in panel


async def test_a_sentinel_the_app_cannot_hear_is_shown_with_why(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology()
    refused = topology.sentinel_nodes[2]
    refuse_the_app(topology, refused)
    where = f"127.0.0.1:{refused.port}"
    async with app_client(settings_for(topology)) as client:

        async def told() -> bool:
            body = (await client.get("/api/status")).json()
            return any(s["error"] for s in body["app"]["listener"])

        await wait_until_async(told, timeout=10)
        body = (await client.get("/api/status")).json()
        panel = (await client.get("/status/panel")).text
    heard = {s["sentinel"]: s for s in body["app"]["listener"]}
    assert heard[where]["listening"] is False
    assert heard[where]["error"].startswith("AuthenticationError")
    assert all(s["listening"] for address, s in heard.items() if address != where)
    problem = f"sentinel {where} does not answer (AuthenticationError"
    assert any(p.startswith(problem) for p in body["health"]["problems"])
    assert body["health"]["state"] == "degraded"
    assert 'not heard: <span class="hint">AuthenticationError' in panel


async def test_status_says_what_the_sentinels_disagree_about(
    make_topology: Callable[..., Topology],
) -> None:
    """As in the seconds of a failover, made to last: one sentinel names a replica."""
    topology = make_topology(down_after_ms=60_000)
    master, replica = topology.data_nodes[:2]
    first, second, odd = (f"127.0.0.1:{s.port}" for s in topology.sentinel_nodes)
    make_a_sentinel_disagree(topology, topology.sentinel_nodes[2], replica)
    async with app_client(settings_for(topology)) as client:
        await client.get("/unread-list/size")
        body = (await client.get("/api/status")).json()
        panel = (await client.get("/status/panel")).text
    said = (
        f"the sentinels disagree: {first}, {second} name 127.0.0.1:{master.port}; "
        f"{odd} names 127.0.0.1:{replica.port}"
    )
    assert said in body["health"]["problems"]
    assert body["health"]["state"] == "degraded"
    assert [s["names_master"] for s in body["sentinels"]][2] == f"127.0.0.1:{replica.port}"
    assert all(s["error"] is None for s in body["sentinels"])
    assert said in panel


async def test_status_says_plainly_that_writes_are_unavailable(settings: Settings) -> None:
    # The topology has 2 replicas: a board that waits for 3 to confirm a write writes nothing.
    greedy = settings.model_copy(update={"min_replica_acks": 3, "ack_timeout_ms": 50})
    async with app_client(greedy) as client:
        health = (await client.get("/api/status")).json()["health"]
    assert health["state"] == "down"
    assert health["problems"][0] == (
        "writes are unavailable: every write waits for 3 replicas to confirm it; 2 attached"
    )
    async with app_client(settings) as client:
        health = (await client.get("/api/status")).json()["health"]
    assert not any(p.startswith("writes are unavailable") for p in health["problems"])


@pytest.mark.failover
async def test_with_every_replica_dead_status_says_writes_are_refused(
    make_topology: Callable[..., Topology],
) -> None:
    topology = make_topology()
    async with app_client(settings_for(topology, failover_deadline=0.5)) as client:
        faults.kill(topology, "replica", 1)
        faults.kill(topology, "replica", 1)  # the other one, now the only one left

        async def says_refused() -> bool:
            health = (await client.get("/api/status")).json()["health"]
            return health["state"] == "down" and "(NOREPLICAS)" in health["problems"][0]

        await wait_until_async(says_refused, timeout=10)
        response = await client.post("/api/messages", json={"message": "refused"})
        assert response.status_code == 503
