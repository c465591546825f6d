"""What every route group shares: body parsing, authentication, path ids and rights."""

from __future__ import annotations

import contextlib
import json
from http.cookies import CookieError, SimpleCookie
from typing import Any

from ._ids import parse_uuid, uuid_error
from ._permissions import allowed
from ._satellites_store import SATELLITE_KEY_PREFIX, satellite_for_key
from ._store import Store
from ._validation import ErrorList, error
from ._wire import Abort, Request, detail, json_response


class Access:
    """The store and the checks a route handler runs before its own work."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @staticmethod
    def parse_body(req: Request) -> Any:
        if not req.body:
            return None
        ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and not (
            ctype == "application/json"
            or (ctype.startswith("application/") and ctype.endswith("+json"))
        ):
            return req.body.decode("utf-8", "replace")  # not parsed: fails model validation
        try:
            return json.loads(req.body)
        except json.JSONDecodeError as exc:
            entry = error(
                "json_invalid", ("body", exc.pos), "JSON decode error", {}, {"error": exc.msg}
            )
            raise Abort(json_response(422, {"detail": [entry]})) from exc
        except (ValueError, RecursionError) as exc:  # invalid UTF-8, absurd nesting: FastAPI
            # turns any other parsing failure into this 400
            raise Abort(detail(400, "There was an error parsing the body")) from exc

    @staticmethod
    def bearer_token(headers: dict[str, str]) -> str | None:
        """The ``Authorization: Bearer`` token, else the ``access_token`` cookie."""
        header = headers.get("authorization")
        if header is not None:
            parts = header.split(" ")
            return parts[1] if len(parts) == 2 and parts[0].lower() == "bearer" else None
        if "cookie" in headers:
            cookie = SimpleCookie()
            with contextlib.suppress(CookieError):
                cookie.load(headers["cookie"])
            if "access_token" in cookie:
                return cookie["access_token"].value
        return None

    def authenticate(self, headers: dict[str, str], scopes: tuple[str, ...]) -> str:
        """The user id (``api_key`` scope) or satellite id (``satellite``) of the caller:
        401 for no known principal, 403 for one the route's scopes do not admit."""
        token = self.bearer_token(headers) or ""
        principal, scope = None, ""
        if token.startswith("dfs_"):
            principal, scope = self.store.user_for_key(token), "api_key"
        elif token.startswith(SATELLITE_KEY_PREFIX):
            principal = satellite_for_key(self.store, token)
            scope = "satellite"
        if principal is None:
            raise Abort(detail(401, "Not authenticated"))
        if scope not in scopes:
            raise Abort(detail(403, f"This endpoint requires {', '.join(scopes)} authentication."))
        return principal

    @staticmethod
    def path_uuid(key: str, value: str, errors: ErrorList) -> str:
        parsed = parse_uuid(value)
        if parsed is None:
            msg = f"Input should be a valid UUID, {uuid_error(value)}"
            errors.append(
                error("uuid_parsing", ("path", key), msg, value, {"error": uuid_error(value)})
            )
            return ""
        return parsed

    @staticmethod
    def _raise_422(errors: ErrorList) -> None:
        if errors:
            raise Abort(json_response(422, {"detail": errors}))

    def _org_role(self, org: str, user: str) -> str:
        role = self.store.org_role(org, user)
        if role is None:
            raise Abort(detail(403, "Not enough rights"))
        return role

    def _orbit_rights(self, user: str, ids: dict[str, str]) -> tuple[str, str | None]:
        """(organization role, orbit role); 403 for a non-member, 404 for a foreign orbit."""
        role = self._org_role(ids["organization_id"], user)
        inside, orbit_role = self.store.orbit_access(ids["organization_id"], ids["orbit_id"], user)
        if not inside:
            raise Abort(detail(404, "Orbit not found"))
        return role, orbit_role


    def _secret_rights(self, user: str, org: str) -> None:
        if self._org_role(org, user) not in ("owner", "admin"):
            raise Abort(detail(403, "Not enough rights"))


    def _allow(self, user: str, ids: dict[str, str], resource: str, action: str) -> None:
        """The platform's permission check for an orbit's resource: 403 for a non-member,
        404 "Orbit not found" for an orbit of another organization, 403 for too few rights."""
        role, orbit_role = self._orbit_rights(user, ids)
        if not allowed(role, orbit_role, resource, action):
            raise Abort(detail(403, "Not enough rights"))
