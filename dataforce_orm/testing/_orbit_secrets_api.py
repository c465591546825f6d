"""The orbit-secret routes: values encrypted at rest, blanked to "" in the listing, a
duplicate name answered 400; a plain orbit member may only list and create."""

from __future__ import annotations

from typing import Any

from ._access import Access
from ._orbit_secrets_store import DuplicateNameError, OrbitSecretStore
from ._registry_validation import validate_orbit_secret_create, validate_orbit_secret_update
from ._routing import ORBIT, Route
from ._store import Store
from ._validation import ErrorList
from ._wire import HttpError, Request, Response, json_response, no_content

SECRETS = ORBIT + "/secrets"
SECRET = SECRETS + "/{secret_id}"
_MISSING = "Orbit secret not found"


class OrbitSecretRoutes(Access):
    """The 5 orbit-secret routes."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.secrets = OrbitSecretStore(store)

    def routes(self) -> list[Route]:
        """This group's part of the route table."""
        return [
            Route("POST", SECRETS, self._create),
            Route("GET", SECRETS, self._list),
            Route("GET", SECRET, self._get),
            Route("PATCH", SECRET, self._update),
            Route("DELETE", SECRET, self._delete),
        ]

    def _begin(self, user: str, ids: dict[str, str], errors: ErrorList, action: str) -> None:
        self._raise_422(errors)
        self._allow(user, ids, "orbit_secret", action)

    def _create(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_orbit_secret_create(body)
        self._begin(user, ids, errors + body_errors, "create")
        assert fields is not None
        try:
            created = self.secrets.create(ids["orbit_id"], fields)
        except DuplicateNameError:
            text = f"Secret with name {fields['name']} already exist in orbit."
            raise HttpError(400, text) from None
        return json_response(200, created)

    def _list(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "list")
        listed = [{**s, "value": ""} for s in self.secrets.list(ids["orbit_id"])]
        return json_response(200, listed)

    def _get(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "read")
        found = self.secrets.get(ids["orbit_id"], ids["secret_id"])
        if found is None:
            raise HttpError(404, _MISSING)
        return json_response(200, found)

    def _update(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_orbit_secret_update(body)
        self._begin(user, ids, errors + body_errors, "update")
        assert fields is not None
        updated = self.secrets.update(ids["orbit_id"], ids["secret_id"], fields)
        if updated is None:
            raise HttpError(404, _MISSING)
        return json_response(200, updated)

    def _delete(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._begin(user, ids, errors, "delete")
        if not self.secrets.delete(ids["orbit_id"], ids["secret_id"]):
            raise HttpError(404, _MISSING)
        return no_content()
