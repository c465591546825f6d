"""Section 6: organization and orbit roles on the collections routes."""

from __future__ import annotations

import pytest
import requests
from dfserver_helpers import Api, session_for

from dataforce_orm.testing import LocalServer


def _as(server: LocalServer, api: Api, key: str) -> Api:
    return Api(server, session_for(key), api.org, api.orbit)


def _statuses(client: Api, cid: str) -> dict[str, int]:
    created = client.post({"name": "n", "description": "", "type": "model"})
    return {
        "list": client.get().status_code,
        "read": client.get("/" + cid).status_code,
        "create": created.status_code,
        "update": client.patch(cid, {"name": "u", "description": ""}).status_code,
        "delete": client.delete(cid).status_code,
    }


ALLOWED = {"list": 200, "read": 200, "create": 200, "update": 200, "delete": 204}


def test_not_an_org_member_is_403(server: LocalServer, api: Api) -> None:
    cid = api.create()["id"]
    stranger = _as(server, api, server.add_user("stranger").api_key)
    r = stranger.get()
    assert (r.status_code, r.json()) == (403, {"detail": "Not enough rights"})
    assert set(_statuses(stranger, cid).values()) == {403}


def test_org_member_without_orbit_role_is_403(server: LocalServer, api: Api) -> None:
    cid = api.create()["id"]
    user = server.add_user("member")
    server.add_member(api.org, user.id, role="member")
    assert set(_statuses(_as(server, api, user.api_key), cid).values()) == {403}
    orbits = session_for(user.api_key).get(f"{server.url}/v1/organizations/{api.org}/orbits")
    assert orbits.status_code == 200 and all(o["id"] != api.orbit for o in orbits.json())


def test_orbit_member_may_do_all_but_delete(server: LocalServer, api: Api) -> None:
    cid = api.create()["id"]
    user = server.add_user("orbit-member")
    server.add_member(api.org, user.id, role="member")
    server.add_orbit_member(api.orbit, user.id, role="member")
    client = _as(server, api, user.api_key)
    assert _statuses(client, cid) == {**ALLOWED, "delete": 403}
    assert client.delete(cid).json() == {"detail": "Not enough rights"}
    detail = client.session.get(f"{server.url}/v1/organizations/{api.org}/orbits/{api.orbit}")
    # details carry no role (read from the orbit row); the permissions are the orbit role's
    assert detail.status_code == 200 and detail.json()["role"] is None
    assert detail.json()["permissions"]["collection"] == ["list", "read", "create", "update"]


def test_orbit_admin_may_delete(server: LocalServer, api: Api) -> None:
    cid = api.create()["id"]
    user = server.add_user("orbit-admin")
    server.add_member(api.org, user.id, role="member")
    server.add_orbit_member(api.orbit, user.id, role="admin")
    assert _statuses(_as(server, api, user.api_key), cid) == ALLOWED


@pytest.mark.parametrize("role", ["owner", "admin"])
def test_org_owner_and_admin_may_do_everything(server: LocalServer, api: Api, role: str) -> None:
    cid = api.create()["id"]
    user = server.add_user(role)
    server.add_member(api.org, user.id, role=role)
    assert _statuses(_as(server, api, user.api_key), cid) == ALLOWED


def test_organization_owner_helper(server: LocalServer) -> None:
    user = server.add_user("founder")
    org = server.add_organization("Founded", owner=user.id)
    orbit = server.add_orbit(org, "First")
    s: requests.Session = session_for(user.api_key)
    orgs = s.get(f"{server.url}/v1/users/me/organizations").json()
    assert [(o["id"], o["role"]) for o in orgs] == [(org, "owner")]
    r = s.post(f"{server.url}/v1/organizations/{org}/orbits/{orbit}/collections",
               json={"name": "n", "description": "", "type": "model"})
    assert r.status_code == 200
