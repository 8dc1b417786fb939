"""Settings that hold secrets may come from files (`*_FILE`), as Compose secrets give them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from sentinel_board.cli import main
from sentinel_board.config import Settings
from sentinel_board.topology import Topology
from sentinel_board.topology.ports import free_port
from tests.helpers import app_client, settings_for

SECRET = "hunter2-not-the-password"


def secret_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_each_secret_is_read_from_its_file_without_the_final_line_break(tmp_path: Path) -> None:
    settings = Settings(
        redis_password_file=secret_file(tmp_path, "redis", f"{SECRET}\n"),
        sentinel_password_file=secret_file(tmp_path, "sentinel", "s p a c e s \r\n"),
        webhook_secret_file=secret_file(tmp_path, "webhook", "two\nlines"),
    )
    assert settings.redis_password is not None and settings.sentinel_password is not None
    assert settings.redis_password.get_secret_value() == SECRET
    assert settings.sentinel_password.get_secret_value() == "s p a c e s "
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == "two\nlines"


@pytest.mark.parametrize(
    ("content", "both", "message"),
    [
        (None, False, "SENTINEL_BOARD_REDIS_PASSWORD_FILE: cannot read"),
        ("", False, "is empty"),
        (f"{SECRET}\n", True, "set SENTINEL_BOARD_REDIS_PASSWORD or "),
    ],
)
def test_a_bad_secret_file_is_named_never_shown(
    tmp_path: Path, content: str | None, both: bool, message: str
) -> None:
    path = tmp_path / "redis"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValidationError) as error:
        Settings(redis_password_file=path, redis_password=SECRET if both else None)
    assert message in str(error.value)
    assert SECRET not in str(error.value)


def serve_with(variable: str, value: str) -> subprocess.CompletedProcess[str]:
    """`serve` with one SENTINEL_BOARD_ variable set, and none other of the environment's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_BOARD_")}
    env[f"SENTINEL_BOARD_{variable}"] = value
    return subprocess.run(
        [sys.executable, "-m", "sentinel_board", "serve", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_serve_names_an_unreadable_secret_file_and_exits_2(tmp_path: Path) -> None:
    done = serve_with("SENTINEL_PASSWORD_FILE", str(tmp_path / "missing"))
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert f"SENTINEL_BOARD_SENTINEL_PASSWORD_FILE: cannot read {tmp_path / 'missing'}" in output
    assert "Traceback" not in output and "Hint:" in output


async def test_the_board_authenticates_with_passwords_from_files(
    topology: Topology, tmp_path: Path
) -> None:
    assert topology.credentials is not None
    settings = settings_for(
        topology,
        redis_password=None,
        sentinel_password=None,
        redis_password_file=secret_file(tmp_path, "redis", topology.credentials.app + "\n"),
        sentinel_password_file=secret_file(tmp_path, "sentinel", topology.credentials.sentinel),
    )
    async with app_client(settings) as client:
        response = await client.post("/api/messages", json={"message": "from a file"})
    assert response.status_code == 201, response.text


def test_an_ack_timeout_of_zero_is_refused_saying_why() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(ack_timeout_ms=0)
    assert "ack_timeout_ms" in str(caught.value)
    assert "WAIT with a timeout of 0 waits forever" in str(caught.value)


def test_serve_refuses_an_ack_timeout_of_zero_naming_the_variable() -> None:
    done = serve_with("ACK_TIMEOUT_MS", "0")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "SENTINEL_BOARD_ACK_TIMEOUT_MS" in done.stdout
    assert "waits forever" in done.stdout and "Traceback" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SENTINELS", "10.0.0.1:hunter2"),
        ("SENTINELS", "10.0.0.1:26379,hunter2"),
        ("READ_FROM", "hunter2"),
        ("RATE_LIMIT", "hunter2"),
        ("MAX_BODY_BYTES", "hunter2"),
        ("WEBHOOKS", "ftp://hunter2@example.com/"),
    ],
)
def test_a_bad_setting_is_named_never_shown(variable: str, value: str) -> None:
    env = dict.fromkeys(k for k in os.environ if k.startswith("SENTINEL_BOARD_"))
    result = CliRunner().invoke(main, ["serve"], env={**env, f"SENTINEL_BOARD_{variable}": value})
    assert result.exit_code == 2, result.output
    assert f"SENTINEL_BOARD_{variable}" in result.output
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


FLOAT_SETTINGS = [
    name for name, field in Settings.model_fields.items() if field.annotation is float
]


@pytest.mark.parametrize("name", FLOAT_SETTINGS)
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity"])
def test_no_float_setting_takes_inf_or_nan(name: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**{name: value})  # type: ignore[arg-type]
    assert name in str(caught.value) and "finite" in str(caught.value)


def test_serve_refuses_an_infinite_failover_deadline_naming_the_variable() -> None:
    """`gt=0` let inf through, and ha_config() then raised a ValueError: a traceback."""
    done = serve_with("FAILOVER_DEADLINE", "inf")
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "SENTINEL_BOARD_FAILOVER_DEADLINE: " in done.stdout and "finite" in done.stdout
    assert "Traceback" not in output and "inf" not in done.stdout.lower().replace("infinite", "")
