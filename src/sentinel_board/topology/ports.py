from __future__ import annotations

import socket
from contextlib import ExitStack


def free_ports(count: int, host: str = "127.0.0.1") -> tuple[int, ...]:
    """`count` distinct ports nothing listens on now; the kernel picks them.

    All are held until all are chosen: picked one by one, the kernel may hand out a port twice.
    """
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((host, 0))
        return tuple(sock.getsockname()[1] for sock in socks)


def free_port(host: str = "127.0.0.1") -> int:
    return free_ports(1, host)[0]
