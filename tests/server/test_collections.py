"""Sections 3, 4 and 8: the Collection object and create/get/update/delete semantics."""

from __future__ import annotations

import re
import uuid

import requests
from dfserver_helpers import Api

from dataforce_orm.testing import LocalServer

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
FIELDS = ["id", "orbit_id", "description", "name", "type", "tags", "total_artifacts",
          "created_at", "updated_at"]
ALL_TYPES = ["model", "dataset", "experiment", "model_dataset", "dataset_experiment",
             "model_experiment", "mixed"]


def test_create_answers_200_with_the_collection(api: Api) -> None:
    r = api.post({"name": "Churn models", "description": "Customer churn", "type": "model",
                  "tags": ["prod", "Churn"]})
    assert r.status_code == 200
    assert "location" not in r.headers
    body = r.json()
    assert list(body) == FIELDS
    assert body["orbit_id"] == api.orbit
    assert (body["name"], body["description"], body["type"]) == ("Churn models",
                                                                  "Customer churn", "model")
    assert body["tags"] == ["prod", "Churn"]
    assert body["total_artifacts"] == 0 and body["updated_at"] is None
    assert TIMESTAMP.match(body["created_at"])


def test_ids_are_uuid7_and_sort_by_creation(api: Api) -> None:
    ids = [api.create(name=f"n{i}")["id"] for i in range(20)]
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in parsed)
    assert ids == sorted(ids)
    assert all(str(u) == i for u, i in zip(parsed, ids, strict=True))


def test_every_type_value_is_accepted(api: Api) -> None:
    assert [api.create(type=t)["type"] for t in ALL_TYPES] == ALL_TYPES


def test_tags_kept_as_sent_null_or_empty(api: Api) -> None:
    assert api.create(tags=["a", "a", "B"])["tags"] == ["a", "a", "B"]
    assert api.create(tags=[])["tags"] == []
    assert api.create(tags=None)["tags"] is None
    assert api.create()["tags"] is None


def test_empty_name_and_description_allowed_on_create(api: Api) -> None:
    body = api.create(name="", description="")
    assert (body["name"], body["description"]) == ("", "")


def test_unknown_keys_ignored_and_orbit_id_from_path(api: Api) -> None:
    r = api.post({"name": "x", "description": "", "type": "model", "id": "abc",
                  "orbit_id": str(uuid.uuid4()), "total_artifacts": 9, "bogus": True})
    body = r.json()
    assert r.status_code == 200
    assert body["orbit_id"] == api.orbit and body["total_artifacts"] == 0 and body["id"] != "abc"


def test_names_are_not_unique(api: Api) -> None:
    a = api.create(name="Churn models")
    b = api.create(name="Churn models")
    c = api.create(name="churn MODELS")
    assert len({a["id"], b["id"], c["id"]}) == 3


def test_limits_at_the_boundary_are_accepted(api: Api) -> None:
    body = api.create(name="n" * 100, description="d" * 1000, tags=["t" * 64] * 50)
    assert len(body["tags"]) == 50


def test_get_by_id_returns_details(api: Api) -> None:
    created = api.create(name="Raw datasets", type="dataset")
    api.server.set_artifact_count(created["id"], 1, tags=["small", "iris", "small"],
                                  extra_keys=["rows"])
    r = api.get("/" + created["id"])
    assert r.status_code == 200
    body = r.json()
    assert list(body) == [*FIELDS, "artifacts_tags", "artifacts_extra_values"]
    assert body["total_artifacts"] == 1
    assert body["artifacts_tags"] == ["iris", "small"]
    assert body["artifacts_extra_values"] == ["rows"]
    assert {k: body[k] for k in FIELDS if k != "total_artifacts"} == {
        k: created[k] for k in FIELDS if k != "total_artifacts"}


def test_get_accepts_uppercase_and_simple_uuid_forms(api: Api) -> None:
    cid = api.create()["id"]
    for form in (cid.upper(), cid.replace("-", ""), cid.replace("-", "").upper()):
        r = api.get("/" + form)
        assert r.status_code == 200 and r.json()["id"] == cid
    org, orbit = api.org.upper(), api.orbit.replace("-", "")
    url = f"{api.server.url}/v1/organizations/{org}/orbits/{orbit}/collections/{cid}"
    assert api.session.get(url).status_code == 200


def test_get_unknown_or_other_orbit_is_404(api: Api, server: LocalServer) -> None:
    other = server.add_orbit(server.organization_id, "other")
    foreign = Api(server, api.session, api.org, other).create()["id"]
    for cid in (foreign, str(uuid.uuid4())):
        r = api.get("/" + cid)
        assert (r.status_code, r.json()) == (404, {"detail": "Collection not found"})


def test_list_items_have_no_details_fields(api: Api) -> None:
    api.create()
    page = api.get().json()
    assert list(page) == ["items", "cursor"]
    assert list(page["items"][0]) == FIELDS


def test_empty_list(api: Api) -> None:
    assert api.get().json() == {"items": [], "cursor": None}


# -- update -----------------------------------------------------------------------------------


