from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from sentinel_board.topology import Topology
from sentinel_board.web.server import JsonFormatter, logging_config


def test_json_logs_carry_the_event_fields() -> None:
    message = "following failover: master %s -> %s"
    record = logging.LogRecord(
        "sentinel_board.ha", logging.WARNING, __file__, 1, message, ("a:1", "b:2"), None
    )
    record.failover = {"old": "a:1", "new": "b:2", "why": "+switch-master"}
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning" and line["logger"] == "sentinel_board.ha"
    assert line["message"] == "following failover: master a:1 -> b:2"
    assert line["failover"] == {"old": "a:1", "new": "b:2", "why": "+switch-master"}
    assert line["time"].endswith("+00:00")


JSON_LOGGING_PROBE = """
import logging, logging.config
from sentinel_board.web.server import logging_config
logging.config.dictConfig(logging_config("info", "json"))
logging.getLogger("uvicorn.error").info("started server process")
logging.getLogger("uvicorn").info("uvicorn's own")
logging.getLogger("sentinel_board.ha").warning("following failover")
"""


def test_json_logging_prints_every_line_once_through_the_json_formatter() -> None:
    config = logging_config("info", "json")
    assert config["formatters"]["json"] == {"()": JsonFormatter}
    assert logging_config("info")["loggers"]["sentinel_board"]["handlers"] == ["default"]
    done = subprocess.run(
        [sys.executable, "-c", JSON_LOGGING_PROBE],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("uvicorn.error", "started server process"),
        ("uvicorn", "uvicorn's own"),
        ("sentinel_board.ha", "following failover"),
    ]


FREEZE_PROBE = """
import asyncio, gc
from sentinel_board.web.app import create_app
from sentinel_board.web.server import served_app

async def frozen_after_start_up(app):
    async with app.router.lifespan_context(app):
        return gc.get_freeze_count()

print(asyncio.run(frozen_after_start_up(create_app())))
print(asyncio.run(frozen_after_start_up(served_app())))
"""


def test_served_app_freezes_its_start_up_objects_out_of_full_collections(
    topology: Topology,
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", FREEZE_PROBE],
        env={**os.environ, **topology.app_env()},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    by_default, served = map(int, done.stdout.split())
    assert by_default == 0, "an app made in a test process freezes nothing"
    assert served > 10_000, "the worker's app, its routes and clients, frozen once started"
