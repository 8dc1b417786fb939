"""What to tell when Redis or a sentinel refuses the app's credentials: the settings to look
at, named, never their values. Said by `serve` before it starts, by the app at start-up, and in
a 503's message."""

from __future__ import annotations

from sentinel_board.ha import CredentialsRefused

# What to check when Redis or a sentinel refuses: the settings, named, never their values.
CHECK = {
    "data": "check SENTINEL_BOARD_REDIS_USERNAME and SENTINEL_BOARD_REDIS_PASSWORD",
    "acl": "the ACL of SENTINEL_BOARD_REDIS_USERNAME must allow the commands and keys listed "
    "in the README's Security section",
    "sentinel": "check SENTINEL_BOARD_SENTINEL_PASSWORD",
}


def refused(error: CredentialsRefused) -> str:
    """The refusal, and the setting to look at."""
    return f"{error.reason}: {CHECK[error.refused]}"
