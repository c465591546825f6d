"""Contract 3.3: satellites, management side (and the key checks of contract section 0)."""

from __future__ import annotations

import pytest
import requests
from registry_kit import plain_500
from satellite_kit import SATELLITE_KEYS, Sat, new_sat, worker

from dataforce_orm.testing import LocalServer


@pytest.fixture
def sat(server: LocalServer, session: requests.Session) -> Sat:
    return new_sat(server, session)


def test_create_returns_a_one_time_key_and_stores_only_its_hmac(sat: Sat) -> None:
    r = sat.session.post(sat.satellites, json={"name": "gpu-1", "description": "rack 4"})
    assert r.status_code == 200 and list(r.json()) == ["satellite", "api_key"]
    made, key = r.json()["satellite"], r.json()["api_key"]
    assert key.startswith("dfssat_") and len(key) == 50
    assert list(made) == SATELLITE_KEYS
    assert (made["name"], made["description"], made["orbit_id"]) == ("gpu-1", "rack 4",
                                                                      sat.reg.arts.orbit)
    assert (made["paired"], made["capabilities"], made["status"]) == (False, {}, "inactive")
    assert made["base_url"] is made["slug"] is made["last_seen_at"] is None
    got = sat.session.get(f"{sat.satellites}/{made['id']}")
    assert (got.status_code, got.json()) == (200, made)
    assert "api_key" not in got.text and key not in got.text
    dump = "\n".join(sat.server._store._conn.iterdump())
    assert key not in dump and key[7:] not in dump


def test_the_organizations_satellites_limit_is_a_409(sat: Sat) -> None:
    sat.server.set_organization_limits(sat.reg.arts.org, satellites=1)
    sat.create("one")
    r = sat.session.post(sat.satellites, json={"name": "two"})
    assert (r.status_code, r.json()) == (
        409, {"detail": "Organization reached maximum number of satellites"}
    )
    orbit = sat.session.get(sat.reg.arts.base).json()
    assert orbit["total_satellites"] == 1
    other = sat.elsewhere()  # the limit counts every orbit of the organization
    assert other.session.post(other.satellites, json={"name": "x"}).status_code == 409
    assert [s["name"] for s in sat.session.get(sat.satellites).json()] == ["one"]


def test_a_create_without_a_name_is_a_plain_500_and_makes_nothing(sat: Sat) -> None:
    for body in ({}, {"description": "d"}, {"name": None}):
        assert plain_500(sat.session.post(sat.satellites, json=body))
    assert sat.session.get(sat.satellites).json() == []
    r = sat.session.post(sat.satellites, json={"name": "n" * 101})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
    r = sat.session.post(sat.satellites, json={"name": "n", "description": "d" * 1001})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "string_too_long"


