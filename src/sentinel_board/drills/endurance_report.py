"""The endurance drill's report: a table per kind of fault, the resource verdicts, a plot of the
resources over the run, and every figure as JSON."""

from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path

from rich.table import Table

from sentinel_board.drills.endurance import EnduranceResult, FaultResult
from sentinel_board.extras import require

PANELS = (
    ("board memory (RSS, MB) per worker", "rss"),
    ("open file descriptors per worker", "fds"),
    ("asyncio tasks per worker", "tasks"),
)


def _by_kind(result: EnduranceResult) -> dict[str, list[FaultResult]]:
    kinds: dict[str, list[FaultResult]] = {}
    for fault in result.faults:
        kinds.setdefault(fault.kind, []).append(fault)
    return kinds


def _errors(faults: list[FaultResult]) -> str:
    counts: dict[str, int] = {}
    for fault in faults:
        for status, count in fault.errors.items():
            counts[status] = counts.get(status, 0) + count
    return ", ".join(f"{status}: {count}" for status, count in sorted(counts.items())) or "-"


def rows(result: EnduranceResult) -> list[list[str]]:
    """Per kind of fault: how many, how many as expected, failovers, write window, errors."""
    found = []
    for kind, faults in _by_kind(result).items():
        windows = [f.write_window_s for f in faults]
        found.append([
            kind, str(len(faults)), str(sum(f.passed for f in faults)),
            str(sum(f.switches for f in faults)),
            f"{statistics.median(windows):.2f} / {max(windows):.2f}",
            f"{statistics.median(f.seconds for f in faults):.1f}",
            _errors(faults), str(sum(f.server_errors for f in faults)),
            str(sum(f.unanswered for f in faults)),
        ])  # fmt: skip
    return found


HEADERS = [
    "fault", "runs", "as expected", "failovers", "write window s (median / max)",
    "s per fault", "failed requests", "5xx", "no answer",
]  # fmt: skip


def table(result: EnduranceResult) -> Table:
    t = Table(title=f"Endurance: {len(result.faults)} faults", title_justify="left")
    for header in HEADERS:
        t.add_column(header, justify="left" if header == "fault" else "right")
    for row in rows(result):
        t.add_row(*row)
    return t


def verdict_table(result: EnduranceResult) -> Table:
    t = Table(title="Resources", title_justify="left")
    for header in ("required", "held", "figures"):
        t.add_column(header)
    for what, held, figures in result.verdicts:
        t.add_row(what, "[green]yes[/green]" if held else "[red]NO[/red]", figures)
    return t


def markdown(result: EnduranceResult) -> str:
    o = result.options
    lines = [
        f"{len(result.faults)} faults at down-after {o.down_after_ms} ms, board with "
        f"{o.workers} workers: {result.acknowledged:,} writes acknowledged of "
        f"{result.attempted:,} attempted; verdict: **{'pass' if result.passed else 'FAIL'}**"
        + (f" (partitions left out: {result.partition})" if result.partition else ""),
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + " --- |" * len(HEADERS),
        *("| " + " | ".join(row) + " |" for row in rows(result)),
        "",
        "| required | held | figures |",
        "| --- | --- | --- |",
        *(
            f"| {what} | {'yes' if held else '**no**'} | {fig} |"
            for what, held, fig in result.verdicts
        ),
    ]
    lines += ["", *(f"- {problem}" for problem in result.failed)] if result.failed else []
    failed = [f for f in result.faults if not f.passed]
    lines += ["", *(f"- fault {f.number} ({f.kind}): {'; '.join(f.failed)}" for f in failed)]
    return "\n".join(lines).rstrip() + "\n"


def plot(result: EnduranceResult, path: Path) -> None:
    require("plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = result.samples
    x = [s.fault for s in samples]
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5), dpi=100, sharex=True)
    for ax, (title, key) in zip(axes[0], PANELS, strict=True):
        for pid in sorted({pid for s in samples for pid in s.workers}):
            values = [s.workers.get(pid, {}).get(key) for s in samples]
            scale = 2**20 if key == "rss" else 1
            ax.plot(x, [v / scale if v is not None else None for v in values], label=f"pid {pid}")
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=7)
    clients = axes[1][0]
    for group in ("data_clients", "sentinel_clients"):
        for node in sorted({n for s in samples for n in getattr(s.redis, group)}):
            clients.plot(x, [getattr(s.redis, group).get(node) for s in samples], label=node)
    clients.set_title("connected_clients per node", fontsize=10)
    clients.legend(fontsize=6, ncol=2)
    axes[1][1].plot(x, [s.redis.used_memory / 2**20 for s in samples], color="#6a1b9a")
    axes[1][1].set_title("Redis used_memory on the master (MB)", fontsize=10)
    axes[1][2].plot(x, [s.redis.keys for s in samples], color="#00695c")
    axes[1][2].set_title("keys on the master", fontsize=10)
    for ax in axes[1]:
        ax.set_xlabel("after fault number")
    o = result.options
    fig.suptitle(f"Endurance: {len(result.faults)} faults, down-after {o.down_after_ms} ms, "
                 f"{o.workers} workers", fontsize=11)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(result: EnduranceResult, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    plot(result, directory / "endurance.png")
    (directory / "endurance.md").write_text(markdown(result))
    write_json(result, directory / "endurance.json")
    return directory / "endurance.md"


def write_json(result: EnduranceResult, path: Path) -> None:
    data = dataclasses.asdict(result)
    data["passed"] = result.passed
    path.write_text(json.dumps(data, indent=2) + "\n")
