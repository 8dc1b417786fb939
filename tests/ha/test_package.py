"""The HA layer is a library: it imports nothing of the board."""

from __future__ import annotations

import ast
from pathlib import Path

import sentinel_board.ha

PACKAGE = Path(sentinel_board.ha.__file__).parent


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_ha_package_imports_nothing_of_the_board() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) >= 10
    for module in modules:
        ours = {name for name in imported(module) if name.split(".")[0] == "sentinel_board"}
        assert all(name.startswith("sentinel_board.ha") for name in ours), (module.name, ours)


def test_each_module_can_be_read_in_one_sitting() -> None:
    for module in PACKAGE.glob("*.py"):
        assert len(module.read_text().splitlines()) <= 300, module.name
