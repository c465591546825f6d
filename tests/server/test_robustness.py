"""Bad requests get the real answer, leave nothing half-written, and the server keeps serving."""

from __future__ import annotations

import socket

import requests
from dfserver_helpers import Api


def _raw(api: Api, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", api.server.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_oversize_body_is_413_and_server_keeps_serving(api: Api) -> None:
    body = b'{"name": "' + b"n" * (2 * 1024 * 1024) + b'", "description": "", "type": "model"}'
    r = api.session.post(api.base, data=body, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()) == (413, {"detail": "Request Entity Too Large"})
    assert api.server.collection_rows(api.orbit) == []
    assert api.get().status_code == 200


def test_invalid_utf8_body_is_400(api: Api) -> None:
    r = api.session.post(api.base, data=b'{"name": "\xff\xfe", "description": "", "type": "x"}',
                         headers={"content-type": "application/json"})
    assert (r.status_code, r.json()) == (400, {"detail": "There was an error parsing the body"})
    assert api.server.collection_rows(api.orbit) == []


def test_non_json_content_type_is_not_parsed(api: Api) -> None:
    r = api.session.post(api.base, data=b'{"name": "n", "description": "", "type": "model"}',
                         headers={"content-type": "text/plain"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "model_attributes_type"
    ok = api.session.post(api.base, data=b'{"name": "n", "description": "", "type": "model"}',
                          headers={"content-type": "application/vnd.api+json"})
    assert ok.status_code == 200


def test_json_scalars_and_null_bodies(api: Api) -> None:
    for data, kind in ((b"5", "model_attributes_type"), (b'"s"', "model_attributes_type"),
                       (b"null", "missing")):
        r = api.session.post(api.base, data=data, headers={"content-type": "application/json"})
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == kind


def test_chunked_body(api: Api) -> None:
    def gen():  # type: ignore[no-untyped-def]
        yield b'{"name": "chunked", '
        yield b'"description": "", "type": "model"}'

    r = api.session.post(api.base, data=gen(), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json()["name"] == "chunked"


def test_garbage_request_line_then_still_serving(api: Api) -> None:
    answer = _raw(api, b"NONSENSE\r\n\r\n")
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0]
    assert api.get().status_code == 200


def test_unicode_round_trip(api: Api) -> None:
    c = api.create(name="Modèles ✓", tags=["été", "日本"])
    got = api.get("/" + c["id"]).json()
    assert (got["name"], got["tags"]) == ("Modèles ✓", ["été", "日本"])
    found = api.get(params={"search": "日本"}).json()["items"]
    assert [i["id"] for i in found] == [c["id"]]


def test_head_request(api: Api) -> None:
    r = api.session.head(api.base)
    assert r.status_code == 200 and r.content == b""


def test_unusual_method_is_routed(api: Api) -> None:
    assert api.session.request("FROB", api.base).status_code == 405
    assert api.session.request("FROB", api.server.url + "/x").status_code == 404


def test_body_decoding_happens_before_auth(api: Api) -> None:
    """FastAPI parses the JSON body before resolving dependencies (so before auth)."""
    r = requests.post(api.base, data=b"{bad", headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    r = requests.post(api.base, json={"name": 5})
    assert r.status_code == 401
