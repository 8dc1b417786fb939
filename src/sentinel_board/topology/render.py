from __future__ import annotations

from sentinel_board.topology.certificates import TLSFiles
from sentinel_board.topology.credentials import (
    APP_USER,
    REPLICA_USER,
    SENTINEL_USER,
    Credentials,
)
from sentinel_board.topology.layout import Node, TopologySpec

HEADER = "# Rendered by sentinel-board for {name}. Sentinel rewrites it after a failover.\n"

# What each user may do, as the Redis ACL documentation recommends for replication and
# Sentinel; the app's list is every command it sends, its Lua scripts' included.
REPLICA_RULES = "+psync +replconf +ping"
SENTINEL_RULES = (
    "allchannels +multi +slaveof +ping +exec +subscribe +config|rewrite +role +publish "
    "+info +client|setname +client|kill +script|kill"
)
APP_COMMANDS = (
    "+ping +client|setname +role +info +evalsha +eval +wait +multi +exec "
    "+llen +lrange +rpush +lpop +get +set +incr +pexpire +pttl"
)
APP_KEYS = ("UNREAD", "READ", "dedup:*", "notify:*", "rate:*", "readyz")


def app_rules(key_prefix: str) -> str:
    keys = " ".join(f"~{key_prefix}{key}" for key in APP_KEYS)
    return f"resetchannels {keys} {APP_COMMANDS}"


def _bind(node: Node, auth: bool) -> list[str]:
    if node.netns is None:
        return [f"bind {node.host}", "protected-mode yes"]
    # A namespace of our own on a private test network; loopback is for a client inside it.
    # Protected mode refuses other hosts only when there is no password.
    return [f"bind {node.host} 127.0.0.1", f"protected-mode {'yes' if auth else 'no'}"]


def _data_auth(spec: TopologySpec, secrets: Credentials) -> list[str]:
    return [
        f"requirepass {secrets.admin}",
        f"masteruser {REPLICA_USER}",
        f"masterauth {secrets.replica}",
        f"user {REPLICA_USER} on >{secrets.replica} {REPLICA_RULES}",
        f"user {SENTINEL_USER} on >{secrets.monitor} {SENTINEL_RULES}",
        f"user {APP_USER} on >{secrets.app} {app_rules(spec.app_key_prefix)}",
    ]


def _listen(node: Node, tls: TLSFiles | None) -> list[str]:
    """Plain TCP on the node's port, or TLS only: for clients, replication and sentinels."""
    if tls is None:
        return [f"port {node.port}"]
    return [
        "port 0",
        f"tls-port {node.port}",
        f'tls-cert-file "{tls.cert}"',
        f'tls-key-file "{tls.key}"',
        f'tls-ca-cert-file "{tls.ca}"',
        # Clients prove who they are with their password; the nodes prove it with TLS.
        "tls-auth-clients no",
        "tls-replication yes",
    ]


def redis_conf(
    spec: TopologySpec,
    node: Node,
    master: Node | None,
    secrets: Credentials | None,
    tls: TLSFiles | None = None,
) -> str:
    lines = [
        *_bind(node, secrets is not None),
        *_listen(node, tls),
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
        *(_data_auth(spec, secrets) if secrets else []),
    ]
    if master is not None:
        lines.append(f"replicaof {master.host} {master.port}")
    return HEADER.format(name=node.name) + "\n".join(lines) + "\n"


def sentinel_conf(
    spec: TopologySpec,
    node: Node,
    master: Node,
    secrets: Credentials | None,
    tls: TLSFiles | None = None,
) -> str:
    name = spec.master_name
    lines = [
        *_bind(node, secrets is not None),
        *_listen(node, tls),
        "daemonize no",
        f'dir "{node.dir}"',
        f"sentinel monitor {name} {master.host} {master.port} {spec.quorum}",
        f"sentinel down-after-milliseconds {name} {spec.down_after_ms}",
        f"sentinel failover-timeout {name} {spec.failover_timeout_ms}",
        f"sentinel parallel-syncs {name} 1",
    ]
    if secrets is not None:
        lines += [
            f"requirepass {secrets.sentinel}",
            f"sentinel sentinel-pass {secrets.sentinel}",  # to the other sentinels
            f"sentinel auth-user {name} {SENTINEL_USER}",
            f"sentinel auth-pass {name} {secrets.monitor}",
        ]
    return HEADER.format(name=node.name) + "\n".join(lines) + "\n"
