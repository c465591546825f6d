"""The platform's objects, each a declaration on the resource layer (see ``_resource``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import attrs

from ._artifacts import ArtifactManager
from ._bucket_check import ConnectionTest
from ._capabilities import CursorPages, MergedUpdate, NoGetById, ReadOnly, WriteOnly
from ._errors import ValidationError
from ._fields import WireEnum, field
from ._resource import Model
from ._routes import ORBITS, ORGANIZATIONS


class CollectionType(WireEnum):
    """What a collection holds (the wire field ``type``)."""

    MODEL = "model"
    DATASET = "dataset"
    EXPERIMENT = "experiment"
    MODEL_DATASET = "model_dataset"
    DATASET_EXPERIMENT = "dataset_experiment"
    MODEL_EXPERIMENT = "model_experiment"
    MIXED = "mixed"


# The types the server's ``types`` filter accepts (the combined ones are refused there).
FILTERABLE_TYPES = frozenset({"model", "dataset", "experiment", "mixed"})


@attrs.define(slots=True, eq=False, repr=False)
class Collection(MergedUpdate, CursorPages, Model):
    """A collection of artifacts in an orbit, as an active record.

    ``save()`` creates or updates (writing only what changed, merged with the server's
    current state: its PATCH writes name, description and tags together), ``refresh()``
    reloads, ``delete()`` removes. Query with ``Collection.objects``.
    """

    _path = "/v1/organizations/{organization}/orbits/{orbit}/collections"
    _default_order = ("-created_at",)

    id: str | None = field("id", doc="The collection's id (a UUID); None until it is saved.")
    name: str = field("str", default="", create=True, editable=True, max_len=100,
                      update_nonempty=True, search=True, sort="name",
                      doc="The collection's name, unique in its orbit (1 to 100 characters).")
    description: str = field("str", default="", create=True, editable=True, max_len=1000,
                             sort="description",
                             doc="What the collection holds, in words (up to 1000 characters).")
    collection_type: CollectionType | None = field(
        "enum", wire="type", create=True, required=True, enum=CollectionType, sort="type",
        server_filter="types", server_values=FILTERABLE_TYPES,
        doc="What the collection holds: models, datasets, experiments or a mix.")
    orbit_id: str | None = field("id", checked=False,
                                 doc="The id of the orbit holding the collection.")
    tags: list[str] | None = field(
        "tags", create=True, editable=True, max_items=50, max_len=64, search=True,
        doc="Labels for finding the collection (up to 50, each up to 64 characters).")
    total_artifacts: int = field("num", default=0, sort="total_artifacts",
                                 doc="How many artifacts the collection holds.")
    created_at: datetime | None = field("time", sort="created_at",
                                        doc="When the collection was created (UTC).")
    updated_at: datetime | None = field("time", doc="When the collection was last changed (UTC).")
    # details: filled when the object came from a get by id
    artifacts_tags: list[str] | None = field(
        "json", shown=False,
        doc="Every tag used by the collection's artifacts (filled by a get by id).")
    artifacts_extra_values: list[str] | None = field(
        "json", shown=False,
        doc="Every metric name of the collection's artifacts (filled by a get by id).")

    @property
    def artifacts(self) -> ArtifactManager:
        """The artifacts of this collection: ``.all()``, ``.filter()``, ``.get()``,
        ``.upload(path)``..."""
        return ArtifactManager(self)

    @property
    def total_models(self) -> int:
        """Read-only alias of ``total_artifacts`` (the dataforce-era name)."""
        return self.total_artifacts


@attrs.define(slots=True, eq=False, repr=False)
class Organization(ReadOnly, NoGetById, Model):
    """An organization the API key's user belongs to (read-only)."""

    _path = ORGANIZATIONS
    _read_only = ("organizations are created and changed with a browser sign-in (JWT); "
                  "the platform refuses those writes to an API key")

    id: str | None = field("id", doc="The organization's id (a UUID).")
    name: str = field("str", default="", doc="The organization's name.")
    role: str | None = field("str", doc="The API key's user's role in the organization.")
    logo: str | None = field("str", doc="The URL of the organization's logo, if it has one.")
    created_at: datetime | None = field("time", doc="When the organization was created (UTC).")
    updated_at: datetime | None = field("time",
                                        doc="When the organization was last changed (UTC).")
    permissions: dict[str, list[str]] | None = field(
        "json", shown=False, doc="What the user may do in it: resource name to allowed actions.")


