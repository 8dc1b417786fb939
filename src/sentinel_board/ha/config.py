"""What the HA client is told: where the sentinels are, whom to ask for, how long to wait."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Address = tuple[str, int]
ReadFrom = Literal["master", "replica_preferred"]


def parse_address(text: str) -> Address:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text.strip()!r} is not host:port (for example 127.0.0.1:26380)")
    return host.strip("[]"), int(port)


def parse_addresses(text: str) -> tuple[Address, ...]:
    """`host:port` separated by commas: the way sentinels are usually listed."""
    return tuple(parse_address(part) for part in text.split(",") if part.strip())


def format_address(address: Address) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def tls_options(ca_file: str | Path | None) -> dict[str, Any]:
    """redis-py's options for TLS that verifies the server's certificate; none without a CA."""
    if ca_file is None:
        return {}
    return {
        "ssl": True,
        "ssl_ca_certs": str(ca_file),
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
    }


@dataclass(frozen=True)
class HAConfig:
    """Everything has a default but the sentinels. Times are in seconds, but `ack_timeout_ms`.

    sentinels: whom to ask where the master is (at least one; three or five in production).
    username, password: the data nodes' ACL user; sentinel_password: the sentinels'.
    tls_ca_file: speak TLS to every node, verifying certificates with this CA (PEM).
    read_from: `replica_preferred` lets reads marked stale_ok go to a replica.
    failover_deadline: how long a request waits for a master before Unavailable.
    min_replica_acks, ack_timeout_ms: every write is confirmed by WAIT for that many replicas
    within that time (0 replicas: no WAIT).
    listener_heartbeat: a quiet connection to a sentinel is pinged this often; three missed
    answers and it is replaced (a half-open connection sends nothing and never fails).
    """

    sentinels: Sequence[Address]
    master_name: str = "mymaster"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)
    tls_ca_file: str | Path | None = None
    read_from: ReadFrom = "master"
    sentinel_timeout: float = 0.3
    socket_timeout: float = 1.0
    connect_timeout: float = 0.5
    failover_deadline: float = 10.0
    min_replica_acks: int = 1
    ack_timeout_ms: int = 1000
    listener_heartbeat: float = 1.0
    client_name: str | None = "sentinel-ha"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sentinels", tuple(self.sentinels))
        if not self.sentinels:
            raise ValueError("sentinels: at least one sentinel host:port is needed")
        for name in ("sentinel_timeout", "socket_timeout", "connect_timeout"):
            _positive(name, getattr(self, name))
        _positive("failover_deadline", self.failover_deadline)
        _positive("listener_heartbeat", self.listener_heartbeat)
        if self.min_replica_acks < 0:
            raise ValueError("min_replica_acks: must be 0 or more")
        if self.ack_timeout_ms < 1:
            raise ValueError(
                "ack_timeout_ms: must be at least 1: WAIT with a timeout of 0 waits forever"
            )
        if self.read_from not in ("master", "replica_preferred"):
            raise ValueError("read_from: must be master or replica_preferred")

    @property
    def command_timeout(self) -> float:
        """How long one round trip to a data node may take: one batch of commands (those of
        concurrent requests, sent together), its write and its replies, a write's WAIT
        included."""
        return self.socket_timeout + self.ack_timeout_ms / 1000


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name}: must be a number of seconds above 0")
