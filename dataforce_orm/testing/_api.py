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
from ._store import DuplicateSecretError, NotNullError, Store
from ._validation import (
    ErrorList,
    error,
    validate_create,
    validate_list_query,
    validate_orbit_create,
    validate_orbit_update,
    validate_secret_create,
    validate_secret_update,
    validate_update,
)

_JSON = "application/json"
_DUPLICATE_SECRET = "Bucket secret with the given bucket name and endpoint already exists."
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
    (("v1", "organizations", "{organization_id}", "orbits"), ("GET", "POST"), "orbits"),
    (
        ("v1", "organizations", "{organization_id}", "orbits", "{orbit_id}"),
        ("GET", "PATCH", "DELETE"),
        "orbit",
    ),
    (
        ("v1", "organizations", "{organization_id}", "bucket-secrets"),
        ("GET", "POST"),
        "bucket_secrets",
    ),
    (
        ("v1", "organizations", "{organization_id}", "bucket-secrets", "{secret_id}"),
        ("GET", "PATCH", "DELETE"),
        "bucket_secret",
    ),
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


_CRUD = ["list", "read", "create", "update", "delete"]
_ORBIT_RESOURCES = (
    "orbit", "orbit_user", "artifact", "collection", "track", "satellite", "orbit_secret",
    "deployment",
)
# the platform's tables (backend/luml/schemas/permissions.py), orbit-level resources only
_ORG_ROLE_GRANTS: dict[str, dict[str, list[str]]] = {
    "owner": {
        "orbit": ["create", "update", "delete", "list", "read"],
        "orbit_user": ["list", "create", "update", "delete", "read"],
        "satellite": ["create", "list", "read", "update", "delete"],
        "deployment": _CRUD,
        "orbit_secret": _CRUD,
        "artifact": [*_CRUD, "deploy"],
        "collection": [*_CRUD, "deploy"],
        "track": _CRUD,
    },
}
_ORG_ROLE_GRANTS["admin"] = {
    **_ORG_ROLE_GRANTS["owner"],
    "orbit": ["create", "update", "list", "read"],
}
_ORBIT_ROLE_GRANTS: dict[str, dict[str, list[str]]] = {
    "admin": {
        "orbit": ["create", "update", "delete", "list", "read"],
        "orbit_user": ["list", "create", "update", "delete", "read"],
        "artifact": [*_CRUD, "deploy"],
        "collection": _CRUD,
        "track": _CRUD,
        "satellite": ["create", "list", "read", "update", "delete"],
        "deployment": _CRUD,
        "orbit_secret": _CRUD,
    },
    "member": {
        "orbit": ["list", "read"],
        "artifact": _CRUD[:4],
        "collection": _CRUD[:4],
        "track": _CRUD[:4],
        "deployment": _CRUD[:4],
        "satellite": ["create", "list", "read"],
        "orbit_secret": ["list", "create"],
    },
}


def orbit_permissions_for(org_role: str | None, orbit_role: str | None) -> dict[str, list[str]]:
    """An Orbit's ``permissions`` as the platform computes them: an organization owner/admin
    gets the organization role's grants, anyone else the orbit role's (none: ``{}``)."""
    if org_role in _ORG_ROLE_GRANTS:
        grants = _ORG_ROLE_GRANTS[org_role]
    elif orbit_role is not None:
        grants = _ORBIT_ROLE_GRANTS[orbit_role]
    else:
        return {}
    return {r: list(grants[r]) for r in _ORBIT_RESOURCES if r in grants}


def _uuid_repr(ids: list[str]) -> str:
    """A Python set of UUIDs as str() shows it: ``{UUID('…'), UUID('…')}``."""
    return "{" + ", ".join(f"UUID('{i}')" for i in ids) + "}"


