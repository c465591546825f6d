"""The local server's route table: readable templates, one handler each, no import circle."""

from __future__ import annotations

import ast
from pathlib import Path

from dataforce_orm.testing._api import Api
from dataforce_orm.testing._store import Store

PACKAGE = Path(__file__).resolve().parents[2] / "dataforce_orm" / "testing"


def _local_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module)
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_no_import_circle_between_server_modules() -> None:
    graph = {p.stem: _local_imports(p) for p in PACKAGE.glob("*.py")}

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, set()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    circles = sorted(name for name in graph if reaches(name, name, {name}))
    assert circles == []


def test_every_route_is_a_method_and_template_with_one_handler() -> None:
    store = Store()
    try:
        routes = Api(store).table.templates()
    finally:
        store.close()
    assert len(routes) == len(set(routes))
    assert ("GET", "/v1/auth/api-keys/validate") in routes
    assert (
        "DELETE",
        "/v1/organizations/{organization_id}/orbits/{orbit_id}/collections/{collection_id}"
        "/artifacts/{artifact_id}/force",
    ) in routes
    assert all(method in ("GET", "POST", "PATCH", "DELETE") for method, _ in routes)
    assert all(template.startswith(("/v1/", "/satellites/v1/")) for _, template in routes)


def test_route_groups_do_not_import_each_other() -> None:
    groups = {p.stem for p in PACKAGE.glob("_*_api.py")}
    assert {"_core_api", "_artifacts_api", "_registry_api", "_orbit_secrets_api"} <= groups
    for name in groups:
        assert _local_imports(PACKAGE / f"{name}.py") & groups == set(), name
