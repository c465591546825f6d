"""Contract 3.3, the worker side: what a satellite agent calls with its dfssat_ key."""

from __future__ import annotations

import pytest
import requests
from registry_kit import plain_500
from satellite_kit import SATELLITE_KEYS, Sat, new_sat, worker

from dataforce_orm.testing import LocalServer

FULL = {"inference_url": None, "status": "active", "schemas": None, "error_message": None,
        "tags": None}


@pytest.fixture
def sat(server: LocalServer, session: requests.Session) -> Sat:
    return new_sat(server, session)


def test_pairing(sat: Sat) -> None:
    made, key = sat.create()
    w = worker(key)
    r = w.get(sat.worker_base + "/tasks")
    assert (r.status_code, r.json()) == (200, [])  # before pairing
    pair = sat.worker_base + "/pair"
    for body in ({"base_url": "http://h:1", "capabilities": {"gpu": None}},
                 {"base_url": "not a url", "capabilities": {"deploy": None}},
                 {"base_url": "ftp://h/", "capabilities": {"deploy": None}},
                 {"capabilities": {"deploy": None}}):
        assert w.post(pair, json=body).status_code == 422, body
    r = w.post(pair, json={"base_url": "http://h:1", "capabilities": {}})
    assert (r.status_code, r.json()) == (400, {"detail": "Invalid capabilities"})
    r = w.post(pair, json={"base_url": "http://10.0.0.5:8000",
                           "capabilities": {"deploy": {"gpus": 1}, "monitoring": None},
                           "slug": "edge"})
    assert r.status_code == 200 and list(r.json()) == SATELLITE_KEYS
    paired = r.json()
    assert (paired["id"], paired["base_url"], paired["slug"]) == (
        made["id"], "http://10.0.0.5:8000/", "edge")
    assert paired["capabilities"] == {"deploy": {"gpus": 1}, "monitoring": None}
    assert paired["paired"] is True and paired["status"] == "active"
    assert paired["last_seen_at"] is not None
    assert sat.session.get(f"{sat.satellites}/{made['id']}").json()["base_url"] == (
        "http://10.0.0.5:8000/")


def test_the_task_queue(sat: Sat) -> None:
    made, w = sat.paired()
    first = sat.deploy(made["id"])
    second = sat.deploy(made["id"])
    tasks = w.get(sat.worker_base + "/tasks").json()
    assert [t["payload"]["deployment_id"] for t in tasks] == [first["id"], second["id"]]
    status_url = f"{sat.worker_base}/tasks/{tasks[0]['id']}/status"
    r = w.post(status_url, json={"status": "running"})
    assert r.status_code == 200
    running = r.json()
    assert running["status"] == "running" and running["started_at"] is not None
    assert running["finished_at"] is None and running["result"] == {}
    pending = w.get(sat.worker_base + "/tasks", params={"status": "pending"}).json()
    assert [t["id"] for t in pending] == [tasks[1]["id"]]
    r = w.post(status_url, json={"status": "done", "result": {"ok": True}})
    done = r.json()
    assert (done["status"], done["result"], done["started_at"]) == (
        "done", {"ok": True}, running["started_at"])
    assert done["finished_at"] is not None
    assert w.post(status_url, json={"status": "finished"}).status_code == 422
    assert w.get(sat.worker_base + "/tasks", params={"status": "later"}).status_code == 422
    _, other = sat.paired("other")
    r = other.post(status_url, json={"status": "failed"})
    assert (r.status_code, r.json()) == (404, {"detail": "Task not found"})
    assert other.get(sat.worker_base + "/tasks").json() == []


def test_deployments_of_this_satellite_only(sat: Sat) -> None:
    made, w = sat.paired()
    dep = sat.deploy(made["id"])
    listed = w.get(sat.worker_base + "/deployments")
    assert listed.status_code == 200 and listed.json() == [
        sat.session.get(f"{sat.deployments}/{dep['id']}").json()
    ]
    url = f"{sat.worker_base}/deployments/{dep['id']}"
    assert w.get(url).json()["id"] == dep["id"]
    _, other = sat.paired("other")
    for r in (other.get(url), other.patch(url, json=FULL),
              other.patch(url + "/status", json={"status": "failed"}), other.delete(url)):
        assert (r.status_code, r.json()) == (404, {"detail": "Deployment not found"})
    assert other.get(sat.worker_base + "/deployments").json() == []