def test_the_list_is_in_creation_order_and_filters_on_paired(sat: Sat) -> None:
    first, _ = sat.create("first")
    second, _ = sat.paired("second")
    third, _ = sat.create("third")
    listed = sat.session.get(sat.satellites)
    assert [s["id"] for s in listed.json()] == [first["id"], second["id"], third["id"]]
    unpaired = sat.session.get(sat.satellites, params={"paired": "false"}).json()
    assert [s["id"] for s in unpaired] == [first["id"], third["id"]]
    paired = sat.session.get(sat.satellites, params={"paired": "true"}).json()
    assert [(s["id"], s["paired"], s["status"]) for s in paired] == [
        (second["id"], True, "active")
    ]
    r = sat.session.get(sat.satellites, params={"paired": "maybe"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "paired"]


def test_a_satellite_of_another_orbit_is_not_found(sat: Sat) -> None:
    made, _ = sat.create()
    other = sat.elsewhere()
    url = f"{other.satellites}/{made['id']}"
    for r in (other.session.get(url), other.session.patch(url, json={"name": "x"}),
              other.session.post(url + "/api-key"), other.session.delete(url)):
        assert (r.status_code, r.json()) == (404, {"detail": "Satellite not found"})


def test_patch_writes_name_and_description_together(sat: Sat) -> None:
    made, _ = sat.create("old", description="keep me?")
    url = f"{sat.satellites}/{made['id']}"
    r = sat.session.patch(url, json={"name": "new"})
    assert r.status_code == 200
    assert (r.json()["name"], r.json()["description"]) == ("new", None)  # cleared
    r = sat.session.patch(url, json={"name": "both", "description": "d"})
    assert (r.json()["name"], r.json()["description"]) == ("both", "d")
    assert r.json()["updated_at"] is not None
    for body in ({"description": "only"}, {}):
        assert plain_500(sat.session.patch(url, json=body))
        got = sat.session.get(url).json()
        assert (got["name"], got["description"]) == ("both", "d")  # rolled back


def test_regenerating_the_key_retires_the_old_one_and_keeps_the_pairing(sat: Sat) -> None:
    made, w = sat.paired()
    old_key = w.headers["Authorization"].split()[1]
    r = sat.session.post(f"{sat.satellites}/{made['id']}/api-key")
    assert r.status_code == 200 and list(r.json()) == ["key"]
    new_key = r.json()["key"]
    assert new_key.startswith("dfssat_") and len(new_key) == 50 and new_key != old_key
    old = w.get(sat.worker_base + "/tasks")
    assert (old.status_code, old.json()) == (401, {"detail": "Not authenticated"})
    assert worker(new_key).get(sat.worker_base + "/tasks").status_code == 200
    assert sat.session.get(f"{sat.satellites}/{made['id']}").json()["paired"] is True


def test_delete_is_refused_while_a_deployment_references_it(sat: Sat) -> None:
    made, key = sat.create()
    url = f"{sat.satellites}/{made['id']}"
    dep = sat.deploy(made["id"])
    refused = {"detail": "Cannot delete satellite. It is used in deployments."}
    r = sat.session.delete(url)
    assert (r.status_code, r.json()) == (409, refused)
    assert sat.session.delete(f"{sat.deployments}/{dep['id']}").status_code == 200
    r = sat.session.delete(url)  # deletion_pending still references it
    assert (r.status_code, r.json()) == (409, refused)
    assert sat.session.delete(f"{sat.deployments}/{dep['id']}/force").status_code == 204
    r = sat.session.delete(url)
    assert (r.status_code, r.content) == (204, b"")
    assert sat.session.get(url).status_code == 404
    gone = worker(key).get(sat.worker_base + "/tasks")
    assert (gone.status_code, gone.json()) == (401, {"detail": "Not authenticated"})


def test_an_orbit_member_may_create_list_and_read_only(sat: Sat) -> None:
    member = sat.as_user(sat.server.make_member(sat.reg.arts.orbit).api_key)
    made, _ = member.create("by member")
    url = f"{member.satellites}/{made['id']}"
    assert member.session.get(url).status_code == 200
    assert [s["id"] for s in member.session.get(member.satellites).json()] == [made["id"]]
    for r in (member.session.patch(url, json={"name": "x", "description": None}),
              member.session.post(url + "/api-key"), member.session.delete(url)):
        assert (r.status_code, r.json()) == (403, {"detail": "Not enough rights"})
    admin = sat.as_user(sat.server.make_member(sat.reg.arts.orbit, orbit_role="admin").api_key)
    assert admin.session.patch(url, json={"name": "x"}).status_code == 200
    assert admin.session.delete(url).status_code == 204


def test_status_follows_the_last_call_against_the_servers_clock(sat: Sat) -> None:
    made, w = sat.paired()
    url = f"{sat.satellites}/{made['id']}"
    seen = sat.session.get(url).json()
    assert (seen["status"], seen["paired"]) == ("active", True)
    sat.server.advance_clock(19 * 60)
    assert sat.session.get(url).json()["status"] == "active"
    sat.server.advance_clock(2 * 60)
    late = sat.session.get(url).json()
    assert late["status"] == "error" and late["last_seen_at"] == seen["last_seen_at"]
    assert w.get(sat.worker_base + "/tasks").status_code == 200  # any worker call is a visit
    back = sat.session.get(url).json()
    assert back["status"] == "active" and back["last_seen_at"] > seen["last_seen_at"]
    unpaired, _ = sat.create("never paired")
    assert sat.session.get(f"{sat.satellites}/{unpaired['id']}").json()["status"] == "inactive"


def test_each_key_opens_only_its_own_routes(sat: Sat) -> None:
    _, w = sat.paired()
    r = w.get(sat.satellites)
    assert (r.status_code, r.json()) == (
        403, {"detail": "This endpoint requires jwt, api_key authentication."}
    )
    r = w.get(sat.server.url + "/v1/auth/api-keys/validate")
    assert (r.status_code, r.json()) == (
        403, {"detail": "This endpoint requires api_key authentication."}
    )
    r = sat.session.get(sat.worker_base + "/tasks")
    assert (r.status_code, r.json()) == (
        403, {"detail": "This endpoint requires satellite authentication."}
    )
    r = worker("dfssat_" + "x" * 43).get(sat.worker_base + "/tasks")
    assert (r.status_code, r.json()) == (401, {"detail": "Not authenticated"})
