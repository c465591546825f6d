"""Contract 3.5: the bucket-secret connection test, for new settings and for a stored secret."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from dfserver_helpers import session_for

from dataforce_orm.testing import LocalServer

URL_KEYS = ["presigned_url", "download_url", "delete_url"]


def _urls(server: LocalServer) -> str:
    return f"{server.url}/v1/bucket-secrets/urls"


def _s3(**over: Any) -> dict[str, Any]:
    return {
        "type": "s3",
        "endpoint": "s3.example.test:9000",
        "bucket_name": "bkt",
        "region": "eu-west-1",
        "access_key": "AKNEW",
        "secret_key": "SKNEW",
        **over,
    }


def _round_trip(urls: dict[str, str]) -> tuple[int, int, bytes, int]:
    put = requests.put(
        urls["presigned_url"], data=b"connection test", headers={"x-ms-blob-type": "BlockBlob"}
    )
    got = requests.get(urls["download_url"], headers={"Range": "bytes=0-9"})
    gone = requests.delete(urls["delete_url"])
    return put.status_code, got.status_code, got.content, gone.status_code


def test_new_settings_are_signed_and_nothing_is_stored(
    server: LocalServer, session: requests.Session
) -> None:
    before = server.bucket_secret_row(server.bucket_secret_id)
    r = session.post(_urls(server), json=_s3())
    assert r.status_code == 200 and list(r.json()) == URL_KEYS
    for url, method in zip(r.json().values(), ("PUT", "GET", "DELETE"), strict=True):
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        assert (parts.scheme, parts.netloc, parts.path) == (
            "https",
            "s3.example.test:9000",
            "/bkt/test_file",
        ), method
        assert query["X-Amz-Credential"][0].startswith("AKNEW/")
        assert "/eu-west-1/s3/aws4_request" in query["X-Amz-Credential"][0]
    assert server.bucket_secret_row(server.bucket_secret_id) == before


@pytest.mark.parametrize("kind", ["s3", "azure"])
def test_urls_of_the_servers_own_storage_work(
    server: LocalServer, session: requests.Session, kind: str
) -> None:
    body = (
        _s3(endpoint=server.url, secure=False)
        if kind == "s3"
        else {"type": "azure", "endpoint": "UseDevelopmentStorage=true", "bucket_name": "c"}
    )
    r = session.post(_urls(server), json=body)
    assert r.status_code == 200, r.text
    assert _round_trip(r.json()) == (
        201 if kind == "azure" else 200,
        206,
        b"connection",
        202 if kind == "azure" else 204,
    )


def test_a_signed_in_principal_is_needed_but_no_rights(
    server: LocalServer, session: requests.Session
) -> None:
    anonymous = requests.post(_urls(server), json=_s3())
    assert (anonymous.status_code, anonymous.json()) == (401, {"detail": "Not authenticated"})
    nobody = session_for(server.add_user("outsider").api_key)
    assert nobody.post(_urls(server), json=_s3()).status_code == 200
    member = server.add_user("org member")
    server.add_member(server.organization_id, member.id, "member")  # no BUCKET_SECRET READ
    assert session_for(member.api_key).post(_urls(server), json=_s3()).status_code == 200
    missing = session.post(_urls(server), json={"type": "s3", "endpoint": "e", "region": "r"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "s3", "bucket_name"]


@pytest.fixture
def stored(server: LocalServer) -> tuple[str, str]:
    """(organization, external S3 secret with keys AKOLD/SKOLD)."""
    org = server.add_organization("urls", owner=server.user_id)
    secret = server.add_bucket_secret(
        org,
        endpoint="s3.example.test",
        bucket_name="old",
        access_key="AKOLD",
        secret_key="SKOLD",
        region="us-east-2",
    )
    return org, secret


def _stored_urls(server: LocalServer, org: str, secret: str) -> str:
    return f"{server.url}/v1/organizations/{org}/bucket-secrets/{secret}/urls"


def test_a_stored_secret_merged_with_changes_keeps_its_keys(
    server: LocalServer, session: requests.Session, stored: tuple[str, str]
) -> None:
    org, secret = stored
    url = _stored_urls(server, org, secret)
    alone = session.post(url, json={"id": secret})
    assert alone.status_code == 200 and list(alone.json()) == URL_KEYS
    upload = urlsplit(alone.json()["presigned_url"])
    assert (upload.netloc, upload.path) == ("s3.example.test", "/old/test_file")
    assert parse_qs(upload.query)["X-Amz-Credential"][0].startswith("AKOLD/")
    changed = session.post(url, json={"id": secret, "bucket_name": "new"}).json()
    upload = urlsplit(changed["presigned_url"])
    assert upload.path == "/new/test_file"
    assert parse_qs(upload.query)["X-Amz-Credential"][0].startswith("AKOLD/")
    rotated = session.post(url, json={"id": secret, "access_key": "AKNEW"}).json()
    assert parse_qs(urlsplit(rotated["delete_url"]).query)["X-Amz-Credential"][0].startswith(
        "AKNEW/"
    )
    row = server.bucket_secret_row(secret)
    assert row is not None and (row["bucket_name"], row["access_key"]) == ("old", "AKOLD")


def test_the_default_secret_signs_for_the_servers_own_storage(
    server: LocalServer, session: requests.Session
) -> None:
    r = session.post(
        _stored_urls(server, server.organization_id, server.bucket_secret_id),
        json={"id": server.bucket_secret_id},
    )
    assert r.status_code == 200
    assert _round_trip(r.json()) == (200, 206, b"connection", 204)


def test_stored_secret_refusals(
    server: LocalServer, session: requests.Session, stored: tuple[str, str]
) -> None:
    org, secret = stored
    url = _stored_urls(server, org, secret)
    other = server.add_bucket_secret(org)
    for body, status, text in (
        ({"id": other}, 400, "Secret id does not match the path"),
        ({"id": secret, "type": "azure"}, 400, "Bucket type cannot be changed"),
    ):
        r = session.post(url, json=body)
        assert (r.status_code, r.json()) == (status, {"detail": text})
    unknown = session.post(_stored_urls(server, org, org), json={"id": org})
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Secret not found"})
    no_id = session.post(url, json={"bucket_name": "x"})
    assert no_id.status_code == 422
    assert [(e["type"], e["loc"]) for e in no_id.json()["detail"]] == [("missing", ["body", "id"])]
    member = server.add_user("member")
    server.add_member(org, member.id, "member")
    r = session_for(member.api_key).post(url, json={"id": secret})
    assert (r.status_code, r.json()) == (403, {"detail": "Not enough rights"})