def test_patch_writes_all_three_fields(api: Api) -> None:
    c = api.create(name="a", description="d", tags=["x"], type="dataset")
    r = api.patch(c["id"], {"name": "b", "description": "e", "tags": ["y", "y"]})
    assert r.status_code == 200
    body = r.json()
    assert list(body) == FIELDS
    assert (body["name"], body["description"], body["tags"], body["type"]) == (
        "b", "e", ["y", "y"], "dataset")
    assert TIMESTAMP.match(body["updated_at"]) and body["created_at"] == c["created_at"]


def test_patch_omitted_tags_become_null(api: Api) -> None:
    c = api.create(tags=["keep"])
    body = api.patch(c["id"], {"name": c["name"], "description": ""}).json()
    assert body["tags"] is None
    cleared = api.create(tags=["x"])
    assert api.patch(cleared["id"], {"name": "c", "description": "", "tags": None}).json()[
        "tags"] is None


def test_patch_missing_name_or_description_is_plain_500_and_no_change(api: Api) -> None:
    c = api.create(name="orig", description="desc", tags=["t"])
    for body in ({}, {"name": "new"}, {"description": "new", "tags": []},
                 {"name": None, "description": "x"}):
        r = api.patch(c["id"], body)
        assert r.status_code == 500
        assert r.text == "Internal Server Error"
        assert r.headers["content-type"].startswith("text/plain")
    assert api.get("/" + c["id"]).json()["name"] == "orig"
    assert api.server.collection_rows(api.orbit)[0]["tags"] == ["t"]


def test_patch_updated_at_moves_only_on_real_change(api: Api) -> None:
    c = api.create(name="a", description="d", tags=["x"])
    same = api.patch(c["id"], {"name": "a", "description": "d", "tags": ["x"]}).json()
    assert same["updated_at"] is None
    changed = api.patch(c["id"], {"name": "a", "description": "d", "tags": ["x", "y"]}).json()
    assert changed["updated_at"] is not None
    again = api.patch(c["id"], {"name": "a", "description": "d", "tags": ["x", "y"]}).json()
    assert again["updated_at"] == changed["updated_at"]


def test_patch_ignores_type_and_unknown_keys(api: Api) -> None:
    c = api.create(type="model")
    body = api.patch(c["id"], {"name": "n", "description": "", "type": "dataset",
                               "bogus": 1}).json()
    assert body["type"] == "model"


def test_patch_unknown_or_other_orbit_is_404(api: Api, server: LocalServer) -> None:
    other = Api(server, api.session, api.org, server.add_orbit(api.org, "o2")).create()["id"]
    for cid in (other, str(uuid.uuid4())):
        r = api.patch(cid, {"name": "n", "description": ""})
        assert (r.status_code, r.json()) == (404, {"detail": "Collection not found"})


def test_patch_of_other_orbits_collection_leaves_it_alone(api: Api, server: LocalServer) -> None:
    other_orbit = server.add_orbit(api.org, "o3")
    other = Api(server, api.session, api.org, other_orbit).create(name="keep")
    api.patch(other["id"], {"name": "changed", "description": ""})
    api.delete(other["id"])
    assert server.collection_rows(other_orbit)[0]["name"] == "keep"


# -- delete -----------------------------------------------------------------------------------


def test_delete_204_then_404(api: Api) -> None:
    c = api.create()
    r = api.delete(c["id"])
    assert (r.status_code, r.content) == (204, b"")
    again = api.delete(c["id"])
    assert (again.status_code, again.json()) == (404, {"detail": "Collection not found"})
    assert api.get("/" + c["id"]).status_code == 404


def test_delete_with_artifacts_is_409_until_emptied(api: Api) -> None:
    c = api.create()
    api.server.set_artifact_count(c["id"], 2)
    r = api.delete(c["id"])
    assert (r.status_code, r.json()) == (409, {
        "detail": "Collection has artifacts and cant be deleted"})
    assert api.get("/" + c["id"]).json()["total_artifacts"] == 2
    api.server.set_artifact_count(c["id"], 0)
    assert api.delete(c["id"]).status_code == 204


def test_orbit_and_org_checks_on_collection_routes(api: Api, server: LocalServer,
                                                  session: requests.Session) -> None:
    cid = api.create()["id"]
    unknown_orbit = str(uuid.uuid4())
    other_org = server.add_organization("Other", owner=server.user_id)
    foreign_orbit = server.add_orbit(other_org, "foreign")
    for orbit in (unknown_orbit, foreign_orbit):
        base = f"{server.url}/v1/organizations/{api.org}/orbits/{orbit}/collections"
        for r in (session.get(base), session.get(f"{base}/{cid}"),
                  session.patch(f"{base}/{cid}", json={"name": "x", "description": ""}),
                  session.delete(f"{base}/{cid}"),
                  session.post(base, json={"name": "x", "description": "", "type": "model"})):
            assert (r.status_code, r.json()) == (404, {"detail": "Orbit not found"})
    for org in (server.add_organization("Not mine"), str(uuid.uuid4())):
        base = f"{server.url}/v1/organizations/{org}/orbits/{api.orbit}/collections"
        for r in (session.get(base), session.get(f"{base}/{cid}"), session.delete(f"{base}/{cid}")):
            assert (r.status_code, r.json()) == (403, {"detail": "Not enough rights"})
