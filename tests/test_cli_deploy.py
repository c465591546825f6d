"""The satellites and deployments commands, through the real entry point (a subprocess)
against a LocalServer and a LocalSatellite."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_kit import cli_env, dfo

from dataforce_orm import Artifact, Collection, Deployment, Session
from dataforce_orm.testing import LocalSatellite, LocalServer, make_luml_archive


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalServer]:
    with LocalServer() as s:
        s.set_organization_limits(s.organization_id, satellites=100)
        yield s


@pytest.fixture
def env(srv: LocalServer, tmp_path: Path) -> dict[str, str]:
    return cli_env(srv, srv.add_orbit(srv.organization_id, f"cli-{tmp_path.name}"), tmp_path)


@pytest.fixture
def lib(srv: LocalServer, env: dict[str, str]) -> Iterator[Session]:
    with Session(api_key=srv.api_key, base_url=srv.url, organization=srv.organization_id,
                 orbit=env["DFS_ORBIT"]) as s:
        yield s


def ok(env: dict[str, str], *args: str) -> Any:  # (stderr not checked)
    done = dfo(env, *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_satellites_and_deployments_from_the_command_line(
        srv: LocalServer, env: dict[str, str], lib: Session, tmp_path: Path) -> None:
    made = ok(env, "satellites", "create", "edge", "--description", "rack")
    key = made["api_key"]
    assert key.startswith("dfssat_") and made["satellite"]["name"] == "edge"
    text = dfo(env, "satellites", "create", "other")
    assert text.returncode == 0 and text.stdout.count("dfssat_") == 1 and text.stderr == ""
    coll = Collection.objects.using(lib).create(name="m", collection_type="model")
    art = coll.artifacts.upload(make_luml_archive(tmp_path / "a.luml"), name="v1")
    art2 = coll.artifacts.upload(make_luml_archive(tmp_path / "b.luml"), name="v2")
    with LocalSatellite(srv.url, key, poll_interval=0.01):
        listed = ok(env, "satellites", "list", "--paired")
        assert [s["name"] for s in listed] == ["edge"]
        shown = dfo(env, "satellites", "get", "edge")
        assert shown.returncode == 0 and key not in shown.stdout and "dfssat_" not in shown.stdout
        done = dfo(env, "deployments", "create", "--artifact", str(art.id), "--satellite",
                   "edge", "--name", "svc", "--param", "replicas=2", "--param", "gpu=false",
                   "--env", "MODE=fast", "--tag", "prod", "--wait", "--json")
        assert done.returncode == 0, done.stderr
        dep = json.loads(done.stdout)
        assert "svc" in done.stderr and "active" in done.stderr  # progress while waiting
        assert (dep["status"], dep["satellite_parameters"], dep["env_variables"]) == (
            "active", {"replicas": 2, "gpu": False}, {"MODE": "fast"})
        assert ok(env, "deployments", "wait", "svc")["inference_url"] == dep["inference_url"]
        assert [d["name"] for d in ok(env, "deployments", "list", "--status", "active")] == [
            "svc"]
        new = ok(env, "deployments", "rollout", "svc", "--artifact", str(art2.id))
        assert (new["artifact_id"], new["status"], new["tags"]) == (str(art2.id), "active",
                                                                   ["prod"])
        assert [d.id for d in Deployment.objects.using(lib).all()] == [new["id"]]
        gone = ok(env, "deployments", "delete", new["id"], "--wait", "--yes")
        assert gone == {"id": new["id"], "name": "svc", "deleted": True}
        refused = dfo(env, "deployments", "create", "--artifact", str(art.id), "--satellite",
                      "edge", "--name", "x", "--param", "oops")
        assert refused.returncode == 2 and "KEY=VALUE" in refused.stderr
    again = ok(env, "satellites", "regenerate-key", "edge", "--yes")
    assert again["api_key"].startswith("dfssat_") and again["api_key"] != key
    assert ok(env, "satellites", "delete", "edge", "--yes")["deleted"] is True


def test_a_wait_on_a_silent_satellite_times_out_naming_it(
        srv: LocalServer, env: dict[str, str], lib: Session, tmp_path: Path) -> None:
    key = ok(env, "satellites", "create", "quiet")["api_key"]
    coll = Collection.objects.using(lib).create(name="m", collection_type="model")
    art = coll.artifacts.upload(make_luml_archive(tmp_path / "a.luml"))
    with LocalSatellite(srv.url, key, poll_interval=0.01, silent=True):
        made = ok(env, "deployments", "create", "--artifact", str(art.id), "--satellite",
                  "quiet", "--name", "late")
        done = dfo(env, "deployments", "wait", "late", "--timeout", "0.3", "-q")
        assert done.returncode == 10 and done.stdout == ""
        assert "still pending" in done.stderr and "last seen" in done.stderr, done.stderr
        assert key not in done.stderr
        forced = ok(env, "deployments", "delete", made["id"], "--force", "--yes")
        assert forced["deleted"] is True


def test_a_deployed_artifact_is_force_deleted_only_with_force_deployments(
        srv: LocalServer, env: dict[str, str], lib: Session, tmp_path: Path) -> None:
    ok(env, "satellites", "create", "node")
    coll = Collection.objects.using(lib).create(name="m", collection_type="model")
    art = coll.artifacts.upload(make_luml_archive(tmp_path / "a.luml"), name="served")
    ok(env, "deployments", "create", "--artifact", str(art.id), "--satellite", "node",
       "--name", "svc")
    helped = dfo(env, "artifacts", "delete", "--help")
    assert "--force-deployments" in helped.stdout and "containers keep" in helped.stdout
    alone = dfo(env, "artifacts", "delete", str(art.id), "--force-deployments", "--yes")
    assert alone.returncode == 2 and "goes with --force" in alone.stderr
    refused = dfo(env, "artifacts", "delete", str(art.id), "--force", "--yes")
    assert refused.returncode not in (0, 2) and "svc" in refused.stderr, refused.stderr
    assert Deployment.objects.using(lib).count() == 1
    gone = ok(env, "artifacts", "delete", str(art.id), "--force", "--force-deployments",
              "--yes")
    assert gone["deleted"] is True and Deployment.objects.using(lib).count() == 0
    assert Artifact.objects.using(lib).filter(collection_id=coll.id).count() == 0
