"""Artifact routes (contract §1-3, §5, §7, §9): shapes, type rules, lifecycle, deletion, quota."""

from __future__ import annotations

import re

import pytest
import requests
from artifacts_kit import FNNX_INDEX, LEGACY_MANIFEST, Arts, body

from dataforce_orm.testing import LocalServer

ARTIFACT_KEYS = [
    "file_name",
    "name",
    "description",
    "extra_values",
    "manifest",
    "file_hash",
    "file_index",
    "size",
    "tags",
    "type",
    "id",
    "collection_id",
    "bucket_location",
    "unique_identifier",
    "status",
    "created_by_user",
    "created_at",
    "updated_at",
]
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")


def _orbit(arts: Arts) -> dict[str, object]:
    r = arts.session.get(arts.base)
    assert r.status_code == 200
    data: dict[str, object] = r.json()
    return data


# -- create -------------------------------------------------------------------------------------


def test_create_answers_200_with_artifact_and_upload_details(arts: Arts) -> None:
    cid = arts.collection()
    payload = body(
        file_name="my model.luml",
        description="first",
        extra_values={"f1": 0.9},
        file_index={"manifest.json": ["512", 10.0]},
        size="2048",
        tags=["prod", "prod"],
        bogus=1,
        status="uploaded",
        id="ignored",
    )
    payload["manifest"]["unknown"] = "dropped"
    r = arts.post(cid, payload)
    assert r.status_code == 200, r.text
    data = r.json()
    assert list(data) == ["artifact", "upload_details"]
    art = data["artifact"]
    assert list(art) == ARTIFACT_KEYS
    assert art["file_name"] == "my model.luml" and art["name"] == "model"
    assert art["description"] == "first" and art["extra_values"] == {"f1": 0.9}
    assert art["manifest"] == {
        "artifact_type": "model",
        "variant": "default",
        "name": None,
        "description": None,
        "version": None,
        "producer_name": "luml.ai",
        "producer_version": "0.1.0",
        "producer_tags": [],
        "payload": {},
    }
    assert art["file_index"] == {"manifest.json": [512, 10]} and art["size"] == 2048
    assert art["tags"] == ["prod", "prod"] and art["type"] == "model"
    assert UUID.fullmatch(art["id"]) and art["collection_id"] == cid
    assert re.fullmatch(r"[0-9a-f]{32}", art["unique_identifier"])
    assert art["bucket_location"] == (
        f"orbit-{arts.orbit}/collection-{cid}/{art['unique_identifier']}-my model.luml"
    )
    assert art["status"] == "pending_upload" and art["created_by_user"] == "default"
    assert TIME.fullmatch(art["created_at"]) and art["updated_at"] is None
    details = data["upload_details"]
    assert list(details) == ["type", "url", "multipart", "bucket_location", "bucket_secret_id"]
    assert details["type"] == "s3" and details["multipart"] is False
    assert details["bucket_location"] == art["bucket_location"]
    assert details["bucket_secret_id"] == _orbit(arts)["bucket_secret_id"]
    key = "my%20model.luml"
    assert details["url"].startswith(f"{arts.server.url}/dataforce-local/orbit-{arts.orbit}/")
    assert re.search(
        key + r"\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=[A-Z0-9]+%2F\d{8}%2F"
        r"us-east-1%2Fs3%2Faws4_request&X-Amz-Date=\d{8}T\d{6}Z&X-Amz-Expires=43200"
        r"&X-Amz-SignedHeaders=host&X-Amz-Signature=[0-9a-f]{64}$",
        details["url"],
    )


def test_create_over_500_mib_is_multipart(arts: Arts) -> None:
    cid = arts.collection()
    single = arts.create(cid, size=524_288_000)["upload_details"]
    multi = arts.create(cid, size=524_288_001)["upload_details"]
    assert single["multipart"] is False and "uploads" not in single["url"]
    assert multi["multipart"] is True
    assert "?uploads=&X-Amz-Algorithm=AWS4-HMAC-SHA256&" in multi["url"]
    assert arts.post(cid, body(size=5_497_558_138_880)).status_code == 200