@attrs.define(slots=True, eq=False, repr=False, init=False)
class Orbit(Model):
    """An orbit of the session's organization, as an active record.

    ``Orbit(name=..., bucket_secret=<BucketSecret or id>).save()`` creates one; ``save()``
    after a rename or a change of ``bucket_secret`` sends only what changed.
    """

    _path = ORBITS

    id: str | None = field("id", doc="The orbit's id (a UUID); None until it is saved.")
    name: str = field("str", default="", create=True, editable=True, required=True, max_len=100,
                      update_nonempty=True,
                      doc="The orbit's name, unique in its organization (1 to 100 characters).")
    bucket_secret_id: str | None = field(
        "id", create=True, editable=True, required=True,
        doc="The id of the bucket secret where the orbit stores artifact files.")
    organization_id: str | None = field("id", checked=False,
                                        doc="The id of the organization holding the orbit.")
    role: str | None = field("str", doc="The API key's user's role in the orbit.")
    total_members: int | None = field("num", doc="How many users are members of the orbit.")
    total_collections: int | None = field("num", doc="How many collections the orbit holds.")
    total_satellites: int | None = field(
        "num", doc="How many satellites (deployment hosts) the orbit has.")
    total_artifacts: int | None = field("num",
                                        doc="How many artifacts the orbit's collections hold.")
    created_at: datetime | None = field("time", doc="When the orbit was created (UTC).")
    updated_at: datetime | None = field("time", doc="When the orbit was last changed (UTC).")
    permissions: dict[str, list[str]] | None = field(
        "json", shown=False,
        doc="What the user may do in the orbit: resource name to allowed actions.")
    # details: filled when the object came from a get by id
    members: list[dict[str, Any]] | None = field(
        "json", shown=False, doc="The orbit's members with their roles (filled by a get by id).")
    collections_tags: list[str] | None = field(
        "json", shown=False,
        doc="Every tag used by the orbit's collections (filled by a get by id).")

    def __init__(self, name: str = "", bucket_secret: BucketSecret | str | None = None,
                 **fields: Any) -> None:
        if bucket_secret is not None:
            fields["bucket_secret_id"] = bucket_secret
        self.__attrs_init__(name=name, **fields)

    @property
    def bucket_secret(self) -> BucketSecret | None:
        """The orbit's bucket secret, fetched from the server (one request)."""
        if self.bucket_secret_id is None:
            return None
        return BucketSecret.objects.using(self._session_for(None)).get(id=self.bucket_secret_id)

    @bucket_secret.setter
    def bucket_secret(self, value: BucketSecret | str) -> None:
        setattr(self, "bucket_secret_id", value)  # noqa: B010 (its converter takes objects)


_ACCOUNT_KEY = re.compile(r"(AccountKey=)[^;]*", re.IGNORECASE)
_S3_ONLY = ("region", "secure", "cert_check", "access_key", "secret_key", "session_token")


def _mask_key(endpoint: Any) -> str:
    """An endpoint as reprs show it: an Azure connection string's account key hidden."""
    return _ACCOUNT_KEY.sub(r"\1***", str(endpoint))


@attrs.define(slots=True, eq=False, repr=False)
class BucketSecret(ConnectionTest, WriteOnly, MergedUpdate, Model):
    """Where an organization's orbits store artifact files: an S3 bucket or Azure container.

    The server never returns the keys, and its update writes every field: ``save()`` of a
    loaded secret is refused until its keys are set again (else they would be erased).
    ``test_connection()`` checks the storage with its settings, saved or not.
    """

    _path = "/v1/organizations/{organization}/bucket-secrets"
    _noun = "bucket secret"

    id: str | None = field("id", doc="The bucket secret's id (a UUID); None until it is saved.")
    type: str = field("str", default="s3", create=True, choices=("s3", "azure"),
                      doc="The storage: s3 (S3 or a compatible store) or azure (Azure Blob).")
    endpoint: str = field(
        "str", default="", create=True, editable=True, required=True, mask=_mask_key,
        doc="The S3 endpoint host, or the Azure connection string (its key masked in reprs).")
    bucket_name: str = field("str", default="", create=True, editable=True, required=True,
                             doc="The S3 bucket or the Azure container name.")
    region: str | None = field(
        "str", create=True, editable=True, nullable=True,
        doc="The S3 region (e.g. us-east-1); required for S3, unset for Azure.")
    secure: bool | None = field("bool", create=True, editable=True, nullable=True,
                                doc="Whether the S3 endpoint is reached over https.")
    cert_check: bool | None = field("bool", create=True, editable=True, nullable=True,
                                    doc="Whether the S3 endpoint's TLS certificate is verified.")
    access_key: str | None = field(
        "str", create=True, editable=True, nullable=True, secret=True,
        doc="The S3 access key id (write-only: never returned, never shown).")
    secret_key: str | None = field(
        "str", create=True, editable=True, nullable=True, secret=True,
        doc="The S3 secret access key (write-only: never returned, never shown).")
    session_token: str | None = field(
        "str", create=True, editable=True, nullable=True, secret=True,
        doc="An S3 session token for temporary credentials (write-only).")
    organization_id: str | None = field("id", checked=False,
                                        doc="The id of the organization holding the secret.")
    created_at: datetime | None = field("time", doc="When the secret was created (UTC).")
    updated_at: datetime | None = field("time", doc="When the secret was last changed (UTC).")
    orbits: list[dict[str, Any]] | None = field(
        "json", shown=False, doc="The orbits storing their files with it (their ids and names).")

    def _validate(self, *, creating: bool, only: list[str] | None = None) -> None:
        super()._validate(creating=creating, only=only)
        if self.type == "azure":
            if not re.search("AccountName=", self.endpoint) or not _ACCOUNT_KEY.search(
                    self.endpoint):
                raise ValidationError("endpoint", "an Azure secret's endpoint is a connection "
                                                  "string with AccountName= and AccountKey=")
            given = [f for f in _S3_ONLY if getattr(self, f) is not None]
            if given:
                raise ValidationError(", ".join(given), "cannot be set for an Azure secret")
        elif creating and not self.region:
            raise ValidationError("region", "is required for an S3 secret (e.g. 'us-east-1')")

    def _update_body(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.type == "azure":
            body = {k: v for k, v in body.items() if k not in _S3_ONLY}
        return {"type": self.type, **body}
