from __future__ import annotations

import json
import logging

from sentinel_board.web.server import JsonFormatter, logging_config


def test_json_logs_carry_the_event_fields() -> None:
    message = "following failover: master %s -> %s"
    record = logging.LogRecord(
        "sentinel_board.redis_ha", logging.WARNING, __file__, 1, message, ("a:1", "b:2"), None
    )
    record.failover = {"old": "a:1", "new": "b:2", "why": "+switch-master"}
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "warning" and line["logger"] == "sentinel_board.redis_ha"
    assert line["message"] == "following failover: master a:1 -> b:2"
    assert line["failover"] == {"old": "a:1", "new": "b:2", "why": "+switch-master"}
    assert line["time"].endswith("+00:00")


def test_json_logging_routes_our_loggers_and_uvicorns_through_the_json_formatter() -> None:
    config = logging_config("info", "json")
    assert config["formatters"]["json"] == {"()": JsonFormatter}
    for name in ("sentinel_board", "uvicorn", "uvicorn.error"):
        assert config["loggers"][name]["handlers"] == ["json"]
    assert logging_config("info")["loggers"]["sentinel_board"]["handlers"] == ["default"]
