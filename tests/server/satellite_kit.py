"""Shared helpers of the satellite, deployment and worker conformance tests (raw HTTP)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from registry_kit import Reg, new_reg

from dataforce_orm.testing import LocalServer

SATELLITE_KEYS = [
    "id", "orbit_id", "name", "description", "base_url", "paired", "capabilities", "slug",
    "created_at", "updated_at", "last_seen_at", "status",
]
DEPLOYMENT_KEYS = [
    "id", "orbit_id", "satellite_id", "satellite_name", "name", "artifact_id", "artifact_name",
    "collection_id", "inference_url", "status", "satellite_parameters", "description",
    "dynamic_attributes_secrets", "env_variables_secrets", "env_variables", "schemas",
    "error_message", "created_by_user", "tags", "created_at", "updated_at", "model_id",
    "model_artifact_name",
]
TASK_KEYS = [
    "id", "satellite_id", "orbit_id", "type", "payload", "status", "scheduled_at",
    "started_at", "finished_at", "result", "created_at", "updated_at",
]


def worker(key: str) -> requests.Session:
    """A session that calls the worker routes with a satellite key."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"
    return s


@dataclass
class Sat:
    """Satellites and deployments of a fresh organization and orbit of the default user."""

    reg: Reg

    @property
    def server(self) -> LocalServer:
        return self.reg.server

    @property
    def session(self) -> requests.Session:
        return self.reg.session

    @property
    def satellites(self) -> str:
        return self.reg.arts.base + "/satellites"

    @property
    def deployments(self) -> str:
        return self.reg.arts.base + "/deployments"

    @property
    def worker_base(self) -> str:
        return self.server.url + "/satellites/v1"

    def as_user(self, key: str) -> Sat:
        return Sat(self.reg.as_user(key))

    def elsewhere(self) -> Sat:
        return Sat(self.reg.elsewhere())

    def create(self, name: str = "sat", **fields: Any) -> tuple[dict[str, Any], str]:
        """(the Satellite, its key) made over HTTP."""
        r = self.session.post(self.satellites, json={"name": name, **fields})
        assert r.status_code == 200, r.text
        body = r.json()
        return body["satellite"], body["api_key"]

    def paired(self, name: str = "sat") -> tuple[dict[str, Any], requests.Session]:
        """A satellite made and paired; (its Satellite, a worker session)."""
        sat, key = self.create(name)
        w = worker(key)
        r = w.post(self.worker_base + "/pair",
                   json={"base_url": "http://127.0.0.1:1", "capabilities": {"deploy": None}})
        assert r.status_code == 200, r.text
        return sat, w

    def deploy(self, satellite_id: str, artifact_id: str | None = None, **fields: Any
               ) -> dict[str, Any]:
        r = self.post_deployment(satellite_id, artifact_id, **fields)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def post_deployment(
        self, satellite_id: str, artifact_id: str | None = None, **fields: Any
    ) -> requests.Response:
        body = {"satellite_id": satellite_id, "artifact_id": artifact_id or self.reg.artifact(),
                "name": "dep", **fields}
        return self.session.post(self.deployments, json=body)


def new_sat(server: LocalServer, session: requests.Session) -> Sat:
    """A fresh organization whose satellites limit (2 by default) is out of the way."""
    made = Sat(new_reg(server, session))
    server.set_organization_limits(made.reg.arts.org, satellites=50)
    return made
