"""Every Redis key the board uses, and the ACL patterns that allow the app exactly those.

The store, the notifier, the launcher's ACL rules, the drills and the benchmark all take
their key names from here. A prefix (SENTINEL_BOARD_KEY_PREFIX) goes before every one.
"""

from __future__ import annotations

from dataclasses import dataclass

UNREAD = "UNREAD"
READ = "READ"
DEDUP = "dedup:"  # dedup:group:<id> (posts sent as one), dedup:key:<Idempotency-Key>
NOTIFY = "notify:"  # notify:<event id>: a webhook's claim
RATE = "rate:"  # rate:<client address>: posts in the current window
PROBE = "readyz"  # what /readyz writes


@dataclass(frozen=True)
class Keys:
    prefix: str = ""

    @property
    def unread(self) -> str:
        return self.prefix + UNREAD

    @property
    def read(self) -> str:
        return self.prefix + READ

    @property
    def probe(self) -> str:
        return self.prefix + PROBE

    @property
    def dedup_prefix(self) -> str:
        return self.prefix + DEDUP

    def post_group(self, ident: str) -> str:
        """The dedup key of a group of posts the app sent as one (its id the app's)."""
        return f"{self.prefix}{DEDUP}group:{ident}"

    def idempotency_key(self, key: str) -> str:
        """The dedup key of a client's Idempotency-Key."""
        return f"{self.prefix}{DEDUP}key:{key}"

    def rate(self, client: str) -> str:
        return f"{self.prefix}{RATE}{client}"

    def notify(self, event_id: str) -> str:
        return f"{self.prefix}{NOTIFY}{event_id}"


def acl_key_patterns(prefix: str) -> list[str]:
    """`~pattern` for each key above, as an ACL rule takes them (`prefix` may be a glob)."""
    return [
        f"~{prefix}{key}" for key in (UNREAD, READ, DEDUP + "*", NOTIFY + "*", RATE + "*", PROBE)
    ]
