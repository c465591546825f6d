"""Models: Collection (an active record), CollectionType, and read-only Organization/Orbit."""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, TypeVar

import attrs

from . import _errors as errors
from ._errors import APIError, ConflictError, DataForceError, TransportError, ValidationError
from ._http import UNPROCESSED_STATUSES, Op, Request, Response, Sleep, log_retry
from ._query import SURROGATE, Manager, ManagerDescriptor, search_escape, unsendable
from ._session import Session, as_uuid, current_session
from ._wire import converter, format_time, loading, register, structurer

M = TypeVar("M", bound="Model")

NAME_MAX, DESCRIPTION_MAX, TAGS_MAX, TAG_MAX = 100, 1000, 50, 64
EDITABLE = ("name", "description", "tags")


class CollectionType(str, enum.Enum):
    """What a collection holds (the wire field ``type``)."""

    MODEL = "model"
    DATASET = "dataset"
    EXPERIMENT = "experiment"
    MODEL_DATASET = "model_dataset"
    DATASET_EXPERIMENT = "dataset_experiment"
    MODEL_EXPERIMENT = "model_experiment"
    MIXED = "mixed"

    def __str__(self) -> str:
        return self.value


# -- validation (client-side, before any request) -----------------------------------------


def check_str(field: str, value: object, max_len: int, *, empty_ok: bool = True) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, not {type(value).__name__}")
    if unsendable(value):
        raise ValidationError(field, SURROGATE)
    if len(value) > max_len:
        raise ValidationError(field, f"must be at most {max_len} characters (got {len(value)})")
    if not empty_ok and not value:
        raise ValidationError(field, "must not be empty")
    return value


