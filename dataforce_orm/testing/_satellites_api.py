"""The satellite management routes: a one-time ``dfssat_`` key at create and regenerate,
the organization's satellites limit, the PATCH that writes name and description together,
and no delete while a deployment references the satellite."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from ._access import Access
from ._routing import ORBIT, Route
from ._satellite_validation import query_flag, validate_satellite
from ._satellites_store import SatelliteStore
from ._store import Store
from ._validation import ErrorList
from ._wire import HttpError, Request, Response, json_response, no_content

SATELLITES = ORBIT + "/satellites"
SATELLITE = SATELLITES + "/{satellite_id}"


class SatelliteRoutes(Access):
    """The 6 satellite routes of an orbit."""

    def __init__(self, store: Store, satellites: SatelliteStore) -> None:
        super().__init__(store)
        self.satellites = satellites

    def routes(self) -> list[Route]:
        """This group's part of the route table."""
        return [
            Route("POST", SATELLITES, self._create),
            Route("GET", SATELLITES, self._list),
            Route("GET", SATELLITE, self._get),
            Route("PATCH", SATELLITE, self._update),
            Route("POST", SATELLITE + "/api-key", self._regenerate_key),
            Route("DELETE", SATELLITE, self._delete),
        ]

    def _begin(self, user: str, ids: dict[str, str], errors: ErrorList, action: str) -> None:
        self._raise_422(errors)
        self._allow(user, ids, "satellite", action)

    def _here(self, ids: dict[str, str]) -> dict[str, Any]:
        found = self.satellites.satellite(ids["satellite_id"], ids["orbit_id"])
        if found is None:
            raise HttpError(404, "Satellite not found")
        return found

    def _create(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_satellite(body)
        self._begin(user, ids, errors + body_errors, "create")
        assert fields is not None
        satellite, key = self.satellites.create_satellite(
            ids["organization_id"], ids["orbit_id"], fields["name"], fields["description"]
        )
        return json_response(200, {"satellite": satellite, "api_key": key})

    def _list(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        query_errors: ErrorList = []
        paired = query_flag(parse_qsl(req.query, keep_blank_values=True), "paired", query_errors)
        self._begin(user, ids, errors + query_errors, "list")
        return json_response(200, self.satellites.satellites(ids["orbit_id"], paired))

    def _get(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "read")
        return json_response(200, self._here(ids))

    def _update(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_satellite(body)
        self._begin(user, ids, errors + body_errors, "update")
        assert fields is not None
        self._here(ids)
        updated = self.satellites.update_satellite(
            ids["satellite_id"], fields["name"], fields["description"]
        )
        return json_response(200, updated)

    def _regenerate_key(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "update")
        self._here(ids)
        return json_response(200, {"key": self.satellites.regenerate_key(ids["satellite_id"])})

    def _delete(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "delete")
        self._here(ids)
        self.satellites.delete_satellite(ids["satellite_id"])
        return no_content()
