"""Shared helpers of the registry and orbit-secret conformance tests (raw HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from artifacts_kit import Arts, fresh

from dataforce_orm.testing import LocalServer


@dataclass
class Reg:
    """Tracks, entries and secrets of a fresh organization and orbit of the default user."""

    arts: Arts

    @property
    def server(self) -> LocalServer:
        return self.arts.server

    @property
    def session(self) -> requests.Session:
        return self.arts.session

    @property
    def tracks(self) -> str:
        return self.arts.base + "/tracks"

    def entries(self, track_id: str) -> str:
        return f"{self.tracks}/{track_id}/entries"

    def as_user(self, key: str) -> Reg:
        return Reg(self.arts.as_user(key))

    def elsewhere(self) -> Reg:
        """The same user on another orbit of the same organization."""
        orbit = self.server.add_orbit(self.arts.org, "other orbit")
        return Reg(Arts(self.server, self.session, self.arts.org, orbit))

    def track(self, name: str = "t", **fields: Any) -> dict[str, Any]:
        r = self.session.post(self.tracks, json={"name": name, "artifact_type": "model", **fields})
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def artifact(self, kind: str = "model", name: str = "model") -> str:
        cid = self.arts.collection("mixed")
        return str(self.arts.make(cid, artifact_type=kind, name=name)["id"])

    def add(self, track_id: str, artifact_id: str, **fields: Any) -> requests.Response:
        return self.session.post(
            self.entries(track_id), json={"artifact_id": artifact_id, **fields}
        )

    def entry(self, track_id: str, artifact_id: str | None = None, **fields: Any) -> dict[str, Any]:
        r = self.add(track_id, artifact_id or self.artifact(), **fields)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def stage_ids(self, track: dict[str, Any]) -> dict[str, str]:
        return {s["name"]: s["id"] for s in track["stages"]}

    @property
    def secrets(self) -> str:
        return self.arts.base + "/secrets"


def new_reg(server: LocalServer, session: requests.Session) -> Reg:
    return Reg(fresh(server, session))


def plain_500(r: requests.Response) -> bool:
    """The platform's unhandled-error answer: plain text, then the connection is closed."""
    return (
        r.status_code == 500
        and r.text == "Internal Server Error"
        and r.headers["content-type"].startswith("text/plain")
        and r.headers.get("connection") == "close"
    )
