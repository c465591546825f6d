"""Shared helpers of the artifact and storage conformance tests (raw HTTP)."""

from __future__ import annotations

import base64
import itertools
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any

import requests

from dataforce_orm.testing import LocalServer

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_counter = itertools.count()

LUML_MANIFEST = {
    "artifact_type": "model",
    "variant": "default",
    "producer_name": "luml.ai",
    "producer_version": "0.1.0",
    "producer_tags": [],
    "payload": {},
}
LEGACY_MANIFEST = {
    "variant": "pipeline",
    "producer_name": "fnnx",
    "producer_version": "0.1.0",
    "producer_tags": [],
    "inputs": [],
    "outputs": [],
    "dynamic_attributes": [],
    "env_vars": [],
}
FNNX_FILES = ("dtypes.json", "env.json", "manifest.json", "meta.json", "ops.json")
FNNX_INDEX = {name: [0, 1] for name in (*FNNX_FILES, "variant_config.json")}


def body(**over: Any) -> dict[str, Any]:
    """A valid create body for a LUML model (fields overridable; ``type`` sets the manifest's)."""
    kind = over.pop("artifact_type", "model")
    out: dict[str, Any] = {
        "file_name": "model.luml",
        "name": "model",
        "extra_values": {},
        "manifest": {**LUML_MANIFEST, "artifact_type": kind},
        "file_hash": "0" * 64,
        "file_index": {"manifest.json": [512, 10]},
        "size": 10,
    }
    out.update(over)
    return out


@dataclass
class Arts:
    """A keep-alive client on a fresh organization and orbit (so quotas do not leak)."""

    server: LocalServer
    session: requests.Session
    org: str
    orbit: str

    @property
    def base(self) -> str:
        return f"{self.server.url}/v1/organizations/{self.org}/orbits/{self.orbit}"

    def as_user(self, key: str) -> Arts:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {key}"
        return Arts(self.server, s, self.org, self.orbit)

    def collection(self, type: str = "model", name: str = "c") -> str:
        r = self.session.post(
            self.base + "/collections", json={"name": name, "description": "", "type": type}
        )
        assert r.status_code == 200, r.text
        return str(r.json()["id"])

    def get_collection(self, cid: str) -> dict[str, Any]:
        r = self.session.get(f"{self.base}/collections/{cid}")
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def post(self, cid: str, payload: Any, **kw: Any) -> requests.Response:
        return self.session.post(f"{self.base}/collections/{cid}/artifacts", json=payload, **kw)

    def create(self, cid: str, **over: Any) -> dict[str, Any]:
        """Create and return the whole answer (``artifact`` and ``upload_details``)."""
        r = self.post(cid, body(**over))
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def make(self, cid: str, **over: Any) -> dict[str, Any]:
        """Create and return the artifact."""
        art: dict[str, Any] = self.create(cid, **over)["artifact"]
        return art

    def url(self, cid: str, aid: str, suffix: str = "") -> str:
        return f"{self.base}/collections/{cid}/artifacts/{aid}{suffix}"

    def patch(self, cid: str, aid: str, payload: Any) -> requests.Response:
        return self.session.patch(self.url(cid, aid), json=payload)

    def get(self, cid: str, aid: str, suffix: str = "") -> requests.Response:
        return self.session.get(self.url(cid, aid, suffix))

    def delete(self, cid: str, aid: str, suffix: str = "") -> requests.Response:
        return self.session.delete(self.url(cid, aid, suffix))

    def list(self, **params: Any) -> requests.Response:
        return self.session.get(self.base + "/artifacts", params=params)

    def names(self, **params: Any) -> list[str]:
        r = self.list(**params)
        assert r.status_code == 200, r.text
        return [item["name"] for item in r.json()["items"]]

    def walk(self, **params: Any) -> list[list[str]]:
        """Names page by page, following cursors (stops after 20 pages)."""
        pages: list[list[str]] = []
        cursor = None
        for _ in range(20):
            query = dict(params)
            if cursor is not None:
                query["cursor"] = cursor
            r = self.list(**query)
            assert r.status_code == 200, r.text
            pages.append([item["name"] for item in r.json()["items"]])
            cursor = r.json()["cursor"]
            if cursor is None:
                break
        return pages

    def multipart(self, details: dict[str, Any], size: int, upload_id: str | None) -> Any:
        payload: dict[str, Any] = {
            "bucket_id": details["bucket_secret_id"],
            "bucket_location": details["bucket_location"],
            "size": size,
        }
        if upload_id is not None:
            payload["upload_id"] = upload_id
        return self.session.post(
            f"{self.server.url}/v1/bucket-secrets/upload/multipart", json=payload
        )


def fresh(server: LocalServer, session: requests.Session) -> Arts:
    """An Arts client on a new organization (owned by the default user) and orbit."""
    n = next(_counter)
    org = server.add_organization(f"org-{n}", owner=server.user_id)
    orbit = server.add_orbit(org, f"orbit-{n}")
    return Arts(server, session, org, orbit)


def decode_cursor(cursor: str) -> list[Any]:
    values: list[Any] = json.loads(base64.urlsafe_b64decode(cursor))
    return values


def upload_id_of(xml_text: str) -> str:
    root = ET.fromstring(xml_text)
    assert root.tag == S3_NS + "InitiateMultipartUploadResult"
    found = root.find(S3_NS + "UploadId")
    assert found is not None and found.text
    return found.text


def complete_xml(parts: list[tuple[int, str]]) -> str:
    items = "".join(
        f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>" for n, etag in parts
    )
    return f'<CompleteMultipartUpload xmlns="{S3_NS[1:-1]}">{items}</CompleteMultipartUpload>'


def block_list_xml(ids: list[str]) -> str:
    items = "".join(f"<Latest>{i}</Latest>" for i in ids)
    return f"<?xml version='1.0' encoding='utf-8'?>\n<BlockList>{items}</BlockList>"


def error_code(r: requests.Response) -> str:
    root = ET.fromstring(r.content.lstrip(b"\xef\xbb\xbf"))
    code = root.find("Code")
    assert code is not None and code.text
    return code.text
