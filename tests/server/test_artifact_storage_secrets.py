"""An orbit's artifact storage follows its bucket secret: type, own storage or external S3."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from artifacts_kit import Arts, body

from dataforce_orm.testing import LocalServer

AZURE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=bG9jYWwta2V5;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)


def _secret(arts: Arts, **fields: Any) -> str:
    """A bucket secret made through the API (as the owner)."""
    r = arts.session.post(
        f"{arts.server.url}/v1/organizations/{arts.org}/bucket-secrets", json=fields
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def _use(arts: Arts, secret: str) -> None:
    r = arts.session.patch(
        f"{arts.server.url}/v1/organizations/{arts.org}/orbits/{arts.orbit}",
        json={"bucket_secret_id": secret},
    )
    assert r.status_code == 200, r.text


def _s3(**over: Any) -> dict[str, Any]:
    return {
        "type": "s3",
        "endpoint": "s3.example.test:9000",
        "bucket_name": "models",
        "region": "eu-west-3",
        "secure": False,
        "access_key": "AKEXAMPLE",
        "secret_key": "SKEXAMPLE",
        **over,
    }


def test_an_api_made_azure_secret_gives_azure_shapes(arts: Arts) -> None:
    secret = _secret(arts, type="azure", endpoint=AZURE, bucket_name="container")
    _use(arts, secret)
    details = arts.create(arts.collection())["upload_details"]
    assert (details["type"], details["bucket_secret_id"]) == ("azure", secret)
    assert details["url"].startswith(f"{arts.server.url}/devstoreaccount1/")


def test_set_storage_flavour_switches_the_orbit_to_a_secret_of_that_type(
    arts: Arts, server: LocalServer
) -> None:
    before = arts.session.get(f"{arts.base}").json()["bucket_secret_id"]
    server.set_storage_flavour(arts.orbit, "azure")
    after = arts.session.get(f"{arts.base}").json()["bucket_secret_id"]
    row = server.bucket_secret_row(after)
    assert after != before and row is not None and row["type"] == "azure"
    details = arts.create(arts.collection())["upload_details"]
    assert (details["type"], details["bucket_secret_id"]) == ("azure", after)
    server.set_storage_flavour(arts.orbit, "s3")
    details = arts.create(arts.collection(name="c2"))["upload_details"]
    assert details["type"] == "s3" and details["url"].startswith(server.url + "/dataforce-local/")


def test_an_s3_secret_at_the_servers_own_address_is_own_storage(arts: Arts) -> None:
    host_port = arts.server.url.split("://", 1)[1]
    _use(arts, _secret(arts, **_s3(endpoint=f"http://{host_port}")))
    url = arts.create(arts.collection())["upload_details"]["url"]
    assert url.startswith(arts.server.url + "/dataforce-local/")


def test_an_external_s3_secret_gets_urls_signed_for_it(arts: Arts) -> None:
    secret = _secret(arts, **_s3())
    _use(arts, secret)
    cid = arts.collection()
    created = arts.create(cid)
    details, art = created["upload_details"], created["artifact"]
    assert details["bucket_secret_id"] == secret
    key = art["bucket_location"]
    url = urlsplit(details["url"])
    assert (url.scheme, url.netloc, url.path) == ("http", "s3.example.test:9000", f"/models/{key}")
    query = parse_qsl(url.query)
    assert [k for k, _ in query] == [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
    ]
    params = dict(query)
    assert re.fullmatch(r"AKEXAMPLE/\d{8}/eu-west-3/s3/aws4_request", params["X-Amz-Credential"])
    assert (params["X-Amz-Expires"], params["X-Amz-SignedHeaders"]) == ("43200", "host")
    for suffix in ("/download-url", "/delete-url"):
        got = urlsplit(arts.get(cid, art["id"], suffix).json()["url"])
        assert (got.netloc, got.path) == ("s3.example.test:9000", f"/models/{key}")
    multi = arts.create(cid, size=600 * 1024**2)["upload_details"]
    assert multi["url"].startswith(f"http://s3.example.test:9000/models/{multi['bucket_location']}?uploads=&")
    payload = {
        "bucket_id": secret,
        "bucket_location": multi["bucket_location"],
        "size": 600 * 1024**2,
        "upload_id": "up-1",
    }
    r = arts.session.post(f"{arts.server.url}/v1/bucket-secrets/upload/multipart", json=payload)
    assert r.status_code == 200, r.text
    parts = r.json()["parts"]
    assert len(parts) == 19 and "partNumber=1&uploadId=up-1&X-Amz-" in parts[0]["url"]
    assert r.json()["complete_url"].startswith("http://s3.example.test:9000/models/")


def test_secure_or_unset_secure_means_https_and_no_keys_unsigned(arts: Arts) -> None:
    _use(arts, _secret(arts, **_s3(secure=None)))
    assert arts.create(arts.collection())["upload_details"]["url"].startswith("https://")
    keyless = _s3(bucket_name="public", secure=True)
    del keyless["access_key"], keyless["secret_key"]
    _use(arts, _secret(arts, **keyless))
    created = arts.create(arts.collection(name="c2"))
    key = created["artifact"]["bucket_location"]
    assert created["upload_details"]["url"] == f"https://s3.example.test:9000/public/{key}"


def test_a_server_made_secret_moved_elsewhere_is_external(arts: Arts, server: LocalServer) -> None:
    secret = arts.session.get(f"{arts.base}").json()["bucket_secret_id"]
    url = arts.create(arts.collection())["upload_details"]["url"]
    assert url.startswith(server.url)
    r = arts.session.patch(
        f"{server.url}/v1/organizations/{arts.org}/bucket-secrets/{secret}", json=_s3()
    )
    assert r.status_code == 200, r.text
    url = arts.create(arts.collection(name="c2"))["upload_details"]["url"]
    assert url.startswith("http://s3.example.test:9000/models/")


def test_multipart_route_needs_no_orbit_using_the_secret(arts: Arts) -> None:
    secret = _secret(arts, type="azure", endpoint=AZURE, bucket_name="unused")
    payload = {"bucket_id": secret, "bucket_location": "some/key", "size": 100}
    r = arts.session.post(f"{arts.server.url}/v1/bucket-secrets/upload/multipart", json=payload)
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "azure"


def test_the_default_secret_stays_own_storage_in_a_reopened_database(tmp_path: Any) -> None:
    db = str(tmp_path / "state.sqlite3")
    for _ in range(2):  # the second server has another port: the mark, not the port, decides
        with LocalServer(db_path=db) as srv:
            r = requests.post(
                f"{srv.url}/v1/organizations/{srv.organization_id}/orbits/{srv.orbit_id}"
                "/collections",
                json={"name": f"c-{srv.port}", "description": "", "type": "model"},
                headers={"Authorization": f"Bearer {srv.api_key}"},
            )
            assert r.status_code == 200, r.text
            r = requests.post(
                f"{srv.url}/v1/organizations/{srv.organization_id}/orbits/{srv.orbit_id}"
                f"/collections/{r.json()['id']}/artifacts",
                json=body(),
                headers={"Authorization": f"Bearer {srv.api_key}"},
            )
            assert r.status_code == 200, r.text
            assert r.json()["upload_details"]["url"].startswith(srv.url + "/dataforce-local/")
        srv.close()
