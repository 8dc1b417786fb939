"""What a drill is asked for: read by the drill, and by the target it starts for it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    down_after_ms: int = 3000
    failover_deadline: float = 10.0
    read_from: str = "master"
    server: str = "redis"  # redis, valkey or a server binary (topology/servers.py)


@dataclass(frozen=True)
class EnduranceOptions:
    faults: int = 100
    down_after_ms: int = 3000
    failover_deadline: float = 10.0
    workers: int = 2
    pace: float = 0.02  # each writer's pause between messages: a steady load, not a flood
    read_from: str = "master"
    server: str = "redis"  # redis, valkey or a server binary (topology/servers.py)
