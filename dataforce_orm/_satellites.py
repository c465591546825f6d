"""Satellites: the compute nodes that serve deployments, with their one-time pairing key, its
regeneration, and the lost create settled by adopting the orphan it made."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from . import _errors as errors
from ._capabilities import MergedUpdate, WriteOnly
from ._errors import APIError, ConflictError, PermissionDeniedError, TransportError
from ._fields import SecretStr, WireEnum, field
from ._outcomes import LOST_CREATE_WAITS, _find_made_op, maybe_applied
from ._protocol import Op, Request, Sleep
from ._resource import Model, wire_error
from ._session import Session

ORBIT_PATH = "/v1/organizations/{organization}/orbits/{orbit}"


class SatelliteStatus(WireEnum):
    """A satellite's computed status: ``inactive`` until paired and seen, ``error`` when last
    seen over 20 minutes ago, else ``active``."""

    INACTIVE = "inactive"
    ACTIVE = "active"
    ERROR = "error"


@attrs.define(slots=True, eq=False, repr=False)
class Satellite(WriteOnly, MergedUpdate, Model):
    """A compute node the user runs, which serves the orbit's deployments.

    ``Satellite(name=...).save()`` creates one and puts its pairing key on ``api_key``: the
    platform shows it once and it cannot be read again (``regenerate_key()`` makes a new one).
    The key is in no repr, log or error; ``str(satellite.api_key)`` gives it.
    """

    _path = ORBIT_PATH + "/satellites"
    _once = ("_key",)  # shown once by the platform: never pickled or copied

    id: str | None = field("id", doc="The satellite's id.")
    name: str = field("str", default="", create=True, editable=True, required=True,
                      max_len=100, update_nonempty=True, doc="Its name (required).")
    description: str | None = field("str", create=True, editable=True, nullable=True,
                                    max_len=1000, doc="A free-text description.")
    orbit_id: str | None = field("id", checked=False, doc="The orbit it serves.")
    paired: bool = field("bool", default=False, checked=False,
                         doc="Whether an agent has paired with its key.")
    status: SatelliteStatus | None = field(
        "enum", enum=SatelliteStatus,
        doc="inactive, active or error, computed by the platform from last_seen_at.")
    base_url: str | None = field("str", doc="Where the agent serves (set by pairing).")
    capabilities: dict[str, Any] | None = field(
        "json", doc="What the agent can do, keyed deploy and monitoring (set by pairing).")
    slug: str | None = field("str", doc="The agent's slug (set by pairing).")
    created_at: datetime | None = field("time", doc="When it was created.")
    updated_at: datetime | None = field("time", doc="When it was last changed.")
    last_seen_at: datetime | None = field("time", doc="When the agent last called the platform.")
    _key: SecretStr | None = attrs.field(default=None, init=False, repr=False)

    @property
    def api_key(self) -> SecretStr | None:
        """The pairing key from this object's create or ``regenerate_key()`` (None
        otherwise: the platform never shows it again). Its repr is ``'***'``."""
        return self._key

    def _hold_key(self, req: Request, key: Any) -> SecretStr:
        if not isinstance(key, str) or not key.startswith("dfssat_") or len(key) > 200:
            raise wire_error(req, "expected a satellite key (dfssat_...)")
        return self._hold_once("_key", key)

    # -- create: the key comes once, so a lost answer is settled by adopting the orphan --------

    def _save_op(self, session: Session, force: bool,
                 update_fields: Iterable[str] | None) -> Op[None]:
        if self.pk is not None:
            yield from super()._save_op(session, force, update_fields)
            return
        self._validate(creating=True)
        path = yield from self._path_op(session)
        body = self._create_body()
        started = time.time()

        def adopt() -> Op[dict[str, Any] | None]:
            return (yield from self._adopt_op(session, body, started))

        req = Request("POST", path, json=body, recover=adopt)
        try:
            data = (yield req).data
        except (TransportError, APIError) as exc:
            if not (exc.maybe_sent or maybe_applied("POST", exc, server_errors=True)):
                raise
            data = None
            for wait in (0.0, *LOST_CREATE_WAITS):  # the create may still be running
                yield Sleep(wait)
                data = yield from adopt()
                if data is not None:
                    break
            if data is None:
                raise
        if not isinstance(data, dict):
            raise wire_error(req, "expected {'satellite': ..., 'api_key': ...}")
        self._absorb(req, data.get("satellite"), session)
        self._hold_key(req, data.get("api_key"))

    def _adopt_op(self, session: Session, body: dict[str, Any], started: float
                  ) -> Op[dict[str, Any] | None]:
        """After a create whose answer was lost: the unpaired satellite of that name it made
        (made since it began, claimed for this create), with a new key, since nobody holds
        the first one. None if it made none."""
        def matches(item: dict[str, Any], made: Any) -> bool:
            return item.get("name") == body["name"] and item.get("paired") is False

        found = yield from _find_made_op(type(self), session, [], {}, started, matches,
                                         newest_first=False)
        if found is None:
            return None
        item = found[0]
        path = yield from self._path_op(session, ident=str(item["id"]))
        try:
            answer = (yield Request("POST", f"{path}/api-key")).data
        except PermissionDeniedError as exc:
            raise PermissionDeniedError(
                exc.status, exc.method, exc.url,
                f"the satellite create's answer was lost and it made satellite {item['id']} "
                f"({body['name']!r}), whose key nobody holds; this key may not regenerate it: "
                "an orbit admin must delete that satellite") from None
        if not isinstance(answer, dict):
            raise wire_error(Request("POST", f"{path}/api-key"), "expected {'key': ...}")
        return {"satellite": item, "api_key": answer.get("key")}

    # -- the key, and delete -------------------------------------------------------------------

    def _regenerate_op(self, session: Session) -> Op[SecretStr]:
        if self.pk is None:
            raise errors.ValidationError("id", "the satellite is not saved; nothing to "
                                               "regenerate")
        path = yield from self._own_path_op(session)
        req = Request("POST", f"{path}/api-key")
        answer = yield from self._get_data_op(req, self.pk)
        return self._hold_key(req, answer.get("key"))

    def _delete_op(self, session: Session) -> Op[None]:
        try:
            yield from super()._delete_op(session)
        except ConflictError as exc:
            rows = yield from deployment_rows_op(session)
            users = [r for r in rows if r.get("satellite_id") == self.pk]
            raise ConflictError(exc.status, exc.method, exc.url,
                                f"the satellite is used by deployments: {named(users)}; delete "
                                "them first") from None

    def regenerate_key(self, *, using: Session | None = None) -> SecretStr:
        """A new pairing key, also put on ``api_key``; the old one stops working at once (a
        paired agent must be given the new one)."""
        session = self._session_for(using)
        return session.driver.run(self._regenerate_op(session))

    async def aregenerate_key(self, *, using: Session | None = None) -> SecretStr:
        """Async ``regenerate_key()``."""
        session = self._session_for(using)
        return await session.async_driver.run(self._regenerate_op(session))


def deployment_rows_op(session: Session) -> Op[list[dict[str, Any]]]:
    """The orbit's deployments as the listing sends them (raw), for the checks that name the
    deployments using a satellite or an artifact."""
    path = yield from Satellite._path_op(session, template=ORBIT_PATH + "/deployments")
    req = Request("GET", path)
    data = (yield req).data
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise wire_error(req, "expected a JSON array of deployments")
    return data


def deployed_check_op(session: Session, artifact_id: str, force: bool, method: str,
                      url: str) -> Op[None]:
    """A ConflictError naming the deployments that use an artifact, if any (the platform
    refuses its plain delete; its force delete drops them without undeploying)."""
    rows = yield from deployment_rows_op(session)
    users = [r for r in rows if r.get("artifact_id") == artifact_id]
    if users:
        how = ("pass force_deployments=True as well to drop them without undeploying (their "
               "containers keep running)" if force else "delete them first")
        raise ConflictError(409, method, url,
                            f"the artifact is used by deployments: {named(users)}; {how}")


def named(rows: list[dict[str, Any]]) -> str:
    """Deployments as messages name them: ``'name' (id)``, a few at most."""
    shown = [f"{str(r.get('name'))[:100]!r} ({str(r.get('id'))[:36]})" for r in rows[:10]]
    more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
    return (", ".join(shown) + more) or "(none listed)"

