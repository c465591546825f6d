"""LocalServer against a real S3 implementation (moto): an orbit whose bucket secret points at
another S3 service gets URLs presigned for it, and those URLs work there end to end."""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from artifacts_kit import body, complete_xml, upload_id_of

from dataforce_orm.testing import LocalServer

MIB = 1024 * 1024
_counter = itertools.count()


@pytest.fixture(scope="module")
def ext_server() -> Iterator[LocalServer]:
    """Single PUTs up to 6 MiB, then multipart in the smallest parts S3 accepts (5 MiB)."""
    srv = LocalServer(multipart_threshold=6 * MIB, multipart_part_size=5 * MIB).start()
    yield srv
    srv.close()


class Ext:
    """The default user on a new organization whose orbit stores artifacts in moto."""

    def __init__(self, server: LocalServer, moto_s3: Any) -> None:
        self.server, self.s3 = server, moto_s3
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {server.api_key}"
        n = next(_counter)
        self.org = server.add_organization(f"ext-{n}", owner=server.user_id)
        r = self.http.post(
            f"{server.url}/v1/organizations/{self.org}/bucket-secrets",
            json={
                "type": "s3",
                "endpoint": f"http://{moto_s3.endpoint}",
                "bucket_name": moto_s3.bucket,
                "access_key": moto_s3.access_key,
                "secret_key": moto_s3.secret_key,
                "region": moto_s3.region,
                "secure": False,
            },
        )
        assert r.status_code == 200, r.text
        self.secret = r.json()["id"]
        self.orbit = server.add_orbit(self.org, f"ext-orbit-{n}", bucket_secret_id=self.secret)
        self.base = f"{server.url}/v1/organizations/{self.org}/orbits/{self.orbit}"
        r = self.http.post(
            f"{self.base}/collections", json={"name": "c", "description": "", "type": "model"}
        )
        assert r.status_code == 200, r.text
        self.collection = r.json()["id"]

    def create(self, data: bytes) -> tuple[str, dict[str, Any]]:
        """Create an artifact for data; (artifact id, upload_details)."""
        r = self.http.post(
            f"{self.base}/collections/{self.collection}/artifacts",
            json=body(size=len(data), file_hash=hashlib.sha256(data).hexdigest()),
        )
        assert r.status_code == 200, r.text
        return r.json()["artifact"]["id"], r.json()["upload_details"]

    def route(self, method: str, aid: str, suffix: str = "", **kw: Any) -> requests.Response:
        url = f"{self.base}/collections/{self.collection}/artifacts/{aid}{suffix}"
        return self.http.request(method, url, **kw)

    def url(self, aid: str, suffix: str) -> str:
        r = self.route("GET", aid, suffix)
        assert r.status_code == 200, r.text
        return str(r.json()["url"])


def _signature_ok(url: str, method: str, s3: Any) -> bool:
    """Check a presigned URL with botocore's own SigV4 code (not ours)."""
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    unsigned, _, given = url.rpartition("&X-Amz-Signature=")
    request = AWSRequest(method=method, url=unsigned)
    request.context["timestamp"] = dict(parse_qsl(urlsplit(url).query))["X-Amz-Date"]
    auth = S3SigV4QueryAuth(Credentials(s3.access_key, s3.secret_key), "s3", s3.region, 43200)
    string_to_sign = auth.string_to_sign(request, auth.canonical_request(request))
    return bool(auth.signature(string_to_sign, request) == given)


def _check_url(url: str, method: str, s3: Any, key: str) -> None:
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc) == ("http", s3.endpoint)
    assert parts.path == f"/{s3.bucket}/{key}"
    params = dict(parse_qsl(parts.query))
    assert params["X-Amz-Credential"].startswith(f"{s3.access_key}/")
    assert params["X-Amz-Credential"].endswith(f"/{s3.region}/s3/aws4_request")
    assert _signature_ok(url, method, s3), url


def test_single_put_download_and_delete_through_moto(
    ext_server: LocalServer, moto_s3: Any
) -> None:
    ext = Ext(ext_server, moto_s3)
    data = os.urandom(300_000)
    aid, up = ext.create(data)
    assert (up["type"], up["multipart"], up["bucket_secret_id"]) == ("s3", False, ext.secret)
    key = up["bucket_location"]
    _check_url(up["url"], "PUT", moto_s3, key)
    r = requests.put(up["url"], data=data)
    assert r.status_code == 200, r.text
    assert ext.route("PATCH", aid, json={"status": "uploaded"}).status_code == 200
    assert ext_server.stored_object(ext.orbit, key) is None  # not in LocalServer's storage

    download = ext.url(aid, "/download-url")
    _check_url(download, "GET", moto_s3, key)
    got = requests.get(download)
    assert got.status_code == 200 and got.content == data
    ranged = requests.get(download, headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == data[10:20]

    delete = ext.url(aid, "/delete-url")
    _check_url(delete, "DELETE", moto_s3, key)
    assert requests.delete(delete).status_code == 204
    assert ext.route("DELETE", aid).status_code == 204
    assert requests.get(download).status_code == 404


def test_multipart_through_moto(ext_server: LocalServer, moto_s3: Any) -> None:
    ext = Ext(ext_server, moto_s3)
    data = os.urandom(11 * MIB)
    aid, up = ext.create(data)
    assert (up["multipart"], up["bucket_secret_id"]) == (True, ext.secret)
    key = up["bucket_location"]
    assert "?uploads=&X-Amz-Algorithm=" in up["url"]
    _check_url(up["url"], "POST", moto_s3, key)
    r = requests.post(up["url"])
    assert r.status_code == 200, r.text
    upload_id = upload_id_of(r.text)

    r = ext.http.post(
        f"{ext_server.url}/v1/bucket-secrets/upload/multipart",
        json={"bucket_id": ext.secret, "bucket_location": key, "size": len(data),
              "upload_id": upload_id},
    )
    assert r.status_code == 200, r.text
    plan = r.json()
    assert (plan["type"], plan["upload_id"]) == ("s3", upload_id)
    assert [p["part_size"] for p in plan["parts"]] == [5 * MIB, 5 * MIB, 1 * MIB]
    etags = []
    for part in plan["parts"]:
        _check_url(part["url"], "PUT", moto_s3, key)
        chunk = data[part["start_byte"] : part["end_byte"] + 1]
        r = requests.put(part["url"], data=chunk)
        assert r.status_code == 200, r.text
        etags.append((part["part_number"], r.headers["ETag"]))
    _check_url(plan["complete_url"], "POST", moto_s3, key)
    r = requests.post(plan["complete_url"], data=complete_xml(etags))
    assert r.status_code == 200, r.text
    assert ext.route("PATCH", aid, json={"status": "uploaded"}).status_code == 200

    got = requests.get(ext.url(aid, "/download-url"))
    assert got.status_code == 200
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    assert requests.delete(ext.url(aid, "/delete-url")).status_code == 204
    assert ext.route("DELETE", aid).status_code == 204


def test_urls_are_signed_with_the_secrets_keys(
    ext_server: LocalServer, moto_s3: Any
) -> None:
    """botocore's check passes with the secret's keys and fails with another secret key
    (moto itself does not check signatures unless told to)."""
    ext = Ext(ext_server, moto_s3)
    _, up = ext.create(b"x" * 10)
    other = type(moto_s3)(*moto_s3[:3], "another-secret-key", moto_s3.region)
    assert _signature_ok(up["url"], "PUT", moto_s3)
    assert not _signature_ok(up["url"], "PUT", other)
