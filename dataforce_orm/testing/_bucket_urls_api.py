"""The bucket-secret connection test: presigned PUT, GET and DELETE URLs for an object named
``test_file``, for a new secret's settings (nothing stored, no rights checked) or for a
stored secret merged with changes (keys need not be sent again)."""

from __future__ import annotations

from typing import Any

from ._access import Access
from ._artifacts_store import ArtifactStore, Bucket, storage_target
from ._routing import ORG, Route
from ._storage import Storage
from ._store import Store
from ._validation import (
    BUCKET_TYPES,
    ErrorList,
    check_enum,
    error,
    parse_body_uuid,
    validate_secret_create,
    validate_secret_update,
)
from ._wire import HttpError, Request, Response, json_response

TEST_OBJECT = "test_file"


class BucketUrlRoutes(Access):
    """``POST /v1/bucket-secrets/urls`` and ``POST ORG/bucket-secrets/{id}/urls``."""

    def __init__(self, store: Store, artifacts: ArtifactStore, storage: Storage) -> None:
        super().__init__(store)
        self.artifacts = artifacts
        self.storage = storage

    def routes(self) -> list[Route]:
        """This group's part of the route table."""
        return [
            Route("POST", "/v1/bucket-secrets/urls", self._new_secret_urls),
            Route("POST", ORG + "/bucket-secrets/{secret_id}/urls", self._stored_secret_urls),
        ]

    def _urls(self, bucket: Bucket) -> Response:
        target = storage_target(bucket, self.storage.netloc)
        kind = bucket.type
        if kind == "azure":
            upload = self.storage.azure_url(TEST_OBJECT, "cw")
        else:
            upload = self.storage.s3_url("PUT", TEST_OBJECT, what="upload URL", target=target)
        return json_response(
            200,
            {
                "presigned_url": upload,
                "download_url": self.storage.download_url(kind, TEST_OBJECT, target),
                "delete_url": self.storage.delete_url(kind, TEST_OBJECT, target),
            },
        )

    @staticmethod
    def _bucket(values: dict[str, Any], marked_own: bool = False) -> Bucket:
        return Bucket(
            values.get("id", ""), values.get("organization_id", ""), values["type"],
            values["endpoint"], values["bucket_name"], values.get("access_key"),
            values.get("secret_key"), values.get("region"), values.get("secure"), marked_own,
        )

    def _new_secret_urls(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_secret_create(body)
        self._raise_422(errors + body_errors)
        return self._urls(self._bucket(fields))

    def _stored_secret_urls(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_secret_update(body)
        if isinstance(body, dict):
            if body.get("type", "s3") is None:  # the model's type is not optional here
                check_enum(BUCKET_TYPES, ("body", "type"), None, body_errors)
            if "id" not in body:
                body_errors.append(error("missing", ("body", "id"), "Field required", body))
            else:
                fields["id"] = parse_body_uuid(("body", "id"), body["id"], body_errors)
        self._raise_422(errors + body_errors)
        org, secret_id = ids["organization_id"], ids["secret_id"]
        self._secret_rights(user, org)
        if fields.pop("id") != secret_id:
            raise HttpError(400, "Secret id does not match the path")
        rows = self.store.bucket_secrets(org, secret_id)
        if not rows:
            raise HttpError(404, "Secret not found")
        stored = rows[0]
        if stored["type"] != (body.get("type") or "s3"):  # an absent type counts as "s3"
            raise HttpError(400, "Bucket type cannot be changed")
        merged = {**stored, **fields}
        own = self.artifacts.bucket_by_secret(secret_id)
        marked = own is not None and own.marked_own and merged["endpoint"] == stored["endpoint"]
        return self._urls(self._bucket(merged, marked))
