"""The package's layout: who may import whom, no import cycle, modules one can read."""

from __future__ import annotations

import ast
from pathlib import Path

import sentinel_board
from tests.helpers import tracked_files

SOURCE = Path(sentinel_board.__file__).parent
LONGEST = 300  # lines; a longer module says why in its first lines


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in SOURCE.rglob("*.py")}


def imports(name: str) -> set[str]:
    """The board's modules `name` imports anywhere in it: at the top, in a function, or for
    the type checker only (each is a dependency a reader follows). `from package import
    submodule` depends on the submodule; `from package import name` on the package."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imports(name) for name in MODULES}


def test_no_module_imports_itself_back() -> None:
    """Depth-first search for a cycle; the first one found is named in full."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            cycle = [*path[path.index(name) :], name]
            raise AssertionError("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        for imported in sorted(GRAPH[name]):
            visit(imported, [*path, name])
        done.add(name)

    for name in sorted(GRAPH):
        visit(name, [])


def test_faults_use_the_launcher_never_the_reverse() -> None:
    assert "sentinel_board.topology.launcher" in GRAPH["sentinel_board.topology.faults"]
    assert "sentinel_board.topology.faults" not in GRAPH["sentinel_board.topology.launcher"]


def reaches(name: str) -> set[str]:
    seen: set[str] = set()
    stack = [name]
    while stack:
        for imported in GRAPH[stack.pop()]:
            if imported not in seen:
                seen.add(imported)
                stack.append(imported)
    return seen


def test_the_ha_layer_imports_nothing_of_the_board() -> None:
    for name in MODULES:
        if name.startswith("sentinel_board.ha"):
            assert all(m.startswith("sentinel_board.ha") for m in reaches(name)), name


def test_the_web_app_knows_nothing_of_the_launcher_nor_the_command_line() -> None:
    for name in MODULES:
        if name.startswith("sentinel_board.web"):
            forbidden = {
                m
                for m in reaches(name)
                if m.startswith(("sentinel_board.topology", "sentinel_board.cli"))
                or m.startswith(("sentinel_board.drills", "sentinel_board.compose"))
            }
            assert not forbidden, (name, forbidden)


def test_the_launcher_knows_nothing_of_the_web_app() -> None:
    for name in MODULES:
        if name.startswith("sentinel_board.topology"):
            assert not any(m.startswith("sentinel_board.web") for m in reaches(name)), name


def test_each_module_can_be_read_in_one_sitting_or_says_why_not() -> None:
    """The package's modules, the benchmark's and the tests'."""
    paths = [*MODULES.values(), *SOURCE.parents[1].glob("bench/**/*.py")]
    paths += SOURCE.parents[1].glob("tests/**/*.py")
    for path in paths:
        lines = path.read_text().splitlines()
        if len(lines) > LONGEST:
            head = "\n".join(lines[:10])
            assert "Longer than" in head, f"{path}: {len(lines)} lines and no reason at its top"


def test_an_error_response_needs_neither_the_store_nor_the_ha_layer() -> None:
    heavy = {"sentinel_board.store", "sentinel_board.ha", "sentinel_board.config"}
    assert not reaches("sentinel_board.web.errors") & heavy


def test_the_settings_import_no_code_that_reads_them_but_the_notifier_s_defaults() -> None:
    """config.py holds settings: the notifier reads them, never the other way round."""
    assert "sentinel_board.config" not in reaches("sentinel_board.notify")


ROOT = SOURCE.parents[1]


def layout_block() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return section.split("```\n", 2)[1].splitlines()


def test_the_readme_s_layout_names_every_tracked_file_s_place() -> None:
    block = layout_block()
    text = "\n".join(block)
    left = {line.split()[0] for line in block if line and not line[0].isspace()}
    files = tracked_files(ROOT)
    for path in files:
        top, sep, _ = path.partition("/")
        assert (top + sep in left) or any(entry.startswith(top + sep) for entry in left), path
    package = {p.split("/")[2] for p in files if p.startswith("src/sentinel_board/")}
    named = {word.strip(",").rstrip("/") for line in block if line.startswith("  ") and
             not line.startswith("   ") for word in line.split()[:2]}  # fmt: skip
    assert package <= {name.rstrip("/") for name in named}, package - named
    modules = {Path(p).name for p in files if p.endswith(".py") and p.count("/") == 3}
    missing = {m for m in modules if m != "__init__.py" and m not in text}
    assert not missing, f"not in the README's Layout: {sorted(missing)}"
    names = {Path(p).name for p in files}
    ghosts = {w.strip(",()") for w in text.split() if w.strip(",()").endswith(".py")}
    assert ghosts <= names, f"in the README's Layout, not in the tree: {sorted(ghosts - names)}"
