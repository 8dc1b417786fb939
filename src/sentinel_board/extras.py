"""Optional parts, installed as extras: a missing one is named, with the command that adds it.

`pip install sentinel-board` is the server (what `serve` needs); `[plot]` adds matplotlib for
the drills' reports, `[tls]` adds cryptography for `up --tls`'s certificates, `[bench]` (what
`make bench` compares) granian for `serve --http-server granian`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from sentinel_board.topology.layout import TopologyError

EXTRAS = {
    "plot": ("matplotlib", "the drills' reports (--report)"),
    "tls": ("cryptography", "the certificates of `up --tls`"),
    "bench": ("granian", "`serve --http-server granian`"),
}


class MissingExtra(TopologyError):
    """An optional part is not installed: one line and the command that installs it."""


def require(extra: str) -> ModuleType:
    """The extra's module, imported; MissingExtra naming the extra when it is not installed."""
    module, needed_for = EXTRAS[extra]
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"{module} is not installed: {needed_for} need the `{extra}` extra",
            f"pip install 'sentinel-board[{extra}]'",
        ) from None
