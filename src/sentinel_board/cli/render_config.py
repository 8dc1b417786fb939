"""`sentinel-board render-config`: configs for nodes on other machines or in containers."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from sentinel_board.cli.terminal import console, friendly_errors, misused


@click.command("render-config")
@click.option(
    "--hosts",
    help="The data nodes, host[:port] separated by commas; the first starts as master.",
)
@click.option(
    "--sentinel-hosts",
    help="The sentinels, host[:port] separated by commas (default: one beside each data node).",
)
@click.option("--port", default=6379, show_default=True, help="Data node port when not given.")
@click.option("--sentinel-port", default=26379, show_default=True, help="Sentinel port, ditto.")
@click.option(
    "--dir", "node_dir", default="/data", show_default=True,
    type=click.Path(path_type=Path), help="Where each node keeps its data and config, there.",
)  # fmt: skip
@click.option(
    "--bind",
    default="",
    help="What every node listens on, separated by spaces "
    "(default: its address; every interface when it is a name).",
)
@click.option("--quorum", type=click.IntRange(1), help="Default: a majority of the sentinels.")
@click.option("--down-after-ms", default=3000, show_default=True, type=click.IntRange(100))
@click.option("--failover-timeout-ms", default=10000, show_default=True, type=click.IntRange(1000))
@click.option("--master-name", default="mymaster", show_default=True)
@click.option("--no-auth", is_flag=True, help="No passwords and no ACL users.")
@click.option("--key-prefix", default="", help="The app's keys, and all its ACL user may touch.")
@click.option(
    "--compose", is_flag=True,
    help="For compose.yaml: the hosts are its services, the files go to deploy/compose.",
)  # fmt: skip
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Where to write.")
@friendly_errors
def render_config(
    hosts: str | None,
    sentinel_hosts: str | None,
    port: int,
    sentinel_port: int,
    node_dir: Path,
    bind: str,
    quorum: int | None,
    down_after_ms: int,
    failover_timeout_ms: int,
    master_name: str,
    no_auth: bool,
    key_prefix: str,
    compose: bool,
    out: Path | None,
) -> None:
    """Redis, Sentinel and app configs for nodes on other machines or in containers."""
    from sentinel_board.topology import deploy

    if compose:
        hosts = hosts or ",".join(deploy.COMPOSE_DATA_HOSTS)
        sentinel_hosts = sentinel_hosts or ",".join(deploy.COMPOSE_SENTINEL_HOSTS)
        out = out or deploy.COMPOSE_OUT
    if not hosts or out is None:
        raise misused(
            "--hosts and --out are needed (or --compose)",
            "for example: sentinel-board render-config --hosts 10.0.0.1,10.0.0.2,10.0.0.3 "
            "--out deploy/prod",
        )
    data = deploy.parse_hosts(hosts, port, "--hosts")
    if sentinel_hosts is None:
        sentinels = [(host, sentinel_port) for host, _ in data]
    else:
        sentinels = deploy.parse_hosts(sentinel_hosts, sentinel_port, "--sentinel-hosts")
    spec = deploy.deployment(
        data, sentinels, out,
        node_dir=node_dir, bind=tuple(bind.split()), quorum=quorum,
        down_after_ms=down_after_ms, failover_timeout_ms=failover_timeout_ms,
        master_name=master_name, auth=not no_auth, app_key_prefix=key_prefix,
    )  # fmt: skip
    written = deploy.render_all(spec, deploy.COMPOSE_SECRETS if compose else None)
    table = Table("file", "for", title=f"Written to {out} (only you may enter it: passwords)")
    roles = ["master at first"] + ["replica"] * (len(data) - 1) + ["sentinel"] * len(sentinels)
    for node, role in zip([*spec.data_nodes, *spec.sentinel_nodes], roles, strict=True):
        table.add_row(f"{node.name}.conf", f"{node.host}:{node.port} ({role})")
    table.add_row("app.env", "the app: SENTINEL_BOARD_* settings")
    for path in written[len(table.rows) :]:
        if path.name == "secrets.json":
            table.add_row(path.name, "the passwords: rendering again keeps them")
        else:
            table.add_row(path.name, f"the app's, as a Compose secret ({deploy.COMPOSE_SECRETS})")
    console.print(table)
    if compose:
        console.print("Next: docker compose up -d (compose.yaml reads these files)")
    else:
        console.print(
            f"Next: copy each config to its host as {node_dir}/redis.conf or "
            f"{node_dir}/sentinel.conf, writable by Redis (Sentinel rewrites them)"
        )
