"""The clients: ``DataForceClient`` and its async twin, a thin facade over the ORM.

``client.collections``, ``.orbits``, ``.bucket_secrets`` and ``.artifacts`` keep the documented
signatures of the platform's earlier SDKs and return the ORM's own objects. Each call is
composed from the operation API (``_operations``) and run on the client's own
``Session`` (never on the current one).
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Awaitable, Generator, Iterator
from pathlib import Path
from typing import Any, TypeVar

from . import _client_deploy as _deploy
from . import _operations as ops
from ._artifacts import Artifact, CreatedArtifact
from ._client_registry import AsyncTrackResource, TrackResource
from ._client_secrets import AsyncOrbitSecretResource, OrbitSecretResource
from ._errors import (
    ConfigurationError,
    MultipleObjectsReturned,
    ObjectDoesNotExist,
    ValidationError,
)
from ._http import Timeout
from ._ids import as_uuid
from ._models import BucketSecret, Collection, CollectionType, Orbit
from ._protocol import Op
from ._query import QuerySet
from ._resource import Model
from ._session import DEFAULT_TIMEOUT, Session
from ._transfer import CONCURRENCY

__all__ = ["ArtifactResource", "AsyncArtifactResource", "AsyncBucketSecretResource",
           "AsyncCollectionResource", "AsyncDataForceClient", "AsyncOrbitResource",
           "BucketSecretResource", "CollectionResource", "DataForceClient", "OrbitResource"]

_M = TypeVar("_M", bound=Model)

_NO_DEFAULT = (
    "no collection given and no default collection set: pass the collection's id or exact name "
    "(collection_id=... / collection_value=...), or set one with client.collection = '<id or "
    "name>', DataForceClient(collection=...) or setup_config(collection=...)"
)

_Key = tuple[str | None, str | None, str]  # (organization, orbit, collection) as configured


class _Applied:
    """Returned by ``AsyncDataForceClient.setup_config``: the settings are already applied, so
    awaiting it is optional (the official client's documented examples call it without
    ``await``)."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield from ()


class _ClientBase:
    """What both clients share: the session, the defaults, and the pinned default collection."""

    def __init__(self, base_url: str | None, api_key: str | None, organization: str | None,
                 orbit: str | None, collection: str | None, timeout: Timeout) -> None:
        self._session = Session(api_key=api_key, base_url=base_url, organization=organization,
                                orbit=orbit, collection=collection, timeout=timeout)
        # The id the default collection resolved to, keyed by the settings it was resolved
        # under: a default given by name stays on the same collection after a rename.
        self._pinned: tuple[_Key, str] | None = None

    @property
    def session(self) -> Session:
        """The session every call of this client runs on."""
        return self._session

    @property
    def organization(self) -> str | None:
        """The default organization (id or exact name)."""
        return self._session.organization

    @organization.setter
    def organization(self, value: str | None) -> None:
        self._session.organization = _setting("organization", value)

    @property
    def orbit(self) -> str | None:
        """The default orbit (id or exact name)."""
        return self._session.orbit

    @orbit.setter
    def orbit(self, value: str | None) -> None:
        self._session.orbit = _setting("orbit", value)

    @property
    def collection(self) -> str | None:
        """The default collection (id or exact name) for calls that take an optional one."""
        return self._session.collection

    @collection.setter
    def collection(self, value: str | None) -> None:
        self._session.collection = _setting("collection", value)

    def _configure(self, organization: str | None, orbit: str | None,
                   collection: str | None) -> None:
        """Set the given defaults; ``None`` keeps the current one."""
        if organization is not None:
            self.organization = organization
        if orbit is not None:
            self.orbit = orbit
        if collection is not None:
            self.collection = collection

    # -- the default collection ------------------------------------------------------------

    def _default_key(self) -> _Key:
        s = self._session
        if not s.collection:
            raise ConfigurationError(_NO_DEFAULT)
        return s.organization, s.orbit, s.collection

    def _pinned_id(self, key: _Key) -> str | None:
        pinned = self._pinned
        return pinned[1] if pinned is not None and pinned[0] == key else None

    def __repr__(self) -> str:
        s = self._session
        return (f"{type(self).__name__}(base_url={s.base_url!r}, organization={s.organization!r}, "
                f"orbit={s.orbit!r}, collection={s.collection!r})")


