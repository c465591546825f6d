"""The model base: how a platform object is declared (its path, its fields, its parents), its
identity, its loaded state and changes, the paths of its requests, and its copies and pickles.

A model states its path template (``{organization}``, ``{orbit}`` and the parents it lives in,
such as ``{collection}``, each named in ``_parent_fields``), and its fields once (see
``_fields``). The tables the operations use are derived here when the class is declared;
what differs between models (``_partial``, ``_paged``, ...) is set by the capabilities a
declaration picks (``_capabilities``).
"""

from __future__ import annotations

import copy
import enum
import string
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

import attrs

from . import _errors as errors
from ._errors import APIError, DataForceError, ValidationError
from ._fields import Kind, Spec, specs
from ._ids import path_id
from ._loader import compile_loader
from ._protocol import Op, Request
from ._session import Session
from ._wire import model_hooks

M = TypeVar("M", bound="ModelBase")
_UNKNOWN = object()  # a value this object does not hold (a write-only one: see WriteOnly)


MODELS: dict[str, type[ModelBase]] = {}  # every declared model, by class name
# Paths built for a template and a resolved (organization, orbit), their ids checked: the
# same for every request there (what _path_op returns before it adds an object's id).
_SCOPED: dict[tuple[str, tuple[str, str]], str] = {}


def wire_error(req: Request, what: str) -> APIError:
    """The error for an answer of the wrong shape."""
    return APIError(200, req.method, req.path, f"unexpected response shape: {what}")


