"""Asking the servers themselves: short timeouts, no retries, None when they do not answer."""

from __future__ import annotations

from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from sentinel_board.ha.config import tls_options

TIMEOUT = 0.3


def client(
    host: str,
    port: int,
    timeout: float = TIMEOUT,
    password: str | None = None,
    tls_ca: str | None = None,
) -> redis.Redis:
    return redis.Redis(
        host=host,
        port=port,
        password=password,
        **tls_options(tls_ca),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        decode_responses=True,
    )


def ask(
    host: str,
    port: int,
    *args: str | int,
    timeout: float = TIMEOUT,
    password: str | None = None,
    tls_ca: str | None = None,
) -> Any:
    try:
        with client(host, port, timeout, password, tls_ca) as conn:
            return conn.execute_command(*args)
    except (redis.RedisError, OSError):
        return None


def info(
    host: str, port: int, section: str, password: str | None = None, tls_ca: str | None = None
) -> dict[str, Any]:
    try:
        with client(host, port, password=password, tls_ca=tls_ca) as conn:
            return dict(conn.info(section))
    except (redis.RedisError, OSError):
        return {}


def fields(reply: object) -> dict[str, str]:
    """One SENTINEL MASTER or REPLICAS entry (redis-py already pairs the flat list)."""
    if isinstance(reply, dict):
        return {str(k): str(v) for k, v in reply.items()}
    if isinstance(reply, list):
        return {str(k): str(v) for k, v in zip(reply[::2], reply[1::2], strict=False)}
    return {}
