"""`sentinel-board serve`: the web app alone, once its credentials are known to work."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace

import click

from sentinel_board.cli.defaults import WORKERS, WORKERS_HELP
from sentinel_board.cli.terminal import console, friendly_errors, settings_or_exit
from sentinel_board.config import Settings
from sentinel_board.extras import require
from sentinel_board.refusals import refused, try_credentials

# The levels uvicorn knows: another is a usage error, not a traceback once it starts.
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=WORKERS, type=click.IntRange(1, 64), help=WORKERS_HELP)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
)
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="json: one object per line, Sentinel's events and failovers with their fields.",
)  # fmt: skip
@click.option(
    "--http-server", type=click.Choice(["uvicorn", "granian"]), default="uvicorn",
    show_default=True,
    help="What serves HTTP: both are compared by `make bench`.",
)  # fmt: skip
@friendly_errors
def serve(
    host: str, port: int, workers: int, log_level: str, log_format: str, http_server: str
) -> None:
    """The web app alone, configured by SENTINEL_BOARD_* environment variables."""
    from sentinel_board.web.server import serve as run

    if http_server == "granian":
        require("bench")
    settings = settings_or_exit()
    refusal = asyncio.run(_credentials_refused(settings))
    if refusal:
        console.print(f"[red]Error:[/red] {refusal}")
        console.print("[dim]Hint:[/dim] the local topology's are in app.env in its run dir")
        sys.exit(2)
    run(
        host, port, workers, log_level, "json" if log_format == "json" else "text",
        "granian" if http_server == "granian" else "uvicorn",
    )  # fmt: skip


async def _credentials_refused(settings: Settings) -> str | None:
    """Before any worker starts: do the sentinels and the master take our credentials, and
    the ACL our keys?"""
    from sentinel_board.ha import CredentialsRefused, RedisHA, Unavailable

    redis = RedisHA(replace(settings.ha_config(), failover_deadline=2.0))
    try:
        await try_credentials(redis, settings.key_prefix)
    except CredentialsRefused as error:
        return refused(error)
    except Unavailable:
        pass  # no master yet: the app waits for one, as it does through a failover
    finally:
        await redis.aclose()
    return None
