"""The operations every model has, written once as sans-I/O operations run by either driver:
save (a create, a partial write, or a merge-or-conflict full write), refresh, delete, get by id,
and the listing to page through; ``Model`` is the base every platform object is declared
on."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import attrs

from . import _errors as errors
from ._errors import ValidationError
from ._listing import Pager
from ._model import MODELS, ModelBase, load_one, wire_error
from ._outcomes import create_op, send_update_op
from ._protocol import Op, Request
from ._query import ManagerDescriptor
from ._session import Session, current_session

__all__ = ["MODELS", "Model", "load_one", "wire_error"]

M = TypeVar("M", bound="Model")


@attrs.define(slots=True, eq=False, repr=False)
class Model(ModelBase):
    """Base of every platform object: the model base (declaration, identity, state, paths)
    with the operations and the ``objects`` manager."""

    objects = ManagerDescriptor()  # ``Model.objects``: a Manager of that model

    def _session_for(self, using: Session | None) -> Session:
        return using or self._session or current_session()

    def _save_op(self, session: Session, force: bool,
                 update_fields: Iterable[str] | None) -> Op[None]:
        self._refuse_writes()
        if self.pk is None:
            self._validate(creating=True)
            yield from create_op(self, session)
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
        yield from self._update_op(session, force, changed, snap, blind)

    def _update_op(self, session: Session, force: bool, changed: list[str],
                   snap: dict[str, Any], blind: bool) -> Op[None]:
        """The update of the ``changed`` fields: a PATCH of those fields only (the platform's
        partial update; a model whose PATCH writes every field picks ``MergedUpdate``).
        ``blind``: the object was never loaded."""
        body = {self._specs[f].key: self._local(f) for f in changed}
        path = yield from self._own_path_op(session)
        req = Request("PATCH", path, json=body)
        data = yield from send_update_op(self, session, req, changed,
                                         {f: self._local(f) for f in changed}, snap,
                                         force or blind)
        self._absorb(req, data, session)
        self._sent()

    def _resend_body(self, pending: list[str], changed: list[str], values: dict[str, Any],
                     server: dict[str, Any]) -> dict[str, Any]:
        """What an update sends again for the ``pending`` fields that did not land (see
        ``_outcomes.settle_update_op``)."""
        return {self._specs[f].key: values[f] for f in pending}

    def _given_fields(self) -> list[str]:
        """On an object never loaded: the editable fields given to its constructor, or set
        since to something other than their default."""
        out = []
        public = self._public()  # (a write-only field counts only as given)
        for a in attrs.fields(type(self)):
            if a.name not in self._editable:
                continue
            factory = getattr(a.default, "factory", None)  # an attrs.Factory
            default = factory() if callable(factory) else a.default
            spec = self._specs[a.name]
            if a.name in self._given or (
                    a.name in public and self._local(a.name) != spec.to_wire(default)):
                out.append(a.name)
        return out

    def _create_body(self) -> dict[str, Any]:
        return {s.key: self._local(n) for n, s in self._specs.items() if s.create}

    @classmethod
    def _made_by(cls, item: dict[str, Any], body: dict[str, Any]) -> bool:
        """Whether a listed wire ``item`` is what a create of ``body`` makes (how a lost
        create's lookup knows its row)."""
        return all(item.get(k) == v for k, v in body.items())

    def _refresh_op(self, session: Session, discard: bool) -> Op[None]:
        if self.pk is None:
            raise ValidationError("id", f"the {self._noun} is not saved; nothing to refresh")
        public = self._public()  # what the server sends back (held write-only values stay)
        changed = [n for n in self.changed_fields() if n in public] \
            if self._snapshot is not None else []
        if changed and not discard:
            raise ValidationError(
                ", ".join(changed), "has unsaved changes; save() them or refresh(discard=True)")
        fresh = yield from self._get_by_id_op(session, self.pk, self._parents())
        for name in public:
            object.__setattr__(self, name, getattr(fresh, name))
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
        path = yield from cls._path_op(session, parents, ident=ident)
        req = Request("GET", path)
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

        Args:
            force: Write the object's own values without reading the server's first (no conflict
                check).
            update_fields: Write only these changed fields.
            using: The session to send it on (default: the one that loaded it, else the current
                one).
        """
        session = self._session_for(using)
        session.driver.run(self._save_op(session, force, update_fields))

    def refresh(self, *, discard: bool = False, using: Session | None = None) -> None:
        """Reload every field from the server (including the details-only ones).

        Unsaved changes raise ValidationError unless ``discard=True``; DoesNotExist if the
        object is gone.

        Args:
            discard: Drop unsaved changes instead of refusing.
            using: The session to send it on.
        """
        session = self._session_for(using)
        session.driver.run(self._refresh_op(session, discard))

    def delete(self, *, using: Session | None = None) -> None:
        """Delete it on the server; the object becomes unsaved. DoesNotExist if it is gone.

        Args:
            using: The session to send it on.
        """
        session = self._session_for(using)
        session.driver.run(self._delete_op(session))

    async def asave(self, *, force: bool = False, update_fields: Iterable[str] | None = None,
                    using: Session | None = None) -> None:
        """Async ``save()``."""
        session = self._session_for(using)
        await session.async_driver.run(self._save_op(session, force, update_fields))

    async def arefresh(self, *, discard: bool = False, using: Session | None = None) -> None:
        """Async ``refresh()``."""
        session = self._session_for(using)
        await session.async_driver.run(self._refresh_op(session, discard))

    async def adelete(self, *, using: Session | None = None) -> None:
        """Async ``delete()``."""
        session = self._session_for(using)
        await session.async_driver.run(self._delete_op(session))