def secret_out(row: dict[str, Any], orbits: list[dict[str, Any]]) -> dict[str, Any]:
    """A BucketSecretOut (keys never included); an S3 secret without a region cannot be
    serialized by the platform, which answers the plain-text 500."""
    head = {k: row[k] for k in ("id", "type", "endpoint", "bucket_name")}
    tail = {k: row[k] for k in ("organization_id", "created_at", "updated_at")}
    if row["type"] == "azure":
        return {**head, **tail, "orbits": orbits}
    if row["region"] is None:
        raise _Abort(internal_error())
    return {
        **head,
        **{k: row[k] for k in ("secure", "region", "cert_check")},
        "orbits": orbits,
        **tail,
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

    def _get_orbits(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors)
        org = ids["organization_id"]
        role = self._org_role(org, user)
        out = []
        for orbit in self.store.orbits(org, user):
            if role in ("owner", "admin"):  # every orbit, all totals, no role
                orbit["role"] = None
            elif orbit["role"] is None:  # members see the orbits they belong to
                continue
            else:
                orbit["total_satellites"] = orbit["total_artifacts"] = None
            orbit["permissions"] = orbit_permissions_for(role, orbit["role"])
            out.append(orbit)
        return json_response(200, out)

    def _orbit_details(self, org: str, user: str, orbit_id: str, org_role: str) -> Response:
        found = self.store.orbits(org, user, orbit_id)
        if not found:
            return detail(404, "Orbit not found")
        orbit = found[0]
        orbit["permissions"] = orbit_permissions_for(org_role, orbit["role"])
        orbit["role"] = None  # the platform reads details from the orbit row: no role there
        orbit["members"] = self.store.orbit_members(orbit_id)
        orbit["collections_tags"] = self.store.collections_tags(orbit_id)
        return json_response(200, orbit)

    def _get_orbit(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors)
        org = ids["organization_id"]
        role = self._org_role(org, user)  # any organization member may read any orbit
        return self._orbit_details(org, user, ids["orbit_id"], role)

    def _post_orbits(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_orbit_create(body)
        self._raise_422(errors + body_errors)
        org = ids["organization_id"]
        role = self._org_role(org, user)
        if role not in ("owner", "admin"):
            return detail(403, "Not enough rights")
        outcome, value = self.store.create_orbit(
            org, user, fields["name"], fields["bucket_secret_id"], fields["members"] or []
        )
        refusals = {
            "limit": (409, "Organization reached maximum number of orbits"),
            "secret": (404, "Bucket secret not found"),
            "repeated": (400, "Orbit members should contain only unique values."),
            "self": (400, "You can not add yourself to orbit."),
            "outsiders": (400, f"Users {_uuid_repr(value or [])} are not in the organization."),
        }
        if outcome in refusals:
            return detail(*refusals[outcome])
        return self._orbit_details(org, user, value, role)

    def _orbit_rights(self, user: str, ids: dict[str, str]) -> tuple[str, str | None]:
        """(organization role, orbit role); 403 for a non-member, 404 for a foreign orbit."""
        role = self._org_role(ids["organization_id"], user)
        inside, orbit_role = self.store.orbit_access(ids["organization_id"], ids["orbit_id"], user)
        if not inside:
            raise _Abort(detail(404, "Orbit not found"))
        return role, orbit_role

    def _patch_orbit(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_orbit_update(body)
        self._raise_422(errors + body_errors)
        role, orbit_role = self._orbit_rights(user, ids)
        if role not in ("owner", "admin") and orbit_role != "admin":
            return detail(403, "Not enough rights")
        org, orbit_id = ids["organization_id"], ids["orbit_id"]
        try:
            outcome = self.store.update_orbit(org, orbit_id, fields)
        except NotNullError:
            return internal_error()
        if outcome == "secret":
            return detail(404, "Bucket secret not found")
        found = self.store.orbits(org, user, orbit_id)
        if outcome == "missing" or not found:
            return detail(404, "Orbit not found")
        # an Orbit read from the row alone: no role, no permissions
        return json_response(200, {**found[0], "role": None, "permissions": None})

    def _delete_orbit(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors)
        role, orbit_role = self._orbit_rights(user, ids)
        if role != "owner" and orbit_role != "admin":  # org admins lack orbit delete
            return detail(403, "Not enough rights")
        if not self.store.delete_orbit(ids["organization_id"], ids["orbit_id"]):
            return detail(404, "Orbit not found")
        return Response(204, b"", None)

    # -- bucket secrets ---------------------------------------------------------------------

    def _secret_rights(self, user: str, org: str) -> None:
        if self._org_role(org, user) not in ("owner", "admin"):
            raise _Abort(detail(403, "Not enough rights"))

    def _get_bucket_secrets(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors)
        self._secret_rights(user, ids["organization_id"])
        rows = self.store.bucket_secrets(ids["organization_id"])
        return json_response(200, [secret_out(row, row["orbits"]) for row in rows])

    def _post_bucket_secrets(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_secret_create(body)
        self._raise_422(errors + body_errors)
        self._secret_rights(user, ids["organization_id"])
        try:
            secret = self.store.add_bucket_secret(ids["organization_id"], fields)
        except DuplicateSecretError:
            return detail(409, _DUPLICATE_SECRET)
        row = self.store.bucket_secret_row(secret)
        if row is None:  # deleted meanwhile
            return detail(404, "Secret not found")
        return json_response(200, secret_out(row, []))

    def _get_bucket_secret(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors)
        self._secret_rights(user, ids["organization_id"])
        rows = self.store.bucket_secrets(ids["organization_id"], ids["secret_id"])
        if not rows:
            return detail(404, "Secret not found")
        return json_response(200, secret_out(rows[0], rows[0]["orbits"]))

    def _patch_bucket_secret(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_secret_update(body)
        self._raise_422(errors + body_errors)
        self._secret_rights(user, ids["organization_id"])
        outcome, value = self.store.update_bucket_secret(
            ids["organization_id"], ids["secret_id"], fields
        )
        if outcome == "missing":
            return detail(404, "Secret not found")
        if outcome == "azure_fields":
            return detail(400, f"Fields {value} cannot be set for Azure bucket secrets")
        if outcome == "conflict":  # also a NULL endpoint or bucket name: same text
            return detail(409, _DUPLICATE_SECRET)
        # the platform answers from the updated record, which has no orbits loaded
        return json_response(200, secret_out(value, []))

    def _delete_bucket_secret(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors)
        self._secret_rights(user, ids["organization_id"])
        outcome = self.store.delete_bucket_secret(ids["organization_id"], ids["secret_id"])
        if outcome == "missing":
            return detail(404, "Secret not found")
        if outcome == "in_use":
            return detail(409, "Cannot delete bucket secret that is currently used by orbits")
        return Response(204, b"", None)

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
