"""The storage LocalServer serves behind presigned URLs (contract §5, §6.3, §6.4): S3 and Azure
wire shapes, single and multipart uploads, Range, signatures, faults, bandwidth, streaming."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from artifacts_kit import Arts, block_list_xml, body, complete_xml, error_code, fresh, upload_id_of

from dataforce_orm.testing import Fault, LocalServer

PART = 256
THRESHOLD = 1024


@pytest.fixture(scope="module")
def small() -> Iterator[LocalServer]:
    """A server that goes multipart above 1 KiB, in 256-byte parts."""
    with LocalServer(multipart_threshold=THRESHOLD, multipart_part_size=PART) as srv:
        yield srv
    srv.close()


@pytest.fixture
def st(small: LocalServer) -> Iterator[Arts]:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {small.api_key}"
    small.clear_faults()
    yield fresh(small, s)
    small.clear_faults()
    s.close()


def _data(n: int, seed: int = 0) -> bytes:
    return bytes((i * 31 + seed) % 251 for i in range(n))


def _create(st: Arts, size: int, collection: str | None = None) -> tuple[str, dict[str, Any]]:
    cid = collection or st.collection("mixed")
    created = st.create(cid, size=size)
    return cid, created


def _download(st: Arts, cid: str, aid: str) -> str:
    r = st.get(cid, aid, "/download-url")
    assert r.status_code == 200
    url: str = r.json()["url"]
    return url


# -- S3 single PUT, GET, Range, DELETE ----------------------------------------------------------


def test_s3_single_put_round_trip(st: Arts) -> None:
    data = _data(1000)
    cid, created = _create(st, len(data))
    up, aid = created["upload_details"], created["artifact"]["id"]
    assert up["multipart"] is False
    r = requests.put(up["url"], data=data)
    assert (r.status_code, r.content) == (200, b"")
    assert r.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert st.server.stored_object(st.orbit, up["bucket_location"]) == data
    assert st.patch(cid, aid, {"status": "uploaded"}).json()["status"] == "uploaded"
    url = _download(st, cid, aid)
    r = requests.get(url)
    assert (r.status_code, r.content) == (200, data)
    assert r.headers["Accept-Ranges"] == "bytes" and r.headers["ETag"].strip('"')
    assert r.headers["Content-Type"] == "binary/octet-stream"


@pytest.mark.parametrize(
    ("header", "status", "span"),
    [
        ("bytes=0-10", 206, (0, 11)),
        ("bytes=990-", 206, (990, 10)),
        ("bytes=-5", 206, (995, 5)),
        ("bytes=500-5000", 206, (500, 500)),
        ("bytes=999-999", 206, (999, 1)),
        ("bytes=0-1,5-6", 200, (0, 1000)),
        ("bytes=x-", 200, (0, 1000)),
        ("items=0-1", 200, (0, 1000)),
    ],
)
def test_s3_range_get(st: Arts, header: str, status: int, span: tuple[int, int]) -> None:
    data = _data(1000)
    cid, created = _create(st, len(data))
    requests.put(created["upload_details"]["url"], data=data)
    r = requests.get(_download(st, cid, created["artifact"]["id"]), headers={"Range": header})
    first, length = span
    assert (r.status_code, r.content) == (status, data[first : first + length])
    if status == 206:
        assert r.headers["Content-Range"] == f"bytes {first}-{first + length - 1}/1000"


def test_s3_unsatisfiable_range_and_missing_object(st: Arts) -> None:
    data = _data(100)
    cid, created = _create(st, len(data))
    url = _download(st, cid, created["artifact"]["id"])
    r = requests.get(url)
    assert (r.status_code, error_code(r)) == (404, "NoSuchKey")
    assert r.headers["Content-Type"] == "application/xml"
    requests.put(created["upload_details"]["url"], data=data)
    r = requests.get(url, headers={"Range": "bytes=100-"})
    assert (r.status_code, error_code(r)) == (416, "InvalidRange")
    assert r.headers["Content-Range"] == "bytes */100"


def test_s3_delete_flow(st: Arts) -> None:
    data = _data(10)
    cid, created = _create(st, len(data))
    aid = created["artifact"]["id"]
    requests.put(created["upload_details"]["url"], data=data)
    st.patch(cid, aid, {"status": "uploaded"})
    r = st.get(cid, aid, "/delete-url")
    delete_url = r.json()["url"]
    assert st.get(cid, aid).json()["status"] == "pending_deletion"
    assert requests.delete(delete_url).status_code == 204
    assert requests.delete(delete_url).status_code == 204  # S3 deletes are idempotent
    assert st.server.stored_object(st.orbit, created["artifact"]["bucket_location"]) is None
    assert requests.get(_download(st, cid, aid)).status_code == 404
    assert st.delete(cid, aid).status_code == 204
    assert st.get_collection(cid)["total_artifacts"] == 0


def test_s3_put_replaces_and_checks_content_md5(st: Arts) -> None:
    _, created = _create(st, 5)
    url = created["upload_details"]["url"]
    good = base64.b64encode(hashlib.md5(b"hello").digest()).decode()
    r = requests.put(url, data=b"hello", headers={"Content-MD5": good})
    assert r.status_code == 200
    r = requests.put(url, data=b"other", headers={"Content-MD5": good})
    assert (r.status_code, error_code(r)) == (400, "BadDigest")
    r = requests.put(url, data=b"other", headers={"Content-MD5": "!!"})
    assert (r.status_code, error_code(r)) == (400, "InvalidDigest")
    assert st.server.stored_object(st.orbit, created["artifact"]["bucket_location"]) == b"hello"
    assert requests.put(url, data=b"world").status_code == 200
    assert st.server.stored_object(st.orbit, created["artifact"]["bucket_location"]) == b"world"


# -- signatures ---------------------------------------------------------------------------------


def test_s3_signatures_are_checked(st: Arts) -> None:
    _, created = _create(st, 5)
    url = created["upload_details"]["url"]
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    assert error_code(requests.put(tampered, data=b"x")) == "SignatureDoesNotMatch"
    r = requests.get(url)  # a PUT URL used for GET: the method is signed
    assert (r.status_code, error_code(r)) == (403, "SignatureDoesNotMatch")
    other_key = url.replace("model.luml?", "model2.luml?")
    assert requests.put(other_key, data=b"x").status_code == 403
    bare = url.split("?")[0]
    r = requests.put(bare, data=b"x")
    assert (r.status_code, error_code(r)) == (403, "AccessDenied")
    host_swapped = url.replace("127.0.0.1", "localhost")
    assert error_code(requests.put(host_swapped, data=b"x")) == "SignatureDoesNotMatch"
    assert st.server.stored_object(st.orbit, created["artifact"]["bucket_location"]) is None
    assert requests.put(url, data=b"x").status_code == 200


def test_presigned_urls_expire_after_12_hours(small: LocalServer, st: Arts) -> None:
    _, created = _create(st, 5)
    url = created["upload_details"]["url"]
    small._storage.now = lambda: time.time() + 12 * 3600 + 5
    try:
        r = requests.put(url, data=b"x")
        assert (r.status_code, error_code(r)) == (403, "AccessDenied")
        assert "Request has expired" in r.text
    finally:
        small._storage.now = time.time
    assert requests.put(url, data=b"x").status_code == 200


# -- S3 multipart ---------------------------------------------------------------------------------


def _initiate(st: Arts, size: int) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    cid, created = _create(st, size)
    up = created["upload_details"]
    assert up["multipart"] is True
    r = requests.post(up["url"])
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/xml"
    upload_id = upload_id_of(r.text)
    mp = st.multipart(up, size, upload_id)
    assert mp.status_code == 200, mp.text
    return cid, created, upload_id, mp.json()


def test_s3_multipart_round_trip_with_parallel_parts(st: Arts) -> None:
    data = _data(5000, seed=3)
    cid, created, upload_id, mp = _initiate(st, len(data))
    assert list(mp) == ["type", "upload_id", "parts", "complete_url"]
    assert (mp["type"], mp["upload_id"]) == ("s3", upload_id)
    assert len(mp["parts"]) == 20
    assert mp["parts"][0] == {
        "part_number": 1,
        "url": mp["parts"][0]["url"],
        "start_byte": 0,
        "end_byte": 255,
        "part_size": 256,
    }
    assert mp["parts"][-1]["start_byte"] == 4864 and mp["parts"][-1]["part_size"] == 136
    assert f"?partNumber=1&uploadId={upload_id}&X-Amz-Algorithm=" in mp["parts"][0]["url"]
    assert f"?uploadId={upload_id}&X-Amz-Algorithm=" in mp["complete_url"]

    def put(part: dict[str, Any]) -> tuple[int, str]:
        chunk = data[part["start_byte"] : part["end_byte"] + 1]
        r = requests.put(part["url"], data=chunk)
        assert r.status_code == 200
        assert r.headers["ETag"] == f'"{hashlib.md5(chunk).hexdigest()}"'
        return part["part_number"], r.headers["ETag"]

    with ThreadPoolExecutor(5) as pool:
        etags = sorted(pool.map(put, reversed(mp["parts"])))
    r = requests.post(mp["complete_url"], data=complete_xml(etags))
    assert r.status_code == 200, r.text
    assert "<CompleteMultipartUploadResult" in r.text and f'-{len(etags)}"' in r.text
    aid = created["artifact"]["id"]
    assert st.patch(cid, aid, {"status": "uploaded"}).status_code == 200
    got = requests.get(_download(st, cid, aid))
    assert got.content == data and got.headers["ETag"].endswith('-20"')
    ranged = requests.get(_download(st, cid, aid), headers={"Range": "bytes=250-700"})
    assert (ranged.status_code, ranged.content) == (206, data[250:701])
    assert requests.post(mp["complete_url"], data=complete_xml(etags)).status_code == 404


def test_s3_complete_checks_parts(st: Arts) -> None:
    data = _data(1500)
    _, created, _, mp = _initiate(st, len(data))
    etags = []
    for part in mp["parts"]:
        r = requests.put(part["url"], data=data[part["start_byte"] : part["end_byte"] + 1])
        etags.append((part["part_number"], r.headers["ETag"]))
    url = mp["complete_url"]
    cases = [
        (complete_xml([etags[1], etags[0], *etags[2:]]), "InvalidPartOrder"),
        (complete_xml([etags[0], etags[0], *etags[1:]]), "InvalidPartOrder"),
        (complete_xml([(1, '"0123"'), *etags[1:]]), "InvalidPart"),
        (complete_xml([*etags, (99, etags[0][1])]), "InvalidPart"),
        ("<CompleteMultipartUpload></CompleteMultipartUpload>", "MalformedXML"),
        ("not xml", "MalformedXML"),
    ]
    for xml, code in cases:
        r = requests.post(url, data=xml)
        assert (r.status_code, error_code(r)) == (400, code), xml
    # a subset is fine; unquoted ETags too
    subset = [(n, e.strip('"')) for n, e in etags[:2]]
    assert requests.post(url, data=complete_xml(subset)).status_code == 200
    key = created["artifact"]["bucket_location"]
    assert st.server.stored_object(st.orbit, key) == data[:512]


def test_s3_small_parts_are_refused(st: Arts) -> None:
    _, _, _, mp = _initiate(st, 2000)
    first = requests.put(mp["parts"][0]["url"], data=b"tiny")
    second = requests.put(mp["parts"][1]["url"], data=b"x" * PART)
    xml = complete_xml([(1, first.headers["ETag"]), (2, second.headers["ETag"])])
    r = requests.post(mp["complete_url"], data=xml)
    assert (r.status_code, error_code(r)) == (400, "EntityTooSmall")
    xml = complete_xml([(2, second.headers["ETag"])])  # the last part may be small
    assert requests.post(mp["complete_url"], data=xml).status_code == 200


def test_s3_abort(st: Arts) -> None:
    before = st.server.pending_uploads
    _, created, upload_id, mp = _initiate(st, 2000)
    requests.put(mp["parts"][0]["url"], data=b"x" * PART)
    assert st.server.pending_uploads == before + 1
    abort_url = mp["complete_url"]  # the same key and uploadId, signed for POST
    r = requests.delete(abort_url)
    assert (r.status_code, error_code(r)) == (403, "SignatureDoesNotMatch")
    abort = st.server._storage.s3_url(
        "DELETE", created["upload_details"]["bucket_location"], [("uploadId", upload_id)]
    )
    assert requests.delete(abort).status_code == 204
    assert st.server.pending_uploads == before
    r = requests.put(mp["parts"][1]["url"], data=b"x" * PART)
    assert (r.status_code, error_code(r)) == (404, "NoSuchUpload")
    assert error_code(requests.delete(abort)) == "NoSuchUpload"


def test_multipart_route_rules(st: Arts, small: LocalServer) -> None:
    cid, created = _create(st, 2000)
    up = created["upload_details"]
    r = st.multipart(up, 2000, None)  # S3 without upload_id: the platform's ValueError
    assert (r.status_code, r.text) == (500, "Internal Server Error")
    r = st.multipart({**up, "bucket_secret_id": "0" * 32}, 2000, "u")
    assert (r.status_code, r.json()) == (404, {"detail": "Secret not found"})
    member = small.add_user("member")
    small.add_member(st.org, member.id, "member")
    small.add_orbit_member(st.orbit, member.id, "admin")
    as_member = st.as_user(member.api_key)
    assert as_member.post(cid, body(size=2000)).status_code == 200  # may create ...
    r = as_member.multipart(up, 2000, "u")  # ... but not get part URLs
    assert (r.status_code, r.json()) == (403, {"detail": "Not enough rights"})
    stranger = st.as_user(small.add_user("stranger").api_key)
    assert stranger.multipart(up, 2000, "u").status_code == 403
    r = st.multipart({**up, "bucket_location": "a/../b"}, 2000, "u")
    detail = "Failed to generate URL: object name with '.' or '..' path segment is not supported"
    assert (r.status_code, r.json()) == (400, {"detail": detail})
    r = st.multipart(up, 0, "u")
    assert r.status_code == 200 and r.json()["parts"] == []
    r = st.session.post(f"{small.url}/v1/bucket-secrets/upload/multipart", json={"size": "x"})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["detail"]] == [
        ["body", "bucket_id"],
        ["body", "bucket_location"],
        ["body", "size"],
    ]


@pytest.mark.parametrize(
    ("size", "part_size", "count"),
    [
        (524_288_001, 32 * 2**20, 16),
        (2**30, 32 * 2**20, 32),
        (2**30 + 1, 64 * 2**20, 17),
        (5 * 2**30, 64 * 2**20, 80),
        (6 * 2**30, 128 * 2**20, 48),
        (10 * 2**30 + 1, 512 * 2**20, 21),
        (100 * 2**30 + 1, 2**30, 101),
        (5 * 2**40, 2**30, 5120),
    ],
)
def test_platform_part_size_table(
    server: LocalServer, arts: Arts, size: int, part_size: int, count: int
) -> None:
    cid = arts.collection()
    up = arts.create(cid, size=size)["upload_details"]
    r = arts.multipart(up, size, "upload-id")
    parts = r.json()["parts"]
    assert len(parts) == count and parts[0]["part_size"] == part_size
    assert parts[-1]["end_byte"] == size - 1
    assert sum(p["part_size"] for p in parts) == size
    assert all(p["end_byte"] - p["start_byte"] + 1 == p["part_size"] for p in parts)


# -- Azure ----------------------------------------------------------------------------------------


@pytest.fixture
def az(st: Arts) -> Arts:
    st.server.set_storage_flavour(st.orbit, "azure")
    return st


def test_azure_put_blob_round_trip(az: Arts) -> None:
    data = _data(700)
    cid, created = _create(az, len(data))
    up, aid = created["upload_details"], created["artifact"]["id"]
    r = requests.put(up["url"], data=data)
    assert (r.status_code, r.headers["x-ms-error-code"]) == (400, "MissingRequiredHeader")
    r = requests.put(up["url"], data=data, headers={"x-ms-blob-type": "PageBlob"})
    assert (r.status_code, error_code(r)) == (400, "InvalidHeaderValue")
    r = requests.put(up["url"], data=data, headers={"x-ms-blob-type": "BlockBlob"})
    assert r.status_code == 201
    assert r.headers["Content-MD5"] == base64.b64encode(hashlib.md5(data).digest()).decode()
    assert r.headers["ETag"].startswith('"0x') and r.headers["x-ms-version"]
    url = _download(az, cid, aid)
    assert "sp=r&" in url and "/devstoreaccount1/dataforce-local/" in url
    got = requests.get(url)
    assert (got.status_code, got.content, got.headers["x-ms-blob-type"]) == (200, data, "BlockBlob")
    ranged = requests.get(url, headers={"x-ms-range": "bytes=100-199"})
    assert (ranged.status_code, ranged.content) == (206, data[100:200])
    r = requests.delete(url)  # a read SAS cannot delete
    assert (r.status_code, error_code(r)) == (403, "AuthorizationPermissionMismatch")
    delete_url = az.get(cid, aid, "/delete-url").json()["url"]
    assert "sp=d&" in delete_url
    r = requests.delete(delete_url)
    assert (r.status_code, r.headers["x-ms-delete-type-permanent"]) == (202, "true")
    r = requests.delete(delete_url)
    assert (r.status_code, error_code(r)) == (404, "BlobNotFound")
    assert requests.get(url).status_code == 404


def test_azure_sas_is_checked(az: Arts) -> None:
    _, created = _create(az, 5)
    url = created["upload_details"]["url"]
    headers = {"x-ms-blob-type": "BlockBlob"}
    bad = url.replace("sp=cw", "sp=rcwd")
    r = requests.put(bad, data=b"x", headers=headers)
    assert (r.status_code, error_code(r)) == (403, "AuthenticationFailed")
    r = requests.put(url.split("?")[0], data=b"x", headers=headers)
    assert r.status_code == 403
    r = requests.get(url)  # a write SAS cannot read
    assert (r.status_code, error_code(r)) == (403, "AuthorizationPermissionMismatch")
    assert requests.put(url, data=b"x", headers=headers).status_code == 201


def test_azure_block_upload_in_part_order(az: Arts) -> None:
    data = _data(2000, seed=5)
    cid, created = _create(az, len(data))
    up = created["upload_details"]
    assert (up["url"], up["multipart"]) == (None, True)
    r = az.multipart(up, len(data), None)
    assert r.status_code == 200
    mp = r.json()
    assert list(mp) == ["type", "parts", "complete_url"] and mp["type"] == "azure"
    assert mp["complete_url"].endswith("&comp=blocklist")
    ids = []
    for part in mp["parts"]:
        block_id = part["url"].rsplit("&blockid=", 1)[1]
        assert base64.b64decode(block_id) == f"block-{part['part_number']:08d}".encode()
        chunk = data[part["start_byte"] : part["end_byte"] + 1]
        r = requests.put(part["url"], data=chunk)
        assert r.status_code == 201
        ids.append(block_id)
    assert az.server.pending_uploads >= 1
    r = requests.put(mp["complete_url"], data=block_list_xml([*ids, "YmxvY2stOTk5OTk5OTk="]))
    assert (r.status_code, error_code(r)) == (400, "InvalidBlockList")
    r = requests.put(mp["complete_url"], data=b"<nope")
    assert (r.status_code, error_code(r)) == (400, "InvalidXmlDocument")
    r = requests.put(mp["complete_url"], data=block_list_xml(ids))
    assert r.status_code == 201
    aid = created["artifact"]["id"]
    assert requests.get(_download(az, cid, aid)).content == data


def test_azure_blocks_are_committed_in_the_listed_order(az: Arts) -> None:
    """The platform's block ids sort out of numeric order from part 400 on (SDK bug B6)."""
    parts = 401
    az.server._storage.multipart_part_size = 1
    try:
        data = _data(parts, seed=9)
        _, created = _create(az, THRESHOLD + 1)
        mp = az.multipart(created["upload_details"], parts, None).json()
    finally:
        az.server._storage.multipart_part_size = PART
    ids = [p["url"].rsplit("&blockid=", 1)[1] for p in mp["parts"]]
    with requests.Session() as s:
        for part in mp["parts"]:
            s.put(part["url"], data=data[part["start_byte"] : part["start_byte"] + 1])
    assert sorted(ids) != ids
    requests.put(mp["complete_url"], data=block_list_xml(sorted(ids)))
    key = created["artifact"]["bucket_location"]
    assert az.server.stored_object(az.orbit, key) != data  # corrupted by sorting
    requests.put(mp["complete_url"], data=block_list_xml(ids))  # blocks were committed: ...
    r = requests.put(mp["complete_url"], data=block_list_xml(ids).replace("Latest", "Committed"))
    assert r.status_code == 201
    assert az.server.stored_object(az.orbit, key) == data


