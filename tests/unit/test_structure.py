"""The package's shape: no import cycle between its modules (imports for type checking
only are left out), and the protocol module needs nothing but the standard library."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "dataforce_orm"


def _runtime_imports(path: Path) -> set[str]:
    """The package modules ``path`` imports when it runs (any depth but TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    out: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and child.level == 1:
                if child.module:
                    out.add(child.module.split(".")[0])
                else:
                    out.update(a.name for a in child.names)
            visit(child)

    visit(tree)
    return out


def test_no_import_cycles() -> None:
    graph = {p.stem: _runtime_imports(p) for p in PACKAGE.glob("*.py")}
    graph = {m: {d for d in deps if d in graph and d != "__init__"} for m, deps in graph.items()
             if m not in ("__init__", "__main__")}
    seen: dict[str, int] = {}  # 1: on the path, 2: done

    def walk(m: str, path: list[str]) -> None:
        if seen.get(m) == 2:
            return
        assert seen.get(m) != 1, "import cycle: " + " -> ".join([*path, m])
        seen[m] = 1
        for d in sorted(graph.get(m, ())):
            walk(d, [*path, m])
        seen[m] = 2

    for module in sorted(graph):
        walk(module, [])


def test_the_protocol_module_is_standard_library_only() -> None:
    tree = ast.parse((PACKAGE / "_protocol.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [(node.module or "").split(".")[0]]
        else:
            continue
        for name in names:
            assert name in sys.stdlib_module_names or name == "__future__", name


# The rooms of docs/architecture.md, lowest first: a module imports (when it runs) only
# modules of its own room or of rooms below it.
ROOMS: dict[str, tuple[str, ...]] = {
    "foundation": ("_errors", "_protocol", "_ids", "_routes", "_wire", "_version",
                   "_limits", "_secrets", "_loader", "_log_urls",
                   "_progress", "_storage_gate"),
    "fields and lookups": ("_fields", "_lookups", "_metrics"),
    "write outcomes": ("_outcomes",),
    "transport": ("_clients", "_retry", "_transfer", "_http"),
    "session": ("_config", "_session"),
    "model layer": ("_model", "_listing", "_query", "_resource", "_capabilities",
                    "_create_only"),
    "declarations": ("_archive_reader", "_pack", "_download_target", "_cache", "_bulk",
                     "_uploads", "_satellites", "_artifacts", "_models", "_orbit_secrets",
                     "_bucket_check", "_registry", "_deployments"),
    "facade": ("_operations", "_client_secrets", "_client_registry", "_client_deploy",
               "_client", "_cli_base", "_completion", "_cli_secrets", "_cli_registry",
               "_cli_deploy", "_cli", "_demo", "__init__", "__main__"),
}
RANK = {m: i for i, mods in enumerate(ROOMS.values()) for m in mods}


def test_every_module_has_a_room() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == set(RANK), "place new modules in ROOMS and docs/architecture.md: " \
        f"{sorted(modules ^ set(RANK))}"


def test_no_module_imports_from_a_room_above_its_own() -> None:
    rooms = list(ROOMS)
    for path in PACKAGE.glob("*.py"):
        mine = RANK[path.stem]
        for dep in _runtime_imports(path):
            if dep == "testing":
                assert path.stem in ("_cli_secrets", "_cli", "_demo", "__main__"), \
                    f"{path.stem} imports the testing kit"
                continue
            assert RANK[dep] <= mine, (f"{path.stem} ({rooms[mine]}) imports {dep} "
                                       f"({rooms[RANK[dep]]})")


def test_the_architecture_page_lists_every_room_and_module() -> None:
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    for room, modules in ROOMS.items():
        assert room in text, room
        for module in modules:
            assert f"`{module}`" in text, module
