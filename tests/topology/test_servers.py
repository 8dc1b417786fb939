"""The server a topology runs: Redis or Valkey, found with its sentinel, or named missing."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from sentinel_board.topology import Topology, TopologyError, servers
from tests.conftest import local_spec


def test_refuses_a_missing_redis_server(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="redis-server not found") as caught:
        Topology.up(local_spec(tmp_path, server="/nonexistent/redis-server"))
    assert "apt-get install redis-server" in caught.value.hint


def test_a_missing_valkey_is_named_with_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    with pytest.raises(TopologyError, match="valkey-server not found") as caught:
        servers.find("valkey")
    assert "bookworm-backports" in caught.value.hint and "--server PATH" in caught.value.hint


def test_valkey_is_found_with_its_sentinel() -> None:
    if shutil.which("valkey-server") is None:
        pytest.skip("valkey-server is not installed (.ci/run installs it)")
    valkey = servers.find("valkey")
    assert valkey.kind == "valkey" and valkey.label.startswith("Valkey ")
    sentinel = valkey.argv(Path("/etc/s.conf"), sentinel=True)
    assert sentinel[-1:] == ["--sentinel"] or Path(sentinel[0]).name == "valkey-sentinel"


def test_a_run_dir_keeps_its_server(tmp_path: Path) -> None:
    if shutil.which("valkey-server") is None:
        pytest.skip("valkey-server is not installed (.ci/run installs it)")
    spec = local_spec(tmp_path, server="valkey")
    Topology.up(spec).down()
    with pytest.raises(TopologyError, match="holds the data of a Valkey topology") as caught:
        Topology.up(replace(spec, server="redis"))
    assert "--server valkey" in caught.value.hint


def test_refuses_redis_older_than_6_2(tmp_path: Path) -> None:
    old = tmp_path / "redis-server"
    old.write_text("#!/bin/sh\necho 'Redis server v=6.0.16 sha=00000000:0 malloc=jemalloc'\n")
    old.chmod(0o755)
    with pytest.raises(TopologyError, match=r"is Redis 6\.0\.16; 6\.2 or newer is needed"):
        Topology.up(local_spec(tmp_path / "run", server=str(old)))
