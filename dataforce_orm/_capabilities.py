"""The capabilities a model declaration picks where the platform differs from the default
(a partial PATCH, a bare-array listing, a get by id, writes allowed, write-only fields): each a
small mixin that
owns its behaviour, composed in the class bases (``class Collection(MergedUpdate, CursorPages,
Model)``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, TypeVar

from . import _secrets
from ._errors import ConflictError, ValidationError
from ._fields import SecretStr, Spec
from ._model import _UNKNOWN, wire_error
from ._outcomes import send_update_op
from ._protocol import Op, Request
from ._resource import Model
from ._session import Session

W = TypeVar("W", bound="WriteOnly")


class MergedUpdate(Model):
    """Read-merge-write: the platform's PATCH writes every field it takes (a field left out is
    erased), so ``save()`` sends the changed fields merged with the server's current state,
    and a field changed on both sides is a ConflictError."""

    __slots__ = ()
    _partial: ClassVar[bool] = False

    def _update_op(self, session: Session, force: bool, changed: list[str],
                   snap: dict[str, Any], blind: bool) -> Op[None]:
        """The fields not changed here are taken from the server's current state, and a
        field changed on both sides since loading is a conflict (unless ``force``: then the
        object's own values are written). ``blind``: the object was never loaded, so there
        is no base to conflict with (the fields not in ``changed`` take the server's
        values)."""
        force = force and not blind
        path = yield from self._own_path_op(session)
        values = {n: self._local(n) for n in self._editable}
        pending = {n: getattr(self, n) for n in self._editable
                   if n not in changed and values[n] != snap.get(n, _UNKNOWN) and not blind}
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
        # (a field the server does not show, a write-only one, is sent as held)
        body = {s.key: values[n] if (n in changed or n not in server) else server.get(n)
                for n, s in ((n, self._specs[n]) for n in self._editable)}
        body = self._update_body(body)
        req = Request("PATCH", path, json=body)
        if current and all(n in server and body[s.key] == server[n]
                           for n, s in self._specs.items() if s.key in body):
            updated = current  # the server already holds these values
        else:
            updated = yield from send_update_op(self, session, req, changed, values, snap,
                                                force or blind)
            if not isinstance(updated, dict) or updated.get("id") != self.pk:
                raise wire_error(req, f"expected the updated {self._noun}")
        self._absorb(req, {**current, **updated}, session)
        self._sent()
        for f, v in pending.items():  # edits left out by update_fields stay pending
            object.__setattr__(self, f, v)

    def _update_body(self, body: dict[str, Any]) -> dict[str, Any]:
        """A full-write update's body, as the model sends it (a hook for models to adjust)."""
        return body

    def _resend_body(self, pending: list[str], changed: list[str], values: dict[str, Any],
                     server: dict[str, Any]) -> dict[str, Any]:
        """Every field again: the changed ones as sent, the others as the server has them."""
        return self._update_body({s.key: values[n] if n in changed else server.get(n)
                                  for n, s in ((n, self._specs[n]) for n in self._editable)})


class CursorPages(Model):
    """The listing comes in keyset cursor pages (``{"items": [...], "cursor": ...}``, ``limit``
    and the server's sort, search and filters taken), not as one bare array."""

    __slots__ = ()
    _paged: ClassVar[bool] = True


class NoGetById(Model):
    """There is no GET of one object for the key: an object is found by scanning the
    listing."""

    __slots__ = ()
    _gettable_by_id: ClassVar[bool] = False


class ReadOnly(Model):
    """The platform refuses writes to an API key: every write is a DataForceError before any
    request, giving ``_read_only`` (the declaration's reason)."""

    __slots__ = ()
    _read_only: ClassVar[str | None] = "the platform refuses these writes to an API key"


class WriteOnly(Model):
    """Write-only values, every rule about them: the fields declared ``secret=True`` (the
    platform takes them and never returns them: a bucket secret's keys, an orbit secret's
    value) and the secrets it hands over once (``_once``: a satellite's key).

    An object holds a write-only value when the caller set it (or it was sent by this
    object's create), never from an answer; one it does not hold is not checked, sent or
    counted as a change, and a full-write update refuses to erase it (an object never
    loaded holds only what it was given).
    Held values are ``SecretStr`` (``_fields``: shown ``'***'``), out of ``to_dict()``,
    lookups and ``refresh()``, and remembered as sent after a save. A declaration with a
    ``secret=True`` field must pick it."""

    __slots__ = ()
    _write_only_ok: ClassVar[bool] = True
    # private attributes holding a secret the platform showed once: never pickled or copied
    _once: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __attrs_init_subclass__(cls) -> None:
        super().__attrs_init_subclass__()
        if cls._declared():  # write-only values never come back: nothing could match them
            cls._filterable = {n: s for n, s in cls._filterable.items() if not s.secret}
            cls._fields = {n: cls._fields[n] for n in cls._filterable}

    @classmethod
    def _write_only(cls) -> list[Spec]:
        return [s for s in cls._specs.values() if s.secret]

    # -- what is read and shown: never a write-only value ------------------------------------

    @classmethod
    def _public(cls) -> tuple[str, ...]:
        return tuple(n for n in super()._public() if not (n in cls._specs
                                                          and cls._specs[n].secret))

    @classmethod
    def _tracked(cls) -> Iterable[Spec]:
        return (s for s in super()._tracked() if not s.secret)

    @classmethod
    def _load(cls: type[W], data: Any, session: Session) -> W:
        return super()._load(cls._without_write_only(data), session)

    def _absorb(self, req: Request, data: Any, session: Session) -> None:
        super()._absorb(req, self._without_write_only(data), session)

    @classmethod
    def _without_write_only(cls, data: Any) -> Any:
        """A wire object without its write-only keys (an orbit secret listing's ``""`` is a
        blank, not data; any plaintext an answer carries is not kept)."""
        if isinstance(data, dict) and any(s.key in data for s in cls._write_only()):
            keys = {s.key for s in cls._write_only()}
            data = {k: v for k, v in data.items() if k not in keys}
        return data

    @classmethod
    def _made_by(cls, item: dict[str, Any], body: dict[str, Any]) -> bool:
        keys = {s.key for s in cls._write_only()}  # (never listed: matched on the rest)
        return super()._made_by(item, {k: v for k, v in body.items() if k not in keys})

    def _state(self) -> dict[str, Any]:
        return {k: v for k, v in super()._state().items() if k not in self._once}

    # -- holding ---------------------------------------------------------------------------

    def _holds(self, name: str) -> bool:
        """Whether this object knows a write-only value (set by the caller, not loaded)."""
        return (self._snap is None and self._wire is None) or (
            self._held is not None and name in self._held)

    def _hold(self, name: str) -> None:
        """The caller set the write-only field ``name``: this object now holds it."""
        object.__setattr__(self, "_held", {*(self._held or ()), name})

    def _hold_once(self, name: str, value: str) -> SecretStr:
        """Keep a secret the platform showed once on the private attribute ``name`` (one of
        ``_once``), masked in logs and errors from now on."""
        _secrets.register(value)
        secret = SecretStr(value)
        object.__setattr__(self, name, secret)
        return secret

    def _local(self, name: str) -> Any:
        if self._specs[name].secret and not self._holds(name):
            return _UNKNOWN
        return super()._local(name)

    def _given_fields(self) -> list[str]:
        """A write-only field assigned on an object never loaded is given, exactly as a
        constructor argument is (``OrbitSecret(id=...)``, then ``.value = ...``)."""
        given = super()._given_fields()
        return given + [s.name for s in self._write_only() if s.name in (self._held or ())
                        and s.name in self._editable and s.name not in given]

    def _sent(self, created: bool = False) -> None:
        """After a write: the write-only values held were sent, so they are not changes (a
        create sent every one)."""
        if created:
            object.__setattr__(self, "_held", {s.name for s in self._write_only()})
        snap = self._snapshot
        assert snap is not None
        for s in self._write_only():
            if self._holds(s.name):
                snap[s.name] = self._local(s.name)

    def _update_op(self, session: Session, force: bool, changed: list[str],
                   snap: dict[str, Any], blind: bool) -> Op[None]:
        """Where the update writes every field, one not held would be erased: refused."""
        if isinstance(self, MergedUpdate):
            sent = self._update_body({self._specs[n].key: None for n in self._editable})
            # (an object never loaded holds only what it was given)
            given = set(self._given_fields()) if self._snap is None and self._wire is None \
                else None
            missing = [n for n in self._editable if self._specs[n].secret
                       and self._specs[n].key in sent
                       and not (self._holds(n) if given is None else n in given)]
            if missing:
                raise ValidationError(", ".join(missing), (
                    f"not held by this object (the server never returns them), and the "
                    f"{self._noun} update writes every field: saving would erase them on the "
                    "server; set them first"))
        yield from super()._update_op(session, force, changed, snap, blind)
