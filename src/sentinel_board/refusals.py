"""Whether Redis and the sentinels take the app's credentials, and what to tell when they do
not: the settings to look at, named, never their values. Asked by `serve` before it starts
(the app itself, at start-up, only PINGs: an ACL may still change under it, and its requests
then answer 503 saying so); told there and in a 503's message."""

from __future__ import annotations

from sentinel_board.ha import CredentialsRefused, RedisHA
from sentinel_board.keys import Keys


async def try_credentials(redis: RedisHA, key_prefix: str) -> None:
    """A PING, then a read of a key under the prefix (an ACL may take the user and refuse its
    keys); CredentialsRefused when refused, Unavailable when there is no master yet."""
    await redis.read(lambda client: client.ping())
    await redis.call("LLEN", Keys(key_prefix).unread)


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
