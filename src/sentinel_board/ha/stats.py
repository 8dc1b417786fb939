"""What the HA layer counts, for a caller's metrics and status pages."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class HAStats:
    retries: int = 0  # attempts retried while following a failover
    failovers_followed: int = 0  # times the client moved to a new master
    unavailable: int = 0  # requests that ended with Unavailable
    batches: int = 0  # pipelines sent by the batchers
    batched_commands: int = 0

    def count_batch(self, commands: int) -> None:
        self.batches += 1
        self.batched_commands += commands