def test_azure_upload_details(arts: Arts) -> None:
    arts.server.set_storage_flavour(arts.orbit, "azure")
    cid = arts.collection()
    single = arts.create(cid)["upload_details"]
    multi = arts.create(cid, size=600 * 1024**2)["upload_details"]
    assert single["type"] == "azure" and single["multipart"] is False
    assert single["url"].startswith(f"{arts.server.url}/devstoreaccount1/dataforce-local/orbit-")
    assert re.search(r"\?se=[0-9T%A-F-]+Z&sp=cw&sv=2025-11-05&sr=b&sig=[^&]+$", single["url"])
    assert (multi["type"], multi["url"], multi["multipart"]) == ("azure", None, True)


def test_type_comes_from_the_manifest(arts: Arts) -> None:
    cid = arts.collection("mixed")
    for kind in ("model", "dataset", "experiment"):
        assert arts.make(cid, artifact_type=kind)["type"] == kind
    legacy = arts.make(cid, manifest=LEGACY_MANIFEST, file_index=FNNX_INDEX)
    assert legacy["type"] == "model"
    assert legacy["manifest"]["inputs"] == [] and "artifact_type" not in legacy["manifest"]
    manifest = {k: v for k, v in body()["manifest"].items() if k != "artifact_type"}
    by_name = arts.make(cid, manifest={**manifest, "type": "dataset"})
    assert by_name["type"] == "dataset" and by_name["manifest"]["artifact_type"] == "dataset"
    both = arts.make(cid, manifest={**body()["manifest"], "type": "dataset"})
    assert both["type"] == "model"  # the alias wins


@pytest.mark.parametrize(
    ("over", "text"),
    [
        ({"artifact_type": "Model"}, "Unsupported LUML Artifact type."),
        ({"artifact_type": "mixed"}, "Unsupported LUML Artifact type."),
        ({"manifest": LEGACY_MANIFEST}, "Could not define artifact type."),
        (
            {"manifest": LEGACY_MANIFEST, "file_index": {n: [0, 1] for n in list(FNNX_INDEX)[1:]}},
            "Could not define artifact type.",
        ),
        ({"type": "dataset"}, "Artifact's real type does not match the type you specified."),
    ],
)
def test_type_errors(arts: Arts, over: dict[str, object], text: str) -> None:
    cid = arts.collection("mixed")
    r = arts.post(cid, body(**over))
    assert (r.status_code, r.json()) == (400, {"detail": text})
    assert arts.server.artifact_rows(cid) == []


@pytest.mark.parametrize(
    ("collection_type", "admits"),
    [
        ("model", {"model"}),
        ("dataset", {"dataset"}),
        ("experiment", {"experiment"}),
        ("model_dataset", {"model", "dataset"}),
        ("dataset_experiment", {"dataset", "experiment"}),
        ("model_experiment", {"model", "experiment"}),
        ("mixed", {"model", "dataset", "experiment"}),
    ],
)
def test_collection_type_compatibility(arts: Arts, collection_type: str, admits: set[str]) -> None:
    cid = arts.collection(collection_type)
    for kind in ("model", "dataset", "experiment"):
        r = arts.post(cid, body(artifact_type=kind, type=kind))
        if kind in admits:
            assert r.status_code == 200, r.text
        else:
            assert r.status_code == 400
            assert r.json() == {"detail": "Artifact type is not allowed for this collection type"}


@pytest.mark.parametrize("name", [None, "omitted"])
def test_missing_name_is_plain_500_and_creates_nothing(arts: Arts, name: str | None) -> None:
    cid = arts.collection()
    payload = body(name=name)
    if name == "omitted":
        del payload["name"]
    r = arts.post(cid, payload)
    assert (r.status_code, r.text) == (500, "Internal Server Error")
    assert r.headers["content-type"].startswith("text/plain")
    assert arts.server.artifact_rows(cid) == []
    assert arts.make(cid, name="")["name"] == ""


@pytest.mark.parametrize(
    ("size", "what"), [(10, "upload URL"), (600 * 1024**2, "initiate URL")]
)
def test_dot_segment_file_name_fails_presigning_after_the_insert(
    arts: Arts, size: int, what: str
) -> None:
    cid = arts.collection()
    r = arts.post(cid, body(file_name="a/../b.luml", size=size))
    msg = f"Failed to generate {what}: object name with '.' or '..' path segment is not supported"
    assert (r.status_code, r.json()) == (400, {"detail": msg})
    rows = arts.server.artifact_rows(cid)
    assert [row["status"] for row in rows] == ["pending_upload"]
    assert arts.get_collection(cid)["total_artifacts"] == 1
    assert arts.post(cid, body(file_name="../b.luml")).status_code == 200  # "<hex>-.." is no dot