# -- protocol details -----------------------------------------------------------------------------


def _raw(server: LocalServer, request: bytes) -> bytes:
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(request)
        out = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_s3_put_without_content_length_is_411(st: Arts) -> None:
    _, created = _create(st, 5)
    target = created["upload_details"]["url"].split(st.server.url, 1)[1]
    request = (
        f"PUT {target} HTTP/1.1\r\nHost: {st.server.host}:{st.server.port}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    ).encode()
    answer = _raw(st.server, request)
    assert answer.startswith(b"HTTP/1.1 411 ")
    assert b"<Code>MissingContentLength</Code>" in answer and b"Connection: close" in answer


def test_errors_keep_the_connection_usable(st: Arts) -> None:
    cid, created = _create(st, 5)
    url = created["upload_details"]["url"]
    with requests.Session() as s:
        assert s.put(url[:-1] + "x", data=b"y" * 1000).status_code == 403
        assert s.put(url, data=b"hello").status_code == 200
        assert s.get(_download(st, cid, created["artifact"]["id"])).content == b"hello"


def test_storage_requests_are_logged(st: Arts) -> None:
    _, created = _create(st, 5)
    st.server.reset_request_log()
    requests.put(created["upload_details"]["url"], data=b"hello")
    [(method, path)] = st.server.request_log
    assert method == "PUT" and path.startswith("/dataforce-local/orbit-")


# -- faults ---------------------------------------------------------------------------------------


def test_status_fault_on_storage(st: Arts) -> None:
    _, created = _create(st, 5)
    url = created["upload_details"]["url"]
    st.server.add_fault(
        Fault(kind="status", status=503, retry_after="1", scope="storage", times=1)
    )
    r = requests.put(url, data=b"hello")
    assert (r.status_code, error_code(r), r.headers["Retry-After"]) == (503, "SlowDown", "1")
    assert st.server.stored_object(st.orbit, created["artifact"]["bucket_location"]) is None
    assert requests.put(url, data=b"hello").status_code == 200
    st.server.add_fault(Fault(kind="status", status=500, path=r"^/dataforce-local/", times=1))
    assert error_code(requests.get(url)) == "InternalError"


def test_fault_scopes(st: Arts) -> None:
    _, created = _create(st, 5)
    url = created["upload_details"]["url"]
    st.server.add_fault(Fault(kind="status", status=503, scope="api"))
    assert requests.put(url, data=b"hello").status_code == 200
    assert st.list().status_code == 503
    st.server.clear_faults()
    st.server.add_fault(Fault(kind="status", status=503, scope="storage"))
    assert st.list().status_code == 200
    assert requests.put(url, data=b"hello").status_code == 503
    with pytest.raises(ValueError):
        Fault(kind="status", status=503, scope="everything")


def test_drop_and_drop_after_on_storage(st: Arts) -> None:
    _, created = _create(st, 5)
    url, key = created["upload_details"]["url"], created["artifact"]["bucket_location"]
    st.server.add_fault(Fault(kind="drop", method="PUT", scope="storage", times=1))
    with pytest.raises(requests.ConnectionError):
        requests.put(url, data=b"hello")
    assert st.server.stored_object(st.orbit, key) is None
    st.server.add_fault(Fault(kind="drop_after", method="PUT", scope="storage", times=1))
    with pytest.raises(requests.ConnectionError):
        requests.put(url, data=b"hello")
    assert st.server.stored_object(st.orbit, key) == b"hello"
    counts = st.server.fault_counts
    assert counts["drop"] >= 1 and counts["drop_after"] >= 1


def test_delay_fault_on_storage(st: Arts) -> None:
    _, created = _create(st, 5)
    st.server.add_fault(Fault(kind="delay", delay=0.2, scope="storage", times=1))
    start = time.monotonic()
    assert requests.put(created["upload_details"]["url"], data=b"hello").status_code == 200
    assert time.monotonic() - start >= 0.2


# -- bandwidth and streaming ----------------------------------------------------------------------


def test_bandwidth_cap_is_per_connection() -> None:
    rate, size = 2_000_000, 300_000
    with LocalServer(storage_bandwidth=rate) as srv:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {srv.api_key}"
        arts = fresh(srv, s)
        cid = arts.collection()
        uploads = [arts.create(cid, size=size)["upload_details"]["url"] for _ in range(3)]
        data = _data(size)
        start = time.monotonic()
        assert requests.put(uploads[0], data=data).status_code == 200
        single = time.monotonic() - start
        assert single >= size / rate * 0.9
        start = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(lambda u: requests.put(u, data=data).status_code, uploads[1:]))
        parallel = time.monotonic() - start
        assert codes == [200, 200]
        assert parallel < single * 1.7  # two connections, twice the bytes, about the same time
        start = time.monotonic()
        key = arts.server.artifact_rows(cid)[0]
        url = arts.get(cid, key["id"], "/download-url").json()["url"]
        assert requests.get(url).content == data
        assert time.monotonic() - start >= size / rate * 0.9
    srv.close()


