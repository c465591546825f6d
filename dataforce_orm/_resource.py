"""The resource layer: the :class:`Model` base that every platform object is declared on.

A model states its path template (``{organization}``, ``{orbit}`` and parent ids such as
``{collection}``), its fields once (see ``_fields``), whether its PATCH is partial, how it
lists (keyset cursor pages or a bare array) and its default order. The operations (create
with the lost-create lookup, save with a partial write or merge-or-conflict, refresh, delete,
get by id, listing) are written here once, as sans-I/O operations run by either driver.
"""

from __future__ import annotations

import copy
import enum
import string
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, TypeVar

import attrs

from . import _errors as errors
from ._errors import APIError, ConflictError, DataForceError, TransportError, ValidationError
from ._fields import Spec, specs
from ._lookups import search_escape
from ._protocol import UNPROCESSED_STATUSES, Op, Request, Response, Sleep
from ._query import ManagerDescriptor
from ._retry import RetryPolicy
from ._session import Session, current_session
from ._wire import model_hooks, structurer

M = TypeVar("M", bound="Model")
_UNKNOWN = object()  # a write-only value this object does not hold


MODELS: dict[str, type[Model]] = {}  # every declared model, by class name


def wire_error(req: Request, what: str) -> APIError:
    """The error for an answer of the wrong shape."""
    return APIError(200, req.method, req.path, f"unexpected response shape: {what}")


