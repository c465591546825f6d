"""What every route group shares: body parsing, authentication, path ids and rights."""

from __future__ import annotations

import contextlib
import json
from http.cookies import CookieError, SimpleCookie
from typing import Any

from ._ids import parse_uuid, uuid_error
from ._permissions import allowed
from ._satellite_keys import is_satellite_key, wrong_scope
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

    def authenticate(self, headers: dict[str, str], template: str = "") -> str:
        token: str | None = None
        header = headers.get("authorization")
        if header is not None:
            parts = header.split(" ")
            if len(parts) == 2 and parts[0].lower() == "bearer":
                token = parts[1]
        elif "cookie" in headers:
            cookie = SimpleCookie()
            with contextlib.suppress(CookieError):
                cookie.load(headers["cookie"])
            if "access_token" in cookie:
                token = cookie["access_token"].value
        if token and is_satellite_key(self.store, token):  # a principal, of the wrong scope
            raise Abort(detail(403, wrong_scope(template)))
        user = self.store.user_for_key(token) if token and token.startswith("dfs_") else None
        if user is None:
            raise Abort(detail(401, "Not authenticated"))
        return user

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
