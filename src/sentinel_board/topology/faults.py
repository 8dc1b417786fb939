"""Faults on a local topology: a signal to whichever node has a role now.

The faults use the launcher (topology/launcher.py); the launcher knows nothing of them.
"""

from __future__ import annotations

import signal

from sentinel_board.topology import process
from sentinel_board.topology.launcher import Topology
from sentinel_board.topology.layout import Node, TopologyError

ROLES = ("master", "replica", "sentinel")


def pick(topology: Topology, role: str, index: int, sig: signal.Signals) -> Node:
    """The node that has `role` now: the master as the sentinels name it, replicas by ROLE."""
    if role not in ROLES:
        raise TopologyError(f"unknown role {role!r}", f"one of: {', '.join(ROLES)}")

    # CONT must find what STOP froze; a frozen node does not answer ROLE.
    def running(node: Node) -> bool:
        pid = topology.pid(node)
        return pid is not None and (sig == signal.SIGCONT or not process.is_stopped(pid))

    if role == "master":
        name = topology.master_name()
        candidates = [topology.node(name)] if name else []
        if sig == signal.SIGCONT:
            frozen = [
                n
                for n in topology.data_nodes
                if (pid := topology.pid(n)) and process.is_stopped(pid)
            ]
            candidates = [n for n in candidates if n in frozen] or frozen[:1]
    elif role == "replica":
        master = topology.master_name()
        candidates = [
            n
            for n in topology.data_nodes
            if n.name != master
            and running(n)
            and (sig == signal.SIGCONT or topology.role(n) == "replica")
        ]
    else:
        candidates = [n for n in topology.sentinel_nodes if running(n)]
    candidates = [n for n in candidates if topology.pid(n) is not None]
    if not candidates:
        raise TopologyError(
            f"no running {role} to signal",
            "see `sentinel-board status`; bring a node back with `sentinel-board start NODE`",
        )
    if not 1 <= index <= len(candidates):
        names = ", ".join(n.name for n in candidates)
        raise TopologyError(f"--index {index} is out of range", f"running {role}s: {names}")
    return candidates[index - 1]


def kill(
    topology: Topology, role: str, index: int = 1, sig: signal.Signals = signal.SIGKILL
) -> Node:
    """Send `sig` to the `index`th node that has `role` now; return that node."""
    node = pick(topology, role, index, sig)
    pid = process.read_pid(node.pid_path)
    assert pid is not None
    process.signal_node(pid, sig)
    return node
