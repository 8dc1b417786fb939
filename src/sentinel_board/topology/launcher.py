"""The local topology: start it (`up`), ask it what it is, bring nodes back, stop it.

Longer than 300 lines: one object owns a topology's processes from start to stop, and what it
asks of its nodes (ROLE, the sentinels' view) is what starting and resuming wait for.
"""

from __future__ import annotations

import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from sentinel_board.topology import certificates, netns, probe, process, render, servers
from sentinel_board.topology.certificates import TLSFiles
from sentinel_board.topology.credentials import Credentials, write_private
from sentinel_board.topology.layout import LIVE, Node, TopologyError, TopologySpec

READY_TIMEOUT = 20.0


class SentinelAccess(TypedDict):
    """How to reach the sentinels, as `ha.sentinel_events` takes it: their password, the CA."""

    password: str | None
    tls_ca: str | Path | None


def wait_for(what: str, predicate: Callable[[], bool], timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TopologyError(f"{what}: not ready within {timeout:g} s")
        time.sleep(0.05)


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        # As redis-server does: connections in TIME_WAIT do not make a port taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


# What an `up` of an earlier version left when it was refused before writing topology.json.
LEFT_BY_A_REFUSED_UP = {"secrets.json", "tls", "app.env"}


def purge_left_by_a_refused_up(run_dir: Path) -> bool:
    """Delete a run dir holding only what a refused `up` left (never a topology's data, nor a
    folder that is not a run dir); whether it did."""
    try:
        names = {entry.name for entry in run_dir.iterdir()}
    except OSError:  # no such folder, or not a folder
        return False
    if not names or not names <= LEFT_BY_A_REFUSED_UP or "secrets.json" not in names:
        return False
    shutil.rmtree(run_dir)
    return True


class Topology:
    """A local Sentinel topology: data nodes, sentinels and, optionally, the app."""

    def __init__(self, spec: TopologySpec) -> None:
        process.require_linux()
        self.spec = spec
        self.data_nodes = spec.data_nodes
        self.sentinel_nodes = spec.sentinel_nodes
        self.app = spec.app_node
        # Written by `up` once it has checked it can start: a refusal leaves no run dir.
        self.credentials = Credentials.load_or_generate(spec.run_dir) if spec.auth else None
        self.tls = TLSFiles.in_dir(spec.run_dir) if spec.tls else None
        # Sentinel's settings `up` changed on a stopped topology's sentinels: option -> was, now.
        self.live_changes: dict[str, tuple[int, int]] = {}

    @property
    def sentinel_options(self) -> SentinelAccess:
        """How to reach the sentinels, as `ha.sentinel_events` takes it."""
        return {"password": self.sentinel_password, "tls_ca": self.tls_ca}

    @property
    def tls_ca(self) -> str | None:
        return str(self.tls.ca) if self.tls else None

    @property
    def sentinel_password(self) -> str | None:
        return self.credentials.sentinel if self.credentials else None

    def password(self, node: Node) -> str | None:
        """The launcher's password on `node`: the admin's on a data node."""
        if self.credentials is None:
            return None
        return self.credentials.sentinel if node.kind == "sentinel" else self.credentials.admin

    def ask(self, node: Node, *args: str | int, timeout: float = probe.TIMEOUT) -> Any:
        """`node`'s answer to a command, or None when it does not answer."""
        return probe.ask(
            node.host, node.port, *args,
            timeout=timeout, password=self.password(node), tls_ca=self.tls_ca,
        )  # fmt: skip

    def info(self, node: Node, section: str) -> dict[str, Any]:
        return probe.info(
            node.host, node.port, section, password=self.password(node), tls_ca=self.tls_ca
        )

    @classmethod
    def open(cls, run_dir: Path) -> Topology:
        return cls(TopologySpec.load(run_dir))

    @property
    def nodes(self) -> list[Node]:
        return [*self.data_nodes, *self.sentinel_nodes, *([self.app] if self.app else [])]

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [(node.host, node.port) for node in self.sentinel_nodes]

    def node(self, name_or_port: str) -> Node:
        for node in self.nodes:
            if name_or_port in (node.name, str(node.port)):
                return node
        names = ", ".join(node.name for node in self.nodes)
        raise TopologyError(f"no node {name_or_port!r} in this topology", f"one of: {names}")

    def pid(self, node: Node) -> int | None:
        return process.live_pid(node.pid_path, node.dir)

    def is_alive(self, name: str) -> bool:
        return self.pid(self.node(name)) is not None

    def running(self) -> list[Node]:
        return [node for node in self.nodes if self.pid(node) is not None]

    # -- up ---------------------------------------------------------------

    @classmethod
    def up(cls, spec: TopologySpec) -> Topology:
        """Start everything and return once it is ready; on failure stop what was started."""
        topology = cls(spec)
        server = servers.find(spec.server)
        resume = spec.manifest_path.exists()
        if resume:
            previous = cls.open(spec.run_dir)
            if alive := previous.running():
                raise TopologyError(
                    f"{spec.run_dir} already runs a topology ({', '.join(n.name for n in alive)})",
                    "stop it with `sentinel-board down`, or use another --run-dir",
                )
            if fixed := spec.fixed_changes(previous.spec):
                raise TopologyError(
                    f"{spec.run_dir} holds the data of a topology with other ports or settings: "
                    f"its {', '.join(fixed)} cannot change",
                    "`sentinel-board down --purge` deletes it; or choose another --run-dir "
                    "(--quorum, --down-after-ms and --failover-timeout-ms can change)",
                )
            if (was := servers.find(previous.spec.server)).kind != server.kind:
                raise TopologyError(
                    f"{spec.run_dir} holds the data of a {was.kind.capitalize()} topology",
                    f"start it with --server {was.kind}; `sentinel-board down --purge` deletes it",
                )
        for node in topology.nodes:
            if node.netns is None and _port_taken(spec.host, node.port):
                option = {"redis": "--port-base", "sentinel": "--sentinel-port-base"}
                raise TopologyError(
                    f"port {node.port} (for {node.name}) is already in use",
                    f"choose other ports with {option.get(node.kind, '--app-port')}",
                )
        spec.run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        spec.run_dir.chmod(0o700)  # data, configs with passwords, keys: the owner's only
        spec.save()
        if topology.credentials is not None:
            topology.credentials.save(spec.run_dir)
        if topology.tls is not None and not topology.tls.exist():
            hosts = [spec.host, *(n.host for n in [*topology.data_nodes, *topology.sentinel_nodes])]
            certificates.create(topology.tls, hosts)
        # For `sentinel-board serve` by hand: set -a; . .sentinel-board/app.env; set +a
        write_private(spec.run_dir / "app.env", render.env_file(topology.app_env()))
        try:
            if spec.netns_subnet is not None:
                netns.create(spec.netns_subnet, [*topology.data_nodes, *topology.sentinel_nodes])
            master = topology._start_data_nodes(server, resume)
            topology._start_sentinels(server, resume, master)
            if resume:
                topology._apply_live_changes()
            if topology.app is not None:
                topology._start_app()
        except BaseException:
            topology.down()
            raise
        return topology

    def _start_data_nodes(self, server: servers.Server, resume: bool) -> Node:
        """A fresh start makes redis-1 master; a restart keeps the master Sentinel last chose."""
        master = self._recorded_master() if resume else self.data_nodes[0]
        replicas = [node for node in self.data_nodes if node is not master]
        for node in self.data_nodes:
            node.dir.mkdir(mode=0o700, exist_ok=True)
            argv = server.argv(node.config_path)
            if not resume or not node.config_path.exists():
                write_private(
                    node.config_path,
                    render.redis_conf(
                        self.spec,
                        node,
                        None if node is master else master,
                        self.credentials,
                        self.tls,
                    ),
                )
            elif node is not master:
                # A master that died before the failover comes back holding stale data:
                # it must not be taken for the master while the sentinels start.
                argv += ["--replicaof", master.host, str(master.port)]
            self._spawn(node, argv)
        self._wait_answering(self.data_nodes)
        for node in replicas:
            wait_for(
                f"{node.name} replicating from {master.name}",
                lambda n=node: (
                    self.info(n, "replication").get(  # type: ignore[misc]
                        "master_link_status"
                    )
                    == "up"
                ),
            )
        return master

    def _recorded_master(self) -> Node:
        """The master the sentinels' own (rewritten) configs name, by majority."""
        votes: Counter[str] = Counter()
        prefix = f"sentinel monitor {self.spec.master_name} "
        for node in self.sentinel_nodes:
            if node.config_path.exists():
                for line in node.config_path.read_text().splitlines():
                    if line.startswith(prefix):
                        votes[line.split()[4]] += 1
        if not votes:
            return self.data_nodes[0]
        return self.node(votes.most_common(1)[0][0])

    def _start_sentinels(self, server: servers.Server, resume: bool, master: Node) -> None:
        for node in self.sentinel_nodes:
            node.dir.mkdir(mode=0o700, exist_ok=True)
            if not resume or not node.config_path.exists():
                write_private(
                    node.config_path,
                    render.sentinel_conf(self.spec, node, master, self.credentials, self.tls),
                )
            self._spawn(node, server.argv(node.config_path, sentinel=True))
        self._wait_answering(self.sentinel_nodes)
        try:
            wait_for("the sentinels agreeing on the master", self.sentinels_agree)
        except TopologyError as error:
            raise TopologyError(f"{error}; they see:\n{self._sentinel_views()}") from None

    def _apply_live_changes(self) -> None:
        """Sentinel's settings as the spec says, on every sentinel that restarted with others
        (`up` again with another --down-after-ms, say): SENTINEL SET, which rewrites its config."""
        name = self.spec.master_name
        for node in self.sentinel_nodes:
            running = probe.fields(self.ask(node, "SENTINEL", "MASTER", name))
            for field, option in LIVE.items():
                now = getattr(self.spec, field)
                if running.get(option) in (None, str(now)):
                    continue
                reply = self.ask(node, "SENTINEL", "SET", name, option, now)
                if reply not in (True, "OK"):
                    raise TopologyError(f"{node.name} did not take {option} {now}: {reply}")
                self.live_changes[option] = (int(running[option]), now)

    def _start_app(self) -> None:
        assert self.app is not None
        self.app.dir.mkdir(mode=0o700, exist_ok=True)
        argv = [sys.executable, "-m", "sentinel_board", "serve", "--host", self.spec.host]
        argv += ["--port", str(self.app.port), "--workers", str(self.spec.workers)]
        argv += ["--log-format", self.spec.log_format]
        self._spawn(self.app, argv, {**self.app_env(), **self.spec.extra_env})
        try:
            wait_for(f"the app at {self.spec.app_url}", self._app_answers)
        except TopologyError as error:
            tail = self.app.log_path.read_text(errors="replace").splitlines()[-15:]
            raise TopologyError(str(error) + ". Its log ends:\n" + "\n".join(tail)) from None

    def app_env(self) -> dict[str, str]:
        """The settings of an app in front of this topology, credentials included."""
        return render.app_env(self.spec, self.credentials, self.tls.ca if self.tls else None)

    def _spawn(self, node: Node, argv: list[str], env: dict[str, str] | None = None) -> int:
        return process.spawn(
            netns.wrap(node, argv),
            workdir=node.dir,
            pid_path=node.pid_path,
            log_path=node.log_path,
            env=env,
        )

    def _wait_answering(self, nodes: list[Node]) -> None:
        for node in nodes:
            wait_for(f"{node.name} on port {node.port}", lambda n=node: self._answers(n))  # type: ignore[misc]

    def _answers(self, node: Node) -> bool:
        if self.pid(node) is None:
            tail = node.log_path.read_text(errors="replace").splitlines()[-5:]
            raise TopologyError(f"{node.name} exited. Its log ends:\n" + "\n".join(tail))
        return self.ask(node, "PING") is True

    def _app_answers(self) -> bool:
        assert self.app is not None
        if self.pid(self.app) is None:
            raise TopologyError("the app exited")
        try:
            with urllib.request.urlopen(
                f"{self.spec.app_url}/api/unread-list/size", timeout=1
            ) as r:
                return bool(r.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _sentinel_masters(self) -> list[dict[str, str]]:
        """Each sentinel's SENTINEL MASTER, empty for one that does not answer."""
        name = self.spec.master_name
        return [probe.fields(self.ask(n, "SENTINEL", "MASTER", name)) for n in self.sentinel_nodes]

    def sentinels_agree(self) -> bool:
        """Every sentinel names the same master and knows the other sentinels and the replicas."""
        masters = self._sentinel_masters()
        return len({master.get("port") for master in masters}) == 1 and all(
            int(master.get("num-other-sentinels", -1)) == len(self.sentinel_nodes) - 1
            and int(master.get("num-slaves", -1)) == len(self.data_nodes) - 1
            for master in masters
        )

    def _sentinel_views(self) -> str:
        return "\n".join(
            f"  {node.name}: master port {master.get('port', '?')}, "
            f"{master.get('num-other-sentinels', '?')} other sentinels, "
            f"{master.get('num-slaves', '?')} replicas"
            for node, master in zip(self.sentinel_nodes, self._sentinel_masters(), strict=True)
        )

    # -- the master, as the sentinels see it -------------------------------

    def master_name(self) -> str | None:
        """The node most sentinels name; with none answering, the one whose ROLE says so."""
        return self.master_by_sentinels() or self.master_by_role()

    def master_by_sentinels(self) -> str | None:
        votes: Counter[int] = Counter()
        for node in self.sentinel_nodes:
            reply = self.ask(node, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.spec.master_name)
            if reply:
                votes[int(reply[1])] += 1
        return self.node(str(votes.most_common(1)[0][0])).name if votes else None

    def master_by_role(self) -> str | None:
        for node in self.data_nodes:
            role = self.ask(node, "ROLE")
            if role and role[0] == "master":
                return node.name
        return None

    def role(self, node: Node) -> str | None:
        reply = self.ask(node, "ROLE")
        return None if not reply else {"slave": "replica"}.get(reply[0], reply[0])

    def sentinels_see_down(self, name: str) -> bool:
        """Some sentinel flags this data node subjectively down."""
        node = self.node(name)
        for sentinel in self.sentinel_nodes:
            for args in (("REPLICAS",), ("MASTER",)):
                reply = self.ask(sentinel, "SENTINEL", *args, self.spec.master_name)
                entries = reply if args == ("REPLICAS",) else [reply]
                for entry in entries or []:
                    found = probe.fields(entry)
                    if found.get("port") == str(node.port) and "s_down" in found.get("flags", ""):
                        return True
        return False

    def start(self, name: str) -> Node:
        node = self.node(name)
        if self.pid(node) is not None:
            raise TopologyError(
                f"{node.name} is already running", "kill it first, or start another node"
            )
        if node.kind == "app":
            self._start_app()
            return node
        server = servers.find(self.spec.server)
        argv = server.argv(node.config_path, sentinel=node.kind == "sentinel")
        self._spawn(node, argv)
        wait_for(f"{node.name} on port {node.port}", lambda: self._answers(node), timeout=10)
        return node

    # -- down --------------------------------------------------------------

    def down(self, purge: bool = False) -> list[Node]:
        """Stop every process by its pid file, the app first; return what was running."""
        stopped = []
        for node in reversed(self.nodes):
            pid = self.pid(node)
            if pid is not None:
                process.stop(pid)
                stopped.append(node)
            node.pid_path.unlink(missing_ok=True)
        if self.spec.netns_subnet is not None:
            netns.destroy(self.spec.netns_subnet, [*self.data_nodes, *self.sentinel_nodes])
        if purge and self.spec.run_dir.exists():
            shutil.rmtree(self.spec.run_dir)
        return stopped