@attrs.define(slots=True, eq=False, repr=False)
class Model:
    """Base of every platform object: identity by class and id, the session that loaded it,
    change tracking, and the operations, all derived from the model's declarations."""

    DoesNotExist: ClassVar[type[errors.ObjectDoesNotExist]] = errors.ObjectDoesNotExist
    MultipleObjectsReturned: ClassVar[type[errors.MultipleObjectsReturned]] = (
        errors.MultipleObjectsReturned
    )
    # -- declarations (a model sets these) --
    _path: ClassVar[str] = ""  # the create path; an object's is f"{_path}/{id}"
    _list_path: ClassVar[str | None] = None  # the listing's path, where it is not _path
    _aliases: ClassVar[dict[str, str]] = {}  # lookup names for fields (collection=...)
    _metrics: ClassVar[str | None] = None  # a dict field order_by may sort by a key of
    _paged: ClassVar[bool] = False  # keyset cursor pages (else the listing is a bare array)
    _partial: ClassVar[bool] = True  # the PATCH writes only the fields sent
    _read_only: ClassVar[str | None] = None  # why writes are refused, for a read-only model
    _gettable_by_id: ClassVar[bool] = True  # GET f"{_path}/{id}" exists
    _default_order: ClassVar[tuple[str, ...]] = ()  # the listing's own order
    _noun: ClassVar[str] = ""  # how messages name it (default: the class name, lower case)
    # -- derived from the field declarations --
    _specs: ClassVar[dict[str, Spec]] = {}
    _filterable: ClassVar[dict[str, Spec]] = {}  # what lookups and order_by take
    _fields: ClassVar[dict[str, str]] = {}  # filterable field -> lookup kind
    _sort_keys: ClassVar[dict[str, str]] = {}  # fields the server sorts by -> its sort_by
    _editable: ClassVar[tuple[str, ...]] = ()
    _wire_names: ClassVar[dict[str, str]] = {}  # every loaded attribute -> its wire name
    _tracked_keys: ClassVar[tuple[tuple[str, str], ...]] = ()  # what snapshots hold
    _needs: ClassVar[frozenset[str]] = frozenset()  # parent ids an object's path needs
    _tags_fields: ClassVar[tuple[str, ...]] = ()  # list fields shown as [] when null
    _structure: ClassVar[Callable[[Any], Any]]

    objects = ManagerDescriptor()  # ``Model.objects``: a Manager of that model

    _session: Session | None = attrs.field(default=None, init=False, repr=False)
    _snapshot: dict[str, Any] | None = attrs.field(default=None, init=False, repr=False)
    _held: set[str] | None = attrs.field(default=None, init=False, repr=False)
    # When a create of this object was sent without a known outcome (see _create_op).
    _maybe_created_at: float | None = attrs.field(default=None, init=False, repr=False)
    # Tags fields shown as [] whose wire value is null (kept null unless the caller changes
    # them; see _local).
    _wire_null: set[str] | None = attrs.field(default=None, init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        for name in self._tags_fields:
            if getattr(self, name) is None:
                object.__setattr__(self, name, [])
                null = self._wire_null
                if null is None:
                    null = set()
                    object.__setattr__(self, "_wire_null", null)
                null.add(name)
    # The fields its constructor was given (what save() writes on an object never loaded).
    _given: tuple[str, ...] = attrs.field(default=(), init=False, repr=False)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "DoesNotExist" not in cls.__dict__:  # attrs re-creates slotted classes; make once
            cls.DoesNotExist = type("DoesNotExist", (cls.DoesNotExist,), {
                "__module__": cls.__module__, "__qualname__": f"{cls.__qualname__}.DoesNotExist"})
            cls.MultipleObjectsReturned = type("MultipleObjectsReturned", (
                cls.MultipleObjectsReturned,), {"__module__": cls.__module__,
                "__qualname__": f"{cls.__qualname__}.MultipleObjectsReturned"})

    @classmethod
    def __attrs_init_subclass__(cls) -> None:
        """Derive the model's tables and its wire mapping from its field declarations."""
        declared = specs(cls)
        MODELS[cls.__name__] = cls
        cls._specs = declared
        # write-only values never come back from the server: nothing could match them
        cls._filterable = {n: s for n, s in declared.items()
                           if not s.secret and s.kind != "json"}
        cls._filterable.update((a, declared[n]) for a, n in cls._aliases.items())
        cls._fields = {n: s.kind for n, s in cls._filterable.items()}
        cls._sort_keys = {n: s.sort for n, s in declared.items() if s.sort}
        cls._editable = tuple(n for n, s in declared.items() if s.editable)
        cls._tracked_keys = tuple((s.name, s.key) for s in cls._tracked())
        cls._needs = frozenset(n for _, n, _, _ in string.Formatter().parse(cls._path)
                               if n and n not in ("organization", "orbit"))
        cls._noun = cls.__dict__.get("_noun") or cls.__name__.lower()
        cls._wire_names = {a.name: declared[a.name].key if a.name in declared else a.name
                           for a in attrs.fields(cls) if a.init}
        cls._structure = staticmethod(_first_structure(cls))
        cls._tags_fields = tuple(n for n, s in declared.items() if s.kind == "tags")
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_init(cls)  # type: ignore[method-assign]

    # -- identity ----------------------------------------------------------------------------

    @property
    def pk(self) -> str | None:
        """The id (None until saved)."""
        return getattr(self, "id", None)

    @property
    def is_saved(self) -> bool:
        """Whether the object exists on the server (it has an id)."""
        return self.pk is not None

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self is other if self.pk is None else self.pk == getattr(other, "id", None)

    def __hash__(self) -> int:
        if self.pk is None:
            raise TypeError(f"unsaved {type(self).__name__} objects are unhashable")
        return hash((type(self).__name__, self.pk))

    def __repr__(self) -> str:
        # (fields may be unset while __init__ runs: a traceback showing locals reprs it then)
        body = ", ".join(f"{n}={s.show(getattr(self, n, None))}"
                         for n, s in self._specs.items() if s.shown)
        return f"{type(self).__name__}({body})"

    def _session_for(self, using: Session | None) -> Session:
        return using or self._session or current_session()

    # -- copies, pickling and plain data ------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {a.name: getattr(self, a.name) for a in attrs.fields(type(self))
                if a.name != "_session"}

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        """Pickles every field and the change-tracking state; the session (locks, pools)
        stays behind: an unpickled object uses the current session (or ``using=``)."""
        return _restore, (type(self), self._state())

    def __copy__(self: M) -> M:
        obj = _restore(type(self), self._state())
        object.__setattr__(obj, "_session", self._session)
        return obj

    def __deepcopy__(self: M, memo: dict[int, Any]) -> M:
        """A deep copy keeps using the same session (shared, not copied)."""
        obj = _restore(type(self), copy.deepcopy(self._state(), memo))
        object.__setattr__(obj, "_session", self._session)
        return obj

    @classmethod
    def _public(cls) -> tuple[str, ...]:
        """The fields a caller reads: every public one but the write-only secrets."""
        return tuple(a.name for a in attrs.fields(cls) if a.init and not a.name.startswith("_")
                     and not (a.name in cls._specs and cls._specs[a.name].secret))

    def to_dict(self) -> dict[str, Any]:
        """The public fields as plain data (enums as their values; write-only secrets left
        out); ``json.dumps(obj.to_dict(), default=str)`` writes it."""
        out: dict[str, Any] = {}
        for name in self._public():
            value = getattr(self, name)
            if isinstance(value, enum.Enum):
                value = value.value
            out[name] = copy.deepcopy(value) if isinstance(value, (list, dict)) else value
        return out

    def _lookup_value(self, name: str) -> Any:
        """A field's value as lookups test it: a tags list kept null on the server is null."""
        value = getattr(self, name)
        if not value and self._wire_null and name in self._wire_null:
            return None
        return value

    @classmethod
    def _refuse_writes(cls) -> None:
        if cls._read_only:
            raise DataForceError(f"{cls.__name__} is read-only: {cls._read_only}")

    # -- state -------------------------------------------------------------------------------

    @classmethod
    def _tracked(cls) -> Iterable[Spec]:
        """Fields whose loaded value is remembered: what a caller can send."""
        return (s for s in cls._specs.values() if (s.create or s.editable) and not s.secret)

    @classmethod
    def _snapshot_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        get = data.get
        return {name: list(v) if isinstance(v := get(key), list) else v
                for name, key in cls._tracked_keys}

    def _local(self, name: str) -> Any:
        spec = self._specs[name]
        if spec.secret and not self._holds(name):
            return _UNKNOWN
        value = getattr(self, name)
        if not value and self._wire_null and name in self._wire_null:
            return None  # an untouched [] standing for the wire's null
        return spec.to_wire(value)

    def _holds(self, name: str) -> bool:
        """Whether this object knows a write-only value (set by the caller, not loaded)."""
        return self._snapshot is None or (self._held is not None and name in self._held)

    @classmethod
    def _load(cls: type[M], data: Any, session: Session) -> M:
        """A model from one wire object, remembering the session that loaded it."""
        obj: M = cls._structure(data)
        object.__setattr__(obj, "_snapshot", cls._snapshot_of(data))
        object.__setattr__(obj, "_session", session)
        return obj

    def _absorb(self, req: Request, data: Any, session: Session) -> None:
        """Take the server's answer (the fields present in it) as loaded."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise wire_error(req, f"expected a {self._noun} object with an id")
        try:
            fresh = type(self)._structure(data)
        except DataForceError:
            raise
        except Exception as exc:
            raise wire_error(req, f"{type(exc).__name__}: {exc}") from None
        for name, key in self._wire_names.items():
            if key in data:
                object.__setattr__(self, name, getattr(fresh, name))
        self._take_nulls(fresh, [n for n in self._tags_fields if self._wire_names[n] in data])
        object.__setattr__(self, "_snapshot", self._snapshot_of(data))
        object.__setattr__(self, "_session", session)

    def _remember_secrets(self) -> None:
        """After a write: the write-only values held were sent, so they are not changes."""
        assert self._snapshot is not None
        for name, spec in self._specs.items():
            if spec.secret and self._holds(name):
                self._snapshot[name] = self._local(name)

    def _take_nulls(self, fresh: Model, names: Iterable[str]) -> None:
        """Which of the tags fields ``names`` are null on the wire, as ``fresh`` has it."""
        null = set(self._wire_null or ())
        for n in names:
            if fresh._wire_null and n in fresh._wire_null:
                null.add(n)
            else:
                null.discard(n)
        object.__setattr__(self, "_wire_null", null or None)

    def changed_fields(self) -> list[str]:
        """Editable fields whose value differs from what was last loaded or saved."""
        snap = self._snapshot
        if snap is None:
            return list(self._editable)
        return [n for n in self._editable if self._local(n) != snap.get(n, _UNKNOWN)]

    def _validate(self, *, creating: bool, only: list[str] | None = None) -> None:
        """Check what a create or an update sends (``only`` these fields, if given), before
        any request."""
        for name, spec in self._specs.items():
            if not (spec.create if creating else spec.editable) \
                    or (only is not None and name not in only):
                continue
            value = getattr(self, name)
            if spec.secret and not self._holds(name):
                continue
            if creating and spec.required and value in (None, ""):
                raise ValidationError(name, f"is required to create a {self._noun}")
            if not creating and spec.update_nonempty and value == "":
                raise ValidationError(name, "must not be empty")
            spec.check(value)

    # -- paths -------------------------------------------------------------------------------

    @classmethod
    def _path_op(cls, session: Session, parents: dict[str, str] | None = None,
                 template: str | None = None) -> Op[str]:
        """The create path (or ``template``): the session's organization/orbit, and the
        parent ids given."""
        template = template or cls._path
        if "{organization}" not in template:
            return template
        scope = session._scope  # resolved already: no operation to run
        org, orbit = scope if scope is not None else (
            yield from session.scope_op(orbit="{orbit}" in template))
        given = parents or {}
        for name in cls._needs:
            if f"{{{name}}}" in template and not given.get(name):
                raise ValidationError(f"{name}_id", f"a {cls._noun} lives inside a {name}; "
                                                    "it is not known here")
        return template.format(organization=org, orbit=orbit, **given)

    def _parents(self) -> dict[str, str]:
        """Parent ids from the object's own fields (``{collection}`` from collection_id)."""
        return {name: str(getattr(self, f"{name}_id")) for name in self._needs
                if getattr(self, f"{name}_id", None)}

    def _own_path_op(self, session: Session) -> Op[str]:
        base = yield from self._path_op(session, self._parents())
        return f"{base}/{self.pk}"

    # -- operations (sans-I/O; run by the session's sync or async driver) ----------------------

    def _save_op(self, session: Session, force: bool,
                 update_fields: Iterable[str] | None) -> Op[None]:
        self._refuse_writes()
        if self.pk is None:
            self._validate(creating=True)
            yield from self._create_op(session)
            return
        snap = self._snapshot or {}
        for s in self._tracked():  # fields set at creation only
            if not s.editable and snap.get(s.name) is not None \
                    and self._local(s.name) not in (None, snap[s.name]):
                raise ValidationError(s.name, "cannot change after create")
        blind = self._snapshot is None  # never loaded: write what the caller gave, keep the rest
        changed = self._given_fields() if blind else self.changed_fields()
        if update_fields is not None:
            wanted = list(update_fields)
            for f in wanted:
                if f not in self._editable:
                    raise ValidationError("update_fields",
                                          f"{f!r} is not one of {self._editable}")
            changed = [f for f in changed if f in wanted]
        if not changed:
            return  # nothing to send, nothing to check
        self._validate(creating=False, only=changed if blind else None)
        if self._partial:
            body = {self._specs[f].key: self._local(f) for f in changed}
            path = yield from self._own_path_op(session)
            req = Request("PATCH", path, json=body)
            started = time.time()
            try:
                data = (yield req).data
            except (TransportError, APIError) as exc:
                if not _ambiguous_write(session, exc):
                    raise
                data = yield from self._settle_update_op(
                    session, path, changed, {f: self._local(f) for f in changed}, snap,
                    force or blind, started, exc)
            self._absorb(req, data, session)
            return
        yield from self._full_write_op(session, force and not blind, changed, snap, blind)

    def _given_fields(self) -> list[str]:
        """On an object never loaded: the editable fields given to its constructor, or set
        since to something other than their default."""
        out = []
        for a in attrs.fields(type(self)):
            if a.name not in self._editable:
                continue
            factory = getattr(a.default, "factory", None)  # an attrs.Factory
            default = factory() if callable(factory) else a.default
            spec = self._specs[a.name]
            if a.name in self._given or (
                    not spec.secret and self._local(a.name) != spec.to_wire(default)):
                out.append(a.name)
        return out

    def _full_write_op(self, session: Session, force: bool, changed: list[str],
                       snap: dict[str, Any], blind: bool = False) -> Op[None]:
        """An update where the server writes every field: the fields not changed here are
        taken from the server's current state, and a field changed on both sides since
        loading is a conflict (unless ``force``: then the object's own values are written).
        ``blind``: the object was never loaded, so there is no base to conflict with (the
        fields not in ``changed`` take the server's values)."""
        sent = self._update_body({self._specs[n].key: None for n in self._editable})
        missing = [n for n in self._editable if self._specs[n].secret
                   and self._specs[n].key in sent and not self._holds(n)]
        if missing:
            raise ValidationError(", ".join(missing), (
                f"not held by this object (the server never returns them), and the {self._noun} "
                "update writes every field: saving would erase them on the server; set them "
                "first"))
        path = yield from self._own_path_op(session)
        values = {n: self._local(n) for n in self._editable}
        pending = {n: getattr(self, n) for n in self._editable
                   if n not in changed and values[n] != snap.get(n, _UNKNOWN)
                   and not self._specs[n].secret and not blind}
        current: dict[str, Any] = {}
        server = snap
        if blind:
            current = yield from self._get_data_op(Request("GET", path), self.pk)
            server = self._snapshot_of(current)
        elif not force:
            current = yield from self._get_data_op(Request("GET", path), self.pk)
            server = self._snapshot_of(current)
            clash = [f for f in changed if f in server and server[f] != snap.get(f)
                     and server[f] != values[f]]
            if clash:
                raise ConflictError(
                    409, "PATCH", path,
                    f"changed on the server since loaded, and here: {', '.join(clash)}; "
                    "refresh() and re-apply, or save(force=True) to overwrite",
                    fields=clash,
                )
        body = {s.key: values[n] if (n in changed or s.secret) else server.get(n)
                for n, s in ((n, self._specs[n]) for n in self._editable)}
        body = self._update_body(body)
        req = Request("PATCH", path, json=body)
        if current and all(body[s.key] == server.get(n) for n, s in self._specs.items()
                           if s.key in body and n in server) \
                and not any(s.secret for s in self._specs.values() if s.key in body):
            updated = current  # the server already holds these values
        else:
            started = time.time()
            try:
                updated = (yield req).data
            except (TransportError, APIError) as exc:
                if not _ambiguous_write(session, exc):
                    raise
                updated = yield from self._settle_update_op(
                    session, path, changed, values, snap, force or blind, started, exc)
            if not isinstance(updated, dict) or updated.get("id") != self.pk:
                raise wire_error(req, f"expected the updated {self._noun}")
        self._absorb(req, {**current, **updated}, session)
        self._remember_secrets()
        for f, v in pending.items():  # edits left out by update_fields stay pending
            object.__setattr__(self, f, v)

    def _settle_update_op(self, session: Session, path: str, changed: list[str],
                          values: dict[str, Any], snap: dict[str, Any], force: bool,
                          started: float, exc: TransportError | APIError
                          ) -> Op[dict[str, Any]]:
        """After an update whose answer was lost (it may have landed, or still land): read
        the object back, with backoff, until the session's retry deadline. Done when the
        server holds the values sent for ``changed``; else what has not landed is sent again
        (a full-write model's other fields from the server's current state), and a field
        changed on the server to something else since loading is a ConflictError (unless
        ``force``). After a timeout nothing is sent again: the stalled request may still
        land, after the copy and after any newer write, so it is only waited for (after a
        connection closed mid-answer the server is done with it, so a re-send is safe).
        When the deadline passes: ``exc``, carrying this object as ``exc.instance`` (its
        save() reads back and finishes the job)."""
        policy = session.retry
        limit = policy.deadline if policy.deadline is not None else 60.0
        look = 0
        while True:
            look += 1
            elapsed = time.time() - started
            if elapsed >= limit or (policy.deadline is None and look > policy.attempts):
                exc.instance = self
                raise exc
            yield Sleep(_poll_wait(policy, look, elapsed, limit))
            try:
                current = yield from self._get_data_op(Request("GET", path), self.pk)
            except errors.ObjectDoesNotExist:
                raise
            except DataForceError:  # the read failed after its own retries: stop here
                exc.instance = self
                raise exc from None
            server = self._snapshot_of(current)
            pending = [f for f in changed if server.get(f) != values[f]]
            if not pending:
                return current  # it landed
            clash = [f for f in pending if server.get(f) != snap.get(f)]
            if clash and not force:
                raise ConflictError(
                    409, "PATCH", path,
                    f"changed on the server since loaded, and here: {', '.join(clash)}; "
                    "refresh() and re-apply, or save(force=True) to overwrite", fields=clash)
            if isinstance(exc, errors.TimeoutError):
                continue  # still in flight, perhaps: wait for it
            if self._partial:
                body = {self._specs[f].key: values[f] for f in pending}
            else:
                body = self._update_body({
                    s.key: values[n] if n in changed else server.get(n)
                    for n, s in ((n, self._specs[n]) for n in self._editable)})
            try:
                updated = (yield Request("PATCH", path, json=body)).data
            except (TransportError, APIError) as again:
                if not _ambiguous_write(session, again):
                    raise
                exc = again
                continue
            if isinstance(updated, dict):
                return {**current, **updated}
            return current

    def _update_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """A full-write update's body, as the model sends it (a hook for models to adjust)."""
        return body

    def _create_body(self) -> dict[str, Any]:
        return {s.key: self._local(n) for n, s in self._specs.items() if s.create}

    def _create_op(self, session: Session) -> Op[None]:
        path = yield from self._path_op(session, self._parents())
        body = self._create_body()
        # An earlier save() of this object may have sent a POST whose outcome is unknown (it
        # raised "maybe sent", or was cancelled): look for what it made before sending again.
        earlier = self._maybe_created_at
        started = earlier or time.time()
        object.__setattr__(self, "_maybe_created_at", started)
        # Re-sent after a failure that may have been committed only once a lookup finds
        # nothing (see RetryPolicy.retry_op).
        recovered: list[dict[str, Any]] = []  # what a lookup found (and claimed) for it

        def recover() -> Op[dict[str, Any] | None]:
            found = yield from self._find_created_op(session, path, body, started)
            if found is not None:
                recovered.append(found)
            return found

        req = Request("POST", path, json=body, recover=recover)
        data = None
        if earlier is not None:
            data = yield from self._find_created_op(session, path, body, earlier)
        while data is None:
            try:
                data = (yield req).data
            except (TransportError, APIError) as exc:
                gateway = isinstance(exc, APIError) and exc.status in session.retry.statuses \
                    and exc.status not in UNPROCESSED_STATUSES
                if not (exc.maybe_sent or gateway):
                    object.__setattr__(self, "_maybe_created_at", None)  # refused: none made
                    raise
                if not _ambiguous_write(session, exc):
                    exc.instance = self  # its save() looks for what this made first
                    raise
                # The POST may still be in flight: watch for what it makes until the deadline.
                data = yield from self._watch_created_op(session, path, body, started, exc)
                recovered.append(data)
                break
            ident = data.get("id") if isinstance(data, dict) else None
            if recovered and data is recovered[-1]:
                break  # found by the lookup, and claimed there
            if not isinstance(ident, str) or session.claim_created(ident, started):
                break
            # Another create of this session lost its answer, and its lookup took this row (the
            # bodies are identical): the row that one's POST made is this one's to take.
            since = min(started, session.claimed_since(ident))
            data = yield from self._find_created_op(session, path, body, since)
            # None: that POST was never committed, so this one is sent again.
        self._absorb(req, data, session)
        if any(s.secret for s in self._specs.values()):  # it was sent with every key
            object.__setattr__(self, "_held", {n for n, s in self._specs.items() if s.secret})
            self._remember_secrets()
        object.__setattr__(self, "_maybe_created_at", None)

    def _watch_created_op(self, session: Session, path: str, body: dict[str, Any],
                          started: float, exc: TransportError | APIError
                          ) -> Op[dict[str, Any]]:
        """After a create whose outcome is unknown: look for what it made, again and again
        with backoff (the request may still be on its way), until the session's retry
        deadline; then ``exc``, carrying this object (``exc.instance``: its save() looks
        again before sending anything)."""
        policy = session.retry
        limit = policy.deadline if policy.deadline is not None else 60.0
        look = 0
        while True:
            try:
                found = yield from self._find_created_op(session, path, body, started)
            except DataForceError:  # the lookup failed after its own retries: stop here
                exc.instance = self
                raise exc from None
            if found is not None:
                return found
            look += 1
            elapsed = time.time() - started
            if elapsed >= limit or (policy.deadline is None and look >= policy.attempts):
                exc.instance = self
                raise exc
            yield Sleep(_poll_wait(policy, look, elapsed, limit))

    @classmethod
    def _find_created_op(cls, session: Session, path: str, body: dict[str, Any],
                         started: float) -> Op[dict[str, Any] | None]:
        """After a lost create: the object it made, if the server committed it (same fields,
        made since the attempt began). A match is claimed for this create, so no other create
        of the session can take it too."""
        params: list[tuple[str, str]] = []
        newest_first = "created_at" in cls._sort_keys and cls._paged
        if cls._paged:
            params.append(("limit", "100"))
            if newest_first:
                params += [("sort_by", cls._sort_keys["created_at"]), ("order", "desc")]
            term = next((body[s.key] for s in cls._specs.values()
                         if s.search and s.kind == "str" and body.get(s.key)), None)
            if term:
                params.append(("search", search_escape(term)))
        shown = {k: v for k, v in body.items()
                 if not any(s.secret and s.key == k for s in cls._specs.values())}
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            req = Request("GET", path, tuple(params + ([("cursor", cursor)] if cursor else [])))
            resp = yield req
            since = datetime.fromtimestamp(started, timezone.utc) + clock_skew(resp) \
                - timedelta(seconds=2)
            data = resp.data
            items = data.get("items") if cls._paged and isinstance(data, dict) else data
            if not isinstance(items, list):
                raise wire_error(req, "expected a listing")
            for item in items:
                made = load_one(cls, req, item, session)
                made_at = getattr(made, "created_at", None)
                if made_at is not None and made_at < since:
                    if newest_first:
                        return None
                    continue
                if all(item.get(k) == v for k, v in shown.items()) \
                        and session.claim_created(str(item.get("id")), started):
                    return dict(item)
            cursor = data.get("cursor") if cls._paged and isinstance(data, dict) else None
            if not isinstance(cursor, str) or cursor in seen:  # a repeat would loop
                return None
            seen.add(cursor)

    def _refresh_op(self, session: Session, discard: bool) -> Op[None]:
        if self.pk is None:
            raise ValidationError("id", f"the {self._noun} is not saved; nothing to refresh")
        changed = [n for n in self.changed_fields() if not self._specs[n].secret] \
            if self._snapshot is not None else []
        if changed and not discard:
            raise ValidationError(
                ", ".join(changed), "has unsaved changes; save() them or refresh(discard=True)")
        fresh = yield from self._get_by_id_op(session, self.pk, self._parents())
        for a in attrs.fields(type(self)):
            spec = self._specs.get(a.name)
            if a.init and not (spec is not None and spec.secret):  # held secrets stay
                object.__setattr__(self, a.name, getattr(fresh, a.name))
        self._take_nulls(fresh, self._tags_fields)
        object.__setattr__(self, "_snapshot", fresh._snapshot)
        object.__setattr__(self, "_session", session)

    def _delete_op(self, session: Session) -> Op[None]:
        self._refuse_writes()
        if self.pk is None:
            raise ValidationError("id", f"the {self._noun} is not saved; nothing to delete")
        path = yield from self._own_path_op(session)
        try:
            yield Request("DELETE", path)
        except errors.NotFoundError as exc:
            if exc.attempts <= 1:  # a 404 after an ambiguous first try means it was deleted
                raise self.DoesNotExist(f"no {self._noun} with id {self.pk!r}") from None
        object.__setattr__(self, "id", None)
        object.__setattr__(self, "_snapshot", None)

    @classmethod
    def _get_data_op(cls, req: Request, ident: str | None) -> Op[dict[str, Any]]:
        """One object's wire data; a 404 is DoesNotExist."""
        try:
            data = (yield req).data
        except errors.NotFoundError:
            raise cls.DoesNotExist(f"no {cls._noun} with id {ident!r}") from None
        if not isinstance(data, dict):
            raise wire_error(req, "expected an object")
        return data

    @classmethod
    def _get_by_id_op(cls: type[M], session: Session, ident: str,
                      parents: dict[str, str] | None = None) -> Op[M]:
        """The object with this id: one GET, or a scan of the listing where there is no
        get-by-id route for the key."""
        if not cls._can_get(parents):
            listing = yield from cls._path_op(session, parents, cls._list_path)
            pager = Pager(cls, session, listing, [], cls._paged)
            while (req := pager.next_request()) is not None:
                found: list[M] = [o for o in pager.feed(req, (yield req)) if o.pk == ident]
                if found:
                    return found[0]
            raise cls.DoesNotExist(f"no {cls._noun} with id {ident!r}")
        base = yield from cls._path_op(session, parents)
        req = Request("GET", f"{base}/{ident}")
        try:
            data = (yield req).data
        except errors.NotFoundError:
            raise cls.DoesNotExist(f"no {cls._noun} with id {ident!r}") from None
        return load_one(cls, req, data, session)

    @classmethod
    def _can_get(cls, parents: dict[str, str] | None) -> bool:
        """Whether an object can be read by its id here: the route exists for the key, and
        the parent ids its path needs are known."""
        return cls._gettable_by_id and (not cls._needs or cls._needs <= (parents or {}).keys())

    @classmethod
    def _pager_op(cls, session: Session, params: list[tuple[str, str]], limit: int,
                  parents: dict[str, str] | None = None) -> Op[Pager]:
        """The listing to page through (server parameters only where it takes them)."""
        path = yield from cls._path_op(session, parents, cls._list_path)
        if not cls._paged:
            return Pager(cls, session, path, [], paged=False)
        return Pager(cls, session, path, [("limit", str(limit)), *params], paged=True)

    # -- public sync and async methods ---------------------------------------------------------

    def save(self, *, force: bool = False, update_fields: Iterable[str] | None = None,
             using: Session | None = None) -> None:
        """Create (POST) or update; nothing changed sends nothing.

        Where the server's update is partial, only the changed fields are sent. Where it
        writes every field, the fields you did not change are taken from the server's current
        state and a field you changed that was changed there too raises ConflictError;
        ``force=True`` skips that read and check and writes the object's own values.
        ``update_fields`` limits which changed fields are written. ValidationError before any
        request for bad values; DataForceError on a read-only model.
        """
        session = self._session_for(using)
        session.driver.run(self._save_op(session, force, update_fields))

    def refresh(self, *, discard: bool = False, using: Session | None = None) -> None:
        """Reload every field from the server (including the details-only ones).

        Unsaved changes raise ValidationError unless ``discard=True``; DoesNotExist if the
        object is gone.
        """
        session = self._session_for(using)
        session.driver.run(self._refresh_op(session, discard))

    def delete(self, *, using: Session | None = None) -> None:
        """Delete it on the server; the object becomes unsaved. DoesNotExist if it is gone."""
        session = self._session_for(using)
        session.driver.run(self._delete_op(session))

    async def asave(self, *, force: bool = False, update_fields: Iterable[str] | None = None,
                    using: Session | None = None) -> None:
        """Async :meth:`save`."""
        session = self._session_for(using)
        await session.async_driver.run(self._save_op(session, force, update_fields))

    async def arefresh(self, *, discard: bool = False, using: Session | None = None) -> None:
        """Async :meth:`refresh`."""
        session = self._session_for(using)
        await session.async_driver.run(self._refresh_op(session, discard))

    async def adelete(self, *, using: Session | None = None) -> None:
        """Async :meth:`delete`."""
        session = self._session_for(using)
        await session.async_driver.run(self._delete_op(session))


