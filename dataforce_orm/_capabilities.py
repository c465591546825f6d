"""The capabilities a model declaration picks where the platform differs from the default
(a partial PATCH, a bare-array listing, a get by id, writes allowed): each a small mixin that
owns its behaviour, composed in the class bases (``class Collection(MergedUpdate, CursorPages,
Model)``)."""

from __future__ import annotations

from typing import Any, ClassVar

from ._errors import ConflictError, ValidationError
from ._model import _UNKNOWN, wire_error
from ._outcomes import send_update_op
from ._protocol import Op, Request
from ._resource import Model
from ._session import Session


class MergedUpdate(Model):
    """Read-merge-write: the platform's PATCH writes every field it takes (a field left out is
    erased), so ``save()`` sends the changed fields merged with the server's current state,
    and a field changed on both sides is a ConflictError. A write-only field (never returned)
    must be held to be saved."""

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
            updated = yield from send_update_op(self, session, req, changed, values, snap,
                                                force or blind)
            if not isinstance(updated, dict) or updated.get("id") != self.pk:
                raise wire_error(req, f"expected the updated {self._noun}")
        self._absorb(req, {**current, **updated}, session)
        self._remember_secrets()
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
