"""Sentinel as configuration provider: ask the sentinels in turn, and trust, but verify.

A sentinel's answer is used only once the node it names answers ROLE as a master: a stale
sentinel naming a replica, or a dead master not yet failed over, is passed over. That check
has a short time of its own (`check_timeout`), not a command's: a hung master accepts the
connection and never answers, and each address is checked once per discovery however many
sentinels name it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError

from sentinel_board.ha.config import Address, HAConfig, format_address
from sentinel_board.ha.connection import as_text, command, text_fields
from sentinel_board.ha.errors import (
    CredentialsRefused,
    MasterNotFound,
    NoFailoverPossible,
    describe,
    refusal,
)

ERRORS = (TimeoutError, RedisError, OSError)


class Discovery:
    def __init__(self, config: HAConfig, connect: Callable[[Address, bool], Redis]) -> None:
        """`connect(address, sentinel)`: a new client of a data node or of a sentinel."""
        self.config = config
        self._connect = connect
        self.sentinels: list[tuple[Address, Redis]] = [
            (address, connect(address, True)) for address in config.sentinels
        ]

    @property
    def check_timeout(self) -> float:
        """How long the ROLE check of a node may take, connecting included: a connection's
        time, then an answer as quick as a sentinel's (a master answers ROLE at once)."""
        return self.config.connect_timeout + self.config.sentinel_timeout

    async def find(self, current: tuple[Address, Redis] | None) -> tuple[Address, Redis]:
        """The master, and a client of it (`current`'s own when it is still the master).

        The sentinel that answered moves to the front, so the next discovery asks it first.
        Raises CredentialsRefused, NoFailoverPossible (too few sentinels answer to ever elect
        a master) or MasterNotFound (the reasons of every sentinel). No connection to a
        sentinel is kept after it: discoveries are rare, and an idle one would only hold a
        socket (or go stale when its sentinel restarts).
        """
        try:
            return await self._find(current)
        finally:
            for _, sentinel in self.sentinels:
                await sentinel.connection_pool.disconnect(inuse_connections=False)

    async def _find(self, current: tuple[Address, Redis] | None) -> tuple[Address, Redis]:
        name = self.config.master_name
        problems: list[str] = []
        silent = 0
        refused: list[str] = []
        checked: set[Address] = set()  # found not to be the master in this discovery
        for index, (sentinel_address, sentinel) in enumerate(self.sentinels):
            where = format_address(sentinel_address)
            try:
                reply = await command(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
            except (AuthenticationError, NoPermissionError) as error:
                refused.append(f"{where}: {describe(error)}")
                continue
            except ERRORS as error:
                problems.append(f"sentinel {where}: {describe(error)}")
                silent += 1
                continue
            if not reply:
                problems.append(f"sentinel {where} does not know {name!r}")
                continue
            address = (as_text(reply[0]), int(reply[1]))
            if address in checked:  # its problem is listed already: not asked twice
                continue
            checked.add(address)
            client, problem = await self.confirm(address, current)
            if client is None:
                problems.append(f"master {format_address(address)}: {problem}")
                continue
            if index:
                self.sentinels.insert(0, self.sentinels.pop(index))
            return address, client
        if refused:  # a wrong password is not a failover: say so at once
            raise CredentialsRefused(f"sentinel {'; '.join(refused)}", "sentinel")
        reasons = "; ".join(dict.fromkeys(problems))
        total = len(self.sentinels)
        answered = total - silent
        if answered <= total // 2:
            raise NoFailoverPossible(
                f"only {answered} of {total} sentinels answer, and a failover needs a majority "
                f"of them ({reasons})",
                retry_after=2,
            )
        raise MasterNotFound(reasons)

    async def confirm(
        self, address: Address, current: tuple[Address, Redis] | None
    ) -> tuple[Redis | None, str]:
        """A client of `address` if it answers ROLE as a master within `check_timeout`, else
        None and why not.

        `current`'s client is reused for its own address; a new one is closed when refused
        (or when the discovery is cancelled: its deadline passed).
        """
        reused = current is not None and current[0] == address
        client = current[1] if current is not None and reused else self._connect(address, False)
        within = self.check_timeout
        try:
            async with asyncio.timeout(within) as check:
                role = await command(client, "ROLE")
            problem = "" if role[0] == b"master" else f"answers ROLE {as_text(role[0])}"
        except (AuthenticationError, NoPermissionError) as error:
            if not reused:
                await client.aclose()
            raise refusal(error, f"master {format_address(address)}") from None
        except ERRORS as error:
            problem = (
                f"no answer to ROLE within {within:g} s" if check.expired() else describe(error)
            )
        except BaseException:
            if not reused:
                await client.aclose()
            raise
        if not problem:
            return client, ""
        if not reused:
            await client.aclose()
        return None, problem

    async def replicas(self) -> list[Address] | None:
        """The replicas the first answering sentinel sees up, those in sync first; None when
        no sentinel answers. While the master is down every replica's link is down too, yet
        each still answers, stale by the failover's length at most."""
        for _, sentinel in self.sentinels:
            try:
                reply = await command(sentinel, "SENTINEL", "REPLICAS", self.config.master_name)
            except ERRORS:
                continue
            entries = [e for e in map(text_fields, reply or []) if e.get("flags") == "slave"]
            entries.sort(key=lambda e: e.get("master-link-status") != "ok")
            return [(entry["ip"], int(entry["port"])) for entry in entries]
        return None

    async def aclose(self) -> None:
        for _, sentinel in self.sentinels:
            await sentinel.aclose()
