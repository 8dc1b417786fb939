"""A compose project of the board: its containers, their addresses, and faults made by Docker.

Containers are found by Compose's labels (project and service), so this works with Compose v2
(`docker compose`) and v1 (`docker-compose`) alike. The nodes are asked directly at their
container's address, which the machine that runs the engine reaches on Linux.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sentinel_board.compose.engine import EngineError, docker
from sentinel_board.keys import Keys
from sentinel_board.topology import probe
from sentinel_board.topology.credentials import Credentials
from sentinel_board.topology.deploy import COMPOSE_DATA_HOSTS, COMPOSE_OUT, COMPOSE_SENTINEL_HOSTS

DATA_PORT = 6379
SENTINEL_PORT = 26379
APP_PORT = 8080
MASTER_NAME = "mymaster"
PROJECT = "sentinel-board"
UNREAD = Keys().unread  # the deployment's board runs without a key prefix


@cache
def compose_command() -> tuple[str, ...]:
    """`docker compose` (v2) where it exists, else `docker-compose` (v1)."""
    if shutil.which("docker"):
        probe_v2 = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, check=False
        )
        if probe_v2.returncode == 0:
            return ("docker", "compose")
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    raise EngineError(
        "neither `docker compose` nor `docker-compose` is installed",
        "install Docker Compose (Debian: apt-get install docker-compose)",
    )


@dataclass
class Project:
    """compose.yaml run as project `name`, from the configs rendered under `directory`."""

    root: Path  # the checkout: compose.yaml, and the Dockerfile for a build
    directory: Path  # where deploy/compose/ is: the project's directory for Compose
    name: str = PROJECT
    env: dict[str, str] = field(default_factory=dict)  # images, subnet, published address
    overrides: tuple[Path, ...] = ()  # Compose files read after compose.yaml

    @property
    def out(self) -> Path:
        return self.directory / COMPOSE_OUT

    @property
    def credentials(self) -> Credentials:
        return Credentials.load(self.out)

    def compose(self, *args: str, timeout: float = 300) -> str:
        argv = [*compose_command(), "--project-name", self.name]
        for file in (self.root / "compose.yaml", *self.overrides):
            argv += ["--file", str(file)]
        argv += ["--project-directory", str(self.directory)]
        try:
            done = subprocess.run(
                [*argv, *args], capture_output=True, text=True, timeout=timeout, check=False,
                env={**os.environ, **self.env},
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise EngineError(f"compose {args[0]} did not finish in {timeout:g} s") from None
        if done.returncode != 0:
            said = done.stderr.strip().splitlines()
            raise EngineError(f"compose {args[0]}: {said[-1] if said else 'failed'}")
        return done.stdout

    def up(self, *services: str) -> None:
        """Start the project, or only `services` (without what they depend on)."""
        self.compose(
            "up", "--detach", "--no-build", *(["--no-deps"] if services else []), *services
        )

    def down(self, volumes: bool = False) -> None:
        """Remove its containers and network (and volumes); nothing to do when it has none."""
        label = f"label=com.docker.compose.project={self.name}"
        if not (self.containers() or docker("volume", "ls", "-q", "--filter", label).stdout):
            return
        self.compose(
            "down", "--remove-orphans", "--timeout", "5", *(["--volumes"] if volumes else [])
        )

    def leftovers(self, volumes: bool = True) -> list[str]:
        """What is still there of the project (after `down`): containers, its network, and
        its volumes when they too should be gone."""
        label = f"label=com.docker.compose.project={self.name}"
        left = docker("ps", "--all", "--quiet", "--filter", label).stdout.split()
        if volumes:
            left += docker("volume", "ls", "--quiet", "--filter", label).stdout.split()
        left += docker("network", "ls", "--quiet", "--filter", label).stdout.split()
        return [f"{self.name}: {thing}" for thing in left]

    # -- containers --------------------------------------------------------------------------

    def containers(self) -> dict[str, str]:
        """Every container of the project, running or not: service -> id."""
        labels = '{{.Label "com.docker.compose.service"}} {{.ID}}'
        project = f"label=com.docker.compose.project={self.name}"
        listed = docker("ps", "--all", "--no-trunc", "--filter", project, "--format", labels).stdout
        pairs = [line.split() for line in listed.splitlines()]
        return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}  # others are no service

    def container(self, service: str) -> str:
        found = self.containers().get(service)
        if found is None:
            raise EngineError(f"no container for {service} in project {self.name}")
        return found

    def inspect(self, service: str, template: str) -> str:
        return docker("inspect", "--format", template, self.container(service)).stdout.strip()

    def address(self, service: str) -> str | None:
        """The container's address on the project's network (None when it has none)."""
        found = self.inspect(service, "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}")
        return found.split()[0] if found.split() else None

    def running(self, service: str) -> bool:
        return self.inspect(service, "{{.State.Running}} {{.State.Paused}}") == "true false"

    def act(self, verb: str, service: str, *options: str) -> None:
        """A fault or a repair through Docker: kill, pause, unpause, stop, start, restart."""
        docker(verb, *options, self.container(service))

    @property
    def network(self) -> str:
        return f"{self.name}_default"

    @property
    def url(self) -> str:
        published = docker("port", self.container("app"), str(APP_PORT)).stdout.split()[0]
        return f"http://{published}"

    def logs(self, service: str) -> str:
        """What the service's container printed, each line with the time Docker received it."""
        done = docker("logs", "--timestamps", self.container(service))
        return done.stdout + done.stderr

    # -- the nodes themselves ----------------------------------------------------------------

    def ask(self, service: str, *command: str | int, timeout: float = 0.5) -> Any:
        """A node's answer at its container's address; None when it does not answer."""
        address = self.address(service)
        if address is None:
            return None
        secrets = self.credentials
        sentinel = service in COMPOSE_SENTINEL_HOSTS
        return probe.ask(
            address, SENTINEL_PORT if sentinel else DATA_PORT, *command, timeout=timeout,
            password=secrets.sentinel if sentinel else secrets.admin,
        )  # fmt: skip

    def master(self) -> str | None:
        """The data node most sentinels name (they name nodes by service name)."""
        named = [
            self.ask(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME)
            for sentinel in COMPOSE_SENTINEL_HOSTS
        ]
        votes = [reply[0] for reply in named if reply]
        return max(set(votes), key=votes.count) if votes else None

    def role(self, service: str) -> str | None:
        reply = self.ask(service, "ROLE")
        return None if not reply else {"slave": "replica"}.get(reply[0], reply[0])

    def settled(self) -> bool:
        """Every sentinel names the same master and sees the others and two linked replicas."""
        views = [
            probe.fields(self.ask(sentinel, "SENTINEL", "MASTER", MASTER_NAME))
            for sentinel in COMPOSE_SENTINEL_HOSTS
        ]
        masters = {view.get("ip") for view in views}  # a name: Sentinel announces hostnames
        if len(masters) != 1 or None in masters:
            return False
        if not all(
            view.get("num-other-sentinels") == "2" and view.get("num-slaves") == "2"
            for view in views
        ):
            return False
        master = masters.pop()
        replicas = [service for service in COMPOSE_DATA_HOSTS if service != master]
        links = [self.ask(r, "INFO", "replication") or {} for r in replicas]
        return all(link.get("master_link_status") == "up" for link in links)

    def lone_writer(self, service: str, seconds: float) -> list[dict[str, object]]:
        """A client inside `service`'s container writing to it for `seconds`, as the board
        would if it could still reach it: each write, whether the server took it, and whether
        a replica confirmed it (as drills/lone_writer.py records them)."""
        run = uuid.uuid4().hex[:8]  # the messages of this client only, on a project that lasts
        argv = ["docker", "exec", "--interactive", self.container(service)]
        argv += ["sh", "-c", LONE_WRITER, "lone-writer", str(round(seconds)), run, UNREAD]
        # The password goes in on stdin: in no command line and no environment.
        try:
            done = subprocess.run(
                argv, input=self.credentials.admin + "\n", capture_output=True, text=True,
                timeout=seconds + 30, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise EngineError(f"the lone writer in {service} did not end") from None
        writes: list[dict[str, object]] = []
        for line in done.stdout.splitlines():
            at, message, *replies = line.split()  # OK, RPUSH's reply, WAIT's (or an error)
            took = len(replies) >= 3 and replies[1].isdigit()
            acked = took and replies[2].isdigit() and replies[2] != "0"
            writes.append({"at": float(at), "message": message, "accepted": took, "acked": acked})
        return writes

    def ready(self) -> bool:
        """The board answers /readyz: a master took a write a replica confirmed."""
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as answer:
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError, EngineError, IndexError):
            return False


