"""The DataForce API routes, independent of the HTTP plumbing."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, unquote

from ._artifacts_api import ArtifactRoutes
from ._ids import parse_uuid, uuid_error
from ._storage import Storage
from ._store import NotNullError, Store
from ._validation import (
    ErrorList,
    error,
    validate_create,
    validate_list_query,
    validate_update,
)

_JSON = "application/json"
_ALL = ["create", "read", "list", "update", "delete"]


@dataclass
class Request:
    """What the route layer needs from an HTTP request (header names lower-case)."""

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Response:
    """Status, body bytes, content type (None: no body headers) and extra headers."""

    status: int
    body: bytes = b""
    content_type: str | None = _JSON
    headers: list[tuple[str, str]] = field(default_factory=list)


def json_response(status: int, data: Any) -> Response:
    """A JSON response rendered as Starlette does (compact, UTF-8)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return Response(status, text.encode())


def detail(status: int, message: str) -> Response:
    """``{"detail": message}``."""
    return json_response(status, {"detail": message})


def internal_error() -> Response:
    """The plain-text 500 of an unhandled exception."""
    return Response(500, b"Internal Server Error", "text/plain; charset=utf-8")


class _Abort(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


_COLLECTION = (
    "v1",
    "organizations",
    "{organization_id}",
    "orbits",
    "{orbit_id}",
    "collections",
    "{collection_id}",
)
_ARTIFACT = (*_COLLECTION, "artifacts", "{artifact_id}")
_ROUTES: list[tuple[tuple[str, ...], tuple[str, ...], str]] = [
    (("v1", "users", "me", "organizations"), ("GET",), "organizations"),
    (("v1", "auth", "api-keys", "validate"), ("GET",), "validate"),
    (("v1", "organizations", "{organization_id}", "orbits"), ("GET",), "orbits"),
    (("v1", "organizations", "{organization_id}", "orbits", "{orbit_id}"), ("GET",), "orbit"),
    (
        ("v1", "organizations", "{organization_id}", "orbits", "{orbit_id}", "collections"),
        ("GET", "POST"),
        "collections",
    ),
    (
        (
            "v1",
            "organizations",
            "{organization_id}",
            "orbits",
            "{orbit_id}",
            "collections",
            "{collection_id}",
        ),
        ("GET", "PATCH", "DELETE"),
        "collection",
    ),
    # artifacts (handlers in _artifacts_api.py)
    (
        ("v1", "organizations", "{organization_id}", "orbits", "{orbit_id}", "artifacts"),
        ("GET",),
        "orbit_artifacts",
    ),
    ((*_COLLECTION, "artifacts"), ("POST",), "collection_artifacts"),
    (_ARTIFACT, ("GET", "PATCH", "DELETE"), "artifact"),
    ((*_ARTIFACT, "download-url"), ("GET",), "artifact_download_url"),
    ((*_ARTIFACT, "delete-url"), ("GET",), "artifact_delete_url"),
    ((*_ARTIFACT, "force"), ("DELETE",), "artifact_force"),
    (("v1", "bucket-secrets", "upload", "multipart"), ("POST",), "multipart_upload"),
]


def match(path: str) -> tuple[str, dict[str, str], tuple[str, ...]] | None:
    """(route name, raw path params, methods) for a path, or None."""
    parts = path.split("/")[1:]
    for pattern, methods, name in _ROUTES:
        if len(parts) != len(pattern):
            continue
        params: dict[str, str] = {}
        for want, got in zip(pattern, parts, strict=False):
            if want.startswith("{"):
                if not got:
                    break
                params[want[1:-1]] = unquote(got)
            elif want != got:
                break
        else:
            return name, params, methods
    return None


def org_permissions(role: str) -> dict[str, list[str]]:
    """A plausible permissions map for an organization role."""
    full = role in ("owner", "admin")
    some = _ALL if full else ["read", "list"]
    org = (
        ["read", "update", "delete"]
        if role == "owner"
        else ["read", "update"]
        if full
        else ["read"]
    )
    return {
        "organization": org,
        "organization_user": some,
        "organization_invite": some,
        "orbit": some,
        "bucket_secret": some,
        "collection": _ALL if full else [],
        "artifact": _ALL if full else [],
    }


def orbit_permissions(role: str | None) -> dict[str, list[str]]:
    """A plausible permissions map for an effective orbit role."""
    if role == "admin":
        return {"orbit": _ALL, "orbit_user": _ALL, "collection": _ALL, "artifact": _ALL}
    return {
        "orbit": ["read", "list"],
        "orbit_user": ["read", "list"],
        "collection": ["create", "read", "list", "update"],
        "artifact": ["create", "read", "list", "update"],
    }


class Api(ArtifactRoutes):
    """Route a Request to a Response against a Store (and the storage behind artifacts)."""

    def __init__(self, store: Store, storage: Storage | None = None) -> None:
        self.store = store
        self.init_artifacts(storage or Storage(lambda: "http://127.0.0.1"))

    def handle(self, req: Request) -> Response:
        """Answer one request; unexpected errors become the plain-text 500."""
        try:
            return self._route(req)
        except _Abort as abort:
            return abort.response
        except Exception:
            return internal_error()

    def _route(self, req: Request) -> Response:
        found = match(req.path)
        if found is None:
            if req.path != "/" and req.path.endswith("/") and match(req.path[:-1]):
                host = req.headers.get("host", "127.0.0.1")
                location = f"http://{host}{req.path[:-1]}" + (f"?{req.query}" if req.query else "")
                return Response(307, b"", None, [("location", location)])
            return detail(404, "Not Found")
        name, raw, methods = found
        method = "GET" if req.method == "HEAD" else req.method
        if method not in methods:
            allow = [("allow", methods[0])]
            return Response(405, b'{"detail":"Method Not Allowed"}', _JSON, allow)
        body = self._parse_body(req) if method in ("POST", "PATCH") else None
        user = self._authenticate(req.headers)
        errors: ErrorList = []
        ids = {key: self._path_uuid(key, value, errors) for key, value in raw.items()}
        handler = getattr(self, f"_{method.lower()}_{name}")
        result: Response = handler(user, ids, req, body, errors)
        return result

    # -- plumbing ---------------------------------------------------------------------------

    @staticmethod
    def _parse_body(req: Request) -> Any:
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
            raise _Abort(json_response(422, {"detail": [entry]})) from exc
        except (ValueError, RecursionError) as exc:  # invalid UTF-8, absurd nesting: FastAPI
            # turns any other parsing failure into this 400
            raise _Abort(detail(400, "There was an error parsing the body")) from exc

    def _authenticate(self, headers: dict[str, str]) -> str:
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
        user = self.store.user_for_key(token) if token and token.startswith("dfs_") else None
        if user is None:
            raise _Abort(detail(401, "Not authenticated"))
        return user

    @staticmethod
    def _path_uuid(key: str, value: str, errors: ErrorList) -> str:
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
            raise _Abort(json_response(422, {"detail": errors}))

    def _org_role(self, org: str, user: str) -> str:
        role = self.store.org_role(org, user)
        if role is None:
            raise _Abort(detail(403, "Not enough rights"))
        return role

    def _check(self, user: str, ids: dict[str, str], action: str) -> None:
        role = self._org_role(ids["organization_id"], user)
        inside, orbit_role = self.store.orbit_access(ids["organization_id"], ids["orbit_id"], user)
        if not inside:
            raise _Abort(detail(404, "Orbit not found"))
        if role in ("owner", "admin") or orbit_role == "admin":
            return
        if orbit_role == "member" and action != "delete":
            return
        raise _Abort(detail(403, "Not enough rights"))

    # -- discovery --------------------------------------------------------------------------

    def _get_organizations(
        self, user: str, ids: Any, req: Request, body: Any, errors: ErrorList
    ) -> Response:
        orgs = self.store.organizations(user)
        return json_response(
            200,
            [
                {
                    "id": o["id"],
                    "name": o["name"],
                    "logo": None,
                    "created_at": o["created_at"],
                    "updated_at": o["updated_at"],
                    "role": o["role"],
                    "permissions": org_permissions(o["role"]),
                }
                for o in orgs
            ],
        )

    def _get_validate(
        self, user: str, ids: Any, req: Request, body: Any, errors: ErrorList
    ) -> Response:
        return Response(204, b"", None)

    def _orbit_list(self, user: str, org: str, orbit: str | None) -> list[dict[str, Any]]:
        role = self._org_role(org, user)
        out = []
        for o in self.store.orbits(org, user, orbit):
            full = role in ("owner", "admin")
            if not full and o["role"] is None:
                if orbit is not None:
                    raise _Abort(detail(403, "Not enough rights"))
                continue
            o["permissions"] = orbit_permissions("admin" if full else o["role"])
            out.append(o)
        return out

    def _get_orbits(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors)
        return json_response(200, self._orbit_list(user, ids["organization_id"], None))

    def _get_orbit(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors)
        orbits = self._orbit_list(user, ids["organization_id"], ids["orbit_id"])
        if not orbits:
            return detail(404, "Orbit not found")
        orbit = orbits[0]
        orbit["members"] = self.store.orbit_members(orbit["id"])
        orbit["collections_tags"] = self.store.collections_tags(orbit["id"])
        return json_response(200, orbit)

    # -- collections ------------------------------------------------------------------------

    def _get_collections(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        query, query_errors = validate_list_query(parse_qsl(req.query, keep_blank_values=True))
        self._raise_422(errors + query_errors)
        self._check(user, ids, "list")
        page = self.store.list_collections(ids["orbit_id"], **query)
        return json_response(200, page)

    def _post_collections(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors + validate_create(body))
        self._check(user, ids, "create")
        return json_response(200, self.store.create_collection(ids["orbit_id"], body))

    def _get_collection(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors)
        self._check(user, ids, "read")
        found = self.store.get_collection(ids["orbit_id"], ids["collection_id"])
        if found is None:
            return detail(404, "Collection not found")
        return json_response(200, found)

    def _patch_collection(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors + validate_update(body))
        self._check(user, ids, "update")
        try:
            updated = self.store.update_collection(
                ids["orbit_id"],
                ids["collection_id"],
                body.get("name"),
                body.get("description"),
                body.get("tags"),
            )
        except NotNullError:
            return internal_error()
        if updated is None:
            return detail(404, "Collection not found")
        return json_response(200, updated)

    def _delete_collection(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors)
        self._check(user, ids, "delete")
        outcome = self.store.delete_collection(ids["orbit_id"], ids["collection_id"])
        if outcome == "missing":
            return detail(404, "Collection not found")
        if outcome == "conflict":
            return detail(409, "Collection has artifacts and cant be deleted")
        return Response(204, b"", None)