def test_create_404s(arts: Arts, server: LocalServer) -> None:
    cid = arts.collection()
    other_orbit = server.add_orbit(arts.org, "other")
    foreign = Arts(server, arts.session, arts.org, other_orbit).collection()
    r = arts.post(foreign, body())
    assert (r.status_code, r.json()) == (404, {"detail": "Collection not found"})
    r = arts.post("0" * 32, body())
    assert (r.status_code, r.json()) == (404, {"detail": "Collection not found"})
    wrong_org = Arts(server, arts.session, arts.org, server.orbit_id)
    r = wrong_org.post(cid, body())
    assert (r.status_code, r.json()) == (404, {"detail": "Orbit not found"})


def test_get_on_collection_artifacts_is_405(arts: Arts) -> None:
    cid = arts.collection()
    r = arts.session.get(f"{arts.base}/collections/{cid}/artifacts")
    assert (r.status_code, r.json()) == (405, {"detail": "Method Not Allowed"})
    assert r.headers["allow"] == "POST"


# -- update -------------------------------------------------------------------------------------


def test_patch_is_partial(arts: Arts) -> None:
    cid = arts.collection()
    art = arts.make(cid, description="d", tags=["a"])
    r = arts.patch(cid, art["id"], {"name": "renamed", "file_name": "x.luml", "size": 1})
    assert r.status_code == 200
    got = r.json()
    assert list(got) == ARTIFACT_KEYS
    assert (got["name"], got["description"], got["tags"]) == ("renamed", "d", ["a"])
    assert (got["file_name"], got["size"]) == ("model.luml", 10)
    assert TIME.fullmatch(got["updated_at"])
    again = arts.patch(cid, art["id"], {"name": "renamed", "tags": ["a"]}).json()
    assert again["updated_at"] == got["updated_at"]  # nothing changed
    cleared = arts.patch(cid, art["id"], {"description": None, "tags": None}).json()
    assert (cleared["description"], cleared["tags"], cleared["name"]) == (None, None, "renamed")
    assert arts.patch(cid, art["id"], {}).json() == cleared


@pytest.mark.parametrize("field", ["name", "status"])
def test_patch_explicit_null_name_or_status_is_500(arts: Arts, field: str) -> None:
    cid = arts.collection()
    art = arts.make(cid)
    r = arts.patch(cid, art["id"], {field: None})
    assert (r.status_code, r.text) == (500, "Internal Server Error")
    assert arts.get(cid, art["id"]).json()[field] is not None


def _to_status(arts: Arts, cid: str, aid: str, status: str) -> None:
    path = {
        "pending_upload": [],
        "uploaded": [("patch", "uploaded")],
        "upload_failed": [("patch", "upload_failed")],
        "pending_deletion": [("delete-url", "")],
        "deletion_failed": [("delete-url", ""), ("patch", "deletion_failed")],
    }[status]
    for step, value in path:
        if step == "patch":
            assert arts.patch(cid, aid, {"status": value}).status_code == 200
        else:
            assert arts.get(cid, aid, "/delete-url").status_code == 200
    assert arts.get(cid, aid).json()["status"] == status


ALLOWED = {
    ("pending_upload", "uploaded"),
    ("pending_upload", "upload_failed"),
    ("pending_deletion", "deletion_failed"),
}


@pytest.mark.parametrize(
    "start", ["pending_upload", "uploaded", "upload_failed", "pending_deletion", "deletion_failed"]
)
def test_status_transitions(arts: Arts, start: str) -> None:
    cid = arts.collection()
    for target in ("uploaded", "upload_failed", "deletion_failed"):
        aid = arts.make(cid)["id"]
        _to_status(arts, cid, aid, start)
        r = arts.patch(cid, aid, {"status": target})
        if (start, target) in ALLOWED:
            assert r.status_code == 200 and r.json()["status"] == target
        else:
            text = f"Invalid status transition from {start} to {target}"
            assert (r.status_code, r.json()) == (400, {"detail": text})


