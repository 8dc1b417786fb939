"""One load run: wrk against a URL, its figures parsed from wrk's --latency report."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SCRIPTS = Path(__file__).parent / "wrk"
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Figures:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int  # non-2xx/3xx answers, and connect, read, write and timeout errors
    cpu_us: dict[str, float] = field(default_factory=dict)  # per request, by whom (bench/cpu.py)


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def parse(report: str) -> Figures:
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", report, re.M))
    requests = int(re.search(r"(\d+) requests in", report).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", report))
    if socket := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                           report):  # fmt: skip
        errors += sum(int(n) for n in socket.groups())
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", report).group(1))  # type: ignore[union-attr]
    return Figures(rps, _ms(latency["50"]), _ms(latency["99"]), requests, errors)


def wrk(
    base_url: str, path: str, *, script: str | None, seconds: float, connections: int
) -> Figures:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "5s"]
    if script:
        command += ["-s", str(SCRIPTS / script)]
    done = subprocess.run(
        [*command, base_url + path], capture_output=True, text=True, check=True,
        timeout=seconds + 30,
    )  # fmt: skip
    return parse(done.stdout)
