"""The images compose.yaml runs: the official ones, or built from Debian's packages.

Users pull `redis` and build the board's image on `python:*-slim` from Docker Hub. A machine
that reaches no image registry (CI here) builds both from Debian instead: a base image made by
debootstrap (cached outside the checkout: the next build skips it), Redis from Debian's
packages, and Debian's Python with the board's packages downloaded on the host beforehand (the
image asks no package index). compose.yaml takes either through two variables.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sentinel_board.compose.engine import EngineError, cache_dir, docker

APP_BASE = "python:3.12-slim"  # compose.yaml's default
APP_IMAGE = "sentinel-board"
DEBIAN = "sentinel-board/debian:bookworm"
# Tagged by what they are built from (see _tag).
DEBIAN_PYTHON = "sentinel-board/python3"
DEBIAN_APP_BASE = "sentinel-board/python"
MIRROR = os.environ.get("SENTINEL_BOARD_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BUILD_WITHIN = 900.0


@dataclass(frozen=True)
class Flavour:
    """A server as an image: the official one, and how to build it from Debian's packages."""

    official: str
    packages: str
    user: str
    suite: str  # Debian 12's Valkey is in bookworm-backports


# compose.yaml runs Redis by default (SENTINEL_BOARD_SERVER_IMAGE); SENTINEL_BOARD_SERVER picks.
SERVERS = {
    "redis": Flavour("redis:7.2", "redis-server redis-tools", "redis", "bookworm"),
    "valkey": Flavour(
        "valkey/valkey:8.0", "valkey-server valkey-tools", "valkey", "bookworm-backports"
    ),
}


@dataclass(frozen=True)
class Images:
    server: str  # the data nodes' and sentinels' image
    app_base: str

    def compose_env(self) -> dict[str, str]:
        """The variables compose.yaml reads its images from."""
        return {
            "SENTINEL_BOARD_SERVER_IMAGE": self.server,
            "SENTINEL_BOARD_APP_BASE": self.app_base,
        }


def server_choice() -> str:
    """redis or valkey, as SENTINEL_BOARD_SERVER says (redis when unset)."""
    server = os.environ.get("SENTINEL_BOARD_SERVER") or "redis"
    if server not in SERVERS:
        raise EngineError(
            f"SENTINEL_BOARD_SERVER={server!r} is neither redis nor valkey",
            "the deployment runs on redis (the default) or valkey",
        )
    return server


def _present(image: str) -> bool:
    return docker("image", "inspect", image, check=False).returncode == 0


def build(
    root: Path,
    say: Callable[[str], None],
    server: str = "redis",
    given: dict[str, str] | None = None,
) -> Images:
    """Every image the deployment needs, by the path that works here; `say` tells which.
    `given`: images the user named (SENTINEL_BOARD_SERVER_IMAGE, SENTINEL_BOARD_APP_BASE),
    taken as they are."""
    given = given or {}
    chosen = os.environ.get("SENTINEL_BOARD_IMAGES", "")
    if chosen not in ("", "official", "debian"):
        raise EngineError(
            f"SENTINEL_BOARD_IMAGES={chosen!r} is neither official nor debian",
            "leave it unset to take the official images when Docker Hub answers",
        )
    flavour = SERVERS[server]
    if chosen != "debian" and (_present(flavour.official) or _pull(flavour.official)):
        say(f"Images: the official ones ({flavour.official}, the board on {APP_BASE})")
        images = Images(flavour.official, APP_BASE)
    elif chosen == "official":
        raise EngineError(f"cannot pull {flavour.official}", "unset SENTINEL_BOARD_IMAGES")
    else:
        say("Images: no registry answers; building them from Debian's packages")
        images = _debian_images(root, say, server, given)
    images = Images(
        given.get("SENTINEL_BOARD_SERVER_IMAGE", images.server),
        given.get("SENTINEL_BOARD_APP_BASE", images.app_base),
    )
    say(f"Building the board's image ({APP_IMAGE}) on {images.app_base}")
    _build(root, APP_IMAGE, BASE_IMAGE=images.app_base)
    return images


def _tag(name: str, *sources: Path, text: str = "") -> str:
    """`name` tagged by what it is built from: a change to any of them builds a new one."""
    made_of = b"".join(path.read_bytes() for path in sources) + text.encode()
    digest = hashlib.sha256(made_of).hexdigest()
    return f"{name}:bookworm-{digest[:12]}"


def _pull(image: str) -> bool:
    return docker("pull", "--quiet", image, timeout=300, check=False).returncode == 0


def _build(context: Path, tag: str, dockerfile: str | None = None, **args: str) -> None:
    argv = ["build", "--quiet", "--force-rm", "--tag", tag]
    if dockerfile:
        argv += ["--file", str(context / dockerfile)]
    for key, value in args.items():
        argv += ["--build-arg", f"{key}={value}"]
    docker(*argv, str(context), timeout=BUILD_WITHIN)


