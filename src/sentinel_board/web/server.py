from __future__ import annotations

import copy
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG


def logging_config(log_level: str) -> dict[str, Any]:
    """uvicorn's own, plus our loggers (failovers followed, Redis unavailable)."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["sentinel_board"] = {
        "handlers": ["default"],
        "level": log_level.upper(),
        "propagate": False,
    }
    return config


def serve(host: str, port: int, workers: int = 1, log_level: str = "info") -> None:
    uvicorn.run(
        "sentinel_board.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=logging_config(log_level),
        loop="uvloop",
        http="httptools",
        access_log=False,
    )
