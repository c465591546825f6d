"""The ``tracks`` command group through the real entry point (``python -m dataforce_orm``)
against a LocalServer: create, add, promote, entries, remove, with ``--json`` and tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_kit import cli_env, dfo, ok

from dataforce_orm import Collection, Session, Track
from dataforce_orm.testing import LocalServer, make_luml_archive


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalServer]:
    with LocalServer() as s:
        yield s


@pytest.fixture
def env(srv: LocalServer, tmp_path: Path) -> dict[str, str]:
    return cli_env(srv, srv.add_orbit(srv.organization_id, f"cli-tracks-{tmp_path.name}"),
                   tmp_path)


def test_register_promote_list_and_remove(env: dict[str, str], srv: LocalServer,
                                          tmp_path: Path) -> None:
    with Session(api_key=srv.api_key, base_url=srv.url, organization=srv.organization_id,
                 orbit=env["DFS_ORBIT"]) as lib:
        c = Collection.objects.using(lib).create(name="models", collection_type="model")
        for name in ("churn-v1", "churn-v2"):
            c.artifacts.upload(make_luml_archive(tmp_path / f"{name}.luml", name=name),
                               name=name)
    made = ok(env, "tracks", "create", "churn", "--type", "model", "--stage", "staging",
              "--stage", "production")
    assert sorted(s["name"] for s in made["stages"]) == ["production", "staging"]
    assert ok(env, "tracks", "add", "churn", "churn-v1", "--stage", "production")["version"] == 1
    assert ok(env, "tracks", "add", made["id"], "churn-v2")["version"] == 2
    held = dfo(env, "tracks", "promote", "churn", "v2", "production")
    assert held.returncode != 0 and "held by v1" in held.stderr
    assert ok(env, "tracks", "promote", "churn", "2", "production", "--force")[
        "stage_name"] == "production"
    assert [e["version"] for e in ok(env, "tracks", "entries", "churn",
                                     "--stage", "production")] == [2]
    table = dfo(env, "tracks", "entries", "churn")
    assert table.returncode == 0 and "VERSION" in table.stdout and "v1" in table.stdout
    listed = ok(env, "tracks", "list")
    assert [t["name"] for t in listed] == ["churn"] and listed[0]["total_entries"] == 2
    assert ok(env, "tracks", "get", "churn")["id"] == made["id"]
    assert ok(env, "tracks", "remove", "churn", "v1", "--yes") == {
        "track": made["id"], "removed": [1]}
    with Session(api_key=srv.api_key, base_url=srv.url, organization=srv.organization_id,
                 orbit=env["DFS_ORBIT"]) as lib:
        track = Track.objects.using(lib).get(id=made["id"])
        assert [e.version for e in track.entries.all()] == [2]


def test_mistakes_are_one_line_errors(env: dict[str, str]) -> None:
    ok(env, "tracks", "create", "churn", "--type", "model", "--stage", "staging")
    missing = dfo(env, "tracks", "get", "chrun")
    assert missing.returncode != 0 and "did you mean 'churn'" in missing.stderr
    no_stage = dfo(env, "tracks", "promote", "churn", "1")
    assert no_stage.returncode == 2 and "--clear" in no_stage.stderr
    no_version = dfo(env, "tracks", "promote", "churn", "v7", "staging")
    assert no_version.returncode != 0 and "no version v7" in no_version.stderr
    refused = dfo(env, "tracks", "remove", "churn", "1")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
