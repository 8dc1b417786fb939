"""Configs for nodes on other machines or in containers: `sentinel-board render-config`.

The same functions render them as render the launcher's own (topology/render.py), so the two
never drift: only the hosts, ports, folder and listening addresses differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentinel_board.ha import Address, parse_address
from sentinel_board.topology import render
from sentinel_board.topology.credentials import Credentials, write_private
from sentinel_board.topology.layout import (
    Kind,
    Node,
    SentinelSetup,
    TopologyError,
    check_words,
    majority,
)

# `render-config --compose`: the services of compose.yaml, which reads the files from here.
COMPOSE_DATA_HOSTS = ("redis-1", "redis-2", "redis-3")
COMPOSE_SENTINEL_HOSTS = ("sentinel-1", "sentinel-2", "sentinel-3")
COMPOSE_OUT = Path("deploy/compose")
# Where Compose mounts a container's secrets: the app reads its passwords there
# (SENTINEL_BOARD_*_PASSWORD_FILE), so that they are in no environment `docker inspect` shows.
COMPOSE_SECRETS = "/run/secrets"


def parse_hosts(text: str, default_port: int, option: str) -> list[Address]:
    """`host[:port]` separated by commas, as `--hosts` takes them."""
    addresses = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            host, port = parse_address(part if ":" in part else f"{part}:{default_port}")
        except ValueError as error:
            hint = f"for example {option} 10.0.0.1,10.0.0.2"
            raise TopologyError(f"{option}: {error}", hint) from None
        addresses.append((host, port))
    if not addresses:
        raise TopologyError(f"{option} names no host", f"for example {option} 10.0.0.1,10.0.0.2")
    return addresses


@dataclass(frozen=True)
class DeploymentSpec(SentinelSetup):
    """What render-config writes configs for: nodes on other hosts or in containers, each with
    its host, the folder every node keeps its files in there, and what every node listens on
    (default: from its host). `out` is where the files are written, here."""

    out: Path = COMPOSE_OUT
    data_hosts: tuple[str, ...] = ()
    sentinel_hosts: tuple[str, ...] = ()
    node_dir: Path = Path("/data")
    bind: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        for hosts, ports, kind in (
            (self.data_hosts, self.data_ports, "data node"),
            (self.sentinel_hosts, self.sentinel_ports, "sentinel"),
        ):
            if len(hosts) != len(ports):
                raise TopologyError(f"{len(hosts)} hosts for {len(ports)} {kind}s")
        check_words(*(("host", host) for host in (*self.data_hosts, *self.sentinel_hosts)))
        self._check_places()

    def _nodes(self, kind: Kind, hosts: tuple[str, ...], ports: tuple[int, ...]) -> list[Node]:
        return [
            Node(f"{kind}-{number}", kind, port, self.out, host, None, self.node_dir,
                 self.bind or None)
            for number, (host, port) in enumerate(zip(hosts, ports, strict=True), 1)
        ]  # fmt: skip

    @property
    def data_nodes(self) -> list[Node]:
        return self._nodes("redis", self.data_hosts, self.data_ports)

    @property
    def sentinel_nodes(self) -> list[Node]:
        return self._nodes("sentinel", self.sentinel_hosts, self.sentinel_ports)


def deployment(
    data: list[Address],
    sentinels: list[Address],
    out: Path,
    *,
    node_dir: Path,
    bind: tuple[str, ...] = (),
    quorum: int | None = None,
    down_after_ms: int = 3000,
    failover_timeout_ms: int = 10000,
    master_name: str = "mymaster",
    auth: bool = True,
    app_key_prefix: str = "",
) -> DeploymentSpec:
    """The first data node starts as master; quorum defaults to a majority of the sentinels."""
    return DeploymentSpec(
        out=out,
        data_hosts=tuple(host for host, _ in data),
        data_ports=tuple(port for _, port in data),
        sentinel_hosts=tuple(host for host, _ in sentinels),
        sentinel_ports=tuple(port for _, port in sentinels),
        quorum=quorum or majority(len(sentinels)),
        down_after_ms=down_after_ms,
        failover_timeout_ms=failover_timeout_ms,
        master_name=master_name,
        auth=auth,
        app_key_prefix=app_key_prefix,
        node_dir=node_dir,
        bind=bind,
    )


def compose_deployment(out: Path = COMPOSE_OUT, *, down_after_ms: int = 3000) -> DeploymentSpec:
    """The deployment compose.yaml runs: its services by name, the default ports, /data."""
    return deployment(
        [(host, 6379) for host in COMPOSE_DATA_HOSTS],
        [(host, 26379) for host in COMPOSE_SENTINEL_HOSTS],
        out,
        node_dir=Path("/data"),
        down_after_ms=down_after_ms,
    )


def render_all(spec: DeploymentSpec, secrets_at: str | None = None) -> list[Path]:
    """Every node's config, the app's settings and the secrets, into `spec.out` (0700).

    The secrets are generated once: rendering again keeps them, so a running deployment's
    passwords stay valid. With `secrets_at`, the app's passwords are files of their own, which
    the app finds in that folder (`SENTINEL_BOARD_*_PASSWORD_FILE`), not settings in app.env.
    """
    out = spec.out
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.chmod(0o700)
    secrets = Credentials.load_or_create(out) if spec.auth else None
    master, *replicas = spec.data_nodes
    files = {f"{master.name}.conf": render.redis_conf(spec, master, None, secrets)}
    for node in replicas:
        files[f"{node.name}.conf"] = render.redis_conf(spec, node, master, secrets)
    for node in spec.sentinel_nodes:
        files[f"{node.name}.conf"] = render.sentinel_conf(spec, node, master, secrets)
    env = render.app_env(spec, secrets, None)  # the key prefix included
    readable: dict[str, str] = {}
    if secrets is not None and secrets_at is not None:
        readable = secrets.app_secret_files()
        for name in readable:
            setting = f"SENTINEL_BOARD_{name.upper().replace('-', '_')}"
            del env[setting]
            env[f"{setting}_FILE"] = f"{secrets_at}/{name}"
    files["app.env"] = render.env_file(env)
    for name, text in files.items():
        write_private(out / name, text)
    # Readable by the app's user in its container (a bind mount keeps the mode); on this
    # machine the folder (0700) keeps everyone else out.
    for name, text in readable.items():
        write_private(out / name, text + "\n", mode=0o644)
    written = [out / name for name in [*files, *readable]]
    return written + ([out / "secrets.json"] if secrets else [])