def _debian_images(
    root: Path, say: Callable[[str], None], server: str, given: dict[str, str]
) -> Images:
    files = root / "docker"
    flavour = SERVERS[server]
    recipe = files / "server.Dockerfile", files / "entrypoint.sh"
    image = _tag(f"sentinel-board/{server}", *recipe, text=repr(flavour))
    python = _tag(DEBIAN_PYTHON, files / "python.Dockerfile")
    app_base = _tag(
        DEBIAN_APP_BASE, files / "python.Dockerfile", files / "wheelhouse.Dockerfile",
        root / "pyproject.toml",
    )  # fmt: skip
    if _present(DEBIAN):
        say(f"Base image: {DEBIAN}, already in the engine")
    else:
        _import_base(say)
    if "SENTINEL_BOARD_SERVER_IMAGE" in given:
        pass
    elif _present(image):
        say(f"{image}: already in the engine")
    else:
        say(f"Building {image} ({server} from Debian's {flavour.suite} packages)")
        _build(
            files, image, "server.Dockerfile", BASE=DEBIAN,
            PACKAGES=flavour.packages, USER=flavour.user, SUITE=flavour.suite,
            SERVER=f"{server}-server",
        )  # fmt: skip
    if "SENTINEL_BOARD_APP_BASE" in given:
        pass
    elif _present(app_base):
        say(f"{app_base}: already in the engine")
    else:
        say(f"Building {app_base} (Debian's Python and the board's packages)")
        _build(files, python, "python.Dockerfile", BASE=DEBIAN)
        with tempfile.TemporaryDirectory() as context:
            wheelhouse = Path(context) / "wheelhouse"
            _download_wheels(root, wheelhouse, _python_version(python))
            shutil.copy(files / "wheelhouse.Dockerfile", context)
            _build(Path(context), app_base, "wheelhouse.Dockerfile", BASE=python)
    return Images(image, app_base)


def _import_base(say: Callable[[str], None]) -> None:
    """Debian's minimal system as an image, from the cached archive or made by debootstrap."""
    archive = cache_dir() / "debian-bookworm-minbase.tar"
    if archive.exists():
        say(f"Base image: {DEBIAN} from the cache ({archive})")
    else:
        if shutil.which("debootstrap") is None or os.geteuid() != 0:
            raise EngineError(
                "no registry answers, and the base image needs debootstrap, run as root",
                "apt-get install debootstrap, then run this as root",
            )
        say(f"Base image: debootstrap of Debian bookworm (about a minute), cached in {archive}")
        archive.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=archive.parent) as rootfs:
            _run(["debootstrap", "--variant=minbase", "bookworm", rootfs, MIRROR])
            partial = archive.with_suffix(".partial")
            _run(["tar", "--numeric-owner", "-C", rootfs, "-cf", str(partial), "."])
            partial.rename(archive)
    docker("import", str(archive), DEBIAN, timeout=BUILD_WITHIN)


def _python_version(image: str) -> str:
    code = "import platform; print(platform.python_version())"
    return docker("run", "--rm", image, "python3", "-c", code).stdout.strip()


def _download_wheels(root: Path, wheelhouse: Path, python: str) -> None:
    """The board's packages, and setuptools to build it, as the image's Python needs them:
    the dependencies of `serve`, none of the extras (the Dockerfile installs `.`).

    Markers are evaluated for that exact version (redis-py needs async-timeout below 3.11.3,
    Debian 12 has 3.11.2), which only a resolver told the target can do: uv.
    """
    arch = platform.machine()
    requirements = wheelhouse.parent / "requirements.txt"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise EngineError("uv is missing", "pip install uv (make installs it with .[dev])")
    _run([
        uv, "pip", "compile", str(root / "pyproject.toml"), "--quiet", "--no-header",
        "--no-annotate", "--python-version", python, "--python-platform",
        f"{arch}-manylinux_2_36", "--output-file", str(requirements),
    ])  # fmt: skip
    platforms = [f"manylinux_2_{minor}_{arch}" for minor in range(17, 37)]
    platforms += [f"manylinux2014_{arch}", f"linux_{arch}"]
    major, minor, _ = python.split(".")
    _run([
        sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
        *(f"--platform={name}" for name in platforms), f"--python-version={major}.{minor}",
        "--implementation=cp", "-r", str(requirements), "setuptools>=77", "-d", str(wheelhouse),
    ])  # fmt: skip


def _run(argv: list[str]) -> None:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, check=False, timeout=BUILD_WITHIN
        )
    except subprocess.TimeoutExpired:
        raise EngineError(f"{Path(argv[0]).name} did not finish in {BUILD_WITHIN:g} s") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise EngineError(f"{Path(argv[0]).name} failed: {said[-1] if said else done.returncode}")
