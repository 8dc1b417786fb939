"""What a Docker engine changes on the machine: seen before it starts, undone after it stops.

Its bridges (docker0, br-*), the firewall rules and chains it adds (IPv4: filter, nat, mangle,
raw; it is started without IPv6 rules), and two kernel settings: IP forwarding, and whether
bridged traffic goes through iptables (br_netfilter, which it loads). Only what matches a
Docker engine's names or our subnets is touched: nobody else's rules.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

TABLES = ("filter", "nat", "mangle", "raw")
OURS = re.compile(r"DOCKER|docker0|br-[0-9a-f]{12}|172\.29\.")
SETTINGS = (
    "/proc/sys/net/ipv4/ip_forward",
    "/proc/sys/net/bridge/bridge-nf-call-iptables",
    "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
)


@dataclass(frozen=True)
class Snapshot:
    rules: dict[str, list[str]]  # `iptables -S` of each table
    links: list[str]
    settings: dict[str, str | None]  # None: the setting did not exist (module not loaded)

    @classmethod
    def now(cls) -> Snapshot:
        settings = {name: _read(name) for name in SETTINGS}
        return cls(_rules(), _links(), settings)


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _rules() -> dict[str, list[str]]:
    if shutil.which("iptables") is None:
        return {}
    return {
        table: subprocess.run(
            ["iptables", "-w", "-t", table, "-S"], capture_output=True, text=True, check=False
        ).stdout.splitlines()
        for table in TABLES
    }


def _links() -> list[str]:
    return sorted(path.name for path in Path("/sys/class/net").iterdir())


def undo(before: Snapshot) -> None:
    """Remove the links and firewall rules added since `before`; put the settings back.
    Each step goes on whatever the others did: what could not be undone shows in leftovers."""
    for link in sorted(set(_links()) - set(before.links)):
        if OURS.fullmatch(link) and shutil.which("ip"):
            subprocess.run(["ip", "link", "delete", link], capture_output=True, check=False)
    for table, lines in _rules().items():
        old = set(before.rules.get(table, []))
        added = [line for line in lines if line not in old and OURS.search(line)]
        for line in added:  # rules first, then the chains they used
            if line.startswith("-A "):
                _iptables(table, "-D", *shlex.split(line)[1:])
        for line in added:
            if line.startswith("-N "):
                _iptables(table, "-F", line.split()[1])
                _iptables(table, "-X", line.split()[1])
        for line in old:  # dockerd sets FORWARD's policy to DROP
            if line.startswith("-P ") and line not in lines:
                _iptables(table, *line.split())
    for path, value in before.settings.items():
        if _read(path) not in (None, value):
            # Absent before (br_netfilter not loaded): bridged traffic skipped iptables then.
            Path(path).write_text(value if value is not None else "0")


def _iptables(table: str, *args: str) -> None:
    subprocess.run(["iptables", "-w", "-t", table, *args], capture_output=True, check=False)


def leftovers(before: Snapshot) -> list[str]:
    """What is still changed since `before`: links, firewall rules and policies, settings."""
    left = [f"link {link}" for link in set(_links()) - set(before.links) if OURS.fullmatch(link)]
    for table, lines in _rules().items():
        old = set(before.rules.get(table, []))
        left += [f"{table}: {line}" for line in lines if line not in old and OURS.search(line)]
        left += [f"{table}: {line}" for line in lines if line.startswith("-P ") and line not in old]
    for path, value in before.settings.items():
        if (now := _read(path)) not in (None, value if value is not None else "0"):
            left.append(f"{path}={now}")
    return left


def overlaps(subnet: str) -> str | None:
    """A network of this machine's that `subnet` would overlap (a route, or an address of one
    of its interfaces), Docker's own bridges aside; None when it is free."""
    wanted = ipaddress.ip_network(subnet, strict=False)
    try:
        table = Path("/proc/net/route").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in table:
        interface, destination, _, _, _, _, _, mask = line.split()[:8]
        if OURS.fullmatch(interface) or destination == "00000000":  # the default route
            continue
        network = ipaddress.ip_network(f"{_address(destination)}/{_address(mask)}", strict=False)
        if network.overlaps(wanted):
            return f"{network} (on {interface})"
    return None


def _address(little_endian_hex: str) -> str:
    return str(ipaddress.IPv4Address(bytes.fromhex(little_endian_hex)[::-1]))
