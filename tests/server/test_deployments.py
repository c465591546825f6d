"""Contract 3.2: deployments of an orbit, and how they hold on to artifacts."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from registry_kit import plain_500
from satellite_kit import DEPLOYMENT_KEYS, TASK_KEYS, Sat, new_sat

from dataforce_orm.testing import LocalServer

UNKNOWN = "01900000-0000-7000-8000-000000000000"


@pytest.fixture
def sat(server: LocalServer, session: requests.Session) -> Sat:
    return new_sat(server, session)


def _six(dep: dict[str, Any], **over: Any) -> dict[str, Any]:
    fields = ("name", "description", "schemas", "error_message", "tags",
              "dynamic_attributes_secrets")
    return {**{k: dep[k] for k in fields}, **over}


def test_a_create_is_pending_and_queues_a_deploy_task(sat: Sat) -> None:
    made, _ = sat.create("unpaired")  # an unpaired satellite is accepted
    cid = sat.reg.arts.collection("model", "models")
    art = sat.reg.arts.make(cid, name="clf")
    secret = sat.session.post(sat.reg.secrets, json={"name": "TOKEN", "value": "v"}).json()
    dep = sat.deploy(
        made["id"], art["id"], name="clf-prod", description="d",
        satellite_parameters={"replicas": 2, "gpu": True, "zone": "a"},
        env_variables={"MODE": "fast"}, env_variables_secrets={"TOKEN": secret["id"]},
        dynamic_attributes_secrets={"key": UNKNOWN}, tags=["prod"],
    )
    assert list(dep) == DEPLOYMENT_KEYS
    assert (dep["status"], dep["name"], dep["orbit_id"]) == ("pending", "clf-prod",
                                                             sat.reg.arts.orbit)
    assert (dep["satellite_id"], dep["satellite_name"]) == (made["id"], "unpaired")
    assert (dep["artifact_id"], dep["artifact_name"], dep["collection_id"]) == (
        art["id"], "clf", cid)
    assert dep["model_id"] == art["id"] and dep["model_artifact_name"] == "clf"
    assert dep["satellite_parameters"] == {"replicas": 2, "gpu": True, "zone": "a"}
    assert dep["env_variables"] == {"MODE": "fast"}
    assert dep["env_variables_secrets"] == {"TOKEN": secret["id"]}
    assert dep["dynamic_attributes_secrets"] == {"key": UNKNOWN}  # not looked up
    assert (dep["schemas"], dep["error_message"], dep["inference_url"]) == ({}, None, None)
    assert (dep["created_by_user"], dep["tags"], dep["description"]) == ("default", ["prod"], "d")
    tasks = sat.server.satellite_tasks(made["id"])
    assert len(tasks) == 1 and list(tasks[0]) == TASK_KEYS
    assert {k: tasks[0][k] for k in ("type", "status", "payload", "result")} == {
        "type": "deploy", "status": "pending", "payload": {"deployment_id": dep["id"]},
        "result": {},
    }
    got = sat.session.get(f"{sat.deployments}/{dep['id']}")
    assert (got.status_code, got.json()) == (200, dep)
    bare = sat.deploy(made["id"])
    assert bare["tags"] is None
    assert bare["satellite_parameters"] == bare["env_variables"] == {}


def test_create_checks_the_satellite_and_the_artifact_in_this_orbit(sat: Sat) -> None:
    mine, _ = sat.create()
    other = sat.elsewhere()
    theirs, _ = other.create()
    art = sat.reg.artifact()
    foreign_art = other.reg.artifact()
    cases = [
        ({"satellite_id": UNKNOWN, "artifact_id": art}, "Satellite not found"),
        ({"satellite_id": theirs["id"], "artifact_id": art}, "Satellite not found"),
        ({"satellite_id": mine["id"], "artifact_id": UNKNOWN}, "Artifact not found"),
        ({"satellite_id": mine["id"], "artifact_id": foreign_art}, "Collection not found"),
    ]
    for refs, text in cases:
        r = sat.session.post(sat.deployments, json={**refs, "name": "d"})
        assert (r.status_code, r.json()) == (404, {"detail": text})
    r = sat.post_deployment(mine["id"], art, env_variables_secrets={"A": "not-a-uuid"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "env_variables_secrets", "A"]
    r = sat.post_deployment(mine["id"], art, name="n" * 101)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
    assert sat.session.get(sat.deployments).json() == []
    assert sat.server.satellite_tasks(mine["id"]) == []


def test_the_list_is_newest_first(sat: Sat) -> None:
    made, _ = sat.create()
    first = sat.deploy(made["id"], name="a")
    second = sat.deploy(made["id"], name="b")
    listed = sat.session.get(sat.deployments, params={"limit": 1})
    assert [d["id"] for d in listed.json()] == [second["id"], first["id"]]


def test_patch_overwrites_six_fields(sat: Sat) -> None:
    made, w = sat.paired()
    dep = sat.deploy(made["id"], description="d", tags=["t"], env_variables={"A": "1"})
    url = f"{sat.deployments}/{dep['id']}"
    url_w = f"{sat.worker_base}/deployments/{dep['id']}"
    full = {"inference_url": "http://x/", "status": "active", "schemas": {"in": 1},
            "error_message": None, "tags": ["t"]}
    assert w.patch(url_w, json=full).status_code == 200
    r = sat.session.patch(url, json=_six(sat.session.get(url).json(), name="renamed"))
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["schemas"], r.json()["status"]) == (
        "renamed", {"in": 1}, "active")
    # what the web UI sends: schemas and error_message become null
    ui = {"name": "ui", "description": "d", "tags": ["t"], "dynamic_attributes_secrets": {}}
    r = sat.session.patch(url, json=ui)
    assert r.status_code == 200 and r.json()["schemas"] is r.json()["error_message"] is None
    # fixed at create: ignored
    r = sat.session.patch(url, json={**ui, "env_variables": {"B": "2"},
                                     "satellite_parameters": {"x": 1}})
    assert r.status_code == 200 and r.json()["env_variables"] == {"A": "1"}
    assert r.json()["satellite_parameters"] == {}
    before = sat.session.get(url).json()
    for body in ({"description": "only"}, {}, {"dynamic_attributes_secrets": {}}):
        assert plain_500(sat.session.patch(url, json=body))
        assert sat.session.get(url).json() == before  # rolled back


def test_a_patch_without_dynamic_attributes_secrets_breaks_the_row(sat: Sat) -> None:
    made, w = sat.paired()
    dep = sat.deploy(made["id"], description="d", tags=["t"])
    url = f"{sat.deployments}/{dep['id']}"
    for body in ({"name": "broken"}, {"name": "broken", "dynamic_attributes_secrets": None}):
        assert plain_500(sat.session.patch(url, json=body))  # committed all the same
        assert plain_500(sat.session.get(url))
        assert plain_500(sat.session.get(sat.deployments))
        assert plain_500(w.get(sat.worker_base + "/deployments"))
        r = sat.session.patch(url, json={"name": "fixed", "dynamic_attributes_secrets": {}})
        assert r.status_code == 200
        fixed = r.json()
        assert (fixed["name"], fixed["dynamic_attributes_secrets"]) == ("fixed", {})
        assert fixed["description"] is fixed["tags"] is fixed["schemas"] is None
        assert fixed["error_message"] is None
        assert sat.session.get(sat.deployments).status_code == 200


def test_delete_queues_an_undeploy_and_a_second_one_is_409(sat: Sat) -> None:
    made, _ = sat.create()
    dep = sat.deploy(made["id"])
    url = f"{sat.deployments}/{dep['id']}"
    r = sat.session.delete(url)
    assert r.status_code == 200 and list(r.json()) == TASK_KEYS
    task = r.json()
    assert (task["type"], task["status"], task["payload"]) == (
        "undeploy", "pending", {"deployment_id": dep["id"]})
    assert sat.session.get(url).json()["status"] == "deletion_pending"
    r = sat.session.delete(url)
    assert (r.status_code, r.json()) == (409, {"detail": "Deployment deletion already pending"})
    r = sat.session.patch(url, json=_six(dep, name="still editable"))
    assert r.status_code == 200 and r.json()["status"] == "deletion_pending"
    assert [t["type"] for t in sat.server.satellite_tasks(made["id"])] == ["deploy", "undeploy"]


def test_force_delete_removes_the_row_and_leaves_the_undeploy_task(sat: Sat) -> None:
    made, _ = sat.create()
    dep = sat.deploy(made["id"])
    url = f"{sat.deployments}/{dep['id']}"
    undeploy = sat.session.delete(url).json()
    r = sat.session.delete(url + "/force")
    assert (r.status_code, r.content) == (204, b"")
    assert sat.session.get(url).json() == {"detail": "Deployment not found"}
    r = sat.session.delete(url + "/force")
    assert (r.status_code, r.json()) == (404, {"detail": "Deployment not found"})
    left = [t for t in sat.server.satellite_tasks(made["id"]) if t["id"] == undeploy["id"]]
    assert left[0]["status"] == "pending"


def test_an_orbit_member_may_do_all_but_delete(sat: Sat) -> None:
    made, _ = sat.create()
    member = sat.as_user(sat.server.make_member(sat.reg.arts.orbit).api_key)
    dep = member.deploy(made["id"], sat.reg.artifact())
    url = f"{member.deployments}/{dep['id']}"
    assert member.session.get(url).status_code == 200
    assert [d["id"] for d in member.session.get(member.deployments).json()] == [dep["id"]]
    assert member.session.patch(url, json=_six(dep, name="m")).status_code == 200
    for r in (member.session.delete(url), member.session.delete(url + "/force")):
        assert (r.status_code, r.json()) == (403, {"detail": "Not enough rights"})


def test_a_deployment_holds_its_artifact(sat: Sat) -> None:
    made, _ = sat.create()
    arts = sat.reg.arts
    cid = arts.collection("model", "held")
    aid = arts.make(cid)["id"]
    dep = sat.deploy(made["id"], aid)
    r = arts.get(cid, aid, "/delete-url")
    assert (r.status_code, r.json()) == (
        409, {"detail": "Cannot delete artifact because it is used in deployments."})
    status = arts.get(cid, aid).json()["status"]
    r = arts.delete(cid, aid)
    assert (r.status_code, r.json()) == (
        400, {"detail": f"Unable to confirm deletion with status '{status}'"})
    details = arts.get(cid, aid).json()["deployments"]
    assert details == [sat.session.get(f"{sat.deployments}/{dep['id']}").json()]
    assert arts.delete(cid, aid, "/force").status_code == 204
    assert sat.session.get(f"{sat.deployments}/{dep['id']}").status_code == 404
    tasks = sat.server.satellite_tasks(made["id"])
    assert [(t["type"], t["status"]) for t in tasks] == [("deploy", "pending")]  # no undeploy