def _setting(field: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValidationError(field, f"must be an id or a name (a string), not "
                                     f"{type(value).__name__}")
    return value or None


class _Ref:
    """Which collection a call means: the value as given, the id to try first, and for the
    client's default, the settings it was read under (what a resolution is pinned to)."""

    __slots__ = ("default_key", "id", "value")

    def __init__(self, value: str, ident: str | None, default_key: _Key | None = None) -> None:
        self.value, self.id, self.default_key = value, ident, default_key

    @property
    def is_default(self) -> bool:
        return self.default_key is not None


class _ResourceBase:
    """Argument checks and default-collection handling shared by both resources."""

    def __init__(self, client: _ClientBase) -> None:
        self._client = client

    def _objects(self) -> QuerySet[Collection]:
        return Collection.objects.using(self._client.session)

    def _ref(self, given: object, field: str) -> _Ref:
        """The collection a call means: ``given`` (id or exact name), else the default."""
        if given is None:
            key = self._client._default_key()
            return _Ref(key[2], self._client._pinned_id(key) or as_uuid(key[2]), key)
        if not isinstance(given, str):
            raise ValidationError(field, f"must be an id or a name (a string), not "
                                         f"{type(given).__name__}")
        return _Ref(given, as_uuid(given))

    def _found(self, ref: _Ref, obj: Collection | None) -> Collection | None:
        if ref.default_key is not None and obj is not None and obj.id is not None:
            # Pinned to the settings read when the call began: a default changed meanwhile
            # (by another task or thread) is not given this one's id.
            self._client._pinned = (ref.default_key, obj.id)
        return obj

    @staticmethod
    def _missing(ref: _Ref) -> ObjectDoesNotExist:
        which = "the default collection " if ref.is_default else ""
        return Collection.DoesNotExist(
            f"{which}{ref.value!r} matches no collection (by id or exact name) in the orbit")

    @staticmethod
    def _several(value: str) -> MultipleObjectsReturned:
        return Collection.MultipleObjectsReturned(
            f"several collections are named {value!r}; use its id instead")

    @staticmethod
    def _new(description: str, name: str, collection_type: CollectionType | str,
             tags: builtins.list[str] | None) -> Collection:
        kind = ops.check_field(Collection, "collection_type", collection_type)
        return Collection(name=name, description=description, collection_type=kind, tags=tags)

    @staticmethod
    def _edits(name: str | None, description: str | None,
               tags: builtins.list[str] | None) -> dict[str, Any]:
        """The given fields, checked before any request."""
        edits = {k: v for k, v in (("name", name), ("description", description), ("tags", tags))
                 if v is not None}
        for field, value in edits.items():
            edits[field] = ops.check_field(Collection, field, value)
        if name == "":
            raise ValidationError("name", "must not be empty")
        return edits

    def _deleted(self, collection_id: str | None) -> None:
        """Forget the pinned default if it was this collection."""
        pinned = self._client._pinned
        if pinned is not None and pinned[1] == collection_id:
            self._client._pinned = None


class _CollectionCalls(_ResourceBase):
    """Each ``client.collections`` call once, as an operation: the sync and async resources
    only run them."""

    def _session(self) -> Session:
        return self._client.session

    def _get_op(self, ref: _Ref) -> Op[Collection | None]:
        objects, session = self._objects(), self._session()
        if ref.id is not None:
            found = yield from ops.first(objects.filter(id=ref.id), session)
            if found is not None:
                return self._found(ref, found)
        try:
            obj = yield from ops.get(objects.filter(name=ref.value), session)
        except Collection.DoesNotExist:
            return None
        except Collection.MultipleObjectsReturned:
            raise self._several(ref.value) from None
        return self._found(ref, obj)

    def _list_op(self) -> Op[builtins.list[Collection]]:
        found: builtins.list[Collection] = yield from ops.rows(self._objects(),
                                                                self._session())
        return found

    def _create_op(self, description: str, name: str, collection_type: CollectionType | str,
                   tags: builtins.list[str] | None) -> Op[Collection]:
        obj = self._new(description, name, collection_type, tags)
        yield from ops.save(obj, self._session())
        return obj

    def _update_op(self, name: str | None, description: str | None,
                   tags: builtins.list[str] | None, collection_id: str | None) -> Op[Collection]:
        edits = self._edits(name, description, tags)
        ref = self._ref(collection_id, "collection_id")
        obj = yield from self._get_op(ref)
        if obj is None:
            raise self._missing(ref)
        for field, value in edits.items():
            setattr(obj, field, value)
        # Just read: the fields not given keep the server's values.
        yield from ops.save(obj, self._session(), force=True)
        return obj

    def _delete_op(self, collection_id: str | None) -> Op[None]:
        ref = self._ref(collection_id, "collection_id")
        if ref.id is not None:
            try:
                yield from ops.delete(Collection(id=ref.id), self._session())
            except Collection.DoesNotExist:
                pass
            else:
                self._deleted(ref.id)
                return
        obj = yield from self._get_op(_Ref(ref.value, None, ref.default_key))
        if obj is None:
            raise self._missing(ref)
        deleted = obj.id
        yield from ops.delete(obj, self._session())
        self._deleted(deleted)


class CollectionResource(_CollectionCalls):
    """``client.collections`` on ``DataForceClient``."""

    def get(self, collection_value: str | None = None) -> Collection | None:
        """The collection with this id or exact (case-sensitive) name in the default orbit.

        ``None`` when there is none; ``MultipleResourcesFoundError`` when several share the
        name. Without a value, the client's default collection.
        """
        ref = self._ref(collection_value, "collection_value")
        return self._session().driver.run(self._get_op(ref))

    def list(self) -> builtins.list[Collection]:
        """Every collection of the default orbit."""
        return self._session().driver.run(self._list_op())

    def create(self, description: str, name: str, collection_type: CollectionType | str,
               tags: builtins.list[str] | None = None) -> Collection:
        """Create a collection in the default orbit."""
        op = self._create_op(description, name, collection_type, tags)
        return self._session().driver.run(op)

    def update(self, name: str | None = None, description: str | None = None,
               tags: builtins.list[str] | None = None, *,
               collection_id: str | None = None) -> Collection:
        """Change the given fields of a collection (default: the client's); keep the rest."""
        op = self._update_op(name, description, tags, collection_id)
        return self._session().driver.run(op)

    def delete(self, collection_id: str | None = None) -> None:
        """Delete a collection (default: the client's). Irreversible."""
        self._session().driver.run(self._delete_op(collection_id))


class AsyncCollectionResource(_CollectionCalls):
    """``client.collections`` on ``AsyncDataForceClient``: the same calls, awaited."""

    async def get(self, collection_value: str | None = None) -> Collection | None:
        """The collection with this id or exact (case-sensitive) name in the default orbit.

        ``None`` when there is none; ``MultipleResourcesFoundError`` when several share the
        name. Without a value, the client's default collection.
        """
        ref = self._ref(collection_value, "collection_value")
        return await self._session().async_driver.run(self._get_op(ref))

    async def list(self) -> builtins.list[Collection]:
        """Every collection of the default orbit."""
        return await self._session().async_driver.run(self._list_op())

    async def create(self, description: str, name: str, collection_type: CollectionType | str,
                     tags: builtins.list[str] | None = None) -> Collection:
        """Create a collection in the default orbit."""
        op = self._create_op(description, name, collection_type, tags)
        return await self._session().async_driver.run(op)

    async def update(self, name: str | None = None, description: str | None = None,
                     tags: builtins.list[str] | None = None, *,
                     collection_id: str | None = None) -> Collection:
        """Change the given fields of a collection (default: the client's); keep the rest."""
        op = self._update_op(name, description, tags, collection_id)
        return await self._session().async_driver.run(op)

    async def delete(self, collection_id: str | None = None) -> None:
        """Delete a collection (default: the client's). Irreversible."""
        await self._session().async_driver.run(self._delete_op(collection_id))


class _ModelCalls(_ResourceBase):
    """``client.orbits``, ``client.bucket_secrets`` and ``client.organizations``: each call
    once, as an operation over the models' own; the sync and async classes only run them."""

    def _session(self) -> Session:
        return self._client.session

    def _by_id_or(self, model: type[_M], value: str, field: str, name_field: str
                  ) -> Op[_M | None]:
        """The object with this id, else the one whose ``name_field`` is exactly ``value``
        (None if none; MultipleResourcesFoundError if several)."""
        if not isinstance(value, str):
            raise ValidationError(field, f"must be an id or a name (a string), not "
                                         f"{type(value).__name__}")
        session = self._session()
        objects = QuerySet(model, session)
        ident = as_uuid(value)
        if ident is not None:
            found = yield from ops.first(objects.filter(id=ident), session)
            if found is not None:
                return found
        try:
            obj = yield from ops.get(objects.filter(**{name_field: value}), session)
        except model.DoesNotExist:
            return None
        except model.MultipleObjectsReturned:
            raise model.MultipleObjectsReturned(
                f"several {ops.noun(model)}s have {name_field} {value!r}; use its id") from None
        return obj

    def _all_op(self, model: type[_M]) -> Op[builtins.list[_M]]:
        found: builtins.list[_M] = yield from ops.rows(QuerySet(model, self._session()),
                                                       self._session())
        return found

    def _save_new_op(self, obj: _M) -> Op[_M]:
        yield from ops.save(obj, self._session())
        return obj

    def _edit_op(self, model: type[_M], ident: str, field: str,
                 edits: dict[str, Any]) -> Op[_M]:
        """Read the object, set the given fields, write it (the rest kept as just read)."""
        canon = _id(ident, field)
        model(**edits)  # checks every given value before any request
        found: _M = yield from ops.get_by_id(model, self._session(), canon)
        for name, value in edits.items():
            setattr(found, name, value)
        yield from ops.save(found, self._session(), force=True)
        return found

    def _delete_by_id_op(self, model: type[_M], ident: str, field: str) -> Op[None]:
        yield from ops.delete(model(**{"id": _id(ident, field)}), self._session())


def _id(value: object, field: str) -> str:
    canon = as_uuid(value) if isinstance(value, str) else None
    if canon is None:
        raise ValidationError(field, f"must be an id (a UUID), got {value!r}")
    return canon


def _given(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class _OrbitOps(_ModelCalls):
    def _get_op(self, orbit_value: str | None) -> Op[Orbit | None]:
        value = orbit_value if orbit_value is not None else self._client.orbit
        if value is None:
            raise ConfigurationError("no orbit given and no default orbit set")
        return (yield from self._by_id_or(Orbit, value, "orbit_value", "name"))

    def _update_op(self, name: str | None, bucket_secret_id: str | None,
                   orbit_id: str | None) -> Op[Orbit]:
        target = orbit_id if orbit_id is not None else self._client.orbit
        if target is None:
            raise ConfigurationError("no orbit given and no default orbit set")
        orbit = yield from self._get_op(target)
        if orbit is None:
            raise Orbit.DoesNotExist(f"{target!r} matches no orbit (by id or exact name)")
        for field, value in _given(name=name, bucket_secret=bucket_secret_id).items():
            setattr(orbit, field, value)
        yield from ops.save(orbit, self._session())  # partial: sends what changed
        return orbit


class OrbitResource(_OrbitOps):
    """``client.orbits``: the official SDK's calls, on ``Orbit`` objects."""

    def get(self, orbit_value: str | None = None) -> Orbit | None:
        """The orbit with this id or exact name (default: the client's); None if absent."""
        return self._session().driver.run(self._get_op(orbit_value))

    def list(self) -> builtins.list[Orbit]:
        """The orbits of the client's organization the key can see."""
        return self._session().driver.run(self._all_op(Orbit))

    def create(self, name: str, bucket_secret_id: str) -> Orbit:
        """Create an orbit storing its files with this bucket secret."""
        obj = Orbit(name=name, bucket_secret=bucket_secret_id)
        return self._session().driver.run(self._save_new_op(obj))

    def update(self, name: str | None = None, bucket_secret_id: str | None = None, *,
               orbit_id: str | None = None) -> Orbit:
        """Rename an orbit and/or change its bucket secret (default: the client's orbit)."""
        return self._session().driver.run(self._update_op(name, bucket_secret_id, orbit_id))

    def delete(self, orbit_id: str) -> None:
        """Delete an orbit, with its collections. Irreversible."""
        self._session().driver.run(self._delete_by_id_op(Orbit, orbit_id, "orbit_id"))


class AsyncOrbitResource(_OrbitOps):
    """``client.orbits`` on ``AsyncDataForceClient``: the same calls, awaited."""

    async def get(self, orbit_value: str | None = None) -> Orbit | None:
        """The orbit with this id or exact name (default: the client's); None if absent."""
        return await self._session().async_driver.run(self._get_op(orbit_value))

    async def list(self) -> builtins.list[Orbit]:
        """The orbits of the client's organization the key can see."""
        return await self._session().async_driver.run(self._all_op(Orbit))

    async def create(self, name: str, bucket_secret_id: str) -> Orbit:
        """Create an orbit storing its files with this bucket secret."""
        obj = Orbit(name=name, bucket_secret=bucket_secret_id)
        return await self._session().async_driver.run(self._save_new_op(obj))

    async def update(self, name: str | None = None, bucket_secret_id: str | None = None, *,
                     orbit_id: str | None = None) -> Orbit:
        """Rename an orbit and/or change its bucket secret (default: the client's orbit)."""
        op = self._update_op(name, bucket_secret_id, orbit_id)
        return await self._session().async_driver.run(op)

    async def delete(self, orbit_id: str) -> None:
        """Delete an orbit, with its collections. Irreversible."""
        await self._session().async_driver.run(self._delete_by_id_op(Orbit, orbit_id,
                                                                      "orbit_id"))


def _new_secret(endpoint: str, bucket_name: str, region: str | None, type: str,
                keys: dict[str, Any]) -> BucketSecret:
    return BucketSecret(type=type, endpoint=endpoint, bucket_name=bucket_name, region=region,
                        **keys)


_KEYS = ("access_key", "secret_key", "session_token")


class _SecretOps(_ModelCalls):
    def _get_op(self, secret_value: str) -> Op[BucketSecret | None]:
        return (yield from self._by_id_or(BucketSecret, secret_value, "secret_value",
                                          "bucket_name"))

    def _update_op(self, secret_id: str, edits: dict[str, Any]) -> Op[BucketSecret]:
        if edits.keys() & set(_KEYS):  # keys given replace the stored ones
            if not {"access_key", "secret_key"} <= edits.keys():
                raise ValidationError("access_key, secret_key", (
                    "give both: the platform's update writes every field, so the key not "
                    "given would be erased"))
            edits = {"session_token": None, **edits}
        return (yield from self._edit_op(BucketSecret, secret_id, "secret_id", edits))

    def _create_op(self, obj: BucketSecret, verify: bool) -> Op[BucketSecret]:
        yield from obj._verified_save_op(self._session(), False, None, verify)
        return obj

    def _test_op(self, secret: BucketSecret | str) -> Op[None]:
        obj = secret if isinstance(secret, BucketSecret) else BucketSecret(id=_id(secret,
                                                                                   "secret"))
        yield from ops.test_connection(obj, self._session())


class BucketSecretResource(_SecretOps):
    """``client.bucket_secrets``: the official SDK's calls, on ``BucketSecret`` objects.

    The platform's update writes every field and never returns the keys: ``update()`` keeps
    the fields not given, but an S3 secret's keys must be given again (else it refuses,
    instead of erasing them as the official SDK does); the access and secret keys are given
    together, and a session token not given with them becomes none.
    """

    def get(self, secret_value: str) -> BucketSecret | None:
        """The secret with this id or exact bucket name; None if absent."""
        return self._session().driver.run(self._get_op(secret_value))

    def list(self) -> builtins.list[BucketSecret]:
        """The organization's bucket secrets (without their keys)."""
        return self._session().driver.run(self._all_op(BucketSecret))

    def create(self, endpoint: str, bucket_name: str, region: str | None = None,
               type: str = "s3", access_key: str | None = None, secret_key: str | None = None,
               session_token: str | None = None, secure: bool | None = None,
               cert_check: bool | None = None, verify: bool = False) -> BucketSecret:
        """Create a bucket secret in the client's organization; ``verify=True`` runs the
        connection test first (as the official SDK's create does) and stores nothing if it
        fails (a ``BucketConnectionError`` naming the step)."""
        obj = _new_secret(endpoint, bucket_name, region, type, _given(
            access_key=access_key, secret_key=secret_key, session_token=session_token,
            secure=secure, cert_check=cert_check))
        return self._session().driver.run(self._create_op(obj, verify))

    def update(self, secret_id: str, endpoint: str | None = None,
               bucket_name: str | None = None, access_key: str | None = None,
               secret_key: str | None = None, session_token: str | None = None,
               secure: bool | None = None, region: str | None = None,
               cert_check: bool | None = None) -> BucketSecret:
        """Change the given fields of a secret; the others are kept (keys must be given)."""
        edits = _given(endpoint=endpoint, bucket_name=bucket_name, access_key=access_key,
                       secret_key=secret_key, session_token=session_token, secure=secure,
                       region=region, cert_check=cert_check)
        return self._session().driver.run(self._update_op(secret_id, edits))

    def delete(self, secret_id: str) -> None:
        """Delete a secret (ConflictError while an orbit uses it)."""
        self._session().driver.run(self._delete_by_id_op(BucketSecret, secret_id,
                                                         "secret_id"))

    def test_connection(self, secret: BucketSecret | str) -> None:
        """Test a secret's storage (see ``BucketSecret.test_connection()``): a stored
        secret's id, or a ``BucketSecret`` (new, or with changes not saved yet)."""
        self._session().driver.run(self._test_op(secret))


class AsyncBucketSecretResource(_SecretOps):
    """``client.bucket_secrets`` on ``AsyncDataForceClient``: the same calls, awaited."""

    async def get(self, secret_value: str) -> BucketSecret | None:
        """The secret with this id or exact bucket name; None if absent."""
        return await self._session().async_driver.run(self._get_op(secret_value))

    async def list(self) -> builtins.list[BucketSecret]:
        """The organization's bucket secrets (without their keys)."""
        return await self._session().async_driver.run(self._all_op(BucketSecret))

    async def create(self, endpoint: str, bucket_name: str, region: str | None = None,
                     type: str = "s3", access_key: str | None = None,
                     secret_key: str | None = None, session_token: str | None = None,
                     secure: bool | None = None, cert_check: bool | None = None,
                     verify: bool = False) -> BucketSecret:
        """Create a bucket secret in the client's organization; ``verify=True`` runs the
        connection test first (as the official SDK's create does) and stores nothing if it
        fails (a ``BucketConnectionError`` naming the step)."""
        obj = _new_secret(endpoint, bucket_name, region, type, _given(
            access_key=access_key, secret_key=secret_key, session_token=session_token,
            secure=secure, cert_check=cert_check))
        return await self._session().async_driver.run(self._create_op(obj, verify))

    async def update(self, secret_id: str, endpoint: str | None = None,
                     bucket_name: str | None = None, access_key: str | None = None,
                     secret_key: str | None = None, session_token: str | None = None,
                     secure: bool | None = None, region: str | None = None,
                     cert_check: bool | None = None) -> BucketSecret:
        """Change the given fields of a secret; the others are kept (keys must be given)."""
        edits = _given(endpoint=endpoint, bucket_name=bucket_name, access_key=access_key,
                       secret_key=secret_key, session_token=session_token, secure=secure,
                       region=region, cert_check=cert_check)
        return await self._session().async_driver.run(self._update_op(secret_id, edits))

    async def delete(self, secret_id: str) -> None:
        """Delete a secret (ConflictError while an orbit uses it)."""
        await self._session().async_driver.run(
            self._delete_by_id_op(BucketSecret, secret_id, "secret_id"))

    async def test_connection(self, secret: BucketSecret | str) -> None:
        """Test a secret's storage (see ``BucketSecret.test_connection()``): a stored
        secret's id, or a ``BucketSecret`` (new, or with changes not saved yet)."""
        await self._session().async_driver.run(self._test_op(secret))




class _ArtifactOps(_ModelCalls):
    """Each ``client.artifacts`` call once, as an operation; the classes below only run it."""

    def _collection_id(self, collection_id: str | None) -> Op[str]:
        """The collection a call means: ``collection_id`` (an id or exact name), else the
        client's default collection."""
        value = collection_id if collection_id is not None else self._client.collection
        if value is None:
            raise ConfigurationError(_NO_DEFAULT)
        found = yield from self._by_id_or(Collection, value, "collection_id", "name")
        if found is None or found.pk is None:
            raise Collection.DoesNotExist(f"{value!r} matches no collection (by id or exact "
                                          "name) in the orbit")
        return found.pk

    def _artifact_op(self, artifact_id: str, collection_id: str | None) -> Op[Artifact]:
        cid = yield from self._collection_id(collection_id)
        art: Artifact = yield from ops.get_by_id(
            Artifact, self._session(), _id(artifact_id, "artifact_id"), {"collection": cid})
        return art

    def _get_op(self, value: str, collection_id: str | None) -> Op[Artifact | None]:
        cid = yield from self._collection_id(collection_id)
        if as_uuid(value) is not None:
            try:
                found: Artifact = yield from ops.get_by_id(
                    Artifact, self._session(), as_uuid(value) or value, {"collection": cid})
                return found
            except Artifact.DoesNotExist:
                pass
        qs = QuerySet(Artifact, self._session()).filter(collection_id=cid, name=value)
        try:
            return (yield from ops.get(qs, self._session()))
        except Artifact.DoesNotExist:
            return None
        except Artifact.MultipleObjectsReturned:
            raise Artifact.MultipleObjectsReturned(
                f"several artifacts are named {value!r}; use its id") from None

    def _list_op(self, collection_id: str | None, limit: int | None, sort_by: str | None,
                 order: str, types: builtins.list[str] | None,
                 search: str | None) -> Op[builtins.list[Artifact]]:
        cid = yield from self._collection_id(collection_id)
        qs = self._query(cid, sort_by, order, types, search)
        found: builtins.list[Artifact] = yield from ops.rows(qs, self._session(), limit)
        return found

    def _query(self, cid: str, sort_by: str | None, order: str,
               types: builtins.list[str] | None, search: str | None) -> QuerySet[Artifact]:
        if order not in ("asc", "desc"):
            raise ValidationError("order", f"must be 'asc' or 'desc', not {order!r}")
        qs = QuerySet(Artifact, self._session()).filter(collection_id=cid)
        if types:
            qs = qs.filter(type__in=types)
        if search:
            qs = qs.filter(name__icontains=search)
        key = sort_by or "created_at"
        if key not in ops.lookup_fields(Artifact):
            key = f"extra_values__{key}"  # a metric, as the official SDK's sort_by takes it
        return qs.order_by(("-" if order == "desc" else "") + key)

    def _create_op(self, collection_id: str | None, body: dict[str, Any]
                   ) -> Op[CreatedArtifact]:
        cid = yield from self._collection_id(collection_id)
        return (yield from ops.register_artifact(self._session(), cid, body))

    def _update_op(self, artifact_id: str, name: str | None, description: str | None,
                   tags: builtins.list[str] | None, collection_id: str | None) -> Op[Artifact]:
        art = yield from self._artifact_op(artifact_id, collection_id)
        for field, value in _given(name=name, description=description, tags=tags).items():
            setattr(art, field, value)
        yield from ops.save(art, self._session())
        return art

    def _upload_op(self, file_path: str, name: str | None, description: str | None,
                   tags: builtins.list[str] | None, collection_id: str | None,
                   on_progress: Any) -> Op[Artifact]:
        cid = yield from self._collection_id(collection_id)
        return (yield from ops.upload(self._session(), cid, file_path, name, description, tags,
                                      on_progress, CONCURRENCY))

    def _download_op(self, artifact_id: str, file_path: str | None,
                     collection_id: str | None) -> Op[Path]:
        art = yield from self._artifact_op(artifact_id, collection_id)
        return (yield from ops.download(art, self._session(), file_path))

    def _url_op(self, artifact_id: str, what: str, collection_id: str | None
                ) -> Op[dict[str, str]]:
        art = yield from self._artifact_op(artifact_id, collection_id)
        url = yield from ops.artifact_url(art, self._session(), what)
        return {"url": url}

    def _delete_op(self, artifact_id: str, collection_id: str | None, force: bool) -> Op[None]:
        art = yield from self._artifact_op(artifact_id, collection_id)
        yield from ops.delete_artifact(art, self._session(), force)


class ArtifactResource(_ArtifactOps):
    """``client.artifacts``: the official SDK's calls, on ``Artifact`` objects, without
    its defects (lookups by id read that artifact, listings page to the end and never loop,
    ``delete()`` runs the whole delete flow, uploads of any size work)."""

    def get(self, artifact_value: str, *, collection_id: str | None = None
            ) -> Artifact | None:
        """The artifact with this id or exact name in the collection (default: the
        client's); None if absent; MultipleResourcesFoundError if several share the name."""
        return self._session().driver.run(self._get_op(artifact_value, collection_id))

    def list(self, *, collection_id: str | None = None, limit: int | None = 100,
             sort_by: str | None = None, order: str = "desc",
             types: builtins.list[str] | None = None, search: str | None = None
             ) -> builtins.list[Artifact]:
        """Up to ``limit`` artifacts of the collection (None: all), sorted by ``sort_by`` (a
        field, or a metric key of ``extra_values``)."""
        op = self._list_op(collection_id, limit, sort_by, order, types, search)
        return self._session().driver.run(op)

    def list_all(self, *, collection_id: str | None = None, sort_by: str | None = None,
                 order: str = "desc", types: builtins.list[str] | None = None,
                 search: str | None = None) -> Iterator[Artifact]:
        """Every artifact of the collection, streamed a page at a time."""
        cid = self._session().driver.run(self._collection_id(collection_id))
        return self._query(cid, sort_by, order, types, search).iterator()

    def create(self, collection_id: str | None, file_name: str, extra_values: dict[str, Any],
               manifest: dict[str, Any], file_hash: str, file_index: dict[str, Any],
               size: int, name: str, description: str | None = None,
               tags: builtins.list[str] | None = None) -> CreatedArtifact:
        """Register an artifact without sending its file (status ``pending_upload``):
        the artifact and where to upload it. ``upload()`` does all of it."""
        op = self._create_op(collection_id, {
            "file_name": file_name, "extra_values": extra_values, "manifest": manifest,
            "file_hash": file_hash, "file_index": file_index, "size": size, "name": name,
            "description": description, "tags": tags})
        return self._session().driver.run(op)

    def update(self, artifact_id: str, name: str | None = None,
               description: str | None = None, tags: builtins.list[str] | None = None, *,
               collection_id: str | None = None) -> Artifact:
        """Change the given fields (the others are kept)."""
        op = self._update_op(artifact_id, name, description, tags, collection_id)
        return self._session().driver.run(op)

    def delete(self, artifact_id: str, *, collection_id: str | None = None) -> None:
        """Delete an artifact and its stored file (delete URL, storage DELETE, confirm)."""
        self._session().driver.run(self._delete_op(artifact_id, collection_id, False))

    def force_delete(self, artifact_id: str, *, collection_id: str | None = None) -> None:
        """Remove an artifact whatever its status (its stored file is left)."""
        self._session().driver.run(self._delete_op(artifact_id, collection_id, True))

    def upload(self, file_path: str, name: str | None = None, description: str | None = None,
               tags: builtins.list[str] | None = None, *, collection_id: str | None = None,
               on_progress: Any = None) -> Artifact:
        """Upload a ``.luml`` archive (any size) and return the artifact, ``uploaded``."""
        op = self._upload_op(file_path, name, description, tags, collection_id, on_progress)
        return self._session().driver.run(op)

    def download(self, artifact_id: str, file_path: str | None = None, *,
                 collection_id: str | None = None) -> Path:
        """Download an artifact's file (checked against its SHA-256); returns its path."""
        op = self._download_op(artifact_id, file_path, collection_id)
        return self._session().driver.run(op)

    def download_url(self, artifact_id: str, *, collection_id: str | None = None
                     ) -> dict[str, str]:
        """``{"url": ...}``: a presigned URL to read the file."""
        op = self._url_op(artifact_id, "download-url", collection_id)
        return self._session().driver.run(op)

    def delete_url(self, artifact_id: str, *, collection_id: str | None = None
                   ) -> dict[str, str]:
        """``{"url": ...}``: a presigned URL to delete the file (the artifact becomes
        ``pending_deletion``)."""
        op = self._url_op(artifact_id, "delete-url", collection_id)
        return self._session().driver.run(op)


class AsyncArtifactResource(_ArtifactOps):
    """``client.artifacts`` on ``AsyncDataForceClient``: the same calls, awaited."""

    async def get(self, artifact_value: str, *, collection_id: str | None = None
                  ) -> Artifact | None:
        """The artifact with this id or exact name in the collection; None if absent."""
        return await self._session().async_driver.run(self._get_op(artifact_value,
                                                                   collection_id))

    async def list(self, *, collection_id: str | None = None, limit: int | None = 100,
                   sort_by: str | None = None, order: str = "desc",
                   types: builtins.list[str] | None = None, search: str | None = None
                   ) -> builtins.list[Artifact]:
        """Up to ``limit`` artifacts of the collection (None: all)."""
        op = self._list_op(collection_id, limit, sort_by, order, types, search)
        return await self._session().async_driver.run(op)

    def list_all(self, *, collection_id: str | None = None, sort_by: str | None = None,
                 order: str = "desc", types: builtins.list[str] | None = None,
                 search: str | None = None) -> AsyncIterator[Artifact]:
        """Every artifact of the collection, streamed a page at a time (``async for``)."""
        async def stream() -> AsyncIterator[Artifact]:
            cid = await self._session().async_driver.run(self._collection_id(collection_id))
            async for art in self._query(cid, sort_by, order, types, search):
                yield art

        return stream()

    async def create(self, collection_id: str | None, file_name: str,
                     extra_values: dict[str, Any], manifest: dict[str, Any], file_hash: str,
                     file_index: dict[str, Any], size: int, name: str,
                     description: str | None = None, tags: builtins.list[str] | None = None
                     ) -> CreatedArtifact:
        """Register an artifact without sending its file (status ``pending_upload``)."""
        op = self._create_op(collection_id, {
            "file_name": file_name, "extra_values": extra_values, "manifest": manifest,
            "file_hash": file_hash, "file_index": file_index, "size": size, "name": name,
            "description": description, "tags": tags})
        return await self._session().async_driver.run(op)

    async def update(self, artifact_id: str, name: str | None = None,
                     description: str | None = None, tags: builtins.list[str] | None = None,
                     *, collection_id: str | None = None) -> Artifact:
        """Change the given fields (the others are kept)."""
        op = self._update_op(artifact_id, name, description, tags, collection_id)
        return await self._session().async_driver.run(op)

    async def delete(self, artifact_id: str, *, collection_id: str | None = None) -> None:
        """Delete an artifact and its stored file."""
        await self._session().async_driver.run(self._delete_op(artifact_id, collection_id,
                                                               False))

    async def force_delete(self, artifact_id: str, *, collection_id: str | None = None
                           ) -> None:
        """Remove an artifact whatever its status (its stored file is left)."""
        await self._session().async_driver.run(self._delete_op(artifact_id, collection_id,
                                                               True))

    async def upload(self, file_path: str, name: str | None = None,
                     description: str | None = None, tags: builtins.list[str] | None = None,
                     *, collection_id: str | None = None, on_progress: Any = None
                     ) -> Artifact:
        """Upload a ``.luml`` archive (any size) and return the artifact, ``uploaded``."""
        op = self._upload_op(file_path, name, description, tags, collection_id, on_progress)
        return await self._session().async_driver.run(op)

    async def download(self, artifact_id: str, file_path: str | None = None, *,
                       collection_id: str | None = None) -> Path:
        """Download an artifact's file (checked against its SHA-256); returns its path."""
        op = self._download_op(artifact_id, file_path, collection_id)
        return await self._session().async_driver.run(op)

    async def download_url(self, artifact_id: str, *, collection_id: str | None = None
                           ) -> dict[str, str]:
        """``{"url": ...}``: a presigned URL to read the file."""
        op = self._url_op(artifact_id, "download-url", collection_id)
        return await self._session().async_driver.run(op)

    async def delete_url(self, artifact_id: str, *, collection_id: str | None = None
                         ) -> dict[str, str]:
        """``{"url": ...}``: a presigned URL to delete the file."""
        op = self._url_op(artifact_id, "delete-url", collection_id)
        return await self._session().async_driver.run(op)


class DataForceClient(_ClientBase):
    """The DataForce SDK's ``DataForceClient`` (the platform's official client under its
    older name), on this library's session: ``DataForceClient(api_key=...).collections.get()``.

    Unset values come from the environment like ``Session``'s; nothing is sent until the
    first call. ``with DataForceClient(...) as dfs:`` closes its connections at the end.

    Attributes:
        collections: The orbit's collections: ``get``, ``list``, ``create``, ``update``,
            ``delete``.
        orbits: The organization's orbits.
        bucket_secrets: The organization's bucket secrets.
        artifacts: The artifacts of the default collection (or of the one given).
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None,
                 organization: str | None = None, orbit: str | None = None,
                 collection: str | None = None, *, timeout: Timeout = DEFAULT_TIMEOUT) -> None:
        super().__init__(base_url, api_key, _setting("organization", organization),
                         _setting("orbit", orbit), _setting("collection", collection), timeout)
        self.collections = CollectionResource(self)
        self.orbits = OrbitResource(self)
        self.bucket_secrets = BucketSecretResource(self)
        self.orbit_secrets = OrbitSecretResource(self)
        self.artifacts = ArtifactResource(self)
        self.tracks = TrackResource(self)
        self.satellites, self.deployments = _deploy.resources(self)

    def setup_config(self, organization: str | None = None, orbit: str | None = None,
                     collection: str | None = None) -> None:
        """Set the default organization, orbit and/or collection (``None`` keeps one)."""
        self._configure(organization, orbit, collection)

    def close(self) -> None:
        """Close the client's pooled connections (they reopen on the next call)."""
        self._session.close()

    def __enter__(self) -> DataForceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncDataForceClient(_ClientBase):
    """The async twin of ``DataForceClient``: ``await
    AsyncDataForceClient(...).collections.get(...)``.

    ``async with AsyncDataForceClient(...) as dfs:`` closes its connections at the end.

    Attributes:
        collections: The orbit's collections (every call awaited).
        orbits: The organization's orbits.
        bucket_secrets: The organization's bucket secrets.
        artifacts: The artifacts of the default collection (or of the one given).
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 organization: str | None = None, orbit: str | None = None,
                 collection: str | None = None, timeout: Timeout = DEFAULT_TIMEOUT) -> None:
        super().__init__(base_url, api_key, _setting("organization", organization),
                         _setting("orbit", orbit), _setting("collection", collection), timeout)
        self.collections = AsyncCollectionResource(self)
        self.orbits = AsyncOrbitResource(self)
        self.bucket_secrets = AsyncBucketSecretResource(self)
        self.orbit_secrets = AsyncOrbitSecretResource(self)
        self.artifacts = AsyncArtifactResource(self)
        self.tracks = AsyncTrackResource(self)
        self.satellites, self.deployments = _deploy.async_resources(self)

    def setup_config(self, organization: str | None = None, orbit: str | None = None,
                     collection: str | None = None) -> Awaitable[None]:
        """Set the default organization, orbit and/or collection (``None`` keeps one).

        Applied at once, without a request; the result may be awaited or left alone.
        """
        self._configure(organization, orbit, collection)
        return _Applied()

    async def aclose(self) -> None:
        """Close the client's connections of the running event loop."""
        await self._session.aclose()

    async def __aenter__(self) -> AsyncDataForceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
