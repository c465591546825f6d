"""The artifact routes of the local server (a mixin of ``Api``), with the platform's rules.

``P = /v1/organizations/{organization_id}/orbits/{orbit_id}``: create
(``POST P/collections/{c}/artifacts``), update (PATCH), the orbit-wide list (``GET P/artifacts``),
details, download-url, delete-url (sets ``pending_deletion``), confirm delete, force delete, and
``POST /v1/bucket-secrets/upload/multipart``.

Storage follows the orbit's bucket secret: its ``type`` picks the wire flavour (S3 or Azure).
URLs point at the server's own storage (``/dataforce-local/...``, ``/devstoreaccount1/...``)
unless the secret is an S3 one on another service (see ``storage_target``), for which they
are presigned with the secret's endpoint, bucket, keys and region, as the platform does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from ._access import Access
from ._artifact_validation import (
    ARTIFACT_TYPES,
    is_luml_manifest,
    validate_artifact_create,
    validate_artifact_list_query,
    validate_artifact_update,
    validate_multipart,
)
from ._artifacts_store import ArtifactStore, Bucket, storage_target
from ._routing import ORBIT, Route
from ._storage import S3Target, Storage
from ._store import Store
from ._validation import ErrorList
from ._wire import HttpError, Request, Response, json_response, no_content

# A legacy (FNNX) manifest is a model only when the archive index holds all of these.
MODEL_FILES = (
    "dtypes.json",
    "env.json",
    "manifest.json",
    "meta.json",
    "ops.json",
    "variant_config.json",
)

def artifact_type(fields: dict[str, Any]) -> str:
    """The type the platform determines from the manifest (and the archive index)."""
    manifest = fields["manifest"]
    if is_luml_manifest(manifest):
        if manifest["artifact_type"] not in ARTIFACT_TYPES:
            raise HttpError(400, "Unsupported LUML Artifact type.")
        return str(manifest["artifact_type"])
    if all(name in fields["file_index"] for name in MODEL_FILES):
        return "model"
    raise HttpError(400, "Could not define artifact type.")


def type_allowed(collection_type: str, kind: str) -> bool:
    """``mixed`` admits everything; otherwise the type must be a substring of it."""
    return collection_type == "mixed" or kind in collection_type


class ArtifactRoutes(Access):
    """Artifact route handlers, on the artifact tables and the storage behind them."""

    def __init__(self, store: Store, storage: Storage) -> None:
        super().__init__(store)
        self.artifacts = ArtifactStore(store)
        self.storage = storage

    def routes(self) -> list[Route]:
        """This group's part of the route table."""
        artifact = ORBIT + "/collections/{collection_id}/artifacts/{artifact_id}"
        return [
            Route("GET", ORBIT + "/artifacts", self._get_orbit_artifacts),
            Route(
                "POST", ORBIT + "/collections/{collection_id}/artifacts",
                self._post_collection_artifacts,
            ),
            Route("GET", artifact, self._get_artifact),
            Route("PATCH", artifact, self._patch_artifact),
            Route("DELETE", artifact, self._delete_artifact),
            Route("GET", artifact + "/download-url", self._get_artifact_download_url),
            Route("GET", artifact + "/delete-url", self._get_artifact_delete_url),
            Route("DELETE", artifact + "/force", self._delete_artifact_force),
            Route("POST", "/v1/bucket-secrets/upload/multipart", self._post_multipart_upload),
        ]

    # -- shared steps ---------------------------------------------------------------------------

    def _collection(self, ids: dict[str, str]) -> dict[str, Any]:
        found = self.artifacts.collection(ids["orbit_id"], ids["collection_id"])
        if found is None:
            raise HttpError(404, "Collection not found")
        return found

    def _artifact(self, ids: dict[str, str]) -> dict[str, Any]:
        found = self.artifacts.get(ids["artifact_id"])
        if found is None or found["collection_id"] != ids["collection_id"]:
            raise HttpError(404, "Artifact not found")
        return found

    def _bucket(self, ids: dict[str, str]) -> Bucket:
        bucket = self.artifacts.bucket(ids["orbit_id"])
        if bucket is None:
            raise HttpError(404, "Orbit not found")
        return bucket

    def _target(self, bucket: Bucket) -> S3Target | None:
        return storage_target(bucket, self.storage.netloc)

    def _prepare(self, user: str, ids: dict[str, str], errors: ErrorList, action: str) -> None:
        self._raise_422(errors)
        self._allow(user, ids, "artifact", action)

    # -- routes ---------------------------------------------------------------------------------

    def _post_collection_artifacts(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_artifact_create(body)
        self._prepare(user, ids, errors + body_errors, "create")
        assert fields is not None
        collection = self._collection(ids)
        kind = artifact_type(fields)
        if fields["type"] and kind != fields["type"]:
            raise HttpError(400, "Artifact's real type does not match the type you specified.")
        if not type_allowed(collection["type"], kind):
            raise HttpError(400, "Artifact type is not allowed for this collection type")
        fields["type"] = kind
        created = self.artifacts.create(
            ids["orbit_id"], ids["collection_id"], ids["organization_id"], user, fields
        )
        bucket = self._bucket(ids)
        details = self.storage.upload_details(
            bucket.type,
            created["bucket_location"],
            created["size"],
            bucket.secret_id,
            self._target(bucket),
        )
        return json_response(200, {"artifact": created, "upload_details": details})

    def _patch_artifact(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        changes, body_errors = validate_artifact_update(body)
        self._prepare(user, ids, errors + body_errors, "update")
        assert changes is not None
        self._collection(ids)
        updated = self.artifacts.update(ids["collection_id"], ids["artifact_id"], changes)
        return json_response(200, updated)

    def _get_orbit_artifacts(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        query, query_errors = validate_artifact_list_query(
            parse_qsl(req.query, keep_blank_values=True)
        )
        self._prepare(user, ids, errors + query_errors, "list")
        page = self.artifacts.list_page(
            ids["orbit_id"],
            collection_ids=query["collection_ids"],
            types=query["types"],
            search=query["search"],
            excluded_tracks=query["excluded_tracks"],
            sort_by=query["sort_by"],
            order=query["order"],
            limit=query["limit"],
            cursor=query["cursor"],
        )
        return json_response(200, page)

    def _get_artifact(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._prepare(user, ids, errors, "read")
        collection = self._collection(ids)
        found = self._artifact(ids)
        found["deployments"] = self.artifacts.deployments(found["id"])
        found["collection"] = collection
        found["tracks"] = self.artifacts.tracks(found["id"])
        return json_response(200, found)

    def _get_artifact_download_url(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._prepare(user, ids, errors, "read")
        self._collection(ids)
        found = self._artifact(ids)
        bucket = self._bucket(ids)
        url = self.storage.download_url(
            bucket.type, found["bucket_location"], self._target(bucket)
        )
        return json_response(200, {"url": url})

    def _get_artifact_delete_url(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._prepare(user, ids, errors, "delete")
        self._collection(ids)
        found = self._artifact(ids)
        self.artifacts.check_deletable(found["id"])
        bucket = self._bucket(ids)
        url = self.storage.delete_url(bucket.type, found["bucket_location"], self._target(bucket))
        self.artifacts.mark_pending_deletion(found["id"])
        return json_response(200, {"url": url})

    def _delete_artifact(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._prepare(user, ids, errors, "delete")
        self._collection(ids)
        self.artifacts.delete(ids["collection_id"], ids["artifact_id"], force=False)
        return no_content()

    def _delete_artifact_force(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        self._prepare(user, ids, errors, "delete")
        self._collection(ids)
        self.artifacts.delete(ids["collection_id"], ids["artifact_id"], force=True)
        return no_content()

    def _post_multipart_upload(
        self, user: str, ids: dict[str, str], req: Request, body: Any, errors: ErrorList
    ) -> Response:
        fields, body_errors = validate_multipart(body)
        self._raise_422(errors + body_errors)
        assert fields is not None
        bucket = self.artifacts.bucket_by_secret(fields["bucket_id"])
        if bucket is None:
            raise HttpError(404, "Secret not found")
        if self.store.org_role(bucket.organization_id, user) not in ("owner", "admin"):
            raise HttpError(403, "Not enough rights")
        details = self.storage.multipart_details(
            bucket.type,
            fields["bucket_location"],
            fields["size"],
            fields["upload_id"],
            self._target(bucket),
        )
        return json_response(200, details)
