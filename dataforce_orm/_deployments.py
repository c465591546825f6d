"""Deployments: a model served on a satellite, its wait until the satellite brought it up (or
took it down), its full-write PATCH, its delete flavours and the rollout of a new version."""

from __future__ import annotations

import contextlib
import copy
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, TypeVar

import attrs

from . import _errors as errors
from ._capabilities import MergedUpdate
from ._errors import ConflictError, DataForceError, TimeoutError, ValidationError
from ._fields import WireEnum, field
from ._ids import as_uuid
from ._protocol import Op, Request, Sleep
from ._query import Manager, ManagerDescriptor, collect
from ._registry import Stage, Track
from ._resource import Model, wire_error
from ._satellites import ORBIT_PATH, Satellite
from ._session import Session, current_session

D = TypeVar("D", bound="Deployment")
Progress = bool | Callable[["Deployment"], None] | None
DEFAULT_TIMEOUT = 600.0  # seconds a wait gives the satellite
_FIXED = ("satellite_parameters", "env_variables", "env_variables_secrets")
_SECRET_MAPS = ("env_variables_secrets", "dynamic_attributes_secrets")


class DeploymentStatus(WireEnum):
    """Where a deployment is: only its satellite moves it."""

    PENDING = "pending"
    ACTIVE = "active"
    FAILED = "failed"
    DELETION_PENDING = "deletion_pending"
    DELETION_FAILED = "deletion_failed"
    NOT_RESPONDING = "not_responding"


class DeploymentFailedError(DataForceError):
    """The satellite reported the deployment ``failed`` (or ``deletion_failed``):
    ``instance`` is the deployment as last read, ``error_message`` what the satellite said
    (``{error, reason}``)."""

    def __init__(self, message: str, instance: Deployment) -> None:
        super().__init__(message)
        self.instance = instance
        self.error_message: dict[str, Any] | None = instance.error_message

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.args[0], self.instance), self.__dict__


class RolloutError(DataForceError):
    """A rollout stopped at ``step`` (``"deploy"``, ``"wait"`` or ``"remove the old
    deployment"``): ``old`` and ``new`` are both deployments (``new`` None if it was never
    made); the error that stopped it is ``__cause__``."""

    def __init__(self, message: str, step: str, old: Deployment, new: Deployment | None
                 ) -> None:
        super().__init__(message)
        self.step, self.old, self.new = step, old, new

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.args[0], self.step, self.old, self.new), self.__dict__


def _ref(value: Any, what: str, field_name: str, attr: str = "pk") -> str:
    """The id of a model object (``attr``, else ``id``) or an id string; a ValidationError."""
    if isinstance(value, uuid.UUID):
        value = str(value)
    if not isinstance(value, str):
        value = getattr(value, attr, None) or getattr(value, "id", None)
    canon = as_uuid(value) if isinstance(value, str) else None
    if canon is None:
        raise ValidationError(field_name, f"must be {what} or its id (a UUID)")
    return canon


