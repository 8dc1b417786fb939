"""`render-config` and the Docker Compose setup that reads what it renders.

These check, without an engine, that compose.yaml, the Dockerfile and the rendered configs
agree with each other and with what the local launcher runs. The configs run for real, with
names for addresses, in test_hostnames.py; the whole deployment in containers in tests/compose.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from sentinel_board.cli import main
from sentinel_board.topology import Topology, TopologySpec
from sentinel_board.topology.deploy import (
    COMPOSE_DATA_HOSTS,
    COMPOSE_OUT,
    COMPOSE_SENTINEL_HOSTS,
    DeploymentSpec,
    deployment,
)
from sentinel_board.topology.layout import SentinelSetup

ROOT = Path(__file__).resolve().parents[2]
NODES = [*COMPOSE_DATA_HOSTS, *COMPOSE_SENTINEL_HOSTS]


def render(*args: str) -> Result:
    return CliRunner().invoke(main, ["render-config", *args], catch_exceptions=False)


def directives(text: str) -> dict[str, list[str]]:
    """A config's lines by directive (`sentinel monitor` and `user board` are one each)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            words = [word.strip('"') for word in shlex.split(line)]
            size = 2 if words[0] in ("sentinel", "user") and len(words) > 2 else 1
            found[" ".join(words[:size])] = words[size:]
    return found


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return parsed


