"""Defaults the commands share, chosen by measurement."""

from __future__ import annotations

import os

# `make bench` on 2 cores (wrk and Redis on the same cores), two runs: 1 worker clearly behind
# 2 (posts: 1,780 against 2,267; 2,476 against 3,471), 2 against 4 within the noise (posts +29%
# in one run, -17% in the other; the count level). One per core, the usual rule.
WORKERS = os.cpu_count() or 1
WORKERS_HELP = (
    f"The app's worker processes; by default one per core ({WORKERS} here), as `make bench` "
    "measured on 2 cores: 1 worker clearly behind 2, 4 no better than 2 within its noise "
    "(README: Performance)."
)
