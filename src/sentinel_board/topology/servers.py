"""Which server runs the nodes: Redis or Valkey, by name or by path, and how to run a sentinel.

Valkey, the Linux Foundation's fork of Redis 7.2, takes the same configs, commands and
Sentinel protocol; the launcher runs either. `redis` and `valkey` name the binaries on PATH
(`redis-server`, `valkey-server`); anything else is the path of a server binary.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sentinel_board.topology.layout import TopologyError

NAMES = ("redis", "valkey")
OLDEST = {"redis": (6, 2), "valkey": (7, 2)}
INSTALL = {
    "redis": "install it (Debian/Ubuntu: sudo apt-get install redis-server redis-sentinel)",
    "valkey": (
        "install it (Debian 13: sudo apt-get install valkey-server valkey-sentinel; Debian 12: "
        "add the bookworm-backports suite to apt's sources, then sudo apt-get install -t "
        "bookworm-backports valkey-server valkey-sentinel)"
    ),
}


@dataclass(frozen=True)
class Server:
    kind: str  # redis or valkey: what the binary says it is
    version: str
    path: str
    sentinel: str | None  # `<kind>-sentinel` beside the server, if there is one

    @property
    def label(self) -> str:
        return f"{self.kind.capitalize()} {self.version}"

    def argv(self, config: Path, *, sentinel: bool = False) -> list[str]:
        """How to start a node on `config`: the sentinel binary, or the server in sentinel mode."""
        if not sentinel:
            return [self.path, str(config)]
        if self.sentinel is not None:
            return [self.sentinel, str(config)]
        return [self.path, str(config), "--sentinel"]


def find(choice: str) -> Server:
    """The server `choice` names (redis, valkey, or a path), checked to be recent enough."""
    kind = choice if choice in NAMES else None
    path = shutil.which(f"{choice}-server" if kind else choice)
    hint = INSTALL[kind or "redis"] + (", or pass --server PATH" if kind else "")
    if path is None:
        wanted = f"{choice}-server" if kind else choice
        raise TopologyError(f"{wanted} not found", hint)
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"^(\w+) server v=(\d+)\.(\d+)\.(\d+)", out)
    if match is None or match[1].lower() not in NAMES:
        raise TopologyError(f"{path} does not say it is Redis or Valkey: {out.strip()!r}", hint)
    said = match[1].lower()
    version = tuple(int(part) for part in match.groups()[1:])
    if version[:2] < OLDEST[said]:
        oldest = ".".join(map(str, OLDEST[said]))
        raise TopologyError(
            f"{path} is {said.capitalize()} {'.'.join(map(str, version))}; {oldest} or newer "
            "is needed",
            INSTALL[said],
        )
    name = Path(path).name
    beside = Path(path).with_name(name.replace("-server", "-sentinel"))
    sentinel = str(beside) if name.endswith("-server") and beside.exists() else None
    return Server(said, ".".join(map(str, version)), path, sentinel)
