"""The drill's verdict: a terminal table, JSON, timeline pictures and a summary table."""

from __future__ import annotations

import html
import json
import statistics
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from sentinel_board.drills.runner import Result
from sentinel_board.drills.scenarios import SCENARIOS
from sentinel_board.extras import require

MARKED = ("+sdown", "+odown", "+elected-leader", "+switch-master", "+convert-to-slave")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(results: Sequence[Result]) -> Table:
    t = Table(
        title="Failover drills",
        title_justify="left",
        caption="errors: failed requests by status (0: no answer); 5xx: those but a 503 with "
        "Retry-After; write/read gap: the longest time without an acknowledged write / a "
        "successful read; fault→switch: the master's fault to the first +switch-master; "
        "switch→ack: from there to the board's first acknowledged write; same lists: every live "
        "node ends equal",
    )
    for column in (
        "scenario",
        "on",
        "#",
        "acked",
        "lost",
        "dup",
        "errors",
        "5xx",
        "no answer",
        "write gap s",
        "read gap s",
        "fault→switch s",
        "switch→ack s",
        "same lists",
        "verdict",
    ):
        left = column in ("scenario", "on", "verdict")
        t.add_column(column, justify="left" if left else "right", no_wrap=not left)
    for r in results:
        errors = ", ".join(f"{code}: {n}" for code, n in r.errors.items()) or "-"
        verdict = "[green]pass[/green]" if r.passed else "[red]FAIL[/red]"
        if r.skipped:
            verdict = "[yellow]skip[/yellow]"
        t.add_row(
            r.scenario, r.on, str(r.repetition), str(r.acknowledged), str(r.lost),
            str(r.duplicates), errors, str(r.server_errors), str(r.unanswered),
            _seconds(r.write_gap_s), _seconds(r.read_gap_s),
            _seconds(r.fault_to_switch_s), _seconds(r.switch_to_first_ack_s),
            "yes" if r.nodes_identical else "no", verdict,
        )  # fmt: skip
    return t


def summary(results: Sequence[Result]) -> dict[str, dict[str, float | None]]:
    """Per scenario and place (`master-kill on local Redis 7.0.15`): the p95 of switch→first
    ack and the worst write gap, over repetitions."""
    out: dict[str, dict[str, float | None]] = {}
    for scenario, on in dict.fromkeys((r.scenario, r.on) for r in results):
        runs = [r for r in results if (r.scenario, r.on) == (scenario, on)]
        follow = sorted(
            r.switch_to_first_ack_s for r in runs if r.switch_to_first_ack_s is not None
        )
        p95 = follow[min(len(follow) - 1, round(0.95 * (len(follow) - 1)))] if follow else None
        out[f"{scenario} on {on}"] = {
            "runs": len(runs),
            "passed": sum(r.passed for r in runs),
            "switch_to_first_ack_p95_s": p95,
            "write_gap_max_s": max(r.write_gap_s for r in runs),
            "write_gap_median_s": statistics.median(r.write_gap_s for r in runs),
            "read_gap_max_s": max(r.read_gap_s for r in runs),
        }
    return out


def write_json(results: Sequence[Result], path: Path) -> None:
    data = {
        "summary": summary(results),
        "runs": [{**r.figures(), "faults": r.faults, "events": r.events} for r in results],
    }
    path.write_text(json.dumps(data, indent=2) + "\n")


def _outcome(runs: Sequence[Result]) -> str:
    """One cell of the table: how the runs of one scenario in one place ended."""
    count = f"{len(runs)} run" + ("s" if len(runs) > 1 else "")
    if all(r.skipped for r in runs):
        return runs[0].skipped or "skipped"
    passed = sum(r.passed for r in runs)
    verdict = "as expected" if passed == len(runs) else f"**NOT as expected** ({passed} passed)"
    lost = sum(r.lost for r in runs)
    gap = max(r.write_gap_s for r in runs)
    text = f"{verdict}, {count}: {lost} lost, writes back after {gap:.1f} s"
    isolated = [r for r in runs if r.isolated_accepted is not None]
    if isolated:
        took = sum(r.isolated_accepted or 0 for r in isolated)
        confirmed = sum(r.isolated_acknowledged or 0 for r in isolated)
        text += f"; the isolated master took {took} writes, {confirmed} acknowledged"
    return text