@attrs.define(slots=True, eq=False, repr=False)
class ModelBase:
    """Base of every platform object: its declaration, identity by class and id, the session
    that loaded it, change tracking, and the paths of its requests (the operations are on
    ``_resource.Model``)."""

    DoesNotExist: ClassVar[type[errors.ObjectDoesNotExist]] = errors.ObjectDoesNotExist
    MultipleObjectsReturned: ClassVar[type[errors.MultipleObjectsReturned]] = (
        errors.MultipleObjectsReturned
    )
    # -- declarations (a model sets these) --
    _path: ClassVar[str] = ""  # the create path; an object's is f"{_path}/{id}"
    # the parents its path names, each with the field holding its id: {"collection": ...}
    _parent_fields: ClassVar[dict[str, str]] = {}
    _list_path: ClassVar[str | None] = None  # the listing's path, where it is not _path
    _aliases: ClassVar[dict[str, str]] = {}  # lookup names for fields (collection=...)
    _metrics: ClassVar[str | None] = None  # a dict field order_by may sort by a key of
    # -- set by the capabilities a declaration picks (see _capabilities) --
    _paged: ClassVar[bool] = False  # keyset cursor pages (CursorPages; else a bare array)
    _partial: ClassVar[bool] = True  # the PATCH writes only the fields sent (not MergedUpdate)
    _read_only: ClassVar[str | None] = None  # why writes are refused (ReadOnly)
    _gettable_by_id: ClassVar[bool] = True  # GET f"{_path}/{id}" exists (not NoGetById)
    _write_only_ok: ClassVar[bool] = False  # may declare secret=True fields (WriteOnly)
    _default_order: ClassVar[tuple[str, ...]] = ()  # the listing's own order
    _noun: ClassVar[str] = ""  # how messages name it (default: the class name, lower case)
    # -- derived from the field declarations --
    _specs: ClassVar[dict[str, Spec]] = {}
    _filterable: ClassVar[dict[str, Spec]] = {}  # what lookups and order_by take
    _fields: ClassVar[dict[str, Kind]] = {}  # filterable field -> its kind
    _sort_keys: ClassVar[dict[str, str]] = {}  # fields the server sorts by -> its sort_by
    _editable: ClassVar[tuple[str, ...]] = ()
    _wire_names: ClassVar[dict[str, str]] = {}  # every loaded attribute -> its wire name
    _tracked_keys: ClassVar[tuple[tuple[str, str], ...]] = ()  # what snapshots hold
    _needs: ClassVar[frozenset[str]] = frozenset()  # parent ids an object's path needs
    _tags_fields: ClassVar[tuple[str, ...]] = ()  # list fields shown as [] when null
    _structure: ClassVar[Callable[[Any, Session | None], Any]]  # see _loader

    _session: Session | None = attrs.field(default=None, init=False, repr=False)
    # The tracked fields' values as last loaded or saved (see _snapshot), or None; while a
    # loaded object is not yet asked for them, the wire object it was loaded from instead.
    _snap: dict[str, Any] | None = attrs.field(default=None, init=False, repr=False)
    _wire: dict[str, Any] | None = attrs.field(default=None, init=False, repr=False)
    _held: set[str] | None = attrs.field(default=None, init=False, repr=False)  # WriteOnly's
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
        # (attrs re-creates slotted classes: made once)
        if cls._declared() and "DoesNotExist" not in cls.__dict__:
            cls.DoesNotExist = type("DoesNotExist", (cls.DoesNotExist,), {
                "__module__": cls.__module__, "__qualname__": f"{cls.__qualname__}.DoesNotExist"})
            cls.MultipleObjectsReturned = type("MultipleObjectsReturned", (
                cls.MultipleObjectsReturned,), {"__module__": cls.__module__,
                "__qualname__": f"{cls.__qualname__}.MultipleObjectsReturned"})

    @classmethod
    def __attrs_init_subclass__(cls) -> None:
        """Derive the model's tables and its wire mapping from its field declarations."""
        if not cls._declared():
            return
        declared = specs(cls)
        MODELS[cls.__name__] = cls
        cls._specs = declared
        stray = [n for n, s in declared.items() if s.secret and not cls._write_only_ok]
        if stray:
            raise TypeError(f"{cls.__name__}.{stray[0]} is secret=True: the model picks the "
                            "WriteOnly capability")
        cls._filterable = {n: s for n, s in declared.items() if s.kind != "json"}
        cls._filterable.update((a, declared[n]) for a, n in cls._aliases.items())
        cls._fields = {n: s.kind for n, s in cls._filterable.items()}
        cls._sort_keys = {n: s.sort for n, s in declared.items() if s.sort}
        cls._editable = tuple(n for n, s in declared.items() if s.editable)
        cls._tracked_keys = tuple((s.name, s.key) for s in cls._tracked())
        cls._needs = frozenset(n for _, n, _, _ in string.Formatter().parse(cls._path)
                               if n and n not in ("organization", "orbit"))
        for name in cls._needs:  # a parent the path names and no field holds: a typo
            if cls._parent_fields.get(name) not in declared:
                raise TypeError(f"{cls.__name__}._path names {{{name}}}: declare the field "
                                f"holding its id in _parent_fields")
        cls._noun = cls.__dict__.get("_noun") or cls.__name__.lower()
        cls._wire_names = {a.name: declared[a.name].key if a.name in declared else a.name
                           for a in attrs.fields(cls) if a.init}
        cls._structure = staticmethod(_first_structure(cls))
        cls._tags_fields = tuple(n for n, s in declared.items() if s.kind == "tags")
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording_init(cls)  # type: ignore[method-assign]

    @classmethod
    def _declared(cls) -> bool:
        """Whether the class is a declared model (it has a path), not a base of models."""
        return bool(cls._path)

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

    # -- copies, pickling and plain data ------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        self._snapshot  # noqa: B018 (taken now: a copy or a pickle holds no wire object)
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
        """The fields a caller reads (and ``refresh()`` reloads): every public one (but the
        write-only ones: see WriteOnly)."""
        return tuple(a.name for a in attrs.fields(cls) if a.init and not a.name.startswith("_"))

    def to_dict(self) -> dict[str, Any]:
        """The public fields as plain data (enums as their values; write-only values left
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
        return (s for s in cls._specs.values() if s.create or s.editable)

    @property
    def _snapshot(self) -> dict[str, Any] | None:
        """The tracked fields' values as last loaded or saved (None if never loaded); taken
        from the wire object on first use. The loaded attributes are copies (lists copied by
        the converter), so an in-place edit of one is seen against it."""
        wire = self._wire
        if wire is not None:
            object.__setattr__(self, "_snap", self._snapshot_of(wire))
            object.__setattr__(self, "_wire", None)
        return self._snap

    @_snapshot.setter
    def _snapshot(self, value: dict[str, Any] | None) -> None:
        object.__setattr__(self, "_snap", value)
        object.__setattr__(self, "_wire", None)

    @classmethod
    def _snapshot_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        get = data.get
        return {name: list(v) if isinstance(v := get(key), list) else v
                for name, key in cls._tracked_keys}

    def _local(self, name: str) -> Any:
        """A field's value as sent (``_UNKNOWN`` where this object does not hold it)."""
        value = getattr(self, name)
        if not value and self._wire_null and name in self._wire_null:
            return None  # an untouched [] standing for the wire's null
        return self._specs[name].to_wire(value)

    @classmethod
    def _load(cls: type[M], data: Any, session: Session) -> M:
        """A model from one wire object, remembering the session that loaded it."""
        obj: M = cls._structure(data, session)
        return obj

    def _absorb(self, req: Request, data: Any, session: Session) -> None:
        """Take the server's answer (the fields present in it) as loaded."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise wire_error(req, f"expected a {self._noun} object with an id")
        try:
            fresh = type(self)._structure(data, None)
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

    def _sent(self, created: bool = False) -> None:
        """After a write landed (``created``: a create): what the object remembers of what it
        sent, beyond the answer it took (nothing here; see WriteOnly)."""

    def _take_nulls(self, fresh: ModelBase, names: Iterable[str]) -> None:
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
            if self._local(name) is _UNKNOWN:
                continue  # not held here: not sent
            if creating and spec.required and value in (None, ""):
                raise ValidationError(name, f"is required to create a {self._noun}")
            if not creating and spec.update_nonempty and value == "":
                raise ValidationError(name, "must not be empty")
            spec.check(value)

    # -- paths -------------------------------------------------------------------------------

    @classmethod
    def _path_op(cls, session: Session, parents: dict[str, str] | None = None,
                 template: str | None = None, ident: str | None = None) -> Op[str]:
        """The create path (or ``template``), with the session's organization/orbit and the
        parent ids given; with ``ident``, the path of the object with that id. The one place
        request paths are built: every id in one is checked to be a UUID first (ids come from
        servers), so none can lead a request to another route."""
        template = template or cls._path
        given = parents or {}
        scope = session._scope  # resolved already: no operation to run
        if not given and scope is not None and (base := _SCOPED.get((template, scope))):
            return base if ident is None else f"{base}/{path_id(ident, cls._noun)}"
        if "{organization}" in template:
            unformatted = template
            org, orbit = scope if scope is not None else (
                yield from session.scope_op(orbit="{orbit}" in template))
            for name in cls._needs:
                if f"{{{name}}}" in template and not given.get(name):
                    raise ValidationError(cls._parent_fields[name], (
                        f"a {cls._noun} lives inside a {name}; it is not known here"))
            ids = {"organization": path_id(org, "organization"),
                   "orbit": path_id(orbit, "orbit") if "{orbit}" in template else orbit}
            ids.update((n, path_id(v, n)) for n, v in given.items() if f"{{{n}}}" in template)
            template = template.format(**{**given, **ids})
            if not given and scope is not None:
                _SCOPED[unformatted, scope] = template
        return template if ident is None else f"{template}/{path_id(ident, cls._noun)}"

    def _parents(self) -> dict[str, str]:
        """Parent ids from the object's own fields (``_parent_fields``)."""
        return {name: str(getattr(self, field)) for name, field in self._parent_fields.items()
                if getattr(self, field, None)}

    def _own_path_op(self, session: Session) -> Op[str]:
        """The object's own path."""
        return (yield from self._path_op(session, self._parents(), ident=self.pk))