def test_bodies_are_streamed_not_held_in_memory(st: Arts) -> None:
    size, chunk = 48 * 2**20, 2**20
    cid, created = _create(st, THRESHOLD)  # the declared size is never checked
    url = created["upload_details"]["url"]

    class Source:
        """A file-like body of size bytes, made up as it is read."""

        def __init__(self) -> None:
            self.left = size

        def __len__(self) -> int:
            return self.left

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            self.left -= n
            return b"\x5a" * n

    tracemalloc.start()
    try:
        r = requests.put(url, data=Source())
        assert r.status_code == 200
        with requests.get(_download(st, cid, created["artifact"]["id"]), stream=True) as got:
            total = sum(len(c) for c in got.iter_content(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == size
    assert peak < 12 * 2**20, peak
    root = st.server._storage.root
    assert size in [os.path.getsize(os.path.join(root, f)) for f in os.listdir(root)]


def test_close_removes_the_files() -> None:
    srv = LocalServer().start()
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {srv.api_key}"
    arts = fresh(srv, s)
    url = arts.create(arts.collection(), size=5)["upload_details"]["url"]
    assert requests.put(url, data=b"hello").status_code == 200
    root = srv._storage.root
    assert os.listdir(root)
    srv.close()
    assert not os.path.exists(root)


def test_concurrent_puts_to_one_key_leave_one_whole_object(st: Arts) -> None:
    _, created = _create(st, 1000)
    url = created["upload_details"]["url"]
    payloads = [bytes([i]) * 1000 for i in range(8)]
    barrier = threading.Barrier(8)

    def put(data: bytes) -> int:
        barrier.wait()
        return requests.put(url, data=data).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(put, payloads)) == {200}
    stored = st.server.stored_object(st.orbit, created["artifact"]["bucket_location"])
    assert stored in payloads