def _restore(cls: type[M], state: dict[str, Any]) -> M:
    """A model object from :meth:`Model._state` (no session)."""
    obj = cls.__new__(cls)
    for a in attrs.fields(cls):
        default: Any = a.default
        if hasattr(default, "factory"):  # an attrs.Factory
            default = default.factory()
        object.__setattr__(obj, a.name, state.get(a.name, default))
    return obj


def _first_structure(cls: type[Model]) -> Callable[[Any], Any]:
    """A loader that builds the model's fast loader on first use (its annotations may name
    classes declared after it) and puts it in its own place."""
    def first(data: Any) -> Any:
        fast = structurer(cls)
        cls._structure = staticmethod(fast)
        return fast(data)

    return first


def _ambiguous_write(session: Session, exc: TransportError | APIError) -> bool:
    """Whether a write got no answer although it may have taken effect (or still may): a
    timeout after it was sent, or a connection closed mid-answer. (A write the server
    answered with an error is not watched for: the retry engine has settled those.)"""
    return isinstance(exc, TransportError) and exc.maybe_sent


def _poll_wait(policy: RetryPolicy, look: int, elapsed: float, limit: float) -> float:
    """The pause before look number ``look + 1`` for a write's outcome: the policy's backoff,
    at least 10 ms, never past ``limit``."""
    wait = max(0.01, policy.backoff_for(min(look, 30), None, elapsed))
    return max(0.0, min(wait, limit - elapsed))


