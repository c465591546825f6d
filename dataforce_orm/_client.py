"""The seed SDK's client, as a thin facade over the ORM.

``DataForceClient(...).collections.get/list/create/update/delete`` and the async twin keep the
documented signatures and behaviour, and return the ORM's own :class:`Collection` objects. Each
client owns a :class:`Session`; every call runs on it explicitly (never on the current one).
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Generator
from typing import Any

from ._errors import (
    ConfigurationError,
    MultipleObjectsReturned,
    ObjectDoesNotExist,
    ValidationError,
)
from ._http import Timeout
from ._models import Collection, CollectionType
from ._protocol import Op
from ._query import QuerySet, collect
from ._session import DEFAULT_TIMEOUT, Session, as_uuid

__all__ = ["AsyncCollectionResource", "AsyncDataForceClient", "CollectionResource",
           "DataForceClient"]

_NO_DEFAULT = (
    "no collection given and no default collection set: pass the collection's id or exact name "
    "(collection_id=... / collection_value=...), or set one with client.collection = '<id or "
    "name>', DataForceClient(collection=...) or setup_config(collection=...)"
)

_Key = tuple[str | None, str | None, str]  # (organization, orbit, collection) as configured


class _Applied:
    """Returned by ``AsyncDataForceClient.setup_config``: the settings are already applied, so
    awaiting it is optional (the seed's examples call it without ``await``)."""

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
        kind = Collection._specs["collection_type"].check(collection_type)
        return Collection(name=name, description=description, collection_type=kind, tags=tags)

    @staticmethod
    def _edits(name: str | None, description: str | None,
               tags: builtins.list[str] | None) -> dict[str, Any]:
        """The given fields, checked before any request."""
        edits = {k: v for k, v in (("name", name), ("description", description), ("tags", tags))
                 if v is not None}
        for field, value in edits.items():
            edits[field] = Collection._specs[field].check(value)
        if name == "":
            raise ValidationError("name", "must not be empty")
        return edits

    def _deleted(self, collection_id: str | None) -> None:
        """Forget the pinned default if it was this collection."""
        pinned = self._client._pinned
        if pinned is not None and pinned[1] == collection_id:
            self._client._pinned = None


class _Operations(_ResourceBase):
    """Each call once, as a sans-I/O operation: the sync and async resources only run them."""

    def _session(self) -> Session:
        return self._client.session

    def _get_op(self, ref: _Ref) -> Op[Collection | None]:
        objects, session = self._objects(), self._session()
        if ref.id is not None:
            found = yield from objects.filter(id=ref.id)._first_op(session)
            if found is not None:
                return self._found(ref, found)
        try:
            obj = yield from objects.filter(name=ref.value)._get_op(session)
        except Collection.DoesNotExist:
            return None
        except Collection.MultipleObjectsReturned:
            raise self._several(ref.value) from None
        return self._found(ref, obj)

    def _list_op(self) -> Op[builtins.list[Collection]]:
        found: builtins.list[Collection] = yield from collect(
            self._objects()._rows_op(self._session()))
        return found

    def _create_op(self, description: str, name: str, collection_type: CollectionType | str,
                   tags: builtins.list[str] | None) -> Op[Collection]:
        obj = self._new(description, name, collection_type, tags)
        yield from obj._save_op(self._session(), False, None)
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
        yield from obj._save_op(self._session(), True, None)
        return obj

    def _delete_op(self, collection_id: str | None) -> Op[None]:
        ref = self._ref(collection_id, "collection_id")
        if ref.id is not None:
            try:
                yield from Collection(id=ref.id)._delete_op(self._session())
            except Collection.DoesNotExist:
                pass
            else:
                self._deleted(ref.id)
                return
        obj = yield from self._get_op(_Ref(ref.value, None, ref.default_key))
        if obj is None:
            raise self._missing(ref)
        deleted = obj.id
        yield from obj._delete_op(self._session())
        self._deleted(deleted)


class CollectionResource(_Operations):
    """``client.collections`` on :class:`DataForceClient`."""

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


class AsyncCollectionResource(_Operations):
    """``client.collections`` on :class:`AsyncDataForceClient`: the same calls, awaited."""

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


class DataForceClient(_ClientBase):
    """The seed SDK's client: ``DataForceClient(api_key=...).collections.get(...)``.

    Unset values come from the environment like :class:`Session`'s; nothing is sent until the
    first call. ``with DataForceClient(...) as dfs:`` closes its connections at the end.
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None,
                 organization: str | None = None, orbit: str | None = None,
                 collection: str | None = None, *, timeout: Timeout = DEFAULT_TIMEOUT) -> None:
        super().__init__(base_url, api_key, _setting("organization", organization),
                         _setting("orbit", orbit), _setting("collection", collection), timeout)
        self.collections = CollectionResource(self)

    def setup_config(self, organization: str | None = None, orbit: str | None = None,
                     collection: str | None = None) -> None:
        """Set the default organization, orbit and/or collection (``None`` keeps one)."""
        self._configure(organization, orbit, collection)

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> DataForceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncDataForceClient(_ClientBase):
    """The seed SDK's async client: ``await AsyncDataForceClient(...).collections.get(...)``.

    ``async with AsyncDataForceClient(...) as dfs:`` closes its connections at the end.
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None, *,
                 organization: str | None = None, orbit: str | None = None,
                 collection: str | None = None, timeout: Timeout = DEFAULT_TIMEOUT) -> None:
        super().__init__(base_url, api_key, _setting("organization", organization),
                         _setting("orbit", orbit), _setting("collection", collection), timeout)
        self.collections = AsyncCollectionResource(self)

    def setup_config(self, organization: str | None = None, orbit: str | None = None,
                     collection: str | None = None) -> Awaitable[None]:
        """Set the default organization, orbit and/or collection (``None`` keeps one).

        Applied at once, without a request; the result may be awaited or left alone.
        """
        self._configure(organization, orbit, collection)
        return _Applied()

    async def aclose(self) -> None:
        await self._session.aclose()

    async def __aenter__(self) -> AsyncDataForceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
