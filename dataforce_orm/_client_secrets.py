"""``client.orbit_secrets``: get, list, create, update and delete the orbit's secrets on
``OrbitSecret`` objects, sync and async, run on the client's own session."""

from __future__ import annotations

import builtins
from typing import Any, Protocol

from . import _operations as ops
from ._errors import ValidationError
from ._ids import as_uuid
from ._orbit_secrets import OrbitSecret
from ._protocol import Op
from ._query import QuerySet
from ._session import Session

__all__ = ["AsyncOrbitSecretResource", "OrbitSecretResource"]


class _Client(Protocol):
    @property
    def session(self) -> Session: ...


def _id(value: object, field: str) -> str:
    canon = as_uuid(value) if isinstance(value, str) else None
    if canon is None:
        raise ValidationError(field, f"must be an id (a UUID), got {value!r}")
    return canon


class _OrbitSecretCalls:
    """Each call once, as an operation; the sync and async classes only run them."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def _session(self) -> Session:
        return self._client.session

    def _get_op(self, secret_value: str) -> Op[OrbitSecret | None]:
        """The secret with this id, else the one with this exact name (names are unique in an
        orbit); None if none."""
        if not isinstance(secret_value, str):
            raise ValidationError("secret_value", "must be an id or a name (a string), not "
                                                  f"{type(secret_value).__name__}")
        session = self._session()
        every: builtins.list[OrbitSecret] = yield from ops.rows(
            QuerySet(OrbitSecret, session), session)
        ident = as_uuid(secret_value)
        return next((s for s in every if s.id == ident), None) or next(
            (s for s in every if s.name == secret_value), None)

    def _list_op(self) -> Op[builtins.list[OrbitSecret]]:
        found: builtins.list[OrbitSecret] = yield from ops.rows(
            QuerySet(OrbitSecret, self._session()), self._session())
        return found

    def _create_op(self, name: str, value: str, tags: builtins.list[str] | None
                   ) -> Op[OrbitSecret]:
        obj = OrbitSecret(name=name, value=value, tags=tags)
        yield from ops.save(obj, self._session())
        return obj

    def _update_op(self, secret_id: str, edits: dict[str, Any]) -> Op[OrbitSecret]:
        canon = _id(secret_id, "secret_id")
        OrbitSecret(**edits)  # checks every given value before any request
        found = yield from ops.get_by_id(OrbitSecret, self._session(), canon)
        for name, value in edits.items():
            setattr(found, name, value)
        yield from ops.save(found, self._session())  # partial: only the fields given
        return found

    def _delete_op(self, secret_id: str) -> Op[None]:
        obj = OrbitSecret(id=_id(secret_id, "secret_id"))
        yield from ops.delete(obj, self._session())


def _given(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class OrbitSecretResource(_OrbitSecretCalls):
    """``client.orbit_secrets``: the orbit's secrets (the client's orbit). Values are
    write-only: what these calls return holds none; ``secret.reveal()`` reads one."""

    def get(self, secret_value: str) -> OrbitSecret | None:
        """The secret with this id or exact name; None if absent."""
        return self._session().driver.run(self._get_op(secret_value))

    def list(self) -> builtins.list[OrbitSecret]:
        """The orbit's secrets (without their values)."""
        return self._session().driver.run(self._list_op())

    def create(self, name: str, value: str, tags: builtins.list[str] | None = None
               ) -> OrbitSecret:
        """Create a secret (ConflictError if the orbit has one of this name)."""
        return self._session().driver.run(self._create_op(name, value, tags))

    def update(self, secret_id: str, name: str | None = None, value: str | None = None,
               tags: builtins.list[str] | None = None) -> OrbitSecret:
        """Change the given fields of a secret; the others (its value too) are kept."""
        edits = _given(name=name, value=value, tags=tags)
        return self._session().driver.run(self._update_op(secret_id, edits))

    def delete(self, secret_id: str) -> None:
        """Delete a secret (the platform does not check whether deployments use it)."""
        self._session().driver.run(self._delete_op(secret_id))


class AsyncOrbitSecretResource(_OrbitSecretCalls):
    """``client.orbit_secrets`` on ``AsyncDataForceClient``: the same calls, awaited."""

    async def get(self, secret_value: str) -> OrbitSecret | None:
        """The secret with this id or exact name; None if absent."""
        return await self._session().async_driver.run(self._get_op(secret_value))

    async def list(self) -> builtins.list[OrbitSecret]:
        """The orbit's secrets (without their values)."""
        return await self._session().async_driver.run(self._list_op())

    async def create(self, name: str, value: str, tags: builtins.list[str] | None = None
                     ) -> OrbitSecret:
        """Create a secret (ConflictError if the orbit has one of this name)."""
        return await self._session().async_driver.run(self._create_op(name, value, tags))

    async def update(self, secret_id: str, name: str | None = None, value: str | None = None,
                     tags: builtins.list[str] | None = None) -> OrbitSecret:
        """Change the given fields of a secret; the others (its value too) are kept."""
        edits = _given(name=name, value=value, tags=tags)
        return await self._session().async_driver.run(self._update_op(secret_id, edits))

    async def delete(self, secret_id: str) -> None:
        """Delete a secret (the platform does not check whether deployments use it)."""
        await self._session().async_driver.run(self._delete_op(secret_id))
