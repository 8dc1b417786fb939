"""The topology's secrets: generated once into the run dir, readable by the owner only."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from sentinel_board.topology.layout import TopologyError

APP_USER = "board"
REPLICA_USER = "replica-user"
SENTINEL_USER = "sentinel-user"


@dataclass(frozen=True)
class Credentials:
    admin: str  # the data nodes' default user (requirepass): the launcher and operators
    replica: str  # replica-user: replication only
    monitor: str  # sentinel-user: what the sentinels may do on the data nodes
    app: str  # board: the app's commands on the app's keys
    sentinel: str  # the sentinels' own requirepass, which the app passes to ask them

    @classmethod
    def generate(cls) -> Credentials:
        return cls(**{f.name: secrets.token_urlsafe(24) for f in fields(cls)})

    @classmethod
    def load(cls, run_dir: Path) -> Credentials:
        """The secrets a deployment was made with; a TopologyError when there are none."""
        path = run_dir / "secrets.json"
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            raise TopologyError(
                f"no {path}: the passwords this deployment was made with",
                "run it from the folder it was rendered in (make compose-up renders one)",
            ) from None

    @classmethod
    def load_or_generate(cls, run_dir: Path) -> Credentials:
        """The run dir's, or new ones that are not written until `save`."""
        path = run_dir / "secrets.json"
        if path.exists():
            return cls(**json.loads(path.read_text()))
        return cls.generate()

    def save(self, run_dir: Path) -> None:
        """Into the run dir, unless it has some already (they are these, then)."""
        path = run_dir / "secrets.json"
        if not path.exists():
            write_private(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load_or_create(cls, run_dir: Path) -> Credentials:
        credentials = cls.load_or_generate(run_dir)
        credentials.save(run_dir)
        return credentials

    def app_env(self) -> dict[str, str]:
        """What the app needs, as `sentinel-board serve` reads it."""
        return {
            "SENTINEL_BOARD_REDIS_USERNAME": APP_USER,
            "SENTINEL_BOARD_REDIS_PASSWORD": self.app,
            "SENTINEL_BOARD_SENTINEL_PASSWORD": self.sentinel,
        }

    def app_secret_files(self) -> dict[str, str]:
        """The app's passwords as files: file name -> content (`app_env` without them)."""
        return {"redis-password": self.app, "sentinel-password": self.sentinel}

    def __repr__(self) -> str:  # never printed by accident
        return "Credentials(...)"


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Create or replace `path` with `mode` from the first byte on, in a folder only its owner
    may enter (0700)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(descriptor, mode)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
