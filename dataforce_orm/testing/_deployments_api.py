"""The deployment routes of an orbit: a create queues a ``deploy`` task, the PATCH overwrites
six fields (absent ones become null, with the platform's 500s and broken rows), DELETE
answers the queued ``undeploy`` task, ``/force`` removes the row without undeploying."""

from __future__ import annotations

from typing import Any

from ._access import Access
from ._routing import ORBIT, Route
from ._satellite_validation import validate_deployment_create, validate_deployment_details
from ._satellites_store import SatelliteStore
from ._store import Store
from ._validation import ErrorList
from ._wire import Request, Response, json_response, no_content

DEPLOYMENTS = ORBIT + "/deployments"
DEPLOYMENT = DEPLOYMENTS + "/{deployment_id}"


class DeploymentRoutes(Access):
    """The 6 deployment routes of an orbit."""

    def __init__(self, store: Store, satellites: SatelliteStore) -> None:
        super().__init__(store)
        self.satellites = satellites

    def routes(self) -> list[Route]:
        """This group's part of the route table."""
        return [
            Route("POST", DEPLOYMENTS, self._create),
            Route("GET", DEPLOYMENTS, self._list),
            Route("GET", DEPLOYMENT, self._get),
            Route("PATCH", DEPLOYMENT, self._update),
            Route("DELETE", DEPLOYMENT, self._delete),
            Route("DELETE", DEPLOYMENT + "/force", self._force_delete),
        ]

    def _begin(self, user: str, ids: dict[str, str], errors: ErrorList, action: str) -> None:
        self._raise_422(errors)
        self._allow(user, ids, "deployment", action)

    def _create(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_deployment_create(body)
        self._begin(user, ids, errors + body_errors, "create")
        assert fields is not None
        self.satellites.check_references(
            ids["orbit_id"], fields["satellite_id"], fields["artifact_id"]
        )
        created = self.satellites.create_deployment(
            ids["orbit_id"], fields, self.satellites.user_name(user)
        )
        return json_response(200, created)

    def _list(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "list")
        return json_response(200, self.satellites.deployments(ids["orbit_id"]))

    def _get(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "read")
        return json_response(
            200, self.satellites.deployment(ids["deployment_id"], ids["orbit_id"])
        )

    def _update(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_deployment_details(body)
        self._begin(user, ids, errors + body_errors, "update")
        assert fields is not None
        updated = self.satellites.update_details(ids["deployment_id"], ids["orbit_id"], fields)
        return json_response(200, updated)

    def _delete(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "delete")
        task = self.satellites.request_deletion(ids["deployment_id"], ids["orbit_id"])
        return json_response(200, task)

    def _force_delete(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "delete")
        self.satellites.force_delete(ids["deployment_id"], ids["orbit_id"])
        return no_content()
