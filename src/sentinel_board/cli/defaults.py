"""Defaults the commands share, chosen by measurement."""

from __future__ import annotations

import os

# `make bench` on 2 cores (wrk and Redis on the same cores), the five runs since item 14 of the
# README's Performance section: the count best with 2 in each, posts ahead with 4 in four of
# them. One per core, the usual rule, on a mostly-read board.
WORKERS = os.cpu_count() or 1
WORKERS_HELP = (
    f"The app's worker processes; by default one per core ({WORKERS} here), as `make bench` "
    "measured on 2 cores: the count best with 2 in each run, posts ahead with 4 in most runs "
    "(README: Performance)."
)
