"""Orbits (artifacts contract 8.1) and organization limits (8.2)."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
import requests
from dforg_helpers import Org
from dfserver_helpers import detail_422, session_for

from dataforce_orm.testing import LocalServer

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ORBIT_FIELDS = ["id", "name", "organization_id", "bucket_secret_id", "total_members",
                "total_collections", "total_satellites", "total_artifacts", "role", "created_at",
                "updated_at", "permissions"]
DETAILS_FIELDS = [*ORBIT_FIELDS, "members", "collections_tags"]
CRUD = ["list", "read", "create", "update", "delete"]
OWNER = {"orbit": ["create", "update", "delete", "list", "read"],
         "orbit_user": ["list", "create", "update", "delete", "read"],
         "artifact": [*CRUD, "deploy"], "collection": [*CRUD, "deploy"], "track": CRUD,
         "satellite": ["create", "list", "read", "update", "delete"], "orbit_secret": CRUD,
         "deployment": CRUD}
ADMIN = {**OWNER, "orbit": ["create", "update", "list", "read"]}
ORBIT_MEMBER = {"orbit": ["list", "read"], "artifact": CRUD[:4], "collection": CRUD[:4],
                "track": CRUD[:4], "satellite": ["create", "list", "read"],
                "orbit_secret": ["list", "create"], "deployment": CRUD[:4]}
LIMIT = "Organization reached maximum number of orbits"
UNKNOWN = "01a2194c-674c-7271-9c14-74a55ae307ab"


def create(org: Org, s: requests.Session | None = None, **fields: Any) -> requests.Response:
    return (s or org.http).post(org.url("/orbits"), json={"name": "o", **fields})


def created(org: Org, **fields: Any) -> dict[str, Any]:
    fields.setdefault("bucket_secret_id", org.secret())
    r = create(org, **fields)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


# -- create ----------------------------------------------------------------------------------


def test_create_answers_200_with_orbit_details(org: Org) -> None:
    secret = org.secret()
    r = create(org, name="Research", bucket_secret_id=secret, notify=True)
    assert r.status_code == 200 and "location" not in r.headers
    out = r.json()
    assert list(out) == DETAILS_FIELDS
    assert (out["name"], out["organization_id"], out["bucket_secret_id"]) == (
        "Research", org.id, secret)
    assert (out["total_members"], out["total_collections"], out["total_satellites"],
            out["total_artifacts"]) == (1, 0, 0, 0)
    assert out["role"] is None and out["updated_at"] is None and TIMESTAMP.match(out["created_at"])
    assert out["permissions"] == OWNER and out["collections_tags"] == []
    (creator,) = out["members"]  # the creator joins as orbit admin
    assert list(creator) == ["id", "orbit_id", "role", "user", "created_at", "updated_at"]
    assert (creator["orbit_id"], creator["role"], creator["user"]["id"]) == (
        out["id"], "admin", org.owner.id)
    assert set(creator["user"]) == {"id", "email", "full_name", "disabled", "photo",
                                    "has_api_key"}
    got = org.http.get(org.url(f"/orbits/{out['id']}"))
    assert got.status_code == 200 and got.json() == out


def test_name_limits_and_uuid_forms(org: Org) -> None:
    secret = org.secret()
    out = created(org, name="n" * 100, bucket_secret_id=secret.replace("-", "").upper())
    assert out["bucket_secret_id"] == secret
    org.server.set_organization_limits(org.id, orbits=5)
    assert created(org, name="", bucket_secret_id=secret)["name"] == ""


def test_orbits_limit_default_one_then_raised(org: Org, server: LocalServer) -> None:
    assert server.organization_limits(org.id) == {"members": 3, "orbits": 1, "satellites": 2,
                                                  "artifacts": 50}
    secret = org.secret()
    first = created(org, bucket_secret_id=secret)
    r = create(org, bucket_secret_id=secret)
    assert (r.status_code, r.json()) == (409, {"detail": LIMIT})
    server.set_organization_limits(org.id, orbits=2)
    second = created(org, bucket_secret_id=secret)
    assert (create(org, bucket_secret_id=secret).status_code) == 409
    assert org.http.delete(org.url(f"/orbits/{first['id']}")).status_code == 204
    third = created(org, bucket_secret_id=secret)  # deleting frees a place
    listed = [o["id"] for o in org.http.get(org.url("/orbits")).json()]
    assert listed == [second["id"], third["id"]]


def test_default_organization_already_holds_its_orbit(server: LocalServer,
                                                      session: requests.Session) -> None:
    r = session.post(f"{server.url}/v1/organizations/{server.organization_id}/orbits",
                     json={"name": "second", "bucket_secret_id": server.bucket_secret_id})
    assert (r.status_code, r.json()) == (409, {"detail": LIMIT})


def test_limit_is_checked_before_the_secret(org: Org) -> None:
    created(org)
    r = create(org, bucket_secret_id=UNKNOWN, members=[{"user_id": org.owner.id,
                                                       "role": "admin"}])
    assert (r.status_code, r.json()) == (409, {"detail": LIMIT})


def test_secret_must_belong_to_the_organization(org: Org, server: LocalServer) -> None:
    for secret in (UNKNOWN, server.bucket_secret_id):
        r = create(org, bucket_secret_id=secret)
        assert (r.status_code, r.json()) == (404, {"detail": "Bucket secret not found"})
    assert org.http.get(org.url("/orbits")).json() == []


def test_members_are_added_and_checked(org: Org) -> None:
    secret = org.secret()
    member, _ = org.user("member", "m")
    admin, _ = org.user("admin", "a")
    stranger, _ = org.user(None, "s")
    bad = {
        "Orbit members should contain only unique values.":
            [{"user_id": member.id, "role": "member"}, {"user_id": member.id, "role": "admin"}],
        "You can not add yourself to orbit.": [{"user_id": org.owner.id, "role": "member"}],
        f"Users {{UUID('{stranger.id}')}} are not in the organization.":
            [{"user_id": member.id, "role": "member"}, {"user_id": stranger.id,
                                                        "role": "member"}],
    }
    for message, members in bad.items():
        r = create(org, bucket_secret_id=secret, members=members)
        assert (r.status_code, r.json()) == (400, {"detail": message})
    out = created(org, bucket_secret_id=secret, members=[{"user_id": member.id, "role": "member"},
                                                         {"user_id": admin.id, "role": "admin"}])
    assert out["total_members"] == 3
    roles = [(m["user"]["id"], m["role"]) for m in out["members"]]
    assert roles[2] == (member.id, "member")  # admins first
    assert sorted(roles[:2]) == sorted([(admin.id, "admin"), (org.owner.id, "admin")])


def test_only_org_owners_and_admins_create(org: Org) -> None:
    org.server.set_organization_limits(org.id, orbits=10)
    secret = org.secret()
    for role in ("member", None):
        _, s = org.user(role)
        r = create(org, s, bucket_secret_id=secret)
        assert (r.status_code, r.json()) == (403, {"detail": "Not enough rights"})
    admin, s = org.user("admin")
    r = create(org, s, bucket_secret_id=secret)
    assert r.status_code == 200 and r.json()["permissions"] == ADMIN
    assert [m["user"]["id"] for m in r.json()["members"]] == [admin.id]


def test_create_validation(org: Org) -> None:
    url = org.url("/orbits")
    assert detail_422(org.http.post(url, json={})) == [
        {"type": "missing", "loc": ["body", f], "msg": "Field required", "input": {}}
        for f in ("name", "bucket_secret_id")]
    body = {"name": "n" * 101, "bucket_secret_id": "zz", "members": [{"role": "owner"}, 5],
            "notify": "maybe"}
    assert [(e["type"], e["loc"]) for e in detail_422(org.http.post(url, json=body))] == [
        ("string_too_long", ["body", "name"]), ("uuid_parsing", ["body", "bucket_secret_id"]),
        ("missing", ["body", "members", 0, "user_id"]), ("enum", ["body", "members", 0, "role"]),
        ("model_attributes_type", ["body", "members", 1]), ("bool_parsing", ["body", "notify"])]
    body = {"name": None, "bucket_secret_id": 5, "members": "x", "notify": None}
    assert [(e["type"], e["msg"]) for e in detail_422(org.http.post(url, json=body))] == [
        ("string_type", "Input should be a valid string"),
        ("uuid_type", "UUID input should be a string, bytes or UUID object"),
        ("list_type", "Input should be a valid list"),
        ("bool_type", "Input should be a valid boolean")]
    (err,) = detail_422(org.http.post(url, json={"name": "n", "bucket_secret_id": "x-1"}))
    assert err["msg"].startswith("Input should be a valid UUID, ") and err["ctx"]["error"]
    assert detail_422(org.http.post(url))[0]["loc"] == ["body"]
    assert org.http.get(url).json() == []


# -- list and details ------------------------------------------------------------------------


def test_list_by_role(org: Org) -> None:
    secret = org.secret()
    org.server.set_organization_limits(org.id, orbits=3)
    mine = created(org, name="mine", bucket_secret_id=secret)
    theirs = created(org, name="theirs", bucket_secret_id=secret)
    member, as_member = org.user("member")
    org.server.add_orbit_member(mine["id"], member.id, "member")
    _, as_admin = org.user("admin")
    for s, perms in ((org.http, OWNER), (as_admin, ADMIN)):
        listed = s.get(org.url("/orbits")).json()
        assert [o["id"] for o in listed] == [mine["id"], theirs["id"]]
        assert all(list(o) == ORBIT_FIELDS and o["role"] is None and o["permissions"] == perms
                   for o in listed)
        assert [o["total_members"] for o in listed] == [2, 1]
        assert listed[0]["total_satellites"] == 0 and listed[0]["total_artifacts"] == 0
    (only,) = as_member.get(org.url("/orbits")).json()
    assert list(only) == ORBIT_FIELDS and only["id"] == mine["id"]
    assert (only["role"], only["total_satellites"], only["total_artifacts"]) == (
        "member", None, None)
    assert only["total_members"] == 2 and only["permissions"] == ORBIT_MEMBER
    org.server.add_orbit_member(theirs["id"], member.id, "admin")
    listed = as_member.get(org.url("/orbits")).json()
    assert [(o["role"], o["permissions"]["orbit"]) for o in listed] == [
        ("member", ["list", "read"]), ("admin", OWNER["orbit"])]


def test_details_readable_by_any_org_member(org: Org) -> None:
    orbit = created(org, name="open")
    url = org.url(f"/orbits/{orbit['id']}")
    member, s = org.user("member")
    r = s.get(url)  # no orbit role needed to read details: empty permissions
    assert r.status_code == 200 and list(r.json()) == DETAILS_FIELDS
    assert (r.json()["role"], r.json()["permissions"], r.json()["total_artifacts"]) == (
        None, {}, 0)
    org.server.add_orbit_member(orbit["id"], member.id, "admin")
    assert s.get(url).json()["permissions"] == {**OWNER, "artifact": [*CRUD, "deploy"],
                                                "collection": CRUD}
    _, stranger = org.user(None)
    r = stranger.get(url)
    assert (r.status_code, r.json()) == (403, {"detail": "Not enough rights"})


def test_foreign_or_unknown_orbit_is_404(org: Org, server: LocalServer) -> None:
    for orbit in (UNKNOWN, server.orbit_id):
        url = org.url(f"/orbits/{orbit}")
        for r in (org.http.get(url), org.http.patch(url, json={"name": "x"}),
                  org.http.delete(url)):
            assert (r.status_code, r.json()) == (404, {"detail": "Orbit not found"})


# -- update ----------------------------------------------------------------------------------


def test_patch_is_partial_and_answers_an_orbit(org: Org) -> None:
    orbit = created(org, name="before")
    url = org.url(f"/orbits/{orbit['id']}")
    r = org.http.patch(url, json={"name": "after", "id": UNKNOWN})
    assert r.status_code == 200, r.text
    out = r.json()
    assert list(out) == ORBIT_FIELDS
    assert (out["id"], out["name"], out["bucket_secret_id"]) == (
        orbit["id"], "after", orbit["bucket_secret_id"])
    assert (out["role"], out["permissions"], out["total_members"]) == (None, None, 1)
    assert TIMESTAMP.match(out["updated_at"])
    assert org.http.get(url).json()["name"] == "after"


def test_patch_without_changes_keeps_updated_at(org: Org) -> None:
    orbit = created(org)
    url = org.url(f"/orbits/{orbit['id']}")
    for body in ({}, {"name": orbit["name"]}, {"bucket_secret_id": orbit["bucket_secret_id"]}):
        r = org.http.patch(url, json=body)
        assert r.status_code == 200 and r.json()["updated_at"] is None


def test_patch_moves_the_orbit_to_another_secret(org: Org) -> None:
    orbit = created(org)
    other = org.secret()
    r = org.http.patch(org.url(f"/orbits/{orbit['id']}"), json={"bucket_secret_id": other})
    assert r.status_code == 200 and r.json()["bucket_secret_id"] == other
    users = org.http.get(org.url(f"/bucket-secrets/{other}")).json()["orbits"]
    assert [o["id"] for o in users] == [orbit["id"]]
    r = org.http.delete(org.url(f"/bucket-secrets/{orbit['bucket_secret_id']}"))
    assert r.status_code == 204  # no orbit uses the old one any more


def test_patch_unknown_or_null_secret_is_404(org: Org, server: LocalServer) -> None:
    orbit = created(org)
    url = org.url(f"/orbits/{orbit['id']}")
    for secret in (UNKNOWN, server.bucket_secret_id, None):
        r = org.http.patch(url, json={"name": None, "bucket_secret_id": secret})
        assert (r.status_code, r.json()) == (404, {"detail": "Bucket secret not found"})
    assert org.http.get(url).json()["bucket_secret_id"] == orbit["bucket_secret_id"]


def test_patch_null_name_is_the_plain_text_500(org: Org) -> None:
    orbit = created(org, name="kept")
    url = org.url(f"/orbits/{orbit['id']}")
    r = org.http.patch(url, json={"name": None})
    assert (r.status_code, r.text) == (500, "Internal Server Error")
    assert r.headers["content-type"].startswith("text/plain")
    assert org.http.get(url).json()["name"] == "kept"


def test_patch_validation(org: Org) -> None:
    orbit = created(org)
    url = org.url(f"/orbits/{orbit['id']}")
    body = {"id": "x", "name": "n" * 101, "bucket_secret_id": 5}
    assert [(e["type"], e["loc"]) for e in detail_422(org.http.patch(url, json=body))] == [
        ("uuid_parsing", ["body", "id"]), ("string_too_long", ["body", "name"]),
        ("uuid_type", ["body", "bucket_secret_id"])]
    assert detail_422(org.http.patch(url, json=[]))[0]["type"] == "model_attributes_type"


# -- delete ----------------------------------------------------------------------------------


def test_delete_cascades_to_collections_and_members(org: Org, server: LocalServer) -> None:
    orbit = created(org)
    url = org.url(f"/orbits/{orbit['id']}")
    r = org.http.post(f"{url}/collections", json={"name": "c", "description": "", "type": "model"})
    assert r.status_code == 200
    server.set_artifact_count(r.json()["id"], 3)  # a collection that could not be deleted alone
    r = org.http.delete(url)
    assert (r.status_code, r.content) == (204, b"")
    assert server.collection_rows(orbit["id"]) == []
    assert org.http.get(url).json() == {"detail": "Orbit not found"}
    assert org.http.delete(url).status_code == 404
    assert org.http.get(org.url("/orbits")).json() == []


@pytest.mark.parametrize(("org_role", "orbit_role", "expected"), [
    ("admin", None, (200, 200, 403, 200)),  # org admins lack orbit delete
    ("admin", "admin", (200, 200, 204, 404)),
    ("admin", "member", (200, 200, 403, 200)),
    ("member", "admin", (200, 200, 204, 404)),
    ("member", "member", (200, 403, 403, 200)),
    ("member", None, (200, 403, 403, 200)),
    (None, None, (403, 403, 403, 200)),
])
def test_update_and_delete_rights(org: Org, org_role: str | None, orbit_role: str | None,
                                  expected: tuple[int, int, int, int]) -> None:
    user, s = org.user(org_role)
    orbit = org.server.add_orbit(org.id, "target")
    if orbit_role is not None:
        org.server.add_orbit_member(orbit, user.id, orbit_role)
    url = org.url(f"/orbits/{orbit}")
    got = (s.get(url).status_code, s.patch(url, json={"name": "renamed"}).status_code,
           s.delete(url).status_code, org.http.get(url).status_code)
    assert got == expected
    if got[2] == 403:
        assert s.delete(url).json() == {"detail": "Not enough rights"}


def test_org_owner_deletes_without_an_orbit_role(org: Org) -> None:
    orbit = org.server.add_orbit(org.id, "no-members")
    assert org.http.delete(org.url(f"/orbits/{orbit}")).status_code == 204


# -- helpers ---------------------------------------------------------------------------------


def test_add_orbit_ignores_the_limit_and_makes_a_secret(org: Org, server: LocalServer) -> None:
    first = server.add_orbit(org.id, "one")
    second = server.add_orbit(org.id, "two")
    (secret,) = org.http.get(org.url("/bucket-secrets")).json()
    assert (secret["bucket_name"], [o["id"] for o in secret["orbits"]]) == (
        "default-bucket", [first, second])
    own = org.secret()
    third = server.add_orbit(org.id, "three", own)
    listed = {o["id"]: o["bucket_secret_id"] for o in org.http.get(org.url("/orbits")).json()}
    assert listed == {first: secret["id"], second: secret["id"], third: own}
    r = create(org, bucket_secret_id=own)
    assert (r.status_code, r.json()) == (409, {"detail": LIMIT})


def test_set_organization_limits(org: Org, server: LocalServer) -> None:
    server.set_organization_limits(org.id, artifacts=7)
    assert server.organization_limits(org.id) == {"members": 3, "orbits": 1, "satellites": 2,
                                                  "artifacts": 7}
    server.set_organization_limits(org.id, orbits=0, members=9, satellites=4)
    assert server.organization_limits(org.id) == {"members": 9, "orbits": 0, "satellites": 4,
                                                  "artifacts": 7}
    r = create(org, bucket_secret_id=org.secret())
    assert (r.status_code, r.json()) == (409, {"detail": LIMIT})
    with pytest.raises(KeyError):
        server.set_organization_limits(UNKNOWN, orbits=2)
    with pytest.raises(KeyError):
        server.organization_limits(UNKNOWN)


def test_concurrent_creates_respect_the_limit(org: Org, server: LocalServer) -> None:
    server.set_organization_limits(org.id, orbits=3)
    secret = org.secret()
    statuses: list[int] = []

    def post(i: int) -> None:
        with session_for(org.owner.api_key) as s:
            statuses.append(create(org, s, name=f"o{i}", bucket_secret_id=secret).status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] * 3 + [409] * 7
    assert len(org.http.get(org.url("/orbits")).json()) == 3


def test_every_new_route_wants_a_key_first(org: Org) -> None:
    orbit = created(org)
    secret = orbit["bucket_secret_id"]
    routes = [("POST", "/orbits"), ("PATCH", f"/orbits/{orbit['id']}"),
              ("DELETE", f"/orbits/{orbit['id']}"), ("GET", "/bucket-secrets"),
              ("POST", "/bucket-secrets"), ("GET", f"/bucket-secrets/{secret}"),
              ("PATCH", f"/bucket-secrets/{secret}"), ("DELETE", f"/bucket-secrets/{secret}"),
              ("PATCH", "/bucket-secrets/not-a-uuid")]
    with requests.Session() as http:
        for method, path in routes:
            for headers in ({}, {"Authorization": "Bearer dfs_" + "x" * 43}):
                body = {"name": None} if method != "DELETE" else None  # also malformed
                r = http.request(method, org.url(path), headers=headers, json=body)
                assert (r.status_code, r.json()) == (401, {"detail": "Not authenticated"})
    assert org.http.get(org.url(f"/orbits/{orbit['id']}")).json()["name"] == orbit["name"]
