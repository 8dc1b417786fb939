"""`up --tls`: TLS only, for clients, replication and the sentinels, verified against our CA."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sentinel_board.topology import Topology, certificates, faults
from sentinel_board.topology.certificates import TLSFiles
from tests.conftest import running
from tests.helpers import app_client, settings_for


def plain_text_ping(host: str, port: int) -> bytes:
    """What a node answers a PING sent without TLS: a TLS alert, nothing, or a reset."""
    with socket.create_connection((host, port), timeout=1) as sock:
        try:
            sock.sendall(b"PING\r\n")
            return sock.recv(100)
        except (TimeoutError, ConnectionResetError):
            return b""


@pytest.fixture(scope="module")
def tls_topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """For the tests that do not break it."""
    with running(tmp_path_factory.mktemp("tls"), tls=True) as started:
        yield started


def test_every_node_speaks_tls_only_and_replicates_over_it(tls_topology: Topology) -> None:
    for node in [*tls_topology.data_nodes, *tls_topology.sentinel_nodes]:
        config = node.config_path.read_text()
        assert "port 0\n" in config and f"tls-port {node.port}\n" in config
        assert tls_topology.ask(node, "PING") is True
        assert b"PONG" not in plain_text_ping(node.host, node.port)
    for replica in tls_topology.data_nodes[1:]:
        assert tls_topology.info(replica, "replication")["master_link_status"] == "up"
        assert "tls-replication yes" in replica.config_path.read_text()


def test_a_certificate_from_another_ca_is_refused(tls_topology: Topology, tmp_path: Path) -> None:
    other = TLSFiles.in_dir(tmp_path)
    certificates.create(other, ["127.0.0.1"])
    node = tls_topology.data_nodes[0]
    with (
        redis.Redis(
            host=node.host,
            port=node.port,
            password=tls_topology.password(node),
            ssl=True,
            ssl_ca_certs=str(other.ca),
            retry=Retry(NoBackoff(), 0),
        ) as client,
        pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.ping()


@pytest.mark.failover
async def test_the_app_verifies_and_follows_a_failover_over_tls(
    make_topology: Callable[..., Topology],
) -> None:
    tls_topology = make_topology(tls=True)
    settings = settings_for(tls_topology, failover_deadline=15)
    assert settings.tls_ca_file == tls_topology.tls.ca if tls_topology.tls else False
    async with app_client(settings, timeout=30) as client:
        before = await client.post("/api/messages", json={"message": "before, over TLS"})
        assert before.status_code == 201
        old = tls_topology.master_name()
        faults.kill(tls_topology, "master")
        after = await client.post("/api/messages", json={"message": "after, over TLS"})
        assert after.status_code == 201
        assert tls_topology.master_name() != old
        listed = (await client.get("/api/messages")).json()["unread"]
        assert [m["message"] for m in listed][-2:] == ["before, over TLS", "after, over TLS"]