def test_deletion_failed_can_get_a_new_delete_url(arts: Arts) -> None:
    cid = arts.collection()
    aid = arts.make(cid)["id"]
    _to_status(arts, cid, aid, "deletion_failed")
    assert arts.get(cid, aid, "/delete-url").status_code == 200
    assert arts.get(cid, aid).json()["status"] == "pending_deletion"
    assert arts.delete(cid, aid).status_code == 204


def test_patch_404s(arts: Arts) -> None:
    cid, other = arts.collection(), arts.collection()
    aid = arts.make(cid)["id"]
    r = arts.patch(other, aid, {"name": "x"})
    assert (r.status_code, r.json()) == (404, {"detail": "Artifact not found"})
    r = arts.patch(cid, "0" * 32, {"name": "x"})
    assert (r.status_code, r.json()) == (404, {"detail": "Artifact not found"})
    r = arts.patch("1" * 32, aid, {"name": "x"})
    assert (r.status_code, r.json()) == (404, {"detail": "Collection not found"})


# -- details, download and delete ---------------------------------------------------------------


def test_details_has_deployments_collection_and_tracks(arts: Arts, server: LocalServer) -> None:
    cid = arts.collection()
    art = arts.make(cid)
    plain = arts.get(cid, art["id"]).json()
    assert list(plain) == [*ARTIFACT_KEYS, "deployments", "collection", "tracks"]
    assert plain["deployments"] == [] and plain["tracks"] == []
    assert list(plain["collection"]) == [
        "id",
        "orbit_id",
        "description",
        "name",
        "type",
        "tags",
        "total_artifacts",
        "created_at",
        "updated_at",
    ]
    assert plain["collection"]["total_artifacts"] == 1
    failed = server.add_deployment(art["id"], name="old", status="failed")
    active = server.add_deployment(art["id"], name="live")
    first = server.add_track(art["id"], name="first")
    second = server.add_track(art["id"], name="second")
    got = arts.get(cid, art["id"]).json()
    assert [d["id"] for d in got["deployments"]] == [failed, active]
    dep = got["deployments"][1]
    assert dep["name"] == "live" and dep["status"] == "active" and dep["orbit_id"] == arts.orbit
    assert dep["artifact_id"] == dep["model_id"] == art["id"]
    assert dep["artifact_name"] == dep["model_artifact_name"] == "model"
    assert dep["collection_id"] == cid and "satellite_name" in dep and "env_variables" in dep
    assert [(t["id"], t["name"]) for t in got["tracks"]] == [(first, "first"), (second, "second")]
    assert set(got["tracks"][0]) == {"id", "name", "created_at", "updated_at"}
    listed = arts.list(collection_ids=cid).json()["items"][0]
    assert listed["deployments"] == [
        {"id": active, "name": "live", "status": "active", "orbit_id": arts.orbit}
    ]
    assert listed["collection_name"] == "c"
    assert list(listed) == [*ARTIFACT_KEYS, "deployments", "collection_name"]


def test_details_404s(arts: Arts) -> None:
    cid, other = arts.collection(), arts.collection()
    aid = arts.make(cid)["id"]
    for suffix in ("", "/download-url", "/delete-url"):
        r = arts.get(other, aid, suffix)
        assert (r.status_code, r.json()) == (404, {"detail": "Artifact not found"})
    r = arts.delete(other, aid)
    assert (r.status_code, r.json()) == (404, {"detail": "Artifact not found"})
    r = arts.delete(other, aid, "/force")
    assert (r.status_code, r.json()) == (404, {"detail": "Artifact not found"})
    assert arts.get(cid, aid).json()["status"] == "pending_upload"


def test_download_url_has_no_status_check(arts: Arts) -> None:
    cid = arts.collection()
    aid = arts.make(cid)["id"]
    for status in ("pending_upload", "pending_deletion"):
        if status == "pending_deletion":
            arts.get(cid, aid, "/delete-url")
        r = arts.get(cid, aid, "/download-url")
        assert r.status_code == 200 and list(r.json()) == ["url"]
        assert "X-Amz-SignedHeaders=host" in r.json()["url"]


def test_delete_url_sets_pending_deletion_from_any_status(arts: Arts) -> None:
    cid = arts.collection()
    for start in ("pending_upload", "uploaded", "upload_failed", "deletion_failed"):
        aid = arts.make(cid)["id"]
        _to_status(arts, cid, aid, start)
        r = arts.get(cid, aid, "/delete-url")
        assert r.status_code == 200 and list(r.json()) == ["url"]
        assert arts.get(cid, aid).json()["status"] == "pending_deletion"