def _recording_init(cls: type[Model]) -> Callable[..., None]:
    """The model's attrs ``__init__``, also recording which fields it was given."""
    init = cls.__init__
    names = tuple(a.name for a in attrs.fields(cls) if a.init)

    def __init__(self: Model, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        object.__setattr__(self, "_given", (*names[:len(args)], *kwargs))

    __init__.__wrapped__ = init  # type: ignore[attr-defined]
    return __init__


def _wire_fields(cls: type[Model]) -> tuple[tuple[str, ...], dict[str, str]]:
    private = tuple(a.name for a in attrs.fields(cls) if not a.init)
    return private, {n: s.wire for n, s in cls._specs.items() if s.wire}


model_hooks(lambda t: isinstance(t, type) and issubclass(t, Model) and t is not Model,
            _wire_fields)


def load_one(cls: type[M], req: Request, data: Any, session: Session) -> M:
    """A model from one wire object; a wrong shape is an APIError, never a raw cattrs error."""
    if not isinstance(data, dict):
        raise wire_error(req, f"expected an object, got {type(data).__name__}")
    if not isinstance(data.get("id"), str):
        raise wire_error(req, "the object has no string id")
    try:
        obj = cls._load(data, session)
    except DataForceError:
        raise
    except Exception as exc:
        raise wire_error(req, f"{type(exc).__name__}: {exc}") from None
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
                raise wire_error(req, "expected a JSON array")
            items: list[Any] = data
        else:
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise wire_error(req, "expected {'items': [...], 'cursor': ...}")
            cursor = data.get("cursor")
            if cursor is not None and not isinstance(cursor, str):
                raise wire_error(req, "cursor is not a string")
            if cursor in self._seen:
                raise APIError(200, req.method, req.path, "the server repeated a pagination "
                                                          "cursor; stopping instead of looping")
            if cursor is None:
                self.done = True
            else:
                self._seen.add(cursor)
            self.cursor = cursor
            items = data["items"]
        if keep is not None:
            items = [item for item in items if not isinstance(item, dict) or keep(item)]
        return [load_one(self.model, req, item, self.session) for item in items] if load \
            else items


def clock_skew(resp: Response) -> timedelta:
    """Server clock minus ours, from the Date header (zero when absent)."""
    try:
        server = parsedate_to_datetime(resp.headers["date"])
    except (KeyError, TypeError, ValueError):
        return timedelta(0)
    return server - datetime.now(timezone.utc)