def check_tags(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ValidationError("tags", f"must be a list of strings, not {type(value).__name__}")
    tags = list(value)
    if len(tags) > TAGS_MAX:
        raise ValidationError("tags", f"must have at most {TAGS_MAX} items (got {len(tags)})")
    for i, tag in enumerate(tags):
        check_str(f"tags[{i}]", tag, TAG_MAX)
    return tags


def to_type(value: object) -> CollectionType | None:
    if value is None or isinstance(value, CollectionType):
        return value
    try:
        return CollectionType(value)
    except ValueError:
        allowed = ", ".join(t.value for t in CollectionType)
        rule = f"must be one of {allowed}; got {value!r}"
        raise ValidationError("collection_type", rule) from None


# attrs converters: check a value a caller sets, take one from the server as it is.


def _name(value: Any) -> Any:
    return value if loading.get() else check_str("name", value, NAME_MAX)


def _description(value: Any) -> Any:
    return value if loading.get() else check_str("description", value, DESCRIPTION_MAX)


def _tags(value: Any) -> Any:
    return value if loading.get() else check_tags(value)


def _id(value: Any) -> Any:
    if loading.get() or value is None:
        return value
    canon = as_uuid(value) if isinstance(value, str) else None
    if canon is None:
        raise ValidationError("id", f"must be a UUID string, got {value!r}")
    return canon


def _type(value: Any) -> Any:
    return value if loading.get() else to_type(value)


# -- the model base -----------------------------------------------------------------------


@attrs.define(slots=True, eq=False, repr=False)
class Model:
    """Base of the models: identity by class and id, the session that loaded it."""

    DoesNotExist: ClassVar[type[errors.ObjectDoesNotExist]] = errors.ObjectDoesNotExist
    MultipleObjectsReturned: ClassVar[type[errors.MultipleObjectsReturned]] = (
        errors.MultipleObjectsReturned
    )
    _fields: ClassVar[dict[str, str]] = {}  # field -> lookup kind (see _query.LOOKUPS)
    _sort_keys: ClassVar[dict[str, str]] = {}  # fields the server sorts by -> its sort_by
    _default_order: ClassVar[tuple[str, ...]] = ()  # the listing's own order
    _editable: ClassVar[tuple[str, ...]] = ()
    _gettable_by_id: ClassVar[bool] = False
    _session: Session | None = attrs.field(default=None, init=False, repr=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "DoesNotExist" not in cls.__dict__:  # attrs re-creates slotted classes; make once
            cls.DoesNotExist = type("DoesNotExist", (cls.DoesNotExist,), {
                "__module__": cls.__module__, "__qualname__": f"{cls.__qualname__}.DoesNotExist"})
            cls.MultipleObjectsReturned = type("MultipleObjectsReturned", (
                cls.MultipleObjectsReturned,), {"__module__": cls.__module__,
                "__qualname__": f"{cls.__qualname__}.MultipleObjectsReturned"})

    @property
    def pk(self) -> str | None:
        return getattr(self, "id", None)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self is other if self.pk is None else self.pk == getattr(other, "id", None)

    def __hash__(self) -> int:
        if self.pk is None:
            raise TypeError(f"unsaved {type(self).__name__} objects are unhashable")
        return hash((type(self).__name__, self.pk))

    def _session_for(self, using: Session | None) -> Session:
        return using or self._session or current_session()

    @classmethod
    def _load(cls: type[M], data: Any, session: Session) -> M:
        """A model from one wire object, remembering the session that loaded it."""
        obj = converter.structure(data, cls)
        object.__setattr__(obj, "_session", session)
        return obj

    @classmethod
    def _pager_op(cls, session: Session, params: list[tuple[str, str]], limit: int) -> Op[Pager]:
        """The listing to page through (resolving the organization/orbit it needs)."""
        raise NotImplementedError

    @classmethod
    def _get_by_id_op(cls: type[M], session: Session, ident: str) -> Op[M]:
        raise NotImplementedError


def _wire_error(req: Request, what: str) -> APIError:
    return APIError(200, req.method, req.path, f"unexpected response shape: {what}")


def load_one(cls: type[M], req: Request, data: Any, session: Session) -> M:
    """A model from one wire object; a wrong shape is an APIError, never a raw cattrs error."""
    if not isinstance(data, dict):
        raise _wire_error(req, f"expected an object, got {type(data).__name__}")
    if not isinstance(data.get("id"), str):
        raise _wire_error(req, "the object has no string id")
    try:
        obj = cls._load(data, session)
    except DataForceError:
        raise
    except Exception as exc:
        raise _wire_error(req, f"{type(exc).__name__}: {exc}") from None
    return obj


class Pager:
    """Pagination state for one listing: the next request, and the items from each answer."""

    def __init__(self, model: type[Model], session: Session, path: str,
                 params: list[tuple[str, str]], paged: bool) -> None:
        self.model, self.session, self.path, self.params, self.paged = (
            model, session, path, params, paged)
        self.cursor: str | None = None
        self.done = False
        self._seen: set[str] = set()

    def next_request(self) -> Request | None:
        if self.done:
            return None
        params = [*self.params, ("cursor", self.cursor)] if self.cursor else self.params
        return Request("GET", self.path, tuple(params))

    def feed(self, req: Request, resp: Response, load: bool = True,
             keep: Callable[[Any], bool] | None = None) -> list[Any]:
        """The page's objects (its raw items if not ``load``; only the items ``keep`` passes,
        if given); the next request is set up."""
        data = resp.data
        if not self.paged:
            self.done = True
            if not isinstance(data, list):
                raise _wire_error(req, "expected a JSON array")
            return [load_one(self.model, req, item, self.session) for item in data] if load \
                else data
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise _wire_error(req, "expected {'items': [...], 'cursor': ...}")
        cursor = data.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise _wire_error(req, "cursor is not a string")
        if cursor in self._seen:
            raise APIError(200, req.method, req.path,
                           "the server repeated a pagination cursor; stopping instead of looping")
        if cursor is None:
            self.done = True
        else:
            self._seen.add(cursor)
        self.cursor = cursor
        items: list[Any] = data["items"]
        if keep is not None:
            items = [item for item in items if not isinstance(item, dict) or keep(item)]
        return [load_one(self.model, req, item, self.session) for item in items] if load \
            else items


# -- Collection ---------------------------------------------------------------------------


def _snapshot_of(data: dict[str, Any]) -> dict[str, Any]:
    tags = data.get("tags")
    return {"name": data.get("name"), "description": data.get("description"),
            "tags": list(tags) if tags is not None else None, "type": data.get("type")}


@attrs.define(slots=True, eq=False, repr=False)
class Collection(Model):
    """A collection of artifacts in an orbit, as an active record.

    ``save()`` creates or updates (writing only what changed, merged with the server's
    current state), ``refresh()`` reloads, ``delete()`` removes. Query with
    ``Collection.objects``.
    """

    objects: ClassVar[Manager[Collection]] = ManagerDescriptor()  # type: ignore[assignment]
    _fields: ClassVar[dict[str, str]] = {
        "id": "id", "name": "str", "description": "str", "collection_type": "enum",
        "orbit_id": "id", "tags": "tags", "total_artifacts": "num", "created_at": "time",
        "updated_at": "time",
    }
    _sort_keys: ClassVar[dict[str, str]] = {
        "created_at": "created_at", "name": "name", "collection_type": "type",
        "description": "description", "total_artifacts": "total_artifacts",
    }
    _default_order: ClassVar[tuple[str, ...]] = ("-created_at",)
    _editable: ClassVar[tuple[str, ...]] = EDITABLE
    _gettable_by_id: ClassVar[bool] = True

    name: str = attrs.field(default="", converter=_name)
    description: str = attrs.field(default="", converter=_description)
    collection_type: CollectionType | None = attrs.field(default=None, converter=_type)
    tags: list[str] | None = attrs.field(default=None, converter=_tags)
    id: str | None = attrs.field(default=None, converter=_id)
    orbit_id: str | None = None
    total_artifacts: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None
    artifacts_tags: list[str] | None = None
    artifacts_extra_values: list[str] | None = None
    _snapshot: dict[str, Any] | None = attrs.field(default=None, init=False)
    # When a create of this object was sent without a known outcome (see _create_op).
    _maybe_created_at: float | None = attrs.field(default=None, init=False, repr=False)

    @property
    def total_models(self) -> int:
        """Read-only alias of ``total_artifacts`` (the dataforce-era name)."""
        return self.total_artifacts

    def __repr__(self) -> str:
        def fmt(v: Any) -> str:
            return repr(format_time(v)) if isinstance(v, datetime) else repr(
                v.value if isinstance(v, CollectionType) else v)

        names = ("id", "name", "description", "collection_type", "orbit_id", "tags",
                 "total_artifacts", "created_at", "updated_at")
        # (fields may be unset while __init__ runs: a traceback showing locals reprs it then)
        body = ", ".join(f"{n}={fmt(getattr(self, n, None))}" for n in names)
        return f"Collection({body})"

    # -- state ---------------------------------------------------------------------------

    @classmethod
    def _load(cls, data: Any, session: Session) -> Collection:
        obj = _structure(data)
        object.__setattr__(obj, "_snapshot", _snapshot_of(data))
        object.__setattr__(obj, "_session", session)
        return obj

    def _absorb(self, data: dict[str, Any], session: Session | None) -> None:
        """Take the server's state (fields present in ``data``) as loaded."""
        if data is not None and not isinstance(data, dict):
            raise TypeError("expected an object")
        fresh = _structure(data)
        for a in attrs.fields(Collection):
            if a.init and (a.alias in data or (a.name == "collection_type" and "type" in data)):
                object.__setattr__(self, a.name, getattr(fresh, a.name))
        object.__setattr__(self, "_snapshot", _snapshot_of(data))
        if session is not None:
            object.__setattr__(self, "_session", session)

    def _absorb_answer(self, req: Request, data: Any, session: Session) -> None:
        """:meth:`_absorb` a server answer; a wrong shape is an APIError, never a raw error."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise _wire_error(req, "expected a collection object with an id")
        try:
            self._absorb(data, session)
        except DataForceError:
            raise
        except Exception as exc:
            raise _wire_error(req, f"{type(exc).__name__}: {exc}") from None

    def _local(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                "tags": list(self.tags) if self.tags is not None else None}

    def changed_fields(self) -> list[str]:
        """Editable fields whose value differs from what was last loaded or saved."""
        if self._snapshot is None:
            return list(EDITABLE)
        local = self._local()
        return [f for f in EDITABLE if local[f] != self._snapshot[f]]

    @property
    def is_saved(self) -> bool:
        return self.id is not None

    def _validate(self, *, creating: bool) -> None:
        """Check what a create or an update sends (an update never sends the type)."""
        check_str("name", self.name, NAME_MAX, empty_ok=creating)
        check_str("description", self.description, DESCRIPTION_MAX)
        check_tags(self.tags)
        if creating:
            if self.collection_type is None:
                raise ValidationError("collection_type", "is required to create a collection")
            to_type(self.collection_type)

    def _path(self, session: Session, org: str, orbit: str) -> str:
        return f"{session.collections_path(org, orbit)}/{self.id}"

    # -- operations (sans-I/O; run by the session's sync or async driver) --------------------

    def _save_op(self, session: Session, force: bool,
                 update_fields: Iterable[str] | None) -> Op[None]:
        if self.id is None:
            self._validate(creating=True)
            yield from self._create_op(session)
            return
        snap = self._snapshot or {}
        kind = self.collection_type  # (a type newer than this library is kept as its text)
        if kind is not None and snap.get("type") not in (None, getattr(kind, "value", kind)):
            raise ValidationError("collection_type", "cannot change after create")
        changed = self.changed_fields()
        if update_fields is not None:
            wanted = list(update_fields)
            for f in wanted:
                if f not in EDITABLE:
                    raise ValidationError("update_fields", f"{f!r} is not one of {EDITABLE}")
            changed = [f for f in changed if f in wanted]
        if not changed:
            return  # nothing to send, nothing to check
        self._validate(creating=False)
        org, orbit = yield from session.scope_op()
        path = self._path(session, org, orbit)
        local = self._local()
        pending = {f: local[f] for f in EDITABLE if f not in changed and local[f] != snap.get(f)}
        current: dict[str, Any] = {}
        server = snap
        if not force:
            current = yield from _get_collection(self.id, Request("GET", path))
            server = _snapshot_of(current)
            clash = [f for f in changed if server[f] != snap.get(f) and server[f] != local[f]]
            if clash:
                raise ConflictError(
                    409, "PATCH", path,
                    f"changed on the server since loaded, and here: {', '.join(clash)}; "
                    "refresh() and re-apply, or save(force=True) to overwrite",
                    fields=clash,
                )
        body = {f: local[f] if f in changed else server[f] for f in EDITABLE}
        req = Request("PATCH", path, json=body)
        if current and body == {f: server[f] for f in EDITABLE}:
            updated = current  # the server already holds these values
        else:
            updated = (yield req).data
            if not isinstance(updated, dict) or updated.get("id") != self.id:
                raise _wire_error(req, "expected the updated collection")
        self._absorb_answer(req, {**current, **updated}, session)
        for f, v in pending.items():  # edits left out by update_fields stay pending
            object.__setattr__(self, f, v)

    def _create_op(self, session: Session) -> Op[None]:
        org, orbit = yield from session.scope_op()
        path = session.collections_path(org, orbit)
        assert self.collection_type is not None
        body = {"name": self.name, "description": self.description,
                "type": self.collection_type.value, "tags": self.tags}
        policy, req = session.retry, Request("POST", path, json=body)
        # An earlier save() of this object may have sent a POST whose outcome is unknown (it
        # raised "maybe sent", or was cancelled): look for what it made before sending again.
        earlier = self._maybe_created_at
        started, clock = earlier or time.time(), time.monotonic()
        object.__setattr__(self, "_maybe_created_at", started)
        data = None
        if earlier is not None:
            data = yield from _find_created(session, path, body, earlier)
        attempt = 0
        while data is None:
            try:
                data = (yield req).data
            except (TransportError, APIError) as exc:
                attempt += 1
                ambiguous = (isinstance(exc, TransportError) and exc.maybe_sent) or (
                    isinstance(exc, APIError) and exc.status in policy.statuses
                    and exc.status not in UNPROCESSED_STATUSES)  # those the driver retried
                late = policy.deadline is not None and time.monotonic() - clock >= policy.deadline
                # A timed-out POST may still be running on the server: no lookup can rule it
                # out, and a re-send could make a second collection. It stays "maybe sent".
                running = isinstance(exc, errors.TimeoutError) and exc.maybe_sent
                if not ambiguous or attempt == policy.attempts or late or running:
                    exc.attempts = max(exc.attempts, attempt)
                    if not ambiguous:  # refused: nothing was made
                        object.__setattr__(self, "_maybe_created_at", None)
                    raise
                # The POST may have been committed: look for what it made before re-sending.
                found = yield from _find_created(session, path, body, started)
                if found is not None:
                    data = found
                    break
                log_retry(req, exc, attempt, policy.attempts)
                yield Sleep(policy.backoff_for(attempt, exc, time.monotonic() - clock))
                continue
            ident = data.get("id") if isinstance(data, dict) else None
            if not isinstance(ident, str) or session.claim_created(ident, started):
                break
            # Another create of this session lost its answer, and its lookup took this row (the
            # bodies are identical): the row that one's POST made is this one's to take.
            since = min(started, session.claimed_since(ident))
            found = yield from _find_created(session, path, body, since)
            if found is not None:
                data = found
                break
            # There is none (that POST was never committed): send this one again.
            data = None
        self._absorb_answer(req, data, session)
        object.__setattr__(self, "_maybe_created_at", None)

    def _refresh_op(self, session: Session, discard: bool) -> Op[None]:
        if self.id is None:
            raise ValidationError("id", "the collection is not saved; nothing to refresh")
        changed = self.changed_fields() if self._snapshot is not None else []
        if changed and not discard:
            raise ValidationError(
                ", ".join(changed), "has unsaved changes; save() them or refresh(discard=True)")
        org, orbit = yield from session.scope_op()
        req = Request("GET", self._path(session, org, orbit))
        data = yield from _get_collection(self.id, req)
        self._absorb_answer(req, data, session)

    def _delete_op(self, session: Session) -> Op[None]:
        if self.id is None:
            raise ValidationError("id", "the collection is not saved; nothing to delete")
        org, orbit = yield from session.scope_op()
        try:
            yield Request("DELETE", self._path(session, org, orbit))
        except errors.NotFoundError as exc:
            if exc.attempts <= 1:  # a 404 after an ambiguous first try means it was deleted
                raise self.DoesNotExist(f"no collection with id {self.id!r}") from None
        object.__setattr__(self, "id", None)
        object.__setattr__(self, "_snapshot", None)

    # -- public sync and async methods -------------------------------------------------------

    def save(self, *, force: bool = False, update_fields: Iterable[str] | None = None,
             using: Session | None = None) -> None:
        """Create (POST) or update (read, merge, PATCH); nothing changed sends nothing.

        An update takes the fields you did not change from the server's current state and
        raises ConflictError if one you changed was changed there too. ``force=True`` skips
        that read and check: the object's own values of all three fields are written (one
        request). ``update_fields`` limits which changed fields are written.
        """
        session = self._session_for(using)
        session.driver.run(self._save_op(session, force, update_fields))

    def refresh(self, *, discard: bool = False, using: Session | None = None) -> None:
        """Reload every field from the server (including the details-only ones)."""
        session = self._session_for(using)
        session.driver.run(self._refresh_op(session, discard))

    def delete(self, *, using: Session | None = None) -> None:
        """Delete it on the server; the object becomes unsaved."""
        session = self._session_for(using)
        session.driver.run(self._delete_op(session))

    async def asave(self, *, force: bool = False, update_fields: Iterable[str] | None = None,
                    using: Session | None = None) -> None:
        session = self._session_for(using)
        await session.async_driver.run(self._save_op(session, force, update_fields))

    async def arefresh(self, *, discard: bool = False, using: Session | None = None) -> None:
        session = self._session_for(using)
        await session.async_driver.run(self._refresh_op(session, discard))

    async def adelete(self, *, using: Session | None = None) -> None:
        session = self._session_for(using)
        await session.async_driver.run(self._delete_op(session))

    # -- querying hooks --------------------------------------------------------------------

    @classmethod
    def _pager_op(cls, session: Session, params: list[tuple[str, str]], limit: int) -> Op[Pager]:
        scope = yield from session.scope_op()
        return Pager(cls, session, session.collections_path(*scope),
                     [("limit", str(limit)), *params], paged=True)

    @classmethod
    def _get_by_id_op(cls, session: Session, ident: str) -> Op[Collection]:
        org, orbit = yield from session.scope_op()
        req = Request("GET", f"{session.collections_path(org, orbit)}/{ident}")
        data = yield from _get_collection(ident, req)
        return load_one(cls, req, data, session)


def _load_type(value: Any, _: object) -> Any:
    """A wire type; one newer than this library is kept as the server's string."""
    try:
        return CollectionType(value)
    except ValueError:
        if isinstance(value, str):
            return value
        raise TypeError(f"expected a collection type, got {type(value).__name__}") from None


converter.register_structure_hook(CollectionType, _load_type)
register(Collection, ("_session", "_snapshot", "_maybe_created_at"), collection_type="type")
_structure = structurer(Collection)


def _get_collection(ident: str | None, req: Request) -> Op[dict[str, Any]]:
    try:
        data = (yield req).data
    except errors.NotFoundError:
        raise Collection.DoesNotExist(f"no collection with id {ident!r}") from None
    if not isinstance(data, dict):
        raise _wire_error(req, "expected an object")
    return data


def _find_created(session: Session, path: str, body: dict[str, Any],
                  started: float) -> Op[dict[str, Any] | None]:
    """After a lost create: the collection it made, if the server committed it.

    A match is claimed for this create, so no other create of the session can take it too.
    """
    params = [("limit", "100"), ("sort_by", "created_at"), ("order", "desc")]
    if body["name"]:
        params.append(("search", search_escape(body["name"])))
    cursor: str | None = None
    seen: set[str] = set()
    while True:
        req = Request("GET", path, tuple(params + ([("cursor", cursor)] if cursor else [])))
        resp = yield req
        skew = _clock_skew(resp)
        since = datetime.fromtimestamp(started, timezone.utc) + skew - timedelta(seconds=2)
        data = resp.data
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise _wire_error(req, "expected {'items': [...], 'cursor': ...}")
        older = False
        for item in data["items"]:
            made = load_one(Collection, req, item, session)
            if made.created_at is not None and made.created_at < since:
                older = True
                break
            if (item.get("name"), item.get("description"), item.get("type"), item.get("tags")) \
                    == (body["name"], body["description"], body["type"], body["tags"]) \
                    and session.claim_created(str(item.get("id")), started):
                return dict(item)
        cursor = data.get("cursor")
        if older or not isinstance(cursor, str) or cursor in seen:  # a repeat would loop
            return None
        seen.add(cursor)


def _clock_skew(resp: Response) -> timedelta:
    """Server clock minus ours, from the Date header (zero when absent)."""
    try:
        server = parsedate_to_datetime(resp.headers["date"])
    except (KeyError, TypeError, ValueError):
        return timedelta(0)
    return server - datetime.now(timezone.utc)


# -- read-only Organization and Orbit -----------------------------------------------------


@attrs.define(slots=True, eq=False)
class Organization(Model):
    """An organization the API key's user belongs to (read-only)."""

    objects: ClassVar[Manager[Organization]] = ManagerDescriptor()  # type: ignore[assignment]
    _fields: ClassVar[dict[str, str]] = {
        "id": "id", "name": "str", "role": "str", "created_at": "time", "updated_at": "time"}
    _sort_keys: ClassVar[dict[str, str]] = {}

    id: str
    name: str
    role: str | None = None
    logo: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def _pager_op(cls, session: Session, params: list[tuple[str, str]], limit: int) -> Op[Pager]:
        return Pager(cls, session, "/v1/users/me/organizations", [], paged=False)
        yield  # an operation, though it needs no request


@attrs.define(slots=True, eq=False)
class Orbit(Model):
    """An orbit of the session's organization (read-only)."""

    objects: ClassVar[Manager[Orbit]] = ManagerDescriptor()  # type: ignore[assignment]
    _fields: ClassVar[dict[str, str]] = {
        "id": "id", "name": "str", "organization_id": "id", "role": "str",
        "total_collections": "num", "total_artifacts": "num", "total_members": "num",
        "created_at": "time", "updated_at": "time"}
    _sort_keys: ClassVar[dict[str, str]] = {}

    id: str
    name: str
    organization_id: str | None = None
    role: str | None = None
    total_members: int = 0
    total_collections: int = 0
    total_satellites: int = 0
    total_artifacts: int = 0
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def _pager_op(cls, session: Session, params: list[tuple[str, str]], limit: int) -> Op[Pager]:
        org, _ = yield from session.scope_op(orbit=False)
        return Pager(cls, session, f"/v1/organizations/{org}/orbits", [], paged=False)


register(Organization, ("_session",))
register(Orbit, ("_session",))