def test_the_worker_patch_overwrites_five_fields(sat: Sat) -> None:
    made, w = sat.paired()
    dep = sat.deploy(made["id"], tags=["t"])
    url = f"{sat.worker_base}/deployments/{dep['id']}"
    body = {"inference_url": "http://127.0.0.1:9/", "status": "active",
            "schemas": {"input": {}}, "error_message": None, "tags": ["t"]}
    r = w.patch(url, json=body)
    assert r.status_code == 200
    assert {k: r.json()[k] for k in body} == body
    r = w.patch(url, json={"status": "failed", "error_message": {"error": "e", "reason": "r"}})
    assert r.status_code == 200  # the rest became null
    assert (r.json()["inference_url"], r.json()["schemas"], r.json()["tags"]) == (None,) * 3
    before = w.get(url).json()
    assert plain_500(w.patch(url, json={"inference_url": "http://127.0.0.1:9/"}))
    assert w.get(url).json() == before  # status null: rolled back
    other = sat.deploy(made["id"])
    assert w.patch(url, json=body).status_code == 200
    taken = {**body, "tags": None}
    assert plain_500(w.patch(f"{sat.worker_base}/deployments/{other['id']}", json=taken))
    assert w.patch(url, json={**body, "status": "up"}).status_code == 422


def test_the_status_patch_changes_the_status_alone(sat: Sat) -> None:
    made, w = sat.paired()
    dep = sat.deploy(made["id"], tags=["keep"])
    url = f"{sat.worker_base}/deployments/{dep['id']}"
    r = w.patch(url + "/status", json={"status": "not_responding"})
    assert r.status_code == 200
    assert {**r.json(), "status": "pending", "updated_at": None} == {**dep, "updated_at": None}
    assert r.json()["status"] == "not_responding"
    assert w.patch(url + "/status", json={}).status_code == 422


def test_the_worker_deletes_only_after_a_deletion_request(sat: Sat) -> None:
    made, w = sat.paired()
    dep = sat.deploy(made["id"])
    url = f"{sat.worker_base}/deployments/{dep['id']}"
    r = w.delete(url)
    assert (r.status_code, r.json()) == (
        409, {"detail": "Incorrect deployment status. Request deployment deletion first."})
    assert sat.session.delete(f"{sat.deployments}/{dep['id']}").status_code == 200
    r = w.delete(url)
    assert (r.status_code, r.content) == (204, b"")
    assert sat.session.get(f"{sat.deployments}/{dep['id']}").status_code == 404


def test_secrets_come_with_their_values(sat: Sat) -> None:
    _, w = sat.paired()
    made = sat.session.post(sat.reg.secrets, json={"name": "TOKEN", "value": "s3cr3t"}).json()
    listed = w.get(sat.worker_base + "/secrets")
    assert listed.status_code == 200 and listed.json() == [made]
    got = w.get(f"{sat.worker_base}/secrets/{made['id']}")
    assert (got.status_code, got.json()["value"]) == (200, "s3cr3t")
    other = sat.elsewhere()
    theirs = other.session.post(other.reg.secrets, json={"name": "X", "value": "x"}).json()
    r = w.get(f"{sat.worker_base}/secrets/{theirs['id']}")
    assert (r.status_code, r.json()) == (404, {"detail": "Orbit secret not found"})


def test_inference_access_is_deployment_read_in_the_orbit(sat: Sat) -> None:
    _, w = sat.paired()
    url = sat.worker_base + "/deployments/inference-access"

    def ask(key: str) -> object:
        r = w.post(url, json={"api_key": key})
        assert r.status_code == 200
        return r.json()

    assert ask(sat.server.api_key) == {"authorized": True}
    assert ask(sat.server.make_member(sat.reg.arts.orbit).api_key) == {"authorized": True}
    assert ask("dfs_" + "x" * 43) == {"authorized": False}
    assert ask(sat.server.add_user("stranger").api_key) == {"authorized": False}
    assert ask(w.headers["Authorization"].split()[1]) == {"authorized": False}
    assert w.post(url, json={"api_key": "k" * 256}).status_code == 422
