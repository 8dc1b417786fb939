from __future__ import annotations

import ipaddress
import json
import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

Kind = Literal["redis", "sentinel", "app"]


def is_hostname(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


class TopologyError(Exception):
    """A user-facing refusal: what went wrong, and a hint on what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Node:
    name: str
    kind: Kind
    port: int
    run_dir: Path
    host: str = "127.0.0.1"  # how the others reach it: an address, or a name with DNS
    netns: str | None = None  # the network namespace it runs in, if any
    # For configs rendered for other machines (topology/deploy.py): where the node keeps its
    # files there, and the addresses it listens on there (default: its host).
    workdir: Path | None = None
    bind: tuple[str, ...] | None = None

    @property
    def dir(self) -> Path:
        return self.workdir or self.run_dir / self.name

    @property
    def config_path(self) -> Path:
        return self.dir / ("sentinel.conf" if self.kind == "sentinel" else "redis.conf")

    @property
    def pid_path(self) -> Path:
        return self.dir / "pid"

    @property
    def log_path(self) -> Path:
        return self.dir / "log"


def majority(sentinels: int) -> int:
    """The default quorum: a majority of the sentinels (2 of 3, 3 of 5, 1 of 1)."""
    return sentinels // 2 + 1


def consecutive(first: int, count: int) -> tuple[int, ...]:
    """`count` ports from `first` on, as `up --port-base` gives them."""
    return tuple(range(first, first + count))


def check_words(*words: tuple[str, str]) -> None:
    for what, word in words:
        if re.search(r"[\s\"'#]", word):
            raise TopologyError(f"{what} {word!r} has a space, a quote or a #", "leave them out")


@dataclass(frozen=True)
class SentinelSetup(ABC):
    """What every node's config says, wherever the nodes run: the ports, Sentinel's settings,
    the credentials' presence and the app's key prefix. `TopologySpec` (the local launcher's)
    and `deploy.DeploymentSpec` (render-config's, for other hosts) add where the nodes are."""

    data_ports: tuple[int, ...] = (6380, 6381, 6382)
    sentinel_ports: tuple[int, ...] = (26380, 26381, 26382)
    quorum: int = 2
    down_after_ms: int = 3000
    failover_timeout_ms: int = 10000
    master_name: str = "mymaster"
    # Passwords and ACL users on every node (see topology/credentials.py); False: none at all.
    auth: bool = True
    # The app keeps its keys under this prefix (app.env says so), and its ACL user may touch
    # only those. It is also a glob in the ACL: tests use "*", any prefix.
    app_key_prefix: str = ""

    @property
    @abstractmethod
    def data_nodes(self) -> list[Node]: ...

    @property
    @abstractmethod
    def sentinel_nodes(self) -> list[Node]: ...

    @property
    def nodes(self) -> list[Node]:
        return [*self.data_nodes, *self.sentinel_nodes]

    def __post_init__(self) -> None:
        if len(self.data_ports) < 1 or len(self.sentinel_ports) < 1:
            raise TopologyError("a topology needs at least one data node and one sentinel")
        # Each goes into a config line, an ACL rule or an env file as one word.
        if not re.fullmatch(r"[A-Za-z0-9._-]+", self.master_name):
            raise TopologyError(
                f"master name {self.master_name!r} is not one word",
                "use letters, digits, '.', '_' and '-' only, such as mymaster",
            )
        check_words(("key prefix", self.app_key_prefix))

    def _check_places(self) -> None:
        """After the subclass's own checks: no two nodes on one host and port, a quorum."""
        places = [(node.host, node.port) for node in self.nodes]
        if twice := sorted({place for place in places if places.count(place) > 1}):
            host, port = twice[0]
            raise TopologyError(
                f"port {port} on {host} is given to two nodes",
                "every data node, sentinel and the app need a port of their own",
            )
        if not 1 <= self.quorum <= len(self.sentinel_ports):
            raise TopologyError(
                f"quorum {self.quorum} is not between 1 and {len(self.sentinel_ports)}",
                "use --quorum 2 with 3 sentinels (a majority)",
            )


# What a run dir's configs and data fix, by field: what to say of it.
FIXED = {
    "host": "host",
    "data_ports": "data node ports (--port-base, --replicas)",
    "sentinel_ports": "sentinel ports (--sentinel-port-base, --sentinels)",
    "master_name": "master name",
    "netns_subnet": "network namespaces",
    "auth": "auth (--no-auth)",
    "tls": "TLS (--tls)",
}
# What `up` applies to sentinels restarted with other values (SENTINEL SET), by field: the
# option, as SENTINEL MASTER names it too.
LIVE = {
    "quorum": "quorum",
    "down_after_ms": "down-after-milliseconds",
    "failover_timeout_ms": "failover-timeout",
}


@dataclass(frozen=True)
class TopologySpec(SentinelSetup):
    """What `up` starts on this machine. Ports are explicit so tests can ask for free ones."""

    run_dir: Path = Path(".sentinel-board")
    host: str = "127.0.0.1"
    app_port: int | None = 8080
    server: str = "redis"  # redis, valkey, or the path of a server binary (topology/servers.py)
    workers: int = 1
    log_format: str = "text"
    extra_env: dict[str, str] = field(default_factory=dict)
    # Set: every Redis node runs in a network namespace of its own on 10.77.<subnet>.0/24,
    # so that a drill can cut one off (see topology/netns.py). Needs root.
    netns_subnet: int | None = None
    # TLS only, with a CA and a certificate generated into the run dir (topology/certificates.py).
    tls: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_words(("host", self.host))
        self._check_places()
        object.__setattr__(self, "run_dir", Path(self.run_dir).absolute())

    @property
    def nodes(self) -> list[Node]:
        return [*super().nodes, *filter(None, [self.app_node])]

    def fixed_changes(self, previous: TopologySpec) -> list[str]:
        """What `previous` (a run dir's) has otherwise, that its configs and data cannot take
        without deleting them (the app's settings may differ; LIVE ones are applied)."""
        return [
            what for name, what in FIXED.items() if getattr(self, name) != getattr(previous, name)
        ]

    def _node(self, kind: Kind, number: int, port: int) -> Node:
        name = f"{kind}-{number}"
        if self.netns_subnet is None:
            return Node(name, kind, port, self.run_dir, self.host)
        host = f"10.77.{self.netns_subnet}.{number + (10 if kind == 'redis' else 20)}"
        return Node(name, kind, port, self.run_dir, host, f"sb{self.netns_subnet}-{name}")

    @property
    def data_nodes(self) -> list[Node]:
        return [self._node("redis", i, port) for i, port in enumerate(self.data_ports, 1)]

    @property
    def sentinel_nodes(self) -> list[Node]:
        return [self._node("sentinel", i, port) for i, port in enumerate(self.sentinel_ports, 1)]

    @property
    def app_node(self) -> Node | None:
        return None if self.app_port is None else Node("app", "app", self.app_port, self.run_dir)

    @property
    def app_url(self) -> str | None:
        return None if self.app_port is None else f"http://{self.host}:{self.app_port}"

    @property
    def manifest_path(self) -> Path:
        return self.run_dir / "topology.json"

    def save(self) -> None:
        data = asdict(self)
        data["run_dir"] = str(self.run_dir)
        data.pop("extra_env")  # may hold settings a user would not want on disk
        # For people and other tools; `load` derives these again from the settings above.
        data["app_url"] = self.app_url
        data["nodes"] = [
            {
                "name": node.name,
                "kind": node.kind,
                "host": node.host,
                "port": node.port,
                "config": str(node.config_path) if node.kind != "app" else None,
                "pid_file": str(node.pid_path),
                "log": str(node.log_path),
            }
            for node in self.nodes
        ]
        self.manifest_path.write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, run_dir: Path) -> TopologySpec:
        path = Path(run_dir) / "topology.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise TopologyError(
                f"no topology in {Path(run_dir).absolute()}",
                "start one with `sentinel-board up`, or pass the --run-dir it used",
            ) from None
        for derived in ("app_url", "nodes"):
            data.pop(derived, None)
        if "redis_server" in data:  # run dirs written before --server existed
            data["server"] = data.pop("redis_server")
        for legacy in ("data_hosts", "sentinel_hosts", "node_dir", "bind"):
            data.pop(legacy, None)  # run dirs written when render-config's spec was this one
        for name in ("data_ports", "sentinel_ports"):
            if name in data:
                data[name] = tuple(data[name])
        return replace(cls(), **data)
