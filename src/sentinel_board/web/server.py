from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import uvicorn
from fastapi import FastAPI
from uvicorn.config import LOGGING_CONFIG

from sentinel_board.web.app import create_app
from sentinel_board.web.metrics import SHARED_DIR

METRICS_PREFIX = "sentinel-board-metrics-"  # then the server's pid: one left behind is found

LogFormat = Literal["text", "json"]
HttpServer = Literal["uvicorn", "granian"]
HTTP_SERVERS: tuple[HttpServer, ...] = ("uvicorn", "granian")
# uvicorn's httptools protocol, each response written at once (web/one_write.py).
HTTP_PROTOCOL = "sentinel_board.web.one_write:OneWriteProtocol"
APP = "sentinel_board.web.server:served_app"  # a factory, called in each worker
STRUCTURED = ("sentinel_event", "failover", "sentinel_listener")  # `extra` our loggers attach


class JsonFormatter(logging.Formatter):
    """One JSON object per line: for log shippers, not for people."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in STRUCTURED:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def logging_config(log_level: str, log_format: LogFormat = "text") -> dict[str, Any]:
    """uvicorn's own, plus our loggers: Sentinel's events and the failovers followed."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    handler = "default"
    if log_format == "json":
        config["formatters"]["json"] = {"()": JsonFormatter}
        config["handlers"]["json"] = {
            "formatter": "json",
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
        }
        handler = "json"
        # uvicorn.error has no handler of its own: it passes its lines up to uvicorn's, and one
        # of its own too would print each of them twice.
        config["loggers"]["uvicorn"]["handlers"] = ["json"]
    config["loggers"]["sentinel_board"] = {
        "handlers": [handler],
        "level": log_level.upper(),
        "propagate": False,
    }
    return config


def served_app() -> FastAPI:
    """The app as `serve` runs it in each worker process."""
    return create_app(freeze_gc=True)


def serve(
    host: str,
    port: int,
    workers: int = 1,
    log_level: str = "info",
    log_format: LogFormat = "text",
    http_server: HttpServer = "uvicorn",
    app: str = APP,
) -> None:
    """`app` (module:factory) served by `http_server` in `workers` processes, with uvloop."""
    with shared_metrics(workers):
        if http_server == "granian":
            _granian(host, port, workers, log_level, log_format, app)
        else:
            _uvicorn(host, port, workers, log_level, log_format, app)


@contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, a directory of this run's own where each writes its counts
    (/metrics adds them up), made before they start and removed after they stop. One worker
    counts in memory; a directory the environment already names is the caller's."""
    if workers == 1 or SHARED_DIR in os.environ:
        yield
        return
    _remove_abandoned()
    directory = tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-")
    os.environ[SHARED_DIR] = directory  # the workers inherit it
    try:
        yield
    finally:
        del os.environ[SHARED_DIR]
        shutil.rmtree(directory, ignore_errors=True)


def _remove_abandoned() -> None:
    """The directories of runs whose server is gone without removing its own (SIGKILL)."""
    for found in Path(tempfile.gettempdir()).glob(f"{METRICS_PREFIX}*-*"):
        pid = found.name.removeprefix(METRICS_PREFIX).split("-")[0]
        if pid.isdigit() and found.stat().st_uid == os.getuid() and not _alive(int(pid)):
            shutil.rmtree(found, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def _uvicorn(
    host: str, port: int, workers: int, log_level: str, log_format: LogFormat, app: str
) -> None:
    uvicorn.run(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_config=logging_config(log_level, log_format),
        loop="uvloop",
        http=HTTP_PROTOCOL,
        access_log=False,
    )


def _granian(
    host: str, port: int, workers: int, log_level: str, log_format: LogFormat, app: str
) -> None:
    """Granian (an HTTP server written in Rust) with the same app, loop and loggers."""
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server

    level = log_level.lower()
    config = logging_config(log_level, log_format)
    handler = config["loggers"]["sentinel_board"]["handlers"]
    config["loggers"] = {
        "sentinel_board": config["loggers"]["sentinel_board"],
        "_granian": {"handlers": handler, "level": log_level.upper(), "propagate": False},
    }
    Server(
        app, address=host, port=port, interface=Interfaces.ASGI, workers=workers,
        loop=Loops.uvloop, factory=True, log_level=LogLevels({"trace": "debug"}.get(level, level)),
        log_dictconfig=config, log_access=False, workers_kill_timeout=10,
    ).serve()  # fmt: skip