def survival_markdown(results: Sequence[Result]) -> str:
    """The README's "What survives what": a column of outcomes per target and server."""
    places = list(dict.fromkeys(r.on for r in results))
    lines = [
        "| scenario | faults | expected | " + " | ".join(places) + " | why |",
        "| --- | --- | --- | " + " | ".join("---" for _ in places) + " | --- |",
    ]
    for name in dict.fromkeys(r.scenario for r in results):
        s = SCENARIOS[name]
        runs = {on: [r for r in results if (r.scenario, r.on) == (name, on)] for on in places}
        cells = [_outcome(runs[on]) if runs[on] else "-" for on in places]
        lines.append(f"| `{name}` | {s.faults} | {s.outcome} | {' | '.join(cells)} | {s.why} |")
    images = {r.on: r.image for r in results if r.image}
    if images:
        lines += ["", *(f"{on}: image `{image}`." for on, image in images.items())]
    return "\n".join(lines) + "\n"


def timeline_png(result: Result, path: Path) -> None:
    require("plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = min([result.started_at, *result.acks[:1]]) - 1
    end = max([*result.acks[-1:], *result.error_times[-1:], result.started_at + 1]) + 0.5
    bins = [start + i * 0.1 for i in range(int((end - start) / 0.1) + 2)]
    edges = [b - result.started_at for b in bins]
    acks = [t - result.started_at for t in result.acks]
    errors = [t - result.started_at for t in result.error_times]

    fig, ax = plt.subplots(figsize=(13, 3.6), dpi=100)
    ax.hist(acks, bins=edges, color="#2e7d32", label="acknowledged writes / 100 ms")
    ax.hist(errors, bins=edges, color="#c62828", alpha=0.7, label="failed requests / 100 ms")
    top = ax.get_ylim()[1]
    for at, text in result.faults:
        ax.axvline(at - result.started_at, color="black", linestyle="--", linewidth=1)
        ax.text(at - result.started_at, top * 0.97, " " + text, fontsize=7, va="top", rotation=90)
    marked = [(at, kind) for at, kind, _ in result.events if kind in MARKED]
    for n, (at, kind) in enumerate(marked):
        x = at - result.started_at
        ax.axvline(x, color="#1565c0", linewidth=0.8, alpha=0.6)
        ax.text(x, top * (0.03 + 0.22 * (n % 3)), " " + kind, fontsize=7, rotation=90,
                color="#1565c0")  # fmt: skip
    ax.set_xlim(edges[0], edges[-1])
    ax.set_xlabel("seconds from the first fault")
    ax.set_title(f"{result.scenario} #{result.repetition} on {result.on} (down-after "
                 f"{result.down_after_ms} ms, read from {result.read_from})",
                 fontsize=10)  # fmt: skip
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(results: Sequence[Result], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    figures = []
    for r in results:
        if r.skipped:
            continue
        place = f"{r.target}-{r.server}".lower().replace(" ", "-")
        name = f"{r.scenario}-{r.repetition}-{place}.png"
        timeline_png(r, directory / name)
        verdict = "pass" if r.passed else "FAIL: " + "; ".join(r.failed)
        figures.append(
            f'<figure><img src="{name}" alt="timeline of {r.scenario}">'
            f"<figcaption><b>{html.escape(r.scenario)}</b> #{r.repetition} on "
            f"{html.escape(r.on)}{f' (image {html.escape(r.image)})' if r.image else ''}: "
            f"{html.escape(verdict)}. {html.escape(SCENARIOS[r.scenario].why)}"
            "</figcaption></figure>"
        )
    (directory / "survival.md").write_text(survival_markdown(results))
    write_json(results, directory / "drills.json")
    index = directory / "index.html"
    index.write_text(
        "<!doctype html><meta charset=utf-8><title>sentinel-board drills</title>"
        "<style>body{font:15px system-ui;margin:2rem;max-width:1150px}img{max-width:100%}"
        "figure{margin:0 0 2rem}figcaption{color:#444}</style>"
        "<h1>Failover drills</h1>" + "".join(figures)
    )
    return index
