"""The drills' network namespaces keep talking whatever the firewall's FORWARD policy.

A Docker engine on the same machine (`make compose-up`, `make compose-test`) loads
br_netfilter, so bridged packets go through iptables, and sets FORWARD's policy to DROP.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel_board.topology import netns
from sentinel_board.topology.layout import TopologySpec
from sentinel_board.topology.ports import free_ports

BRIDGE_NF = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


def _forward_policy() -> str:
    rules = subprocess.run(["iptables", "-w", "-S", "FORWARD"], capture_output=True, text=True)
    return rules.stdout.splitlines()[0].split()[-1]  # "-P FORWARD ACCEPT"


@pytest.fixture
def hostile_firewall() -> Iterator[None]:
    """FORWARD dropped and bridged traffic sent through it, as a Docker engine leaves them."""
    if (why := netns.available()) is not None or shutil.which("iptables") is None:
        pytest.skip(why or "iptables is missing")
    if shutil.which("modprobe"):
        subprocess.run(["modprobe", "br_netfilter"], capture_output=True, check=False)
    if not BRIDGE_NF.exists():
        pytest.skip("br_netfilter is not available: bridged traffic never meets iptables here")
    policy, bridge_nf = _forward_policy(), BRIDGE_NF.read_text()
    subprocess.run(["iptables", "-w", "-P", "FORWARD", "DROP"], check=True)
    BRIDGE_NF.write_text("1")
    try:
        yield
    finally:
        subprocess.run(["iptables", "-w", "-P", "FORWARD", policy], check=True)
        BRIDGE_NF.write_text(bridge_nf)


def test_nodes_reach_each_other_through_a_dropping_firewall(
    hostile_firewall: None, tmp_path: Path
) -> None:
    subnet = netns.free_subnet()
    spec = TopologySpec(run_dir=tmp_path, netns_subnet=subnet, data_ports=(6379, 6380))
    server, client = spec.data_nodes
    address = (server.host, free_ports(1)[0])
    netns.create(subnet, spec.data_nodes)
    serve = f"import socket; c, _ = socket.create_server({address!r}).accept(); c.send(b'ok')"
    listener = subprocess.Popen(netns.wrap(server, [sys.executable, "-c", serve]))
    try:
        connect = (
            "import socket, time\n"
            "for _ in range(100):\n"
            f"    try: print(socket.create_connection({address!r}, timeout=2).recv(2).decode())\n"
            "    except ConnectionRefusedError: time.sleep(0.05)\n"
            "    else: break\n"
        )
        answer = subprocess.run(
            netns.wrap(client, [sys.executable, "-c", connect]),
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert answer.stdout.strip() == "ok", answer.stderr
    finally:
        listener.kill()
        listener.wait()
        netns.destroy(subnet, spec.data_nodes)
    rules = subprocess.run(["iptables", "-w", "-S", "FORWARD"], capture_output=True, text=True)
    assert f"sbbr{subnet} " not in rules.stdout, "the rule for the bridge went with it"
