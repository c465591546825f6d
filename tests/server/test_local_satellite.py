"""LocalSatellite: a satellite thread that pairs, deploys, fails, undeploys and goes silent,
over the worker routes only; its inference URL checks the caller's key with the platform."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from satellite_kit import Sat, new_sat

from dataforce_orm import ConfigurationError
from dataforce_orm.testing import Fault, LocalSatellite, LocalServer
from dataforce_orm.testing._local_satellite import log as satellite_log


@pytest.fixture
def sat(server: LocalServer, session: requests.Session) -> Sat:
    return new_sat(server, session)


def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy (the satellite works in a thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.01)
    raise AssertionError("the condition did not come true in time")


def _status(sat: Sat, dep_id: str, wanted: str) -> Callable[[], dict[str, Any] | None]:
    def check() -> dict[str, Any] | None:
        got: dict[str, Any] = sat.session.get(f"{sat.deployments}/{dep_id}").json()
        return got if got.get("status") == wanted else None

    return check


def _rounds(satellite: LocalSatellite, more: int) -> None:
    start = satellite.rounds
    until(lambda: satellite.rounds >= start + more)


def test_a_deployment_comes_up_and_answers_callers_the_platform_admits(sat: Sat) -> None:
    made, key = sat.create()
    with LocalSatellite(sat.server.url, key, poll_interval=0.01) as satellite:
        assert satellite.satellite is not None and satellite.satellite["id"] == made["id"]
        seen = sat.session.get(f"{sat.satellites}/{made['id']}").json()
        assert (seen["paired"], seen["status"], seen["base_url"]) == (
            True, "active", satellite.url + "/")
        dep = sat.deploy(made["id"])
        up = until(_status(sat, dep["id"], "active"))
        assert up["inference_url"] == f"{satellite.url}/deployments/{dep['id']}"
        assert up["error_message"] is None and up["schemas"]
        # the task is reported done just after the deployment comes up
        tasks = until(lambda: [t for t in sat.server.satellite_tasks(made["id"])
                               if t["status"] == "done"])
        assert [(t["type"], t["status"]) for t in tasks] == [("deploy", "done")]
        assert tasks[0]["started_at"] and tasks[0]["finished_at"]
        assert tasks[0]["result"] == {"inference_url": up["inference_url"]}
        url = up["inference_url"] + "/predict"
        owner = {"Authorization": f"Bearer {sat.server.api_key}"}
        r = requests.post(url, json={"x": [1, 2]}, headers=owner, timeout=10)
        assert (r.status_code, r.json()) == (200, {
            "deployment_id": dep["id"], "method": "POST",
            "path": f"/deployments/{dep['id']}/predict", "body": {"x": [1, 2]}})
        member = sat.server.make_member(sat.reg.arts.orbit).api_key
        r = requests.get(url, headers={"Authorization": f"Bearer {member}"}, timeout=10)
        assert r.status_code == 200 and r.json()["body"] is None
        assert requests.get(url, timeout=10).status_code == 401
        stranger = sat.server.add_user("stranger").api_key
        r = requests.get(url, headers={"Authorization": f"Bearer {stranger}"}, timeout=10)
        assert r.status_code == 403
        other = f"{satellite.url}/deployments/{sat.reg.arts.orbit}"
        assert requests.get(other, headers=owner, timeout=10).status_code == 404


def test_fail_makes_the_deployment_failed_with_an_error_message(sat: Sat) -> None:
    made, key = sat.create()
    with LocalSatellite(sat.server.url, key, fail=True, poll_interval=0.01):
        dep = sat.deploy(made["id"])
        failed = until(_status(sat, dep["id"], "failed"))
    assert set(failed["error_message"]) == {"error", "reason"}
    assert failed["inference_url"] is None
    task = sat.server.satellite_tasks(made["id"])[0]
    assert (task["status"], task["result"]) == ("failed", failed["error_message"])


def test_undeploy_deletes_the_deployment(sat: Sat) -> None:
    made, key = sat.create()
    with LocalSatellite(sat.server.url, key, poll_interval=0.01) as satellite:
        dep = sat.deploy(made["id"])
        up = until(_status(sat, dep["id"], "active"))
        assert sat.session.delete(f"{sat.deployments}/{dep['id']}").status_code == 200
        until(lambda: sat.session.get(f"{sat.deployments}/{dep['id']}").status_code == 404)
        assert not satellite.serves(dep["id"])
        owner = {"Authorization": f"Bearer {sat.server.api_key}"}
        assert requests.get(up["inference_url"], headers=owner, timeout=10).status_code == 404
    tasks = sat.server.satellite_tasks(made["id"])
    assert [(t["type"], t["status"]) for t in tasks] == [("deploy", "done"), ("undeploy", "done")]


def test_silent_stops_polling_so_deployments_stay_pending(sat: Sat) -> None:
    made, key = sat.create()
    with LocalSatellite(sat.server.url, key, silent=True, poll_interval=0.01) as satellite:
        dep = sat.deploy(made["id"])
        sat.server.reset_request_log()
        _rounds(satellite, 5)
        assert [p for _, p in sat.server.request_log if p.startswith("/satellites/")] == []
        assert sat.session.get(f"{sat.deployments}/{dep['id']}").json()["status"] == "pending"
        sat.server.advance_clock(21 * 60)
        late = sat.session.get(f"{sat.satellites}/{made['id']}").json()
        assert late["status"] == "error" and late["last_seen_at"] is not None
        # deleted while silent: once it speaks again it undeploys and never brings it up
        assert sat.session.delete(f"{sat.deployments}/{dep['id']}").status_code == 200
        satellite.silent = False
        until(lambda: sat.session.get(f"{sat.deployments}/{dep['id']}").status_code == 404)
        assert not satellite.serves(dep["id"])
    assert sat.session.get(f"{sat.satellites}/{made['id']}").json()["status"] == "active"


def test_the_satellite_rides_out_a_flaky_platform(sat: Sat) -> None:
    made, key = sat.create()
    before = sat.server.fault_counts
    with LocalSatellite(sat.server.url, key, poll_interval=0.01):
        sat.server.add_fault(Fault("status", status=503, method="GET",
                                   path="^/satellites/v1/tasks", times=2))
        # the deployment is written, the answer lost: the task is taken up again
        sat.server.add_fault(Fault("drop_after", method="PATCH",
                                   path="^/satellites/v1/deployments/", times=1))
        try:
            dep = sat.deploy(made["id"])
            until(lambda: [t for t in sat.server.satellite_tasks(made["id"])
                           if t["status"] == "done"])
        finally:
            sat.server.clear_faults()
    after = sat.server.fault_counts
    assert after.get("status:503", 0) - before.get("status:503", 0) == 2
    assert after.get("drop_after", 0) - before.get("drop_after", 0) == 1
    assert sat.session.get(f"{sat.deployments}/{dep['id']}").json()["status"] == "active"
    task = sat.server.satellite_tasks(made["id"])[0]
    assert (task["type"], task["status"]) == ("deploy", "done")


def test_a_force_deleted_deployments_left_over_undeploy_is_done(sat: Sat) -> None:
    made, key = sat.create()
    dep = sat.deploy(made["id"])
    assert sat.session.delete(f"{sat.deployments}/{dep['id']}").status_code == 200
    assert sat.session.delete(f"{sat.deployments}/{dep['id']}/force").status_code == 204
    with LocalSatellite(sat.server.url, key, poll_interval=0.01):
        until(lambda: all(t["status"] in ("done", "failed")
                          for t in sat.server.satellite_tasks(made["id"])))
    tasks = sat.server.satellite_tasks(made["id"])
    assert [(t["type"], t["status"]) for t in tasks] == [("deploy", "failed"),
                                                         ("undeploy", "done")]


def test_a_refused_pairing_is_a_configuration_error_and_the_key_never_shows(
    sat: Sat, caplog: pytest.LogCaptureFixture
) -> None:
    made, key = sat.create()
    sat.session.post(f"{sat.satellites}/{made['id']}/api-key")  # the key is now stale
    with pytest.raises(ConfigurationError) as caught:
        LocalSatellite(sat.server.url, key).start()
    assert "401" in str(caught.value) and key not in str(caught.value)
    satellite = LocalSatellite(sat.server.url, key)
    assert key not in repr(satellite)
    with pytest.raises(ConfigurationError, match="dfssat_"):
        LocalSatellite(sat.server.url, sat.server.api_key)
    with pytest.raises(ConfigurationError, match="loopback"):
        LocalSatellite(sat.server.url, key, host="0.0.0.0")
    caplog.set_level(logging.WARNING)
    satellite_log.warning("poll failed: %s", key)  # what the satellite logs is masked
    assert key not in caplog.text and "poll failed: ***" in caplog.text


def test_the_set_up_helpers_make_real_rows(sat: Sat) -> None:
    row, key = sat.server.make_satellite("helper", orbit_id=sat.reg.arts.orbit)
    assert (row["name"], row["paired"], row["orbit_id"]) == ("helper", False, sat.reg.arts.orbit)
    with LocalSatellite(sat.server.url, key, poll_interval=0.01):
        assert sat.session.get(f"{sat.satellites}/{row['id']}").json()["paired"] is True
    aid = sat.reg.artifact()
    first = sat.server.add_deployment(aid, name="a", status="active")
    second = sat.server.add_deployment(aid, name="b", status="failed")
    listed = {d["id"]: d for d in sat.session.get(sat.deployments).json()}
    assert (listed[first]["status"], listed[second]["status"]) == ("active", "failed")
    helper = listed[first]["satellite_id"]
    assert listed[second]["satellite_id"] == helper  # one helper satellite per orbit
    got = sat.session.get(f"{sat.satellites}/{helper}").json()
    assert (got["name"], got["paired"]) == ("satellite", False)
    sat.server.remove_deployment(first)
    assert sat.session.get(f"{sat.deployments}/{first}").status_code == 404
    with pytest.raises(KeyError):
        sat.server.remove_deployment(first)
