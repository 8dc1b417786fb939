"""The local topology's status, as `status` and `up` show it: typed, and as JSON.

Produced here from the launcher's processes (pids, each node's own ROLE and INFO), which the
web app may not import; the web app's picture (monitor.py) is produced from what its HA client
knows. What the two share is typed once in picture.py: which master each sentinel names and
the words for a disagreement, the board's listener and its health (read from its /api/status).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import httpx

from sentinel_board.picture import (
    Health,
    Listener,
    disagreement,
    health_from_json,
    listener_from_json,
    named_masters,
)
from sentinel_board.topology.launcher import Topology
from sentinel_board.topology.layout import Node


@dataclass
class NodeStatus:
    name: str
    host: str
    port: int
    pid: int | None
    role: str  # what the sentinels make it: master, replica or sentinel
    alive: bool


@dataclass
class ReplicaStatus(NodeStatus):
    reports_role: str | None  # what its own ROLE says; None when it does not answer
    link: str  # master_link_status from its INFO: up, or down
    offset: int | None  # from the master's INFO: None when the master does not answer
    lag: int | None


@dataclass
class SentinelStatus(NodeStatus):
    names_master: str | None  # host:port, or None when it does not answer


@dataclass
class AppStatus:
    url: str
    pid: int | None
    alive: bool
    # From the app's /api/status; None when it is down or does not say.
    listener: list[Listener] | None = None
    health: Health | None = None


@dataclass
class TopologyStatus:
    master_name: str
    run_dir: str
    master: NodeStatus | None
    master_source: str | None  # sentinels, or role when no sentinel answers
    replicas: list[ReplicaStatus]
    sentinels: list[SentinelStatus]
    app: AppStatus | None
    quorum_ok: bool
    # Whether the nodes ask for passwords; the passwords themselves are never shown.
    auth: bool
    tls: bool
    # Each node a sentinel names master (name, or host:port), and which sentinels do: more
    # than one while they disagree, as in the seconds of a failover.
    named: dict[str, list[str]] = field(default_factory=dict)

    @property
    def disagreement(self) -> str | None:
        """What the answering sentinels disagree about, in words; None when they agree."""
        return disagreement(self.named)

    def as_json(self) -> dict[str, object]:
        report = asdict(self)
        report.pop("named")
        return report


class Link(NamedTuple):
    offset: int | None
    lag: int | None


def _replica_links(topology: Topology, master: Node | None) -> dict[int, Link]:
    """The master's own view of its replicas: port -> offset, lag."""
    if master is None:
        return {}
    replication = topology.info(master, "replication")
    links = {}
    for key, value in replication.items():
        if key.startswith("slave") and isinstance(value, dict):
            links[int(value["port"])] = Link(value.get("offset"), value.get("lag"))
    return links


def collect(topology: Topology) -> TopologyStatus:
    spec = topology.spec
    # With no sentinel answering, the node that says it is master (it may be a stale one).
    master_name, source = topology.master_by_sentinels(), "sentinels"
    if master_name is None:
        master_name, source = topology.master_by_role(), "role"
    master = topology.node(master_name) if master_name else None
    links = _replica_links(topology, master)

    def entry(node: Node, role: str) -> NodeStatus:
        pid = topology.pid(node)
        return NodeStatus(node.name, node.host, node.port, pid, role, pid is not None)

    replicas = []
    for node in topology.data_nodes:
        if node is master:
            continue
        alive = topology.pid(node) is not None
        link = links.get(node.port, Link(None, None))
        replication = topology.info(node, "replication") if alive else {}
        replicas.append(
            ReplicaStatus(
                **asdict(entry(node, "replica")),
                reports_role=topology.role(node) if alive else None,
                link=replication.get("master_link_status", "down"),
                offset=link.offset,
                lag=link.lag,
            )
        )

    sentinels = []
    quorum_ok = False
    for node in topology.sentinel_nodes:
        reply = topology.ask(node, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", spec.master_name)
        names = f"{reply[0]}:{reply[1]}" if reply else None
        sentinel = SentinelStatus(**asdict(entry(node, "sentinel")), names_master=names)
        if not quorum_ok and sentinel.alive:
            reply = topology.ask(node, "SENTINEL", "CKQUORUM", spec.master_name)
            quorum_ok = isinstance(reply, str) and reply.startswith("OK")
        sentinels.append(sentinel)

    app = None
    if topology.app is not None and spec.app_url is not None:
        pid = topology.pid(topology.app)
        app = AppStatus(spec.app_url, pid, pid is not None)

    return TopologyStatus(
        master_name=spec.master_name,
        run_dir=str(spec.run_dir),
        master=entry(master, "master") if master else None,
        master_source=source if master else None,
        replicas=replicas,
        sentinels=sentinels,
        app=app,
        quorum_ok=quorum_ok,
        auth=spec.auth,
        tls=spec.tls,
        named=named_masters(
            ((s.name, s.names_master) for s in sentinels),
            {f"{node.host}:{node.port}": node.name for node in topology.data_nodes},
        ),
    )


def ask_the_app(app: AppStatus) -> None:
    """Whether the app hears each sentinel's events, and its health, from its /api/status;
    both left None if it does not say, or not in the picture's shape (status shows the rest)."""
    try:
        answer = httpx.get(f"{app.url}/api/status", timeout=3).json()
        listener = [listener_from_json(entry) for entry in answer["app"]["listener"]]
        health = health_from_json(answer["health"])
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return
    app.listener, app.health = listener, health
