"""Test hosts of our own: each Redis node in a network namespace, joined by one bridge.

Only for drills that cut the network (a partition); it needs root and iproute2. The app and
the drill's clients stay in the root namespace and reach the nodes through the bridge.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

from sentinel_board.topology.layout import Node, TopologyError


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is missing"
    return None


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise TopologyError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def free_subnet() -> int:
    """A subnet number (10.77.<n>.0/24) whose bridge no other run has made."""
    taken = {int(p.name[4:]) for p in Path("/sys/class/net").glob("sbbr*") if p.name[4:].isdigit()}
    return random.choice([n for n in range(100, 250) if n not in taken])


def _bridge(subnet: int) -> str:
    return f"sbbr{subnet}"


def _outside(node: Node) -> str:
    """The host end of the node's veth pair (at most 15 characters)."""
    return f"sb{node.host.rsplit('.', 2)[1]}v{node.host.rsplit('.', 1)[1]}"


def _forwarding_rule(bridge: str, action: str) -> None:
    """Let traffic between the nodes cross the bridge whatever the firewall's policy.

    Bridged packets go through iptables' FORWARD chain once br_netfilter is loaded, and a
    Docker engine on the same machine loads it and sets FORWARD's policy to DROP.
    """
    if shutil.which("iptables") is None:
        return
    argv = ["iptables", "-w", action, "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0 and action == "-I":
        raise TopologyError(f"{' '.join(argv)}: {done.stderr.strip()}")


def create(subnet: int, nodes: list[Node]) -> None:
    if (why := available()) is not None:
        raise TopologyError(f"cannot make network namespaces: {why}")
    bridge = _bridge(subnet)
    _ip("link", "add", bridge, "type", "bridge")
    _ip("addr", "add", f"10.77.{subnet}.1/24", "dev", bridge)
    _ip("link", "set", bridge, "up")
    _forwarding_rule(bridge, "-I")
    for node in nodes:
        assert node.netns is not None
        outside = _outside(node)
        _ip("netns", "add", node.netns)
        _ip("-n", node.netns, "link", "set", "lo", "up")
        _ip("link", "add", outside, "type", "veth", "peer", "name", "eth0", "netns", node.netns)
        _ip("link", "set", outside, "master", bridge, "up")
        _ip("-n", node.netns, "addr", "add", f"{node.host}/24", "dev", "eth0")
        _ip("-n", node.netns, "link", "set", "eth0", "up")


def destroy(subnet: int, nodes: list[Node]) -> None:
    """Remove what `create` made; whatever is already gone is fine."""
    for node in nodes:
        if node.netns is not None:
            subprocess.run(["ip", "netns", "del", node.netns], capture_output=True, check=False)
    subprocess.run(["ip", "link", "del", _bridge(subnet)], capture_output=True, check=False)
    _forwarding_rule(_bridge(subnet), "-D")


def cut(node: Node) -> None:
    """Partition the node from everyone: its link to the bridge goes down."""
    _ip("link", "set", _outside(node), "down")


def heal(node: Node) -> None:
    _ip("link", "set", _outside(node), "up")


def wrap(node: Node, argv: list[str]) -> list[str]:
    return argv if node.netns is None else ["ip", "netns", "exec", node.netns, *argv]
