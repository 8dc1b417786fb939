from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from sentinel_board.ha import Address, HAConfig, parse_address
from sentinel_board.notify import NOTIFIED_EVENTS

# The settings that hold a secret, each of which may be read from a file (`<NAME>_FILE`).
SECRET_FILES = ("redis_password", "sentinel_password", "webhook_secret")


def read_secret_file(path: Path, variable: str) -> str:
    """A secret file's content without its final line break. Errors name the file, which is
    not secret, never what it holds."""
    try:
        value = path.read_text().removesuffix("\n").removesuffix("\r")
    except OSError as error:
        raise ValueError(f"{variable}: cannot read {path} ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{variable}: {path} is not UTF-8 text") from None
    if not value:
        raise ValueError(f"{variable}: {path} is empty")
    return value


WINDOWS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}


@dataclass(frozen=True)
class RateLimit:
    posts: int
    window: float  # seconds

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """`30/minute`, `5/second`, `1000/hour`, or `N/<seconds>s` such as `10/30s`."""
        count, _, per = text.strip().partition("/")
        per = per.strip()
        window = WINDOWS.get(per)
        if window is None and per.endswith("s") and per[:-1].replace(".", "", 1).isdigit():
            window = float(per[:-1])
        if not count.strip().isdigit() or int(count) < 1 or not window:
            raise ValueError(
                "must be posts per window, such as 30/minute, 5/second, 1000/hour or 10/30s"
            )
        return cls(int(count), window)


