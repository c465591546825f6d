"""The orbit secret: a named value (an API key, a password) that an orbit's deployments
receive, whose value is write-only here and read only by ``reveal()``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from ._capabilities import NoGetById, WriteOnly
from ._errors import APIError, ConflictError, PermissionDeniedError, ServerError, ValidationError
from ._fields import SecretStr, field
from ._model import wire_error
from ._protocol import Op, Request
from ._resource import Model
from ._secrets import register
from ._session import Session

_TAKEN = "already exist"  # the platform's text for a duplicate name (answered 400)
_NO_READ = ("reading an orbit secret's value needs the orbit's admin role (or the "
            "organization's owner or admin role); a plain orbit member may only list and "
            "create secrets")


@attrs.define(slots=True, eq=False, repr=False)
class OrbitSecret(WriteOnly, NoGetById, Model):
    """A secret of an orbit (``OPENAI_API_KEY``), as an active record.

    ``value`` is write-only: it is sent by ``save()`` when set, and never kept from an answer,
    shown in a repr, ``to_dict()``, a log record or an error. Objects read from the server
    (``OrbitSecret.objects.get(name=...)``) hold no value; ``reveal()`` reads it. ``save()``
    sends only what changed, so renaming a listed secret keeps its value.
    """

    _path = "/v1/organizations/{organization}/orbits/{orbit}/secrets"
    _noun = "orbit secret"

    id: str | None = field("id", doc="the secret's id (None until saved)")
    name: str = field("str", default="", create=True, editable=True, required=True,
                      max_len=255, update_nonempty=True,
                      doc="its name, unique in the orbit (at most 255 characters)")
    value: str | None = field("str", create=True, editable=True, max_len=8192, secret=True,
                              nullable=True,
                              doc="the value (write-only: set it to send it; read it with "
                                  "reveal())")
    tags: list[str] | None = field("tags", create=True, editable=True, max_items=50,
                                   max_len=64, doc="free labels (at most 50, each at most 64 "
                                                   "characters)")
    orbit_id: str | None = field("id", checked=False, doc="the orbit it belongs to")
    created_at: datetime | None = field("time", doc="when it was created")
    updated_at: datetime | None = field("time", doc="when it last changed (None if never)")

    def _validate(self, *, creating: bool, only: list[str] | None = None) -> None:
        if self.value is None and self._holds("value") and (creating or only is None
                                                           or "value" in only):
            raise ValidationError("value", "is required to create an orbit secret" if creating
                                  else "must be a string (a secret cannot hold none)")
        super()._validate(creating=creating, only=only)

    # -- writes: the platform's answers mapped to the errors they mean ---------------------

    def _save_op(self, session: Session, force: bool,
                 update_fields: Iterable[str] | None) -> Op[None]:
        creating = self.pk is None
        renaming = not creating and "name" in self.changed_fields()
        try:
            yield from super()._save_op(session, force, update_fields)
        except APIError as exc:
            if creating and exc.status == 400 and _TAKEN in exc.detail:
                raise self._taken(exc) from None
            if renaming and isinstance(exc, ServerError):
                # (the platform's rename onto a taken name is an unhandled 500)
                taken = yield from self._name_taken_op(session)
                if taken:
                    raise self._taken(exc) from None
            raise

    def _taken(self, exc: APIError) -> ConflictError:
        # (``status`` stays what the platform answered: 400 on create, 500 on a rename)
        err = ConflictError(exc.status, exc.method, exc.url, f"the orbit already has a secret "
                                                              f"named {self.name!r}",
                            fields=["name"])
        err.base_url = exc.base_url
        return err

    def _name_taken_op(self, session: Session) -> Op[bool]:
        pager = yield from self._pager_op(session, [], 100)
        while (req := pager.next_request()) is not None:
            for item in pager.feed(req, (yield req), load=False):
                if isinstance(item, dict) and item.get("name") == self.name \
                        and item.get("id") != self.pk:
                    return True
        return False

    # -- reading the value --------------------------------------------------------------------

    def _reveal_op(self, session: Session) -> Op[str]:
        if self.pk is None:
            raise ValidationError("id", "the orbit secret is not saved; nothing to reveal")
        path = yield from self._own_path_op(session)
        req = Request("GET", path)
        try:
            data = yield from self._get_data_op(req, self.pk)
        except PermissionDeniedError as exc:
            err = PermissionDeniedError(403, exc.method, exc.url, _NO_READ)
            err.base_url = exc.base_url
            raise err from None
        value = data.get("value")
        if not isinstance(value, str):
            raise wire_error(req, "expected the orbit secret with its value")
        register(value)
        return SecretStr(value)

    def reveal(self, *, using: Session | None = None) -> str:
        """The secret's value, read from the server (one request; needs the orbit's admin
        role: a plain member gets PermissionDeniedError). It is returned, not kept."""
        session = self._session_for(using)
        return session.driver.run(self._reveal_op(session))

    async def areveal(self, *, using: Session | None = None) -> str:
        """Async ``reveal()``."""
        session = self._session_for(using)
        return await session.async_driver.run(self._reveal_op(session))