def _check_map(name: str, value: Any, check: Callable[[str, Any], Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(name, f"must be a dict, not {type(value).__name__}")
    out = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(name, f"keys must be non-empty strings, got {key!r}")
        out[key] = check(f"{name}[{key!r}]", item)
    return out


def _param(where: str, v: Any) -> Any:
    if not isinstance(v, (bool, int, str)):
        raise ValidationError(where, f"must be a bool, int or str, not {type(v).__name__}")
    return v


def _text(where: str, v: Any) -> str:
    if not isinstance(v, str):
        raise ValidationError(where, f"must be a string, not {type(v).__name__}")
    return v


def _secret(where: str, v: Any) -> str:
    return _ref(v, "an orbit secret", where)


class DeploymentManager(Manager["Deployment"]):
    """``Deployment.objects``: the queries of every manager, and ``rollout()``."""

    def using(self, session: Session) -> DeploymentManager:
        """The manager on ``session`` instead of the current one (``rollout`` included)."""
        return DeploymentManager(self.model, session)

    def rollout(self, old: Deployment, artifact: Any = None, *, wait: bool = True,
                timeout: float = DEFAULT_TIMEOUT, progress: Progress = None,
                **fields: Any) -> Deployment:
        """Replace ``old`` with a deployment of ``artifact`` (an Artifact, a registry entry,
        or an id; or ``track=`` and ``stage=``, the stage's holder): the new one gets old's
        name, satellite, parameters, environment, secrets and tags unless given as keywords;
        once it is active the old one is deleted (and, with ``wait``, waited for until
        gone). Returns the new deployment.

        RolloutError (``.step``, ``.old``, ``.new``) when a step fails: a new deployment
        that fails or times out is deleted and the old one keeps serving.
        """
        session = self._session or current_session()
        return session.driver.run(rollout_op(session, old, artifact, wait, timeout, progress,
                                             fields))

    async def arollout(self, old: Deployment, artifact: Any = None, *, wait: bool = True,
                       timeout: float = DEFAULT_TIMEOUT, progress: Progress = None,
                       **fields: Any) -> Deployment:
        """Async ``rollout()``."""
        session = self._session or current_session()
        return await session.async_driver.run(rollout_op(session, old, artifact, wait,
                                                         timeout, progress, fields))


class _DeploymentManagers(ManagerDescriptor):
    def __get__(self, instance: object, owner: type[D]) -> DeploymentManager:  # type: ignore[override]
        if instance is not None:
            raise AttributeError("Manager isn't accessible via model instances")
        return DeploymentManager(owner)



@attrs.define(slots=True, eq=False, repr=False, init=False)
class Deployment(MergedUpdate, Model):
    """A model artifact served on a satellite.

    ``Deployment(artifact=..., satellite=..., name=...).save()`` queues the deploy;
    ``wait_until(DeploymentStatus.ACTIVE)`` waits until the satellite brought it up, then
    ``inference_url`` answers. ``save()`` writes name, description, tags and
    ``dynamic_attributes_secrets`` (merged with the server's state: the platform's PATCH
    overwrites six fields); the environment and ``satellite_parameters`` are fixed at
    create. Query with ``Deployment.objects``; ``Deployment.objects.rollout()`` replaces one.
    """

    _path = ORBIT_PATH + "/deployments"
    _default_order = ("-created_at",)

    id: str | None = field("id", doc="The deployment's id.")
    name: str = field("str", default="", create=True, editable=True, required=True,
                      max_len=100, update_nonempty=True, doc="Its name (not unique).")
    description: str | None = field("str", create=True, editable=True, nullable=True,
                                    max_len=1000, doc="A free-text description.")
    satellite_id: str | None = field("id", create=True, required=True,
                                     doc="The satellite serving it.")
    artifact_id: str | None = field("id", create=True, required=True,
                                    doc="The model artifact it serves.")
    status: DeploymentStatus | None = field("enum", enum=DeploymentStatus,
                                            doc="Where it is; only the satellite moves it.")
    inference_url: str | None = field("str", doc="Where the model answers (set by the "
                                                 "satellite; call it with a dfs_ key).")
    satellite_parameters: dict[str, Any] = field(
        "json", factory=dict, create=True, checked=False,
        doc="Satellite settings (bool, int or str values); fixed at create.")
    env_variables: dict[str, str] = field(
        "json", factory=dict, create=True, checked=False,
        doc="Environment variables of the model's container; fixed at create.")
    env_variables_secrets: dict[str, str] = field(
        "json", factory=dict, create=True, checked=False,
        doc="Environment variable -> orbit-secret id, read at deploy time; fixed at create.")
    dynamic_attributes_secrets: dict[str, str] = field(
        "json", factory=dict, create=True, editable=True, checked=False,
        doc="Dynamic attribute -> orbit-secret id, read live by the satellite.")
    tags: list[str] | None = field("tags", create=True, editable=True, max_items=50,
                                   max_len=64, doc="Free-form labels.")
    schemas: dict[str, Any] | None = field("json", editable=True, checked=False,
                                           doc="The model's request/response schemas (set "
                                               "by the satellite).")
    error_message: dict[str, Any] | None = field(
        "json", editable=True, checked=False,
        doc="Why it failed, {error, reason} (set by the satellite).")
    orbit_id: str | None = field("id", checked=False, doc="The orbit it lives in.")
    satellite_name: str | None = field("str", doc="The satellite's name.")
    artifact_name: str | None = field("str", doc="The artifact's name.")
    collection_id: str | None = field("id", checked=False, doc="The artifact's collection.")
    created_by_user: str | None = field("str", shown=False, doc="Who created it (full name).")
    created_at: datetime | None = field("time", doc="When it was created.")
    updated_at: datetime | None = field("time", doc="When it was last changed.")

    objects = _DeploymentManagers()  # ``Deployment.objects``: with rollout()
    # A (track, stage) whose holder becomes the artifact when the create is sent.
    _stage_ref: tuple[Track, Stage] | None = attrs.field(default=None, init=False, repr=False)

    def __init__(self, artifact: Any = None, satellite: Any = None, *,
                 track: Track | None = None, stage: Stage | str | None = None,
                 **fields: Any) -> None:
        held = _stage_of(track, stage, artifact)
        if artifact is not None:  # an Artifact, a registry entry (its artifact_id), or an id
            fields["artifact_id"] = _ref(artifact, "an artifact or a registry entry",
                                         "artifact", "artifact_id"
                                         if hasattr(artifact, "artifact_id") else "pk")
            default = getattr(artifact, "name", getattr(artifact, "artifact_name", None))
            if "name" not in fields and isinstance(default, str):
                fields["name"] = default
        if satellite is not None:
            fields["satellite_id"] = _ref(satellite, "a satellite", "satellite")
        self.__attrs_init__(**fields)
        object.__setattr__(self, "_stage_ref", held)

    # -- checks --------------------------------------------------------------------------------

    @classmethod
    def _snapshot_of(cls, data: dict[str, Any]) -> dict[str, Any]:
        # dicts edited in place must differ from what was loaded
        return copy.deepcopy(super()._snapshot_of(data))

    def _validate(self, *, creating: bool, only: list[str] | None = None) -> None:
        super()._validate(creating=creating, only=only)
        checks = {"satellite_parameters": _param, "env_variables": _text,
                  "env_variables_secrets": _secret, "dynamic_attributes_secrets": _secret}
        for name, check in checks.items():
            value = getattr(self, name)
            if value is None and name == "dynamic_attributes_secrets":
                value = {}
            if value is not None:
                object.__setattr__(self, name, _check_map(name, value, check))

    def _update_body(self, body: dict[str, Any]) -> dict[str, Any]:
        # a PATCH without dynamic_attributes_secrets breaks the row on the platform
        if body.get("dynamic_attributes_secrets") is None:
            body["dynamic_attributes_secrets"] = {}
        return body

    def _save_op(self, session: Session, force: bool,
                 update_fields: Iterable[str] | None) -> Op[None]:
        if self.pk is None:
            yield from self._holder_op(session)
            self._validate(creating=True)
            yield from self._check_secrets_op(session)
        elif self._snapshot is not None:
            moved = [n for n in _FIXED if self._local(n) != self._snapshot.get(n)]
            if moved:
                raise ValidationError(", ".join(moved), (
                    "cannot be changed after create (the platform ignores it); deploy "
                    "a new deployment instead (Deployment.objects.rollout)"))
        yield from super()._save_op(session, force, update_fields)

    def _holder_op(self, session: Session) -> Op[None]:
        """With ``track=`` and ``stage=``: the stage's holder (read now, through the entry
        listing's stage filter) is the artifact to deploy."""
        if self._stage_ref is None:
            return
        track, stage = self._stage_ref
        found = yield from collect(track.entries.filter(stage=stage)._rows_op(session), limit=1)
        if not found:
            raise ValidationError("stage", f"no version of track {track.name!r} holds stage "
                                           f"{stage.name!r}: promote one first")
        object.__setattr__(self, "artifact_id", found[0].artifact_id)
        if not self.name and found[0].artifact_name:
            object.__setattr__(self, "name", found[0].artifact_name)
        object.__setattr__(self, "_stage_ref", None)

    def _check_secrets_op(self, session: Session) -> Op[None]:
        """The secret ids given are the orbit's (the platform stores unknown ids unchecked,
        and the deploy fails later on the satellite)."""
        wanted = {(name, key, ident) for name in _SECRET_MAPS
                  for key, ident in (getattr(self, name) or {}).items()}
        if not wanted:
            return
        path = yield from self._path_op(session, template=ORBIT_PATH + "/secrets")
        req = Request("GET", path)
        data = (yield req).data
        items = data.get("items") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise wire_error(req, "expected a list of orbit secrets")
        known = {str(i.get("id")) for i in items if isinstance(i, dict)}
        for name, key, ident in sorted(wanted):
            if ident not in known:
                raise ValidationError(f"{name}[{key!r}]", f"no orbit secret has the id "
                                                          f"{ident} in this orbit")

    # -- waiting -------------------------------------------------------------------------------

    def _wait_op(self, session: Session, target: DeploymentStatus | None, timeout: float,
                 progress: Progress) -> Op[None]:
        """Poll (with backoff) until the status is ``target`` (None: until the row is gone);
        DeploymentFailedError on ``failed``/``deletion_failed``; the TimeoutError (with
        ``instance``, never retried) when ``timeout`` seconds pass."""
        if self.pk is None:
            raise ValidationError("id", "the deployment is not saved; nothing to wait for")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ValidationError("timeout", "must be a number of seconds >= 0")
        path = yield from self._own_path_op(session)
        start, look, shown = time.monotonic(), 0, None
        while True:
            req = Request("GET", path)
            try:
                data = (yield req).data
            except errors.NotFoundError:
                if target is None:
                    object.__setattr__(self, "id", None)
                    object.__setattr__(self, "_snapshot", None)
                    return
                raise self.DoesNotExist(f"no deployment with id {self.pk!r}: it was "
                                        "deleted") from None
            self._absorb(req, data, session)
            if progress and self.status != shown:
                shown = self.status
                if callable(progress):
                    progress(self)
                else:
                    print(f"deployment {self.name}: {self.status}", file=sys.stderr)
            if target is not None and self.status == target:
                return
            if self.status in (DeploymentStatus.FAILED, DeploymentStatus.DELETION_FAILED) \
                    and self.status != target:
                raise DeploymentFailedError(
                    f"deployment {self.name!r} ({self.pk}) is {self.status}: "
                    f"{self.error_message or 'the satellite gave no reason'}", self)
            elapsed = time.monotonic() - start
            if elapsed >= timeout:
                raise (yield from self._timeout_op(session, target, timeout))
            look += 1
            yield Sleep(min(0.05 * 1.5 ** min(look, 20), 2.0, timeout - elapsed))

    def _timeout_op(self, session: Session, target: DeploymentStatus | None, timeout: float
                    ) -> Op[TimeoutError]:
        try:
            sat = yield from Satellite._get_by_id_op(session, str(self.satellite_id))
            seen = sat.last_seen_at.isoformat() if sat.last_seen_at else "never"
            where = f"its satellite {sat.name!r} is {sat.status}, last seen {seen}"
        except DataForceError:
            where = "its satellite could not be read"
        goal = "gone" if target is None else str(target)
        exc = TimeoutError(f"deployment {self.name!r} ({self.pk}) is still {self.status}, not "
                           f"{goal}, after {timeout:g} s: {where}")
        exc.maybe_sent, exc.transient, exc.instance = False, False, self
        return exc

    # -- delete --------------------------------------------------------------------------------

    def _remove_op(self, session: Session, wait: bool, timeout: float, force: bool,
                   progress: Progress) -> Op[None]:
        if self.pk is None:
            raise ValidationError("id", "the deployment is not saved; nothing to delete")
        path = yield from self._own_path_op(session)
        if force:  # the row only: the satellite keeps the container running
            try:
                yield Request("DELETE", f"{path}/force")
            except errors.NotFoundError as exc:
                if exc.attempts <= 1:
                    raise self.DoesNotExist(f"no deployment with id {self.pk!r}") from None
            object.__setattr__(self, "id", None)
            object.__setattr__(self, "_snapshot", None)
            return
        try:
            yield Request("DELETE", path)  # queues the undeploy (the answer is that task)
        except errors.NotFoundError as exc:
            if exc.attempts <= 1:
                raise self.DoesNotExist(f"no deployment with id {self.pk!r}") from None
        except ConflictError as exc:  # already queued (by an earlier try, or call)
            if "already pending" not in exc.detail:
                raise
        object.__setattr__(self, "status", DeploymentStatus.DELETION_PENDING)
        if wait:
            yield from self._wait_op(session, None, timeout, progress)

    # -- public methods ------------------------------------------------------------------------

    def wait_until(self, status: DeploymentStatus | str = DeploymentStatus.ACTIVE, *,
                   timeout: float = DEFAULT_TIMEOUT, progress: Progress = None,
                   using: Session | None = None) -> None:
        """Poll until the deployment has ``status`` (reloading it each time).

        DeploymentFailedError when the satellite reports it failed; when ``timeout``
        seconds pass, ``dfo.TimeoutError`` (``error.instance`` is the deployment; the message
        gives the satellite's status and last-seen time). ``progress``: True for a line on
        stderr at each change of status, or a callable taking the deployment.
        """
        session = self._session_for(using)
        session.driver.run(self._wait_op(session, _status(status), timeout, progress))

    async def await_until(self, status: DeploymentStatus | str = DeploymentStatus.ACTIVE, *,
                          timeout: float = DEFAULT_TIMEOUT, progress: Progress = None,
                          using: Session | None = None) -> None:
        """Async ``wait_until()``."""
        session = self._session_for(using)
        await session.async_driver.run(self._wait_op(session, _status(status), timeout,
                                                     progress))

    def delete(self, *, wait: bool = False, timeout: float = DEFAULT_TIMEOUT,
               force: bool = False, progress: Progress = None,
               using: Session | None = None) -> None:
        """Queue the undeploy: the satellite takes the model down, then removes the row
        (``status`` is ``deletion_pending`` meanwhile; an offline satellite leaves it so).

        ``wait=True`` waits until the row is gone (the errors of ``wait_until()``).
        ``force=True`` removes the row at once without undeploying: the container keeps
        running on the satellite.
        """
        session = self._session_for(using)
        session.driver.run(self._remove_op(session, wait, timeout, force, progress))

    async def adelete(self, *, wait: bool = False,
                      timeout: float = DEFAULT_TIMEOUT, force: bool = False,
                      progress: Progress = None, using: Session | None = None) -> None:
        """Async ``delete()``."""
        session = self._session_for(using)
        await session.async_driver.run(self._remove_op(session, wait, timeout, force,
                                                       progress))


def _stage_of(track: Any, stage: Any, artifact: Any) -> tuple[Track, Stage] | None:
    """``track=`` and ``stage=`` checked (no request): a saved Track and one of its stages."""
    if track is None and stage is None:
        return None
    if artifact is not None:
        raise ValidationError("artifact", "give an artifact (or a registry entry), or "
                                          "track= and stage=, not both")
    if not isinstance(track, Track) or track.pk is None:
        raise ValidationError("track", "must be a saved Track (given with stage=)")
    if stage is None:
        raise ValidationError("stage", "must name the stage of the track to deploy")
    return track, track.stage(stage)


def _status(value: DeploymentStatus | str) -> DeploymentStatus:
    try:
        return DeploymentStatus(value)
    except ValueError:
        allowed = ", ".join(s.value for s in DeploymentStatus)
        raise ValidationError("status", f"must be one of {allowed}; got {value!r}") from None


# -- the rollout --------------------------------------------------------------------------------

_COPIED = ("name", "description", "satellite_id", "satellite_parameters", "env_variables",
           "env_variables_secrets", "dynamic_attributes_secrets", "tags")


def rollout_op(session: Session, old: Deployment, artifact: Any, wait: bool, timeout: float,
               progress: Progress, fields: dict[str, Any]) -> Op[Deployment]:
    """Deploy ``artifact`` beside ``old`` (its settings copied unless given in ``fields``),
    wait until the new one is active, then delete the old one (and wait until it is gone if
    ``wait``). A new one that fails is deleted and the old one is left serving."""
    if not isinstance(old, Deployment) or old.pk is None:
        raise ValidationError("old", "must be a saved Deployment")
    if "satellite" in fields:  # (an object or an id, as the constructor takes it)
        fields["satellite_id"] = _ref(fields.pop("satellite"), "a satellite", "satellite")
    source = {k: fields.pop(k) for k in ("track", "stage") if k in fields}
    unknown = sorted(set(fields) - set(_COPIED))
    if unknown:
        raise ValidationError(", ".join(unknown), f"a rollout takes only {', '.join(_COPIED)}"
                                                  " (and track= with stage=)")
    if artifact is None and not source:
        raise ValidationError("artifact", "a rollout needs an artifact, a registry entry, "
                                          "or track= and stage=")
    copied = {n: copy.deepcopy(getattr(old, n)) for n in _COPIED if n not in fields}
    new = Deployment(artifact=artifact, **source, **{**copied, **fields})
    try:
        yield from new._save_op(session, False, None)
    except DataForceError as exc:
        raise RolloutError(f"rollout of {old.name!r}: the new deployment could not be "
                           f"created ({exc}); the old one is untouched", "deploy", old,
                           None) from exc
    try:
        yield from new._wait_op(session, DeploymentStatus.ACTIVE, timeout, progress)
    except DataForceError as exc:
        with contextlib.suppress(DataForceError):  # the wait's error is reported
            yield from new._remove_op(session, False, timeout, False, None)
        raise RolloutError(f"rollout of {old.name!r}: the new deployment {new.pk} did not "
                           f"come up ({exc}); it was deleted and the old one keeps serving",
                           "wait", old, new) from exc
    try:
        yield from old._remove_op(session, wait, timeout, False, progress)
    except DataForceError as exc:
        raise RolloutError(f"rollout of {old.name!r}: the new deployment {new.pk} is active, "
                           f"but removing the old one {old.pk} failed ({exc})",
                           "remove the old deployment", old, new) from exc
    return new
