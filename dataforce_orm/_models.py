"""The platform's objects, each a declaration on the resource layer (see ``_resource``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import attrs

from ._artifacts import ArtifactManager
from ._bucket_check import ConnectionTest
from ._capabilities import CursorPages, MergedUpdate, NoGetById, ReadOnly
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

    id: str | None = field("id")
    name: str = field("str", default="", create=True, editable=True, max_len=100,
                      update_nonempty=True, search=True, sort="name")
    description: str = field("str", default="", create=True, editable=True, max_len=1000,
                             sort="description")
    collection_type: CollectionType | None = field(
        "enum", wire="type", create=True, required=True, enum=CollectionType, sort="type",
        server_filter="types", server_values=FILTERABLE_TYPES)
    orbit_id: str | None = field("id", checked=False)
    tags: list[str] | None = field("tags", create=True, editable=True, max_items=50,
                                   max_len=64, search=True)
    total_artifacts: int = field("num", default=0, sort="total_artifacts")
    created_at: datetime | None = field("time", sort="created_at")
    updated_at: datetime | None = field("time")
    # details: filled when the object came from a get by id
    artifacts_tags: list[str] | None = None
    artifacts_extra_values: list[str] | None = None

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

    id: str | None = field("id")
    name: str = field("str", default="")
    role: str | None = field("str")
    logo: str | None = field("str")
    created_at: datetime | None = field("time")
    updated_at: datetime | None = field("time")
    permissions: dict[str, list[str]] | None = None


@attrs.define(slots=True, eq=False, repr=False, init=False)
class Orbit(Model):
    """An orbit of the session's organization, as an active record.

    ``Orbit(name=..., bucket_secret=<BucketSecret or id>).save()`` creates one; ``save()``
    after a rename or a change of ``bucket_secret`` sends only what changed.
    """

    _path = ORBITS

    id: str | None = field("id")
    name: str = field("str", default="", create=True, editable=True, required=True,
                      max_len=100, update_nonempty=True)
    bucket_secret_id: str | None = field("id", create=True, editable=True, required=True)
    organization_id: str | None = field("id", checked=False)
    role: str | None = field("str")
    total_members: int | None = field("num")
    total_collections: int | None = field("num")
    total_satellites: int | None = field("num")
    total_artifacts: int | None = field("num")
    created_at: datetime | None = field("time")
    updated_at: datetime | None = field("time")
    permissions: dict[str, list[str]] | None = None
    # details: filled when the object came from a get by id
    members: list[dict[str, Any]] | None = None
    collections_tags: list[str] | None = None

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
class BucketSecret(ConnectionTest, MergedUpdate, Model):
    """Where an organization's orbits store artifact files: an S3 bucket or Azure container.

    The server never returns the keys, and its update writes every field: ``save()`` of a
    loaded secret is refused until its keys are set again (else they would be erased).
    ``test_connection()`` checks the storage with its settings, saved or not.
    """

    _path = "/v1/organizations/{organization}/bucket-secrets"
    _noun = "bucket secret"

    id: str | None = field("id")
    type: str = field("str", default="s3", create=True, choices=("s3", "azure"))
    endpoint: str = field("str", default="", create=True, editable=True, required=True,
                          mask=_mask_key)
    bucket_name: str = field("str", default="", create=True, editable=True, required=True)
    region: str | None = field("str", create=True, editable=True, nullable=True)
    secure: bool | None = field("bool", create=True, editable=True, nullable=True)
    cert_check: bool | None = field("bool", create=True, editable=True, nullable=True)
    access_key: str | None = field("str", create=True, editable=True, nullable=True,
                                   secret=True)
    secret_key: str | None = field("str", create=True, editable=True, nullable=True,
                                   secret=True)
    session_token: str | None = field("str", create=True, editable=True, nullable=True,
                                      secret=True)
    organization_id: str | None = field("id", checked=False)
    created_at: datetime | None = field("time")
    updated_at: datetime | None = field("time")
    orbits: list[dict[str, Any]] | None = None  # the orbits using it: {id, name, ...}

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