# A client inside a container writing to the server there as the board does (a message in
# its UNREAD list, $3, then WAIT for one replica), one line per write: time, message, and the
# replies.
LONE_WRITER = r"""
read -r pass
cli=$(command -v valkey-cli || command -v redis-cli)
end=$(( $(date +%s) + $1 )); n=0
while [ "$(date +%s)" -lt "$end" ]; do
  n=$((n + 1)); message="isolated-$2-$n"
  record=$(printf '{"id":"%s","message":"%s","created_at":""}' "$message" "$message")
  printf '%s %s ' "$(date +%s.%N)" "$message"
  printf "AUTH %s\nRPUSH %s '%s'\nWAIT 1 300\n" "$pass" "$3" "$record" | "$cli" 2>&1 | tr '\n' ' '
  echo
done
"""


def wait(what: str, predicate: Callable[[], bool], within: float) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise EngineError(f"{what}: not within {within:g} s")
        time.sleep(0.2)


def free_net() -> str:
    """The first three numbers of a /24 of ours (172.29.91-99) that no network of the engine
    uses (SENTINEL_BOARD_NET): for a project beside the one `make compose-up` runs on .90."""
    ids = docker("network", "ls", "--quiet").stdout.split()
    template = "{{range .IPAM.Config}}{{.Subnet}} {{end}}"
    taken = set(docker("network", "inspect", "--format", template, *ids).stdout.split())
    for third in range(91, 100):
        if f"172.29.{third}.0/24" not in taken:
            return f"172.29.{third}"
    raise EngineError("every subnet of 172.29.91-99.0/24 is taken", "remove old projects")