class Settings(BaseSettings):
    # Inputs can be secrets (passwords, webhook URLs with tokens): errors never echo them.
    # No float setting (times in seconds) takes inf or nan: each is refused here, named.
    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_BOARD_", extra="ignore", hide_input_in_errors=True, allow_inf_nan=False
    )

    sentinels: Annotated[list[Address], NoDecode] = Field(
        default=[("127.0.0.1", 26380), ("127.0.0.1", 26381), ("127.0.0.1", 26382)],
        description="The sentinels to ask for the master, host:port separated by commas.",
    )
    master_name: str = "mymaster"
    redis_username: str | None = Field(
        default=None, description="The data nodes' ACL user; none: the default user."
    )
    redis_password: SecretStr | None = None
    sentinel_password: SecretStr | None = None
    # Each secret may come from a file instead (Docker and Compose secrets, Kubernetes): its
    # value then never shows in the process's environment or in `docker inspect`.
    redis_password_file: Path | None = Field(
        default=None, description="A file holding SENTINEL_BOARD_REDIS_PASSWORD."
    )
    sentinel_password_file: Path | None = Field(
        default=None, description="A file holding SENTINEL_BOARD_SENTINEL_PASSWORD."
    )
    tls_ca_file: Path | None = Field(
        default=None,
        description="Speak TLS to the data nodes and the sentinels, verifying their "
        "certificates with this CA (PEM).",
    )
    key_prefix: str = ""
    read_from: Literal["master", "replica_preferred"] = Field(
        default="master",
        description="Where the count and the messages page are read: replica_preferred keeps "
        "them answering through a failover, stale by at most the replication lag.",
    )

    sentinel_timeout: float = Field(
        default=0.3, gt=0, description="Per-sentinel query timeout (s)."
    )
    socket_timeout: float = Field(
        1.0, gt=0, description="Redis round-trip timeout (s): one batch of commands, WAIT excluded."
    )
    connect_timeout: float = Field(default=0.5, gt=0)
    failover_deadline: float = Field(
        10.0, gt=0, description="How long a request waits for a failover before answering 503 (s)."
    )
    min_replica_acks: int = Field(
        default=1, ge=0, description="Replicas that must confirm a write (WAIT)."
    )
    ack_timeout_ms: int = Field(
        default=1000, description="How long WAIT waits for them (ms); at least 1."
    )
    dedup_ttl_seconds: int = Field(
        default=86400,
        gt=0,
        description="How long a client's Idempotency-Key is remembered (s), at least the "
        "app's retry window (the failover deadline plus 30 s).",
    )

    max_message_length: int = Field(default=1000, gt=0)
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    page_limit: int = Field(default=100, gt=0, description="Messages of each list a page shows.")
    max_page_limit: int = Field(default=1000, gt=0)

    rate_limit: Annotated[RateLimit | None, NoDecode] = Field(
        default=None,
        description="Posts allowed per client address, such as 30/minute; enforced in Redis.",
    )

    @field_validator("ack_timeout_ms")
    @classmethod
    def _check_ack_timeout(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1: WAIT with a timeout of 0 waits forever")
        return value

    @field_validator("rate_limit", mode="before")
    @classmethod
    def _parse_rate_limit(cls, value: object) -> object:
        if isinstance(value, str):
            return RateLimit.parse(value) if value.strip() else None
        return value

    webhooks: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="URLs that each Sentinel event of interest is POSTed to, separated by commas.",
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Signs each webhook body (HMAC-SHA256) when set."
    )
    webhook_secret_file: Path | None = Field(
        default=None, description="A file holding SENTINEL_BOARD_WEBHOOK_SECRET."
    )

    @model_validator(mode="after")
    def _read_secret_files(self) -> Settings:
        for name in SECRET_FILES:
            path: Path | None = getattr(self, f"{name}_file")
            if path is None:
                continue
            variable = f"SENTINEL_BOARD_{name.upper()}"
            if getattr(self, name) is not None:
                raise ValueError(f"set {variable} or {variable}_FILE, not both")
            setattr(self, name, SecretStr(read_secret_file(path, f"{variable}_FILE")))
        return self

    webhook_events: Annotated[list[str], NoDecode] = Field(
        default=list(NOTIFIED_EVENTS),
        description="The Sentinel events that are notified, separated by commas.",
    )
    webhook_attempts: int = Field(default=8, ge=1, description="Deliveries tried per URL.")
    webhook_timeout: float = Field(default=5.0, gt=0, description="Per-delivery timeout (s).")
    webhook_dedup_seconds: int = Field(
        default=30, gt=0, description="One notification for the same event within this time."
    )

    @field_validator("webhooks", "webhook_events", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("webhooks")
    @classmethod
    def _check_urls(cls, urls: list[str]) -> list[str]:
        for number, url in enumerate(urls, 1):
            scheme, sep, rest = url.partition("://")
            if scheme not in ("http", "https") or not sep or not rest:
                # Not the URL itself: a webhook URL often carries a token.
                raise ValueError(f"URL number {number} does not start with http:// or https://")
        return urls

    @field_validator("sentinels", mode="before")
    @classmethod
    def _split_sentinels(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part for part in value.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            parsed = []
            for number, entry in enumerate(value, 1):
                try:
                    parsed.append(parse_address(entry) if isinstance(entry, str) else entry)
                except ValueError:
                    # Not the entry itself: a password pasted into the wrong variable shows.
                    raise ValueError(
                        f"entry number {number} is not host:port (for example 127.0.0.1:26380)"
                    ) from None
            if not parsed:
                raise ValueError("at least one sentinel host:port is needed")
            return parsed
        return value

    def ha_config(self) -> HAConfig:
        """What the HA layer is told: the sentinels, credentials, timeouts."""
        return HAConfig(
            sentinels=self.sentinels,
            master_name=self.master_name,
            username=self.redis_username,
            password=_secret(self.redis_password),
            sentinel_password=_secret(self.sentinel_password),
            tls_ca_file=self.tls_ca_file,
            read_from=self.read_from,
            sentinel_timeout=self.sentinel_timeout,
            socket_timeout=self.socket_timeout,
            connect_timeout=self.connect_timeout,
            failover_deadline=self.failover_deadline,
            min_replica_acks=self.min_replica_acks,
            ack_timeout_ms=self.ack_timeout_ms,
            client_name="sentinel-board",
        )


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()
