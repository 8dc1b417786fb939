"""Defaults the commands share, chosen by measurement."""

from __future__ import annotations

import os

# `make bench` on 2 cores (wrk and Redis on the same cores): 2 workers served the most (posts:
# 2,476 req/s with 1, 3,471 with 2, 2,883 with 4; the count: 5,007, 6,390, 4,563): one per core.
WORKERS = os.cpu_count() or 1
WORKERS_HELP = (
    f"The app's worker processes; by default one per core ({WORKERS} here), what `make bench` "
    "measured best (on 2 cores: 2 workers served 40% more posts than 1, and 4 fewer than 2)."
)
