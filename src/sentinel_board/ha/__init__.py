"""A Redis Sentinel client for asyncio that lives for months: the board's HA layer, as a library.

It knows nothing of the board. Its interface is what this module exports:

- `HAConfig`: the sentinels, the master set's name, credentials, TLS, timeouts.
- `RedisHA`: `write(script, keys, args)` (acknowledged by WAIT), `call(*command)`,
  `transaction(*commands)`, `read(op)`, `start()` (follow +switch-master),
  `aclose()`; or `async with`.
- `Script`: a Lua script for `write`.
- `Unavailable` and its kinds: what a request gets when no master served it in time.
- `SentinelEvent`, `ListenerState`, `sentinel_events`: Sentinel's notifications.

The modules, one job each: config, connection (clients of one server), discovery (the
sentinels and ROLE), link (a server's client and its batchers, closed as one), master
(following the master), replicas (the replica pool), events (the listener), retry (the
retry policy), errors, batching, stats, client (RedisHA, tying them together).
"""

from sentinel_board.ha.client import RedisHA, Script
from sentinel_board.ha.config import (
    Address,
    HAConfig,
    format_address,
    parse_address,
    parse_addresses,
)
from sentinel_board.ha.errors import (
    CredentialsRefused,
    MasterNotFound,
    NoFailoverPossible,
    NotReplicated,
    ServerRefused,
    Unavailable,
)
from sentinel_board.ha.events import ListenerState, SentinelEvent, sentinel_events
from sentinel_board.ha.stats import HAStats

__all__ = [
    "Address",
    "CredentialsRefused",
    "HAConfig",
    "HAStats",
    "ListenerState",
    "MasterNotFound",
    "NoFailoverPossible",
    "NotReplicated",
    "RedisHA",
    "Script",
    "SentinelEvent",
    "ServerRefused",
    "Unavailable",
    "format_address",
    "parse_address",
    "parse_addresses",
    "sentinel_events",
]
