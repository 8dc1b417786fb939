from __future__ import annotations

from sentinel_board.topology.layout import Node, TopologySpec

HEADER = "# Rendered by sentinel-board for {name}. Sentinel rewrites it after a failover.\n"


def _bind(node: Node) -> list[str]:
    if node.netns is None:
        return [f"bind {node.host}", "protected-mode yes"]
    # A namespace of our own on a private test network; loopback is for a client inside it.
    return [f"bind {node.host} 127.0.0.1", "protected-mode no"]


def redis_conf(spec: TopologySpec, node: Node, master: Node | None) -> str:
    lines = [
        *_bind(node),
        f"port {node.port}",
        "daemonize no",
        f'dir "{node.dir}"',
        "appendonly yes",
        "appendfsync everysec",
        # A master cut off from every replica stops taking writes it would lose.
        f"min-replicas-to-write {min(1, len(spec.data_ports) - 1)}",
        "min-replicas-max-lag 10",
        # Start a full sync at once: the default waits 5 s for more replicas to join.
        "repl-diskless-sync yes",
        "repl-diskless-sync-delay 0",
    ]
    if master is not None:
        lines.append(f"replicaof {master.host} {master.port}")
    return HEADER.format(name=node.name) + "\n".join(lines) + "\n"


def sentinel_conf(spec: TopologySpec, node: Node, master: Node) -> str:
    name = spec.master_name
    lines = [
        *_bind(node),
        f"port {node.port}",
        "daemonize no",
        f'dir "{node.dir}"',
        f"sentinel monitor {name} {master.host} {master.port} {spec.quorum}",
        f"sentinel down-after-milliseconds {name} {spec.down_after_ms}",
        f"sentinel failover-timeout {name} {spec.failover_timeout_ms}",
        f"sentinel parallel-syncs {name} 1",
    ]
    return HEADER.format(name=node.name) + "\n".join(lines) + "\n"
