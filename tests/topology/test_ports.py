from __future__ import annotations

import socket

from sentinel_board.topology.ports import free_ports


def test_free_ports_are_distinct_and_free() -> None:
    ports = free_ports(50)
    assert len(set(ports)) == 50
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
