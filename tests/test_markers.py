"""The tests' own rules. A test that kills nodes carries the `failover` marker (`-m "not
failover"` leaves it out); a test that kills nothing does not; no test resets the state of the
topology the others share."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
# What kills, freezes or fails over a node, as the tests write it (ast.unparse's quotes).
KILLS = (
    "faults.kill", "SIGSTOP", "await run(SCENARIOS[", "netns.cut", "endure(", "'FAILOVER'",
    *(f"'kill', '{role}'" for role in ("master", "replica", "sentinel")),
    *(f"'drill', '{scenario}'" for scenario in ("master-kill", "replica-kill")),
)  # fmt: skip


def collected_tests() -> list[tuple[str, bool, bool]]:
    found = []
    for path in sorted(TESTS.rglob("test_*.py")):
        if path.parent.name == "compose":  # containers: the whole folder runs with --compose
            continue
        tree = ast.parse(path.read_text())
        module_marked = any(
            isinstance(node, ast.Assign)
            and any(getattr(target, "id", None) == "pytestmark" for target in node.targets)
            and "mark.failover" in ast.unparse(node)
            for node in tree.body
        )
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
                "test_"
            ):
                body = "\n".join(ast.unparse(statement) for statement in node.body)
                marked = module_marked or any(
                    ast.unparse(d) == "pytest.mark.failover" for d in node.decorator_list
                )
                kills = any(word in body for word in KILLS)
                found.append((f"{path.relative_to(TESTS)}::{node.name}", kills, marked))
    return found


def test_a_test_that_kills_nodes_is_marked_failover() -> None:
    unmarked = [name for name, kills, marked in collected_tests() if kills and not marked]
    assert not unmarked


def test_a_test_that_kills_nothing_is_not_marked_failover() -> None:
    needless = [
        name
        for name, kills, marked in collected_tests()
        if marked and not kills and name != "test_markers.py"
    ]
    assert not needless


# The fixtures that hand a test the topology every test shares (tests/conftest.py, tests/ha).
SHARED = {"topology", "master", "config"}
RESETS = ("script_flush", "config_resetstat", "'SCRIPT', 'FLUSH'", "'CONFIG', 'RESETSTAT'")


def test_no_test_resets_the_shared_topology_s_state() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("test_*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                arguments = {argument.arg for argument in node.args.args}
                body = "\n".join(ast.unparse(statement) for statement in node.body)
                if arguments & SHARED and any(reset in body for reset in RESETS):
                    offenders.append(f"{path.relative_to(TESTS)}::{node.name}")
    assert not offenders, "use a topology of the test's own (make_topology), or restore it"