def test_confirm_delete_needs_pending_deletion(arts: Arts) -> None:
    cid = arts.collection()
    for start in ("pending_upload", "uploaded", "upload_failed", "deletion_failed"):
        aid = arts.make(cid)["id"]
        _to_status(arts, cid, aid, start)
        r = arts.delete(cid, aid)
        text = f"Unable to confirm deletion with status '{start}'"
        assert (r.status_code, r.json()) == (400, {"detail": text})
    aid = arts.make(cid)["id"]
    arts.get(cid, aid, "/delete-url")
    r = arts.delete(cid, aid)
    assert (r.status_code, r.content) == (204, b"")
    assert arts.get(cid, aid).status_code == 404
    assert arts.delete(cid, aid).status_code == 404


TRACK_409 = (
    "Artifact is referenced by one or more tracks. Remove it from all tracks before deleting."
)


def test_deployments_and_tracks_block_deletion(arts: Arts, server: LocalServer) -> None:
    cid = arts.collection()
    aid = arts.make(cid)["id"]
    dep = server.add_deployment(aid, status="failed")
    r = arts.get(cid, aid, "/delete-url")
    detail = "Cannot delete artifact because it is used in deployments."
    assert (r.status_code, r.json()) == (409, {"detail": detail})
    assert arts.get(cid, aid).json()["status"] == "pending_upload"
    server.remove_deployment(dep)
    track = server.add_track(aid)
    blocked = [arts.get(cid, aid, "/delete-url"), arts.delete(cid, aid)]
    blocked.append(arts.delete(cid, aid, "/force"))
    for r in blocked:
        assert (r.status_code, r.json()) == (409, {"detail": TRACK_409})
    server.remove_from_track(track, aid)
    assert arts.get(cid, aid, "/delete-url").status_code == 200
    server.add_deployment(aid)  # made after delete-url: the confirm hits the foreign key
    r = arts.delete(cid, aid)
    assert (r.status_code, r.text) == (500, "Internal Server Error")
    assert arts.delete(cid, aid, "/force").status_code == 204
    assert arts.get(cid, aid).status_code == 404


def test_force_delete_any_status_drops_deployments(arts: Arts, server: LocalServer) -> None:
    cid = arts.collection()
    for start in ("pending_upload", "uploaded", "upload_failed", "pending_deletion"):
        aid = arts.make(cid)["id"]
        _to_status(arts, cid, aid, start)
        server.add_deployment(aid)
        assert arts.delete(cid, aid, "/force").status_code == 204
    assert server.artifact_rows(cid) == []
    assert arts.get_collection(cid)["total_artifacts"] == 0


# -- counters, collection deletion, quota ---------------------------------------------------------


def test_collection_counters_follow_artifacts(arts: Arts) -> None:
    cid, other = arts.collection(), arts.collection()
    a = arts.make(cid, tags=["b", "a"], extra_values={"f1": 1, "acc": 2})
    b = arts.make(cid, tags=["c"], extra_values={})
    arts.make(other, tags=["z"], extra_values={"loss": 0.1})
    got = arts.get_collection(cid)
    assert got["total_artifacts"] == 2
    assert got["artifacts_tags"] == ["a", "b", "c"]
    assert got["artifacts_extra_values"] == ["acc", "f1"]
    assert _orbit(arts)["total_artifacts"] == 3
    arts.patch(cid, b["id"], {"tags": ["d"]})
    assert arts.get_collection(cid)["artifacts_tags"] == ["a", "b", "d"]
    assert arts.delete(cid, a["id"], "/force").status_code == 204
    got = arts.get_collection(cid)
    assert (got["total_artifacts"], got["artifacts_tags"], got["artifacts_extra_values"]) == (
        1,
        ["d"],
        [],
    )
    listed = arts.session.get(arts.base + "/collections").json()["items"]
    assert {c["id"]: c["total_artifacts"] for c in listed} == {cid: 1, other: 1}


def test_collection_with_artifacts_cannot_be_deleted(arts: Arts) -> None:
    cid = arts.collection()
    aid = arts.make(cid)["id"]
    r = arts.session.delete(f"{arts.base}/collections/{cid}")
    detail = "Collection has artifacts and cant be deleted"
    assert (r.status_code, r.json()) == (409, {"detail": detail})
    arts.delete(cid, aid, "/force")
    assert arts.session.delete(f"{arts.base}/collections/{cid}").status_code == 204


