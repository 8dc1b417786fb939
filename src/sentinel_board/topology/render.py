from __future__ import annotations

import shlex
from pathlib import Path

from sentinel_board.keys import acl_key_patterns
from sentinel_board.topology.certificates import TLSFiles
from sentinel_board.topology.credentials import (
    APP_USER,
    REPLICA_USER,
    SENTINEL_USER,
    Credentials,
)
from sentinel_board.topology.layout import Node, SentinelSetup, is_hostname

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


def app_rules(key_prefix: str) -> str:
    keys = " ".join(acl_key_patterns(key_prefix))
    return f"resetchannels {keys} {APP_COMMANDS}"


def _bind(node: Node, auth: bool) -> list[str]:
    if node.bind is not None:
        addresses = node.bind
    elif node.netns is not None:  # its address on our test network, and loopback inside
        addresses = (node.host, "127.0.0.1")
    elif node.host == "localhost":  # a name Sentinel may resolve to either loopback address
        addresses = ("127.0.0.1", "-::1")
    elif is_hostname(node.host):  # a container or a machine known by name: every interface
        addresses = ("*", "-::*")
    else:
        addresses = (node.host,)
    loopback_only = all(address.lstrip("-") in ("127.0.0.1", "::1") for address in addresses)
    # Protected mode refuses clients from other hosts, but only when there is no password.
    protected = "yes" if auth or loopback_only else "no"
    return [f"bind {' '.join(addresses)}", f"protected-mode {protected}"]


def _data_auth(spec: SentinelSetup, secrets: Credentials) -> list[str]:
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
    spec: SentinelSetup,
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
    if is_hostname(node.host):
        # Replicas are known by the address they announce: a name outlives a container's IP.
        lines.append(f"replica-announce-ip {node.host}")
    if master is not None:
        lines.append(f"replicaof {master.host} {master.port}")
    return HEADER.format(name=node.name) + "\n".join(lines) + "\n"


def _hostnames(node: Node, master: Node) -> list[str]:
    """With names for addresses, Sentinel resolves them, and announces and records the names.

    It must come before `sentinel monitor`, which may then name the master by its name.
    """
    if not (is_hostname(node.host) or is_hostname(master.host)):
        return []
    lines = ["sentinel resolve-hostnames yes", "sentinel announce-hostnames yes"]
    if is_hostname(node.host):
        lines.append(f"sentinel announce-ip {node.host}")  # how the other sentinels know it
    return lines


def sentinel_conf(
    spec: SentinelSetup,
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
        *_hostnames(node, master),
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


def app_env(
    spec: SentinelSetup, secrets: Credentials | None, tls_ca: Path | None
) -> dict[str, str]:
    """The settings of an app in front of these nodes, credentials included."""
    return {
        "SENTINEL_BOARD_SENTINELS": ",".join(f"{n.host}:{n.port}" for n in spec.sentinel_nodes),
        "SENTINEL_BOARD_MASTER_NAME": spec.master_name,
        # With no replica, no write could ever be confirmed by one.
        "SENTINEL_BOARD_MIN_REPLICA_ACKS": str(min(1, len(spec.data_ports) - 1)),
        **(secrets.app_env() if secrets else {}),
        **({"SENTINEL_BOARD_TLS_CA_FILE": str(tls_ca)} if tls_ca else {}),
        # The keys its ACL user may touch: in app.env, so a restarted app keeps to them.
        **({"SENTINEL_BOARD_KEY_PREFIX": spec.app_key_prefix} if spec.app_key_prefix else {}),
    }


def env_file(env: dict[str, str]) -> str:
    """KEY=value lines that both a shell (`set -a; . app.env`) and Docker Compose read."""
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in env.items())


def read_env_file(path: Path) -> dict[str, str]:
    """What `env_file` wrote (comments and blank lines skipped); empty when there is no file."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return {}
    pairs = [line.split("=", 1) for line in lines if "=" in line and not line.startswith("#")]
    return {key: "".join(shlex.split(value)) for key, value in pairs}
