"""Routes of organizations, orbits, bucket secrets and collections."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from ._access import Access
from ._permissions import orbit_permissions_for, org_permissions
from ._routing import ORBIT, ORG, Route
from ._store import DuplicateSecretError, NotNullError
from ._validation import (
    ErrorList,
    validate_create,
    validate_list_query,
    validate_orbit_create,
    validate_orbit_update,
    validate_secret_create,
    validate_secret_update,
    validate_update,
)
from ._wire import Abort, Request, Response, detail, internal_error, json_response

_DUPLICATE_SECRET = "Bucket secret with the given bucket name and endpoint already exists."


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
        raise Abort(internal_error())
    return {
        **head,
        **{k: row[k] for k in ("secure", "region", "cert_check")},
        "orbits": orbits,
        **tail,
    }



class CoreRoutes(Access):
    """Discovery, orbits, bucket secrets and collections."""

    def routes(self) -> list[Route]:
        """This group's part of the route table."""
        return [
            Route("GET", "/v1/users/me/organizations", self._get_organizations),
            Route("GET", "/v1/auth/api-keys/validate", self._get_validate, scopes=("api_key",)),
            Route("GET", ORG + "/orbits", self._get_orbits),
            Route("POST", ORG + "/orbits", self._post_orbits),
            Route("GET", ORBIT, self._get_orbit),
            Route("PATCH", ORBIT, self._patch_orbit),
            Route("DELETE", ORBIT, self._delete_orbit),
            Route("GET", ORG + "/bucket-secrets", self._get_bucket_secrets),
            Route("POST", ORG + "/bucket-secrets", self._post_bucket_secrets),
            Route("GET", ORG + "/bucket-secrets/{secret_id}", self._get_bucket_secret),
            Route("PATCH", ORG + "/bucket-secrets/{secret_id}", self._patch_bucket_secret),
            Route("DELETE", ORG + "/bucket-secrets/{secret_id}", self._delete_bucket_secret),
            Route("GET", ORBIT + "/collections", self._get_collections),
            Route("POST", ORBIT + "/collections", self._post_collections),
            Route("GET", ORBIT + "/collections/{collection_id}", self._get_collection),
            Route("PATCH", ORBIT + "/collections/{collection_id}", self._patch_collection),
            Route("DELETE", ORBIT + "/collections/{collection_id}", self._delete_collection),
        ]


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
        self._allow(user, ids, "collection", "list")
        page = self.store.list_collections(ids["orbit_id"], **query)
        return json_response(200, page)

    def _post_collections(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors + validate_create(body))
        self._allow(user, ids, "collection", "create")
        return json_response(200, self.store.create_collection(ids["orbit_id"], body))

    def _get_collection(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors)
        self._allow(user, ids, "collection", "read")
        found = self.store.get_collection(ids["orbit_id"], ids["collection_id"])
        if found is None:
            return detail(404, "Collection not found")
        return json_response(200, found)

    def _patch_collection(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._raise_422(errors + validate_update(body))
        self._allow(user, ids, "collection", "update")
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
        self._allow(user, ids, "collection", "delete")
        outcome = self.store.delete_collection(ids["orbit_id"], ids["collection_id"])
        if outcome == "missing":
            return detail(404, "Collection not found")
        if outcome == "conflict":
            return detail(409, "Collection has artifacts and cant be deleted")
        return Response(204, b"", None)

