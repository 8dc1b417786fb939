from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sentinel_board.topology.layout import Node

if TYPE_CHECKING:
    from sentinel_board.topology.launcher import Topology


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


def collect(topology: Topology) -> dict[str, Any]:
    spec = topology.spec
    # With no sentinel answering, the node that says it is master (it may be a stale one).
    master_name, source = topology.master_by_sentinels(), "sentinels"
    if master_name is None:
        master_name, source = topology.master_by_role(), "role"
    master = topology.node(master_name) if master_name else None
    links = _replica_links(topology, master)

    def entry(node: Node, role: str) -> dict[str, Any]:
        pid = topology.pid(node)
        return {
            "name": node.name,
            "host": node.host,
            "port": node.port,
            "pid": pid,
            "role": role,
            "alive": pid is not None,
        }

    replicas = []
    for node in topology.data_nodes:
        if node is master:
            continue
        item = entry(node, "replica")
        link = links.get(node.port, {})
        replication = topology.info(node, "replication") if item["alive"] else {}
        item.update(
            reports_role=topology.role(node) if item["alive"] else None,
            link=replication.get("master_link_status", "down"),
            offset=link.get("offset"),
            lag=link.get("lag"),
        )
        replicas.append(item)

    sentinels = []
    quorum_ok = False
    for node in topology.sentinel_nodes:
        item = entry(node, "sentinel")
        named = topology.ask(node, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", spec.master_name)
        item["names_master"] = f"{named[0]}:{named[1]}" if named else None
        if not quorum_ok and item["alive"]:
            reply = topology.ask(node, "SENTINEL", "CKQUORUM", spec.master_name)
            quorum_ok = isinstance(reply, str) and reply.startswith("OK")
        sentinels.append(item)

    app = None
    if topology.app is not None:
        pid = topology.pid(topology.app)
        app = {"url": spec.app_url, "pid": pid, "alive": pid is not None}

    return {
        "master_name": spec.master_name,
        "run_dir": str(spec.run_dir),
        "master": entry(master, "master") if master else None,
        "master_source": source if master else None,
        "replicas": replicas,
        "sentinels": sentinels,
        "app": app,
        "quorum_ok": quorum_ok,
        # Whether the nodes ask for passwords; the passwords themselves are never shown.
        "auth": spec.auth,
        "tls": spec.tls,
    }
