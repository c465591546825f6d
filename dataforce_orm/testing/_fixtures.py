"""The set-up helpers of LocalServer: data made and read directly, without HTTP."""

from __future__ import annotations

from typing import Any

from .. import _secrets
from ._api import Api
from ._ids import new_id
from ._orbit_secrets_store import DuplicateNameError
from ._storage import Storage
from ._store import DEFAULT_SECRET, DuplicateSecretError, Store, User
from ._validation import SECRET_FIELDS, strip_scheme
from ._wire import HttpError

_AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=bG9jYWwta2V5;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)


class Fixtures:
    """Users, organizations, orbits, secrets, collections, artifacts' surroundings and
    storage, written straight into the server's store (LocalServer inherits them)."""

    _store: Store
    _storage: Storage
    _api: Api
    user_id: str
    orbit_id: str

    # -- data helpers -----------------------------------------------------------------------

    def add_user(self, name: str = "user") -> User:
        """A new user with its own API key (``.id``, ``.api_key``)."""
        return self._store.add_user(name)

    def add_organization(self, name: str, owner: str | None = None) -> str:
        """A new organization; ``owner`` (user id) gets the owner role."""
        return self._store.add_organization(name, owner)

    def add_orbit(
        self, organization_id: str, name: str, bucket_secret_id: str | None = None
    ) -> str:
        """A new orbit in an organization, ignoring its orbits limit and adding no member.

        ``bucket_secret_id`` defaults to the organization's oldest bucket secret; one is made
        (S3, ``127.0.0.1:9000``, ``default-bucket``) when the organization has none.
        """
        return self._store.add_orbit(organization_id, name, bucket_secret_id)

    def add_bucket_secret(self, organization_id: str, **fields: Any) -> str:
        """A new bucket secret in an organization; returns its id.

        Fields as the create body takes them: ``type`` (``"s3"`` default or ``"azure"``),
        ``endpoint``, ``bucket_name``, and for S3 ``region``, ``access_key``, ``secret_key``,
        ``session_token``, ``secure``, ``cert_check``. Unset S3 fields default to endpoint
        ``127.0.0.1:9000``, a fresh bucket name, region ``us-east-1``, ``secure=False`` and
        test keys. ValueError for an unknown field or an (endpoint, bucket_name) pair the
        organization already has; KeyError for an unknown organization.

        Artifact storage: an S3 secret made without ``endpoint`` (and every Azure secret) is
        served by this server's own storage (the secret is marked so, while its endpoint is
        unchanged); one with an ``endpoint`` other than this server's ``host:port`` is an
        external S3 service, which artifact URLs are presigned for with its keys and region.
        """
        kind = fields.pop("type", "s3")
        allowed = SECRET_FIELDS if kind == "s3" else ("endpoint", "bucket_name")
        unknown = set(fields) - set(allowed)
        if kind not in ("s3", "azure") or unknown:
            raise ValueError(f"bad bucket secret type or fields: {kind!r}, {sorted(unknown)}")
        bucket = f"bucket-{new_id()[-12:]}"
        if kind == "s3":
            values = {**DEFAULT_SECRET, "bucket_name": bucket, **fields}
            values["endpoint"] = strip_scheme(values["endpoint"])
        else:
            values = {"type": "azure", "endpoint": _AZURITE, "bucket_name": bucket, **fields}
        own = kind == "azure" or "endpoint" not in fields
        try:
            return self._store.add_bucket_secret(organization_id, values, own_storage=own)
        except DuplicateSecretError:
            raise ValueError(
                f"organization {organization_id} already has a bucket secret for"
                f" {values['endpoint']!r} / {values['bucket_name']!r}"
            ) from None

    def bucket_secret_row(self, secret_id: str) -> dict[str, Any] | None:
        """A stored bucket secret as the database holds it, keys included (the API never
        returns ``access_key``, ``secret_key`` or ``session_token``); None when absent."""
        return self._store.bucket_secret_row(str(secret_id))

    def set_organization_limits(
        self,
        organization_id: str,
        orbits: int | None = None,
        artifacts: int | None = None,
        members: int | None = None,
        satellites: int | None = None,
    ) -> None:
        """Change an organization's limits (None keeps one). Defaults, as on the platform:
        orbits 1, artifacts 50, members 3, satellites 2. KeyError for an unknown organization.
        """
        given = {"orbits": orbits, "artifacts": artifacts, "members": members,
                 "satellites": satellites}
        self._store.set_organization_limits(
            organization_id, {k: v for k, v in given.items() if v is not None}
        )

    def organization_limits(self, organization_id: str) -> dict[str, int]:
        """``{"members", "orbits", "satellites", "artifacts"}`` limits of an organization."""
        limits = self._store.organization_limits(organization_id)
        if limits is None:
            raise KeyError(organization_id)
        return limits

    def add_member(self, organization_id: str, user_id: str, role: str = "member") -> None:
        """Give a user an organization role: owner, admin or member."""
        if role not in ("owner", "admin", "member"):
            raise ValueError(role)
        self._store.add_member(organization_id, user_id, role)

    def add_orbit_member(self, orbit_id: str, user_id: str, role: str = "member") -> None:
        """Give a user an orbit role: admin or member."""
        if role not in ("admin", "member"):
            raise ValueError(role)
        self._store.add_orbit_member(orbit_id, user_id, role)

    def set_artifact_count(
        self,
        collection_id: str,
        count: int,
        *,
        tags: list[str] | None = None,
        extra_keys: list[str] | None = None,
    ) -> None:
        """Pretend a collection holds ``count`` artifacts (with these tags / extra keys).

        Pretend counts count towards the organization's artifact quota; the collection's
        next real artifact change recomputes all three from its real artifacts.
        """
        self._store.set_artifact_count(str(collection_id), count, tags, extra_keys)

    def collection_rows(self, orbit_id: str | None = None) -> list[dict[str, Any]]:
        """Stored collections as wire-shaped dicts, read directly (no HTTP)."""
        return self._store.collection_rows(orbit_id)

    def insert_collections(self, orbit_id: str, bodies: list[dict[str, Any]]) -> list[str]:
        """Insert many collections directly (fast set-up); returns their ids."""
        return self._store.insert_collections(orbit_id, bodies)

    # -- artifacts and storage --------------------------------------------------------------------

    def set_storage_flavour(self, orbit_id: str, flavour: str) -> None:
        """Point an orbit at a new bucket secret of its organization served by this server's
        own storage: ``"s3"`` or ``"azure"`` (the secret's ``type`` picks the wire shapes).
        Objects already stored stay where they were (as on the platform)."""
        if flavour not in ("s3", "azure"):
            raise ValueError(f"flavour must be 's3' or 'azure', not {flavour!r}")
        org = self._api.artifacts.orbit_organization(str(orbit_id))
        if org is None:
            raise KeyError(orbit_id)
        secret = self.add_bucket_secret(org, type=flavour)
        self._api.artifacts.use_secret(str(orbit_id), secret)

    def set_artifacts_limit(self, organization_id: str, limit: int) -> None:
        """The organization's artifact quota (default 50; all orbits, all statuses): a
        shorthand for ``set_organization_limits(organization_id, artifacts=limit)``."""
        self.set_organization_limits(str(organization_id), artifacts=int(limit))

    def add_deployment(
        self, artifact_id: str, *, name: str = "deployment", status: str = "active"
    ) -> str:
        """Deploy an artifact on the orbit's unpaired helper satellite (named ``satellite``,
        made on first use); returns the deployment id. No task is queued.

        Any deployment blocks delete-url (409); an ``active`` one shows in list items.
        """
        return self._api.satellites.add_deployment(str(artifact_id), name, status)

    def remove_deployment(self, deployment_id: str) -> None:
        """Drop a deployment row (no undeploy task; KeyError for an unknown id)."""
        self._api.satellites.remove_deployment(str(deployment_id))

    def make_satellite(
        self, name: str = "satellite", *, orbit_id: str | None = None,
        description: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """A new unpaired satellite in an orbit (default: the default orbit), ignoring the
        organization's satellites limit: (the Satellite as the API shows it, its ``dfssat_``
        key, for a ``LocalSatellite`` or the worker routes)."""
        row, key = self._api.satellites.add_satellite(orbit_id or self.orbit_id, name, description)
        _secrets.register(key)
        return row, key

    def advance_clock(self, seconds: float) -> None:
        """Move the server's clock forward: satellites' ``last_seen_at`` and computed
        ``status`` (``error`` 20 minutes after the last call) follow it."""
        self._api.satellites.clock.advance(seconds)

    def satellite_tasks(self, satellite_id: str) -> list[dict[str, Any]]:
        """A satellite's task queue (every status), in scheduled order."""
        return self._api.satellites.tasks(str(satellite_id))

    def add_track(
        self, artifact_id: str, *, name: str = "track", track_id: str | None = None
    ) -> str:
        """Put an artifact into a track (a new one of the artifact's type in its orbit,
        unless track_id) as the track's next version; returns the track id. Nothing happens
        when it is already there; ValueError when the track cannot take it (another type or
        orbit).

        A track entry blocks delete-url, confirm and force delete (409).
        """
        return self._api.tracks.registry.add_artifact(
            str(artifact_id), name, None if track_id is None else str(track_id), self.user_id
        )

    def remove_from_track(self, track_id: str, artifact_id: str) -> None:
        """Take an artifact out of a track (its entry is deleted; KeyError if it has none)."""
        self._api.tracks.registry.remove_artifact(str(track_id), str(artifact_id))

    def artifact_rows(self, collection_id: str | None = None) -> list[dict[str, Any]]:
        """Stored artifacts as wire-shaped dicts, read directly (no HTTP), oldest first."""
        return self._api.artifacts.rows(None if collection_id is None else str(collection_id))

    def stored_object(self, orbit_id: str, bucket_location: str) -> bytes | None:
        """The bytes stored for an artifact's ``bucket_location`` in the server's own storage
        of the orbit's flavour (None when absent, e.g. on an external S3 service)."""
        bucket = self._api.artifacts.bucket(str(orbit_id))
        if bucket is None:
            raise KeyError(orbit_id)
        return self._storage.read_object(bucket.type, bucket_location)

    @property
    def pending_uploads(self) -> int:
        """Incomplete S3 multipart uploads plus Azure blobs with uncommitted blocks."""
        return self._storage.pending_uploads()


    # -- registry, orbit secrets, members -------------------------------------------------------

    def make_track(
        self,
        orbit_id: str | None = None,
        name: str = "track",
        *,
        artifact_type: str = "model",
        stages: list[str] | tuple[str, ...] = (),
        description: str | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """A new track (default orbit unless given) with these stages; returns the Track as
        the API shows it (``["stages"]`` with their ids). ValueError for repeated stages."""
        if artifact_type not in ("model", "dataset", "experiment"):
            raise ValueError(
                f"artifact_type must be model, dataset or experiment, not {artifact_type!r}"
            )
        fields = {"name": name, "artifact_type": artifact_type, "description": description,
                  "tags": tags, "stages": list(stages)}
        try:
            return self._api.tracks.registry.create_track(str(orbit_id or self.orbit_id), fields)
        except HttpError as exc:
            raise ValueError(exc.message) from None

    def track_entries(self, track_id: str) -> list[dict[str, Any]]:
        """A track's entries as the API shows them, oldest first (read directly)."""
        page = self._api.tracks.registry.list_entries(
            str(track_id),
            {"sort_by": "created_at", "order": "asc", "limit": 1_000_000, "cursor": None,
             "stage": None},
        )
        return list(page["items"])

    def make_orbit_secret(
        self,
        name: str,
        value: str,
        *,
        orbit_id: str | None = None,
        tags: list[str] | None = None,
    ) -> dict[str, Any]:
        """A new orbit secret (default orbit unless given); returns it with its value.
        ValueError when the orbit has one of this name."""
        try:
            return self._api.orbit_secrets.secrets.create(
                str(orbit_id or self.orbit_id), {"name": name, "value": value, "tags": tags}
            )
        except DuplicateNameError:
            raise ValueError(f"the orbit already has a secret named {name!r}") from None

    def orbit_secret_value(self, secret_id: str) -> str | None:
        """A stored secret's value, decrypted (None when there is no such secret)."""
        return self._api.orbit_secrets.secrets.value(str(secret_id))

    def make_member(
        self,
        orbit_id: str | None = None,
        *,
        orbit_role: str | None = "member",
        organization_role: str = "member",
        name: str = "member",
    ) -> User:
        """A new user with its own API key who is ``organization_role`` (owner, admin or
        member) of the orbit's organization and ``orbit_role`` (admin, member or None) of
        the orbit (default orbit unless given): ``make_member()`` is a plain orbit member."""
        orbit = str(orbit_id or self.orbit_id)
        organization = self._api.artifacts.orbit_organization(orbit)
        if organization is None:
            raise KeyError(orbit)
        if organization_role not in ("owner", "admin", "member"):
            raise ValueError(organization_role)
        if orbit_role not in ("admin", "member", None):
            raise ValueError(orbit_role)
        user = self._store.add_user(name)
        self._store.add_member(organization, user.id, organization_role)
        if orbit_role is not None:
            self._store.add_orbit_member(orbit, user.id, orbit_role)
        return user
