"""The errors a caller sees, and which failures are worth waiting out."""

from __future__ import annotations

import asyncio
from typing import Literal

from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    MasterDownError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

Refused = Literal["data", "acl", "sentinel"]


class Unavailable(Exception):
    """No master could serve the request within the failover deadline.

    `reason` says why in one sentence; `retry_after` (seconds) when trying again makes sense.
    """

    def __init__(self, reason: str, retry_after: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class NotReplicated(Unavailable):
    """The master took the write but too few replicas confirmed it in time."""


class MasterNotFound(Unavailable):
    """No sentinel named a master that answers ROLE as a master."""


class NoFailoverPossible(Unavailable):
    """No master, and too few sentinels answer to ever elect one: waiting cannot help."""


class CredentialsRefused(Unavailable):
    """A node refused the credentials, or its ACL a command: waiting cannot help.

    `refused`: whose credentials to check: the data nodes' username and password (`data`),
    the data nodes' ACL for this user (`acl`), or the sentinels' password (`sentinel`).
    The reason names the node and the error, never a secret.
    """

    def __init__(self, reason: str, refused: Refused) -> None:
        super().__init__(reason, retry_after=30)  # until an operator fixes a setting or an ACL
        self.refused: Refused = refused


class ServerRefused(Unavailable):
    """The master refused the command for a condition of its own, which no failover cures and
    waiting may (or an operator): `condition` is OOM (out of memory), MISCONF (its last save
    failed) or BUSY (a script or function runs too long). Not retried."""

    def __init__(self, reason: str, condition: str, retry_after: int) -> None:
        super().__init__(reason, retry_after=retry_after)
        self.condition = condition


# The server's conditions, by the error's first word, and what each means.
CONDITIONS = {
    "OOM": "it is out of memory (maxmemory reached, and nothing may be evicted)",
    "MISCONF": "its last save to disk failed, and it refuses writes until one succeeds",
    "BUSY": "it is busy running a script or function",
}


def server_refusal(error: BaseException, where: str, retry_after: int) -> ServerRefused | None:
    """ServerRefused when `error` is one of CONDITIONS, else None."""
    if isinstance(error, OutOfMemoryError):
        condition = "OOM"  # redis-py takes the word off the message
    elif isinstance(error, ResponseError):
        condition = str(error).split(" ", 1)[0]
    else:
        return None
    if condition not in CONDITIONS:
        return None
    return ServerRefused(
        f"{where} refuses commands: {CONDITIONS[condition]} ({describe(error)})",
        condition,
        retry_after,
    )


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def refusal(error: AuthenticationError | NoPermissionError, where: str) -> CredentialsRefused:
    if isinstance(error, NoPermissionError):
        return CredentialsRefused(
            f"{where} refused a command to the client's user ({error})", "acl"
        )
    return CredentialsRefused(
        f"{where} refused the username and password ({describe(error)})", "data"
    )


# What a master answers while it fails over: NOREPLICAS before its replicas re-attach; a
# demoted master refuses WAIT, and a WAIT blocked on it when it was demoted ends UNBLOCKED.
FAILING_OVER = ("NOREPLICAS", "WAIT cannot be used with replica", "UNBLOCKED")


def is_transient(error: BaseException) -> bool:
    """A failure a failover explains: a lost connection, a timeout, or a master being
    demoted, loading or without replicas. Waiting, then asking the sentinels, may cure it."""
    if isinstance(error, RedisConnectionError | RedisTimeoutError | OSError | asyncio.TimeoutError):
        return True
    if isinstance(error, ReadOnlyError | BusyLoadingError | MasterDownError):
        return True
    return isinstance(error, ResponseError) and str(error).startswith(FAILING_OVER)