def _restore(cls: type[M], state: dict[str, Any]) -> M:
    """A model object from ``ModelBase._state()`` (no session)."""
    obj = cls.__new__(cls)
    for a in attrs.fields(cls):
        default: Any = a.default
        if hasattr(default, "factory"):  # an attrs.Factory
            default = default.factory()
        object.__setattr__(obj, a.name, state.get(a.name, default))
    return obj


def _first_structure(cls: type[ModelBase]) -> Callable[[Any, Session | None], Any]:
    """A loader that compiles the model's loader on first use (its annotations may name
    classes declared after it) and puts it in its own place."""
    fast: Callable[[Any, Session | None], Any] | None = None

    def first(data: Any, session: Session | None) -> Any:
        nonlocal fast
        if fast is None:  # (a caller may still hold this function)
            fast = compile_loader(cls)
            cls._structure = staticmethod(fast)
        return fast(data, session)

    return first


def _recording_init(cls: type[ModelBase]) -> Callable[..., None]:
    """The model's attrs ``__init__``, also recording which fields it was given."""
    init = cls.__init__
    names = tuple(a.name for a in attrs.fields(cls) if a.init)

    def __init__(self: ModelBase, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        object.__setattr__(self, "_given", (*names[:len(args)], *kwargs))

    __init__.__wrapped__ = init  # type: ignore[attr-defined]
    return __init__


def _wire_fields(cls: type[ModelBase]) -> tuple[tuple[str, ...], dict[str, str]]:
    private = tuple(a.name for a in attrs.fields(cls) if not a.init)
    return private, {n: s.wire for n, s in cls._specs.items() if s.wire}


model_hooks(lambda t: isinstance(t, type) and issubclass(t, ModelBase) and t._declared(),
            _wire_fields)


def load_one(cls: type[M], req: Request, data: Any, session: Session) -> M:
    """A model from one wire object; a wrong shape is an APIError, never a raw cattrs error."""
    if not isinstance(data, dict):
        raise wire_error(req, f"expected an object, got {type(data).__name__}")
    if not isinstance(data.get("id"), str):
        raise wire_error(req, "the object has no string id")
    try:
        obj: M = cls._load(data, session)
    except DataForceError:
        raise
    except Exception as exc:
        raise wire_error(req, f"{type(exc).__name__}: {exc}") from None
    return obj


def load_many(cls: type[M], req: Request, items: list[Any], session: Session) -> list[M]:
    """Models from a page's wire objects, as ``load_one()`` makes each."""
    for data in items:
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            load_one(cls, req, data, session)  # (which raises the shape's error)
    load = cls._load  # (a declaration may adjust what it takes: see OrbitSecret)
    try:
        return [load(data, session) for data in items]
    except DataForceError:
        raise
    except Exception as exc:
        raise wire_error(req, f"{type(exc).__name__}: {exc}") from None