@pytest.fixture
def rendered(tmp_path: Path) -> Path:
    out = tmp_path / COMPOSE_OUT
    result = render("--compose", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def test_render_config_writes_private_files_and_keeps_its_secrets(rendered: Path) -> None:
    names = {f"{node}.conf" for node in NODES} | {"app.env", "secrets.json"}
    app_secrets = {"redis-password", "sentinel-password"}
    assert {path.name for path in rendered.iterdir()} == names | app_secrets
    assert rendered.stat().st_mode & 0o777 == 0o700
    modes = {path.name: path.stat().st_mode & 0o777 for path in rendered.iterdir()}
    # The app's run as its own user in its container: readable, in a folder only we may enter.
    assert modes == {name: 0o644 if name in app_secrets else 0o600 for name in modes}
    before = {path.name: path.read_text() for path in rendered.iterdir()}
    again = render("--compose", "--out", str(rendered))
    assert {path.name: path.read_text() for path in rendered.iterdir()} == before
    passwords = json.loads(before["secrets.json"]).values()
    assert not any(password in again.output for password in passwords)


def test_names_everywhere_so_a_container_with_another_ip_is_still_found(rendered: Path) -> None:
    for node in COMPOSE_DATA_HOSTS:
        conf = directives((rendered / f"{node}.conf").read_text())
        assert conf["replica-announce-ip"] == [node]
        assert conf["dir"] == ["/data"] and conf["port"] == ["6379"]
        assert conf.get("replicaof") == (None if node == "redis-1" else ["redis-1", "6379"])
    for node in COMPOSE_SENTINEL_HOSTS:
        text = (rendered / f"{node}.conf").read_text()
        conf = directives(text)
        assert conf["sentinel resolve-hostnames"] == conf["sentinel announce-hostnames"] == ["yes"]
        assert conf["sentinel announce-ip"] == [node]
        assert conf["sentinel monitor"] == ["mymaster", "redis-1", "6379", "2"]
        # Sentinel reads the monitored name only once it knows it may resolve names.
        assert text.index("resolve-hostnames") < text.index("sentinel monitor")


def _default(value: str) -> str:
    """`${VARIABLE:-default}` as Compose reads it with the variable unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def test_compose_runs_each_node_from_its_rendered_config(
    compose: dict[str, Any], rendered: Path
) -> None:
    services = compose["services"]
    assert set(services) == {*NODES, "app"}
    for name in NODES:
        service = services[name]
        kind = "sentinel" if name.startswith("sentinel") else "redis"
        assert service["hostname"] == name
        assert service["image"] == "${SENTINEL_BOARD_SERVER_IMAGE:-redis:7.2}"
        assert service["secrets"] == [f"{name}.conf"]
        secret_file = compose["secrets"][f"{name}.conf"]["file"]
        assert secret_file == f"{COMPOSE_OUT}/{name}.conf"
        assert (rendered.parent.parent / secret_file).exists(), "render-config writes it"
        volume, mount = service["volumes"][0].split(":")
        assert volume == name and volume in compose["volumes"]
        assert directives((rendered / f"{name}.conf").read_text())["dir"] == [mount]
        # The command as the container's shell runs it, with the service's environment.
        command = service["command"][2].replace("$$", "$")
        for key, value in service["environment"].items():
            command = command.replace(f"${key}", value)
        assert f'cp "/run/secrets/{name}.conf" "{mount}/{kind}.conf"' in command
        mode = " --sentinel" if kind == "sentinel" else " "
        assert f'"$server" "{mount}/{kind}.conf"{mode}' in command
        assert command.startswith("set -e;"), "a failed copy stops the container, said"
        assert "if command -v valkey-server >/dev/null; then server=valkey-server; fi;" in command
        if kind == "sentinel":
            assert set(service["depends_on"]) == set(COMPOSE_DATA_HOSTS)


def test_every_container_has_an_address_of_its_own_and_asks_docker_only(
    compose: dict[str, Any],
) -> None:
    """Fixed addresses below the range Docker hands out; names answered by Docker at once."""
    (pool,) = compose["networks"]["default"]["ipam"]["config"]
    subnet = ipaddress.ip_network(_default(pool["subnet"]))
    handed_out = ipaddress.ip_network(_default(pool["ip_range"]))
    assert handed_out.subnet_of(subnet)  # type: ignore[arg-type]
    addresses = []
    for name, service in compose["services"].items():
        address = ipaddress.ip_address(_default(service["networks"]["default"]["ipv4_address"]))
        assert address in subnet and address not in handed_out, name
        addresses.append(address)
        assert service["dns_opt"] == ["ndots:1"] and service["dns_search"] == ".", name
    assert len(set(addresses)) == len(addresses)


def test_compose_app_asks_the_sentinels_with_the_rendered_settings(
    compose: dict[str, Any], rendered: Path
) -> None:
    app = compose["services"]["app"]
    assert app["env_file"] == f"{COMPOSE_OUT}/app.env"
    env = dict(line.split("=", 1) for line in (rendered / "app.env").read_text().splitlines())
    sentinels = [address.split(":") for address in env["SENTINEL_BOARD_SENTINELS"].split(",")]
    assert [host for host, _ in sentinels] == list(COMPOSE_SENTINEL_HOSTS)
    for host, port in sentinels:
        assert directives((rendered / f"{host}.conf").read_text())["port"] == [port]
    assert env["SENTINEL_BOARD_REDIS_USERNAME"] == "board"
    assert set(app["depends_on"]) == set(COMPOSE_SENTINEL_HOSTS)
    # Its passwords are files Compose mounts, named by settings: none is in its environment.
    assert not {"SENTINEL_BOARD_REDIS_PASSWORD", "SENTINEL_BOARD_SENTINEL_PASSWORD"} & set(env)
    secrets = json.loads((rendered / "secrets.json").read_text())
    for secret, password in (("redis-password", "app"), ("sentinel-password", "sentinel")):
        assert secret in app["secrets"]
        assert compose["secrets"][secret]["file"] == f"{COMPOSE_OUT}/{secret}"
        assert (rendered / secret).read_text() == secrets[password] + "\n"
        setting = f"SENTINEL_BOARD_{secret.upper().replace('-', '_')}_FILE"
        assert env[setting] == f"/run/secrets/{secret}"

    dockerfile = (ROOT / "Dockerfile").read_text()
    container_port = app["ports"][0].rsplit(":", 1)[1]
    assert f"EXPOSE {container_port}" in dockerfile
    assert f'"--port", "{container_port}"' in dockerfile
    assert f"http://127.0.0.1:{container_port}/readyz" in dockerfile, "the health check"
    base = re.findall(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert base == [_default(app["build"]["args"]["BASE_IMAGE"])]
    assert re.fullmatch(r"python:3\.\d+-slim", base[0]), "the official image by default"
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", dockerfile, re.MULTILINE)
    user = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert user and user[-1] not in ("root", "0"), "the app does not run as root"


def test_every_name_in_the_configs_is_a_compose_service(
    compose: dict[str, Any], rendered: Path
) -> None:
    named = set()
    for name in NODES:
        conf = directives((rendered / f"{name}.conf").read_text())
        named.update(conf.get("replicaof", [])[:1] + conf.get("replica-announce-ip", []))
        named.update(conf.get("sentinel monitor", [])[1:2] + conf.get("sentinel announce-ip", []))
    assert named == set(NODES) and named <= set(compose["services"])


def test_the_rendered_files_are_never_committed() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", f"{COMPOSE_OUT}/app.env"], cwd=ROOT, check=False
    )
    assert ignored.returncode == 0


def compose_command() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_docker_compose_accepts_the_file(tmp_path: Path) -> None:
    command = compose_command()
    if command is None:
        pytest.skip("no docker-compose here (.ci/run installs it)")
    shutil.copy(ROOT / "compose.yaml", tmp_path)
    shutil.copy(ROOT / "Dockerfile", tmp_path)
    assert render("--compose", "--out", str(tmp_path / COMPOSE_OUT)).exit_code == 0
    checked = subprocess.run(
        [*command, "-f", str(tmp_path / "compose.yaml"), "config", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr


def test_render_config_matches_what_the_launcher_runs(topology: Topology, tmp_path: Path) -> None:
    """The same hosts, ports and secrets give the launcher's configs: only `dir` differs."""
    out = tmp_path / "out"
    out.mkdir(mode=0o700)
    shutil.copy(topology.spec.run_dir / "secrets.json", out / "secrets.json")
    spec = topology.spec
    result = render(
        "--hosts", ",".join(f"{spec.host}:{port}" for port in spec.data_ports),
        "--sentinel-hosts", ",".join(f"{spec.host}:{port}" for port in spec.sentinel_ports),
        "--quorum", str(spec.quorum), "--down-after-ms", str(spec.down_after_ms),
        "--failover-timeout-ms", str(spec.failover_timeout_ms),
        "--key-prefix", spec.app_key_prefix, "--dir", "/srv/redis", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for node in [*topology.data_nodes, *topology.sentinel_nodes]:
        ours = directives((out / f"{node.name}.conf").read_text())
        running = directives(node.config_path.read_text())
        assert ours.pop("dir") == ["/srv/redis"] and running.pop("dir") == [str(node.dir)]
        if node.kind == "sentinel":
            # Sentinel rewrote its file: it adds what it learnt and drops what is a default.
            assert ours.pop("sentinel parallel-syncs") == ["mymaster", "1"]
            running = {key: running[key] for key in ours if key in running}
        assert running == ours, node.name


def test_render_config_refuses_bad_hosts_with_a_hint(tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    missing = render()
    assert missing.exit_code == 2, "a usage error"
    assert missing.output.startswith("Usage: ") and "--hosts and --out are needed" in missing.output
    assert "Hint: for example" in missing.output
    for args, message in [
        (("--hosts", " , ", "--out", out), "--hosts names no host"),
        (("--hosts", "a:99999", "--out", out), "is not host:port"),
        (("--hosts", "a,a", "--out", out), "port 6379 on a is given to two nodes"),
        (("--hosts", "a,b,c", "--quorum", "4", "--out", out), "quorum 4 is not between 1 and 3"),
        (("--hosts", "a,b", "--master-name", "my master", "--out", out), "is not one word"),
        (("--hosts", "a,b", "--key-prefix", "a b", "--out", out), "has a space, a quote or a #"),
    ]:
        result = render(*args)
        assert result.exit_code == 1, args
        assert message in result.output and "Hint:" in result.output, result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists(), "nothing written on a refusal"


def test_the_launcher_s_spec_and_render_config_s_share_only_what_both_use() -> None:
    local, deployed = set(fields_of(TopologySpec)), set(fields_of(DeploymentSpec))
    assert local & deployed == set(fields_of(SentinelSetup))
    assert {"data_hosts", "sentinel_hosts", "node_dir", "bind"} <= deployed - local
    assert {"server", "workers", "netns_subnet", "tls", "app_port"} <= local - deployed
    spec = deployment([("a", 6379), ("b", 6379)], [("a", 26379)], Path("out"), node_dir=Path("/d"))
    assert [node.host for node in spec.nodes] == ["a", "b", "a"] and spec.quorum == 1


def fields_of(cls: type) -> list[str]:
    return [field.name for field in dataclasses.fields(cls)]
