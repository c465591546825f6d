"""The satellite worker routes (``/satellites/v1/...``, a ``dfssat_`` key): pairing, the
task queue, the satellite's deployments, the orbit's secrets with values, and whether a
user's key may call a deployment. Every call marks the satellite as seen (pairing too)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from ._access import Access
from ._orbit_secrets_store import OrbitSecretStore
from ._permissions import allowed
from ._routing import Route
from ._satellite_validation import (
    TASK_STATUSES,
    query_choice,
    validate_inference_access,
    validate_pair,
    validate_status_update,
    validate_task_update,
    validate_worker_update,
)
from ._satellites_store import WORKER_FIELDS, SatelliteStore
from ._store import Store
from ._validation import ErrorList
from ._wire import HttpError, Request, Response, json_response, no_content

WORKER = "/satellites/v1"
DEPLOYMENT = WORKER + "/deployments/{deployment_id}"
_SATELLITE = ("satellite",)


class SatelliteWorkerRoutes(Access):
    """The worker routes a satellite agent calls."""

    def __init__(self, store: Store, satellites: SatelliteStore) -> None:
        super().__init__(store)
        self.satellites = satellites
        self.secrets = OrbitSecretStore(store)

    def routes(self) -> list[Route]:
        """This group's part of the route table (all for a satellite's key)."""
        table = [
            ("POST", WORKER + "/pair", self._pair),
            ("GET", WORKER + "/secrets", self._secrets),
            ("GET", WORKER + "/secrets/{secret_id}", self._secret),
            ("GET", WORKER + "/tasks", self._tasks),
            ("POST", WORKER + "/tasks/{task_id}/status", self._task_status),
            ("POST", WORKER + "/deployments/inference-access", self._inference_access),
            ("GET", WORKER + "/deployments", self._deployments),
            ("GET", DEPLOYMENT, self._deployment),
            ("PATCH", DEPLOYMENT, self._update),
            ("PATCH", DEPLOYMENT + "/status", self._status),
            ("DELETE", DEPLOYMENT, self._delete),
        ]
        return [Route(method, path, handler, scopes=_SATELLITE) for method, path, handler in table]

    def _seen(self, satellite: str, errors: ErrorList) -> str:
        """422 for bad input, then mark the satellite seen; its orbit."""
        self._raise_422(errors)
        self.satellites.touch(satellite)
        orbit = self.satellites.satellite_orbit(satellite)
        assert orbit is not None
        return orbit

    def _pair(
        self, satellite: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_pair(body)
        self._raise_422(errors + body_errors)
        assert fields is not None
        if not fields["capabilities"]:
            raise HttpError(400, "Invalid capabilities")
        paired = self.satellites.pair(
            satellite, fields["base_url"], fields["capabilities"], fields["slug"]
        )
        return json_response(200, paired)

    def _secrets(
        self, satellite: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        return json_response(200, self.secrets.list(self._seen(satellite, errors)))

    def _secret(
        self, satellite: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        found = self.secrets.get(self._seen(satellite, errors), ids["secret_id"])
        if found is None:
            raise HttpError(404, "Orbit secret not found")
        return json_response(200, found)

    def _tasks(
        self, satellite: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        query_errors: ErrorList = []
        params = parse_qsl(req.query, keep_blank_values=True)
        status = query_choice(params, "status", TASK_STATUSES, query_errors)
        self._seen(satellite, errors + query_errors)
        return json_response(200, self.satellites.tasks(satellite, status))

    def _task_status(
        self, satellite: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_task_update(body)
        self._seen(satellite, errors + body_errors)
        assert fields is not None
        task = self.satellites.set_task_status(
            satellite, ids["task_id"], fields["status"], fields["result"]
        )
        return json_response(200, task)

    def _inference_access(
        self, satellite: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_inference_access(body)
        orbit = self._seen(satellite, errors + body_errors)
        assert fields is not None
        return json_response(200, {"authorized": self._may_read(orbit, fields["api_key"])})

    def _may_read(self, orbit: str, key: str) -> bool:
        """Whether a user key has DEPLOYMENT READ in the orbit."""
        user = self.store.user_for_key(key) if key.startswith("dfs_") else None
        row = self.store._one("SELECT organization_id FROM orbits WHERE id = ?", orbit)
        if user is None or row is None:
            return False
        role = self.store.org_role(row[0], user)
        if role is None:
            return False
        _, orbit_role = self.store.orbit_access(row[0], orbit, user)
        return allowed(role, orbit_role, "deployment", "read")

    def _deployments(
        self, satellite: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._seen(satellite, errors)
        return json_response(200, self.satellites.worker_deployments(satellite))

    def _deployment(
        self, satellite: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._seen(satellite, errors)
        return json_response(
            200, self.satellites.worker_deployment(satellite, ids["deployment_id"])
        )

    def _update(
        self, satellite: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_worker_update(body)
        self._seen(satellite, errors + body_errors)
        assert fields is not None
        every = {k: fields[k] for k in WORKER_FIELDS}  # all five, absent ones null
        return json_response(
            200, self.satellites.worker_update(satellite, ids["deployment_id"], every)
        )

    def _status(
        self, satellite: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_status_update(body)
        self._seen(satellite, errors + body_errors)
        assert fields is not None
        return json_response(
            200,
            self.satellites.worker_update(
                satellite, ids["deployment_id"], {"status": fields["status"]}
            ),
        )

    def _delete(
        self, satellite: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._seen(satellite, errors)
        self.satellites.worker_delete(satellite, ids["deployment_id"])
        return no_content()