def test_quota_counts_every_status_and_orbit(arts: Arts, server: LocalServer) -> None:
    server.set_artifacts_limit(arts.org, 3)
    cid = arts.collection("mixed")
    second = Arts(server, arts.session, arts.org, server.add_orbit(arts.org, "second"))
    other_cid = second.collection()
    first = arts.make(cid)["id"]
    arts.patch(cid, first, {"status": "upload_failed"})
    arts.make(cid)
    second.make(other_cid)
    r = arts.post(cid, body())
    detail = "Organization reached maximum number of artifacts"
    assert (r.status_code, r.json()) == (409, {"detail": detail})
    assert arts.post(cid, body(artifact_type="unknown")).status_code == 400  # type checks first
    assert len(server.artifact_rows(cid)) == 2
    arts.delete(cid, first, "/force")
    assert arts.post(cid, body()).status_code == 200
    assert arts.post(cid, body()).status_code == 409


def test_default_quota_is_50(arts: Arts, server: LocalServer) -> None:
    cid, pretend = arts.collection(), arts.collection()
    server.set_artifact_count(pretend, 49)  # pretend counts count towards the quota
    assert arts.post(cid, body()).status_code == 200
    assert arts.post(cid, body()).status_code == 409
    server.set_artifact_count(pretend, 0)
    assert arts.post(cid, body()).status_code == 200


# -- permissions --------------------------------------------------------------------------------


def _statuses(client: Arts, cid: str, aid: str) -> dict[str, int]:
    return {
        "create": client.post(cid, body()).status_code,
        "list": client.list().status_code,
        "read": client.get(cid, aid).status_code,
        "download": client.get(cid, aid, "/download-url").status_code,
        "update": client.patch(cid, aid, {"description": "x"}).status_code,
        "delete-url": client.get(cid, aid, "/delete-url").status_code,
        "confirm": client.delete(cid, aid).status_code,
        "force": client.delete(cid, aid, "/force").status_code,
    }


def test_orbit_member_cannot_delete(arts: Arts, server: LocalServer) -> None:
    cid = arts.collection()
    aid = arts.make(cid)["id"]
    user = server.add_user("orbit-member")
    server.add_member(arts.org, user.id)
    server.add_orbit_member(arts.orbit, user.id, "member")
    got = _statuses(arts.as_user(user.api_key), cid, aid)
    assert got == {
        "create": 200,
        "list": 200,
        "read": 200,
        "download": 200,
        "update": 200,
        "delete-url": 403,
        "confirm": 403,
        "force": 403,
    }
    created = [a for a in server.artifact_rows(cid) if a["created_by_user"] == "orbit-member"]
    assert len(created) == 1


def test_orbit_admin_and_org_admin_may_delete(arts: Arts, server: LocalServer) -> None:
    cid = arts.collection()
    for org_role, orbit_role in (("member", "admin"), ("admin", None)):
        aid = arts.make(cid)["id"]
        user = server.add_user(f"{org_role}-{orbit_role}")
        server.add_member(arts.org, user.id, org_role)
        if orbit_role is not None:
            server.add_orbit_member(arts.orbit, user.id, orbit_role)
        client = arts.as_user(user.api_key)
        assert client.get(cid, aid, "/delete-url").status_code == 200
        assert client.delete(cid, aid).status_code == 204


def test_strangers_and_roleless_members_get_403(arts: Arts, server: LocalServer) -> None:
    cid = arts.collection()
    aid = arts.make(cid)["id"]
    stranger = arts.as_user(server.add_user("stranger").api_key)
    assert set(_statuses(stranger, cid, aid).values()) == {403}
    member = server.add_user("roleless")
    server.add_member(arts.org, member.id)
    assert set(_statuses(arts.as_user(member.api_key), cid, aid).values()) == {403}
    r = requests.get(arts.base + "/artifacts")
    assert (r.status_code, r.json()) == (401, {"detail": "Not authenticated"})


def test_422_before_403(arts: Arts, server: LocalServer) -> None:
    cid = arts.collection()
    stranger = arts.as_user(server.add_user("stranger").api_key)
    r = stranger.post(cid, {"file_name": "x"})
    assert r.status_code == 422
