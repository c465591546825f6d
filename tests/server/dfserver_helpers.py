"""Shared helpers of the LocalServer conformance suite (imported by the tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from dataforce_orm.testing import LocalServer


@dataclass
class Api:
    """A keep-alive client bound to one orbit of the default organization."""

    server: LocalServer
    session: requests.Session
    org: str
    orbit: str

    @property
    def base(self) -> str:
        return f"{self.server.url}/v1/organizations/{self.org}/orbits/{self.orbit}/collections"

    def url(self, path: str = "") -> str:
        return self.base + path

    def create(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "c", "description": "", "type": "model", **fields}
        r = self.session.post(self.base, json=body)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def get(self, path: str = "", **kw: Any) -> requests.Response:
        return self.session.get(self.url(path), **kw)

    def post(self, body: Any = None, **kw: Any) -> requests.Response:
        return self.session.post(self.base, json=body, **kw)

    def patch(self, cid: str, body: Any, **kw: Any) -> requests.Response:
        return self.session.patch(self.url("/" + cid), json=body, **kw)

    def delete(self, cid: str) -> requests.Response:
        return self.session.delete(self.url("/" + cid))


def session_for(key: str) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    return s


def detail_422(r: requests.Response) -> list[dict[str, Any]]:
    """The ``detail`` list of a 422 JSON answer (asserting it is one)."""
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/json"
    detail: list[dict[str, Any]] = r.json()["detail"]
    return detail
