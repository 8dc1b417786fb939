"""The local topology's status, as `status` and `up` show it: typed, and as JSON.

The web app's own picture (monitor.py, for the status page and /api/status) is made from what
the app's HA client knows, with no access to the processes: it cannot import the launcher,
which this picture needs (pids, pid files, each node's own ROLE and INFO).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
    listener: list[dict[str, Any]] | None = None  # from the app's /api/status


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
        if len(self.named) < 2:
            return None
        return "; ".join(
            f"{', '.join(sentinels)} {'names' if len(sentinels) == 1 else 'name'} {node}"
            for node, sentinels in self.named.items()
        )

    def as_json(self) -> dict[str, Any]:
        report = asdict(self)
        report.pop("named")
        return report


def _replica_links(topology: Topology, master: Node | None) -> dict[int, dict[str, Any]]:
    """The master's own view of its replicas: port -> state, offset, lag."""
    if master is None:
        return {}
    replication = topology.info(master, "replication")
    links = {}
    for key, value in replication.items():
        if key.startswith("slave") and isinstance(value, dict):
            links[int(value["port"])] = value
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
        link = links.get(node.port, {})
        replication = topology.info(node, "replication") if alive else {}
        replicas.append(
            ReplicaStatus(
                **asdict(entry(node, "replica")),
                reports_role=topology.role(node) if alive else None,
                link=replication.get("master_link_status", "down"),
                offset=link.get("offset"),
                lag=link.get("lag"),
            )
        )

    sentinels = []
    named: dict[str, list[str]] = {}
    quorum_ok = False
    by_address = {f"{node.host}:{node.port}": node.name for node in topology.data_nodes}
    for node in topology.sentinel_nodes:
        reply = topology.ask(node, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", spec.master_name)
        names = f"{reply[0]}:{reply[1]}" if reply else None
        sentinel = SentinelStatus(**asdict(entry(node, "sentinel")), names_master=names)
        if names is not None:
            named.setdefault(by_address.get(names, names), []).append(node.name)
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
        named=named,
    )
