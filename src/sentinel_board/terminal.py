"""What the `sentinel-board` command prints: one console, and a refusal as one line and a hint."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape

from sentinel_board.topology.layout import TopologyError

F = TypeVar("F", bound=Callable[..., Any])
# A log or a pipe is not an 80-column terminal: give the tables room there.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)


def friendly_errors(command: F) -> F:
    """A refusal is one line and a hint, never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TopologyError as error:
            console.print(f"[red]Error:[/red] {escape(str(error))}")  # it may quote a program
            if error.hint:
                console.print(f"[dim]Hint:[/dim] {escape(error.hint)}")
            sys.exit(1)

    return wrapper  # type: ignore[return-value]
