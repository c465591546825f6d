"""Bucket secrets (artifacts contract 6.1, 6.2): /v1/organizations/{org}/bucket-secrets."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import requests
from dforg_helpers import Org
from dfserver_helpers import detail_422, session_for

from dataforce_orm.testing import LocalServer

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
S3_FIELDS = ["id", "type", "endpoint", "bucket_name", "secure", "region", "cert_check", "orbits",
             "organization_id", "created_at", "updated_at"]
AZURE_FIELDS = ["id", "type", "endpoint", "bucket_name", "organization_id", "created_at",
                "updated_at", "orbits"]
KEYS = ("access_key", "secret_key", "session_token")
AZURE = ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=c2VjcmV0;"
         "EndpointSuffix=core.windows.net")
DUPLICATE = "Bucket secret with the given bucket name and endpoint already exists."
TAGS = "<BucketType.S3: 's3'>, <BucketType.AZURE: 'azure'>"
UNKNOWN = "01a2194c-674c-7271-9c14-74a55ae307ab"


def s3(**fields: Any) -> dict[str, Any]:
    return {"type": "s3", "endpoint": "127.0.0.1:9000", "bucket_name": "b", "region": "us-east-1",
            **fields}


def create(org: Org, body: dict[str, Any]) -> dict[str, Any]:
    r = org.http.post(org.url("/bucket-secrets"), json=body)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


# -- create ----------------------------------------------------------------------------------


def test_create_s3_answers_200_and_never_returns_keys(org: Org) -> None:
    body = s3(endpoint="https://s3.local:9000", access_key="AK", secret_key="SK",
              session_token="TOK", secure=False, cert_check=True)
    r = org.http.post(org.url("/bucket-secrets"), json=body)
    assert r.status_code == 200 and "location" not in r.headers
    out = r.json()
    assert list(out) == S3_FIELDS
    assert not set(KEYS) & set(out) and "AK" not in r.text and "TOK" not in r.text
    assert (out["type"], out["endpoint"], out["bucket_name"], out["region"]) == (
        "s3", "s3.local:9000", "b", "us-east-1")
    assert (out["secure"], out["cert_check"], out["orbits"]) == (False, True, [])
    assert out["organization_id"] == org.id and out["updated_at"] is None
    assert TIMESTAMP.match(out["created_at"])
    row = org.server.bucket_secret_row(out["id"])
    assert row is not None and (row["access_key"], row["secret_key"], row["session_token"]) == (
        "AK", "SK", "TOK")


def test_scheme_prefix_stripped_without_touching_secure(org: Org) -> None:
    out = create(org, s3(endpoint="http://minio:9000"))
    assert (out["endpoint"], out["secure"], out["cert_check"]) == ("minio:9000", None, None)
    assert create(org, s3(endpoint="http://https://x:1"))["endpoint"] == "x:1"
    assert create(org, s3(endpoint="", bucket_name="empty"))["endpoint"] == ""


def test_lax_booleans_and_empty_region_accepted(org: Org) -> None:
    out = create(org, s3(secure="yes", cert_check=0, region=""))
    assert (out["secure"], out["cert_check"], out["region"]) == (True, False, "")


def test_create_azure_returns_the_connection_string(org: Org) -> None:
    r = org.http.post(org.url("/bucket-secrets"),
                      json={"type": "azure", "endpoint": AZURE, "bucket_name": "container",
                            "access_key": "ignored", "region": "ignored", "secure": "junk"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert list(out) == AZURE_FIELDS
    assert (out["type"], out["endpoint"], out["bucket_name"]) == ("azure", AZURE, "container")
    row = org.server.bucket_secret_row(out["id"])
    assert row is not None and row["access_key"] is None and row["region"] is None
    # the scheme is stripped only from S3 endpoints
    assert create(org, {"type": "azure", "endpoint": "https://acct",
                        "bucket_name": "c"})["endpoint"] == "https://acct"


def test_duplicate_endpoint_and_bucket_is_409(org: Org, server: LocalServer) -> None:
    create(org, s3())
    for body in (s3(), s3(endpoint="https://127.0.0.1:9000", access_key="other")):
        r = org.http.post(org.url("/bucket-secrets"), json=body)
        assert (r.status_code, r.json()) == (409, {"detail": DUPLICATE})
    create(org, s3(bucket_name="b2"))
    create(org, s3(endpoint="127.0.0.1:9001"))
    other = server.add_organization("Other", owner=org.owner.id)  # unique per organization
    r = org.http.post(f"{server.url}/v1/organizations/{other}/bucket-secrets", json=s3())
    assert r.status_code == 200


# -- read ------------------------------------------------------------------------------------


def test_list_is_a_bare_array_with_the_orbits_using_each_secret(org: Org) -> None:
    assert org.http.get(org.url("/bucket-secrets")).json() == []
    first = create(org, s3(access_key="AK"))
    second = create(org, {"type": "azure", "endpoint": AZURE, "bucket_name": "c"})
    orbit = org.server.add_orbit(org.id, "uses-first", first["id"])
    r = org.http.get(org.url("/bucket-secrets"))
    assert r.status_code == 200 and "AK" not in r.text
    listed = r.json()
    assert [s["id"] for s in listed] == [first["id"], second["id"]]
    assert [list(s) for s in listed] == [S3_FIELDS, AZURE_FIELDS]
    (used,) = listed[0]["orbits"]
    assert list(used) == ["id", "name", "created_at", "updated_at"]
    assert (used["id"], used["name"], used["updated_at"]) == (orbit, "uses-first", None)
    assert listed[1]["orbits"] == []
    one = org.http.get(org.url(f"/bucket-secrets/{first['id']}"))
    assert one.status_code == 200 and one.json() == listed[0]


def test_unknown_or_foreign_secret_is_404(org: Org, server: LocalServer) -> None:
    foreign = server.bucket_secret_id  # the default organization's
    for sid in (UNKNOWN, foreign):
        url = org.url(f"/bucket-secrets/{sid}")
        for r in (org.http.get(url), org.http.patch(url, json=s3()), org.http.delete(url)):
            assert (r.status_code, r.json()) == (404, {"detail": "Secret not found"})
    assert server.bucket_secret_row(foreign) is not None


# -- validation ------------------------------------------------------------------------------


def test_type_is_the_discriminator(org: Org) -> None:
    url = org.url("/bucket-secrets")
    body = {"endpoint": "e", "bucket_name": "b", "region": "r"}
    assert detail_422(org.http.post(url, json=body)) == [
        {"type": "union_tag_not_found", "loc": ["body"],
         "msg": "Unable to extract tag using discriminator 'type'", "input": body,
         "ctx": {"discriminator": "'type'"}}]
    for tag, shown in (("gcs", "gcs"), ("S3", "S3"), (None, "None"), (5, "5"), (True, "True")):
        bad = {**body, "type": tag}
        assert detail_422(org.http.post(url, json=bad)) == [
            {"type": "union_tag_invalid", "loc": ["body"],
             "msg": f"Input tag '{shown}' found using 'type' does not match any of the expected"
                    f" tags: {TAGS}",
             "input": bad, "ctx": {"discriminator": "'type'", "tag": shown,
                                   "expected_tags": TAGS}}]


def test_member_errors_are_located_under_the_tag(org: Org) -> None:
    url = org.url("/bucket-secrets")
    assert detail_422(org.http.post(url, json={"type": "s3"})) == [
        {"type": "missing", "loc": ["body", "s3", f], "msg": "Field required",
         "input": {"type": "s3"}} for f in ("endpoint", "bucket_name", "region")]
    assert [e["loc"] for e in detail_422(org.http.post(url, json={"type": "azure"}))] == [
        ["body", "azure", "endpoint"], ["body", "azure", "bucket_name"]]
    bad = s3(endpoint=5, access_key=1, secure="maybe", region=None, cert_check=[])
    assert detail_422(org.http.post(url, json=bad)) == [
        {"type": "string_type", "loc": ["body", "s3", "endpoint"],
         "msg": "Input should be a valid string", "input": 5},
        {"type": "string_type", "loc": ["body", "s3", "access_key"],
         "msg": "Input should be a valid string", "input": 1},
        {"type": "bool_parsing", "loc": ["body", "s3", "secure"],
         "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe"},
        {"type": "string_type", "loc": ["body", "s3", "region"],
         "msg": "Input should be a valid string", "input": None},
        {"type": "bool_type", "loc": ["body", "s3", "cert_check"],
         "msg": "Input should be a valid boolean", "input": []}]


def test_body_shape_and_path_errors(org: Org) -> None:
    url = org.url("/bucket-secrets")
    assert detail_422(org.http.post(url)) == [
        {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    assert detail_422(org.http.post(url, json=["s3"]))[0]["type"] == "model_attributes_type"
    assert detail_422(org.http.patch(f"{url}/{org.server.bucket_secret_id}", json="x"))[0][
        "type"] == "model_attributes_type"
    (err,) = detail_422(org.http.get(f"{url}/not-a-uuid"))
    assert (err["type"], err["loc"]) == ("uuid_parsing", ["path", "secret_id"])
    assert org.server.bucket_secret_row(org.server.bucket_secret_id) is not None


# -- update ----------------------------------------------------------------------------------


def test_patch_with_the_full_secret_answers_200(org: Org) -> None:
    made = create(org, s3(access_key="AK", secret_key="SK", secure=True))
    org.server.add_orbit(org.id, "user", made["id"])
    r = org.http.patch(org.url(f"/bucket-secrets/{made['id']}"),
                       json=s3(endpoint="https://new:9000", access_key="AK2", secret_key="SK2",
                               secure=False, cert_check=False))
    assert r.status_code == 200, r.text
    out = r.json()
    assert list(out) == S3_FIELDS and "AK2" not in r.text
    assert (out["endpoint"], out["secure"], out["cert_check"]) == ("new:9000", False, False)
    assert TIMESTAMP.match(out["updated_at"]) and out["created_at"] == made["created_at"]
    # the platform answers from the updated record: orbits are not loaded there
    assert out["orbits"] == []
    got = org.http.get(org.url(f"/bucket-secrets/{made['id']}")).json()
    assert len(got["orbits"]) == 1 and {**got, "orbits": []} == out
    row = org.server.bucket_secret_row(made["id"])
    assert row is not None and (row["access_key"], row["secret_key"]) == ("AK2", "SK2")


def test_patch_is_not_partial_omitted_keys_are_wiped(org: Org) -> None:
    made = create(org, s3(access_key="AK", secret_key="SK", session_token="T", secure=False,
                          cert_check=False))
    r = org.http.patch(org.url(f"/bucket-secrets/{made['id']}"),
                       json={"endpoint": "127.0.0.1:9000", "bucket_name": "b", "region": "r2"})
    assert r.status_code == 200, r.text
    assert (r.json()["region"], r.json()["secure"], r.json()["cert_check"]) == ("r2", None, None)
    row = org.server.bucket_secret_row(made["id"])
    assert row is not None and [row[k] for k in KEYS] == [None, None, None]


@pytest.mark.parametrize("omitted", ["endpoint", "bucket_name"])
def test_patch_without_endpoint_or_bucket_is_the_misleading_409(org: Org, omitted: str) -> None:
    made = create(org, s3(access_key="AK"))
    before = org.server.bucket_secret_row(made["id"])
    body = s3(access_key="AK")
    del body[omitted]
    r = org.http.patch(org.url(f"/bucket-secrets/{made['id']}"), json=body)
    assert (r.status_code, r.json()) == (409, {"detail": DUPLICATE})
    r = org.http.patch(org.url(f"/bucket-secrets/{made['id']}"), json={})
    assert (r.status_code, r.json()) == (409, {"detail": DUPLICATE})
    assert org.server.bucket_secret_row(made["id"]) == before  # nothing written


def test_patch_onto_another_secrets_endpoint_and_bucket_is_409(org: Org) -> None:
    create(org, s3(bucket_name="taken"))
    made = create(org, s3(bucket_name="mine"))
    r = org.http.patch(org.url(f"/bucket-secrets/{made['id']}"), json=s3(bucket_name="taken"))
    assert (r.status_code, r.json()) == (409, {"detail": DUPLICATE})


def test_patch_s3_without_region_writes_then_answers_500(org: Org) -> None:
    made = create(org, s3(access_key="AK"))
    url = org.url(f"/bucket-secrets/{made['id']}")
    r = org.http.patch(url, json={"endpoint": "e:1", "bucket_name": "b"})
    assert (r.status_code, r.text) == (500, "Internal Server Error")
    assert r.headers["content-type"].startswith("text/plain")
    row = org.server.bucket_secret_row(made["id"])
    assert row is not None and (row["endpoint"], row["region"], row["access_key"]) == (
        "e:1", None, None)
    # the stored secret can no longer be serialized: reading it (or the list) fails too
    assert org.http.get(url).status_code == 500
    assert org.http.get(org.url("/bucket-secrets")).status_code == 500
    assert org.http.patch(url, json=s3()).status_code == 200  # a full PATCH repairs it
    assert org.http.get(org.url("/bucket-secrets")).status_code == 200


def test_patch_azure_refuses_s3_only_fields(org: Org) -> None:
    made = create(org, {"type": "azure", "endpoint": AZURE, "bucket_name": "c"})
    url = org.url(f"/bucket-secrets/{made['id']}")
    for field in (*KEYS, "secure", "region", "cert_check"):
        r = org.http.patch(url, json={"endpoint": AZURE, "bucket_name": "c", field: None})
        assert (r.status_code, r.json()) == (
            400, {"detail": f"Fields ['{field}'] cannot be set for Azure bucket secrets"})
    r = org.http.patch(url, json={"type": "azure", "endpoint": AZURE, "bucket_name": "c",
                                  "secure": True, "access_key": "k", "region": "r"})
    assert (r.status_code, r.json()) == (400, {
        "detail": "Fields ['access_key', 'region', 'secure'] cannot be set for Azure bucket"
                  " secrets"})
    r = org.http.patch(url, json={"endpoint": AZURE + ";x=1", "bucket_name": "c2", "type": "s3"})
    assert r.status_code == 200 and list(r.json()) == AZURE_FIELDS
    assert (r.json()["type"], r.json()["bucket_name"]) == ("azure", "c2")  # type is ignored
    r = org.http.patch(url, json={"bucket_name": "c2"})
    assert (r.status_code, r.json()) == (409, {"detail": DUPLICATE})


def test_patch_unchanged_keeps_updated_at_null(org: Org) -> None:
    made = create(org, s3())
    r = org.http.patch(org.url(f"/bucket-secrets/{made['id']}"), json=s3())
    assert r.status_code == 200 and r.json()["updated_at"] is None
    r = org.http.patch(org.url(f"/bucket-secrets/{made['id']}"), json=s3(access_key="k"))
    assert r.json()["updated_at"] is not None  # keys are re-encrypted: always a change


def test_patch_validation(org: Org) -> None:
    made = create(org, s3())
    url = org.url(f"/bucket-secrets/{made['id']}")
    assert detail_422(org.http.patch(url, json={**s3(), "type": "gcs", "secure": "x"})) == [
        {"type": "enum", "loc": ["body", "type"], "msg": "Input should be 's3' or 'azure'",
         "input": "gcs", "ctx": {"expected": "'s3' or 'azure'"}},
        {"type": "bool_parsing", "loc": ["body", "secure"],
         "msg": "Input should be a valid boolean, unable to interpret input", "input": "x"}]
    assert detail_422(org.http.patch(url)) == [
        {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]


# -- delete ----------------------------------------------------------------------------------


def test_delete_answers_204_unless_an_orbit_uses_the_secret(org: Org) -> None:
    made = create(org, s3())
    url = org.url(f"/bucket-secrets/{made['id']}")
    orbit = org.server.add_orbit(org.id, "user", made["id"])
    r = org.http.delete(url)
    assert (r.status_code, r.json()) == (
        409, {"detail": "Cannot delete bucket secret that is currently used by orbits"})
    assert org.http.delete(org.url(f"/orbits/{orbit}")).status_code == 204
    r = org.http.delete(url)
    assert (r.status_code, r.content) == (204, b"")
    assert org.http.get(url).status_code == 404
    assert org.server.bucket_secret_row(made["id"]) is None


# -- permissions -----------------------------------------------------------------------------


def _statuses(org: Org, s: requests.Session, sid: str) -> list[int]:
    url = org.url("/bucket-secrets")
    return [s.get(url).status_code, s.post(url, json=s3(bucket_name="new")).status_code,
            s.get(f"{url}/{sid}").status_code, s.patch(f"{url}/{sid}", json=s3()).status_code,
            s.delete(f"{url}/{sid}").status_code]


@pytest.mark.parametrize("role", ["member", None])
def test_org_members_and_strangers_get_403_even_for_the_list(org: Org, role: str | None) -> None:
    sid = create(org, s3())["id"]
    _, s = org.user(role)
    assert _statuses(org, s, sid) == [403] * 5
    assert s.get(org.url("/bucket-secrets")).json() == {"detail": "Not enough rights"}
    assert org.http.get(org.url(f"/bucket-secrets/{sid}")).status_code == 200


def test_org_admin_may_do_everything(org: Org) -> None:
    sid = create(org, s3())["id"]
    _, s = org.user("admin")
    assert _statuses(org, s, sid) == [200, 200, 200, 200, 204]


def test_unknown_organization_is_403_and_no_key_is_401(org: Org, server: LocalServer) -> None:
    r = org.http.get(f"{server.url}/v1/organizations/{UNKNOWN}/bucket-secrets")
    assert (r.status_code, r.json()) == (403, {"detail": "Not enough rights"})
    r = requests.get(org.url("/bucket-secrets"))
    assert (r.status_code, r.json()) == (401, {"detail": "Not authenticated"})


# -- the default world and the helpers -------------------------------------------------------


def test_default_orbit_is_bound_to_the_default_secret(server: LocalServer,
                                                      session: requests.Session) -> None:
    base = f"{server.url}/v1/organizations/{server.organization_id}"
    secret = session.get(f"{base}/bucket-secrets/{server.bucket_secret_id}").json()
    assert (secret["type"], secret["endpoint"], secret["bucket_name"], secret["region"],
            secret["secure"]) == ("s3", "127.0.0.1:9000", "default-bucket", "us-east-1", False)
    assert server.orbit_id in [o["id"] for o in secret["orbits"]]
    orbit = session.get(f"{base}/orbits/{server.orbit_id}").json()
    assert orbit["bucket_secret_id"] == server.bucket_secret_id
    row = server.bucket_secret_row(server.bucket_secret_id)
    assert row is not None and row["access_key"] and row["secret_key"]


def test_add_bucket_secret_helper(org: Org, server: LocalServer) -> None:
    sid = org.secret(endpoint="https://h:1", bucket_name="x", access_key="AK")
    row = server.bucket_secret_row(sid)
    assert row is not None and (row["type"], row["endpoint"], row["region"], row["access_key"]) \
        == ("s3", "h:1", "us-east-1", "AK")
    azure = server.bucket_secret_row(org.secret(type="azure"))
    assert azure is not None and "AccountName=" in azure["endpoint"]
    assert org.secret() != org.secret()  # fresh bucket names
    with pytest.raises(ValueError, match="already has"):
        org.secret(endpoint="h:1", bucket_name="x")
    for bad in ({"type": "gcs"}, {"colour": "red"}, {"type": "azure", "region": "r"}):
        with pytest.raises(ValueError):
            org.secret(**bad)
    with pytest.raises(KeyError):
        server.add_bucket_secret(UNKNOWN)
    assert server.bucket_secret_row(UNKNOWN) is None


def test_database_from_before_bucket_secrets_is_upgraded(tmp_path: Path) -> None:
    db = str(tmp_path / "old.sqlite")
    with LocalServer(db_path=db) as first:
        ids = (first.api_key, first.organization_id, first.orbit_id)
    if sqlite3.sqlite_version_info < (3, 35):
        pytest.skip("ALTER TABLE DROP COLUMN needs SQLite 3.35")
    old = sqlite3.connect(db)  # make it look like a database of the previous version
    with old:
        old.execute("DROP TABLE bucket_secrets")
        old.execute("DELETE FROM meta WHERE key = 'bucket_secret_id'")
        for limit in ("members", "orbits", "satellites", "artifacts"):
            old.execute(f"ALTER TABLE organizations DROP COLUMN {limit}_limit")
    old.close()
    with LocalServer(db_path=db) as second:
        assert (second.api_key, second.organization_id, second.orbit_id) == ids
        assert second.organization_limits(second.organization_id)["orbits"] == 1
        s = session_for(second.api_key)
        orbit = s.get(f"{second.url}/v1/organizations/{second.organization_id}/orbits/"
                      f"{second.orbit_id}").json()
        assert orbit["bucket_secret_id"] == second.bucket_secret_id
        listed = s.get(f"{second.url}/v1/organizations/{second.organization_id}/bucket-secrets")
        assert [x["id"] for x in listed.json()] == [second.bucket_secret_id]
        s.close()
