"""The facade's ``client.satellites`` and ``client.deployments``, sync and async, each call
written once as an operation."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any, TypeVar

from . import _operations as ops
from ._deployments import DEFAULT_TIMEOUT, Deployment, DeploymentStatus, _status
from ._errors import ValidationError
from ._fields import SecretStr
from ._ids import as_uuid
from ._protocol import Op
from ._query import QuerySet
from ._resource import Model
from ._satellites import Satellite
from ._session import Session

if TYPE_CHECKING:
    from ._client import _ClientBase

M = TypeVar("M", bound=Model)


def _id(value: object, field: str) -> str:
    canon = as_uuid(value) if isinstance(value, str) else None
    if canon is None:
        raise ValidationError(field, f"must be an id (a UUID), got {value!r}")
    return canon


class _Calls:
    def __init__(self, client: _ClientBase) -> None:
        self._client = client

    def _session(self) -> Session:
        return self._client.session

    def _find_op(self, model: type[M], ident: str, field: str) -> Op[M | None]:
        """The object with this id, or None."""
        canon = _id(ident, field)
        try:
            found: M = yield from ops.get_by_id(model, self._session(), canon)
        except model.DoesNotExist:
            return None
        return found

    def _load_op(self, model: type[M], ident: str, field: str) -> Op[M]:
        found: M = yield from ops.get_by_id(model, self._session(), _id(ident, field))
        return found


class _SatelliteOps(_Calls):
    def _list_op(self, paired: bool | None) -> Op[builtins.list[Satellite]]:
        qs = QuerySet(Satellite, self._session())
        if paired is not None:
            qs = qs.filter(paired=paired)
        found: builtins.list[Satellite] = yield from ops.rows(qs, self._session())
        return found

    def _create_op(self, name: str, description: str | None) -> Op[Satellite]:
        sat = Satellite(name=name, description=description)
        yield from ops.save(sat, self._session())
        return sat

    def _update_op(self, satellite_id: str, name: str | None, description: str | None
                   ) -> Op[Satellite]:
        edits: dict[str, Any] = {k: v for k, v in (("name", name), ("description", description))
                 if v is not None}
        Satellite(**edits)  # checked before any request
        sat = yield from self._load_op(Satellite, satellite_id, "satellite_id")
        for k, v in edits.items():
            setattr(sat, k, v)
        yield from ops.save(sat, self._session())  # read, merge, write both
        return sat

    def _delete_op(self, satellite_id: str) -> Op[None]:
        sat = Satellite(id=_id(satellite_id, "satellite_id"))
        yield from ops.delete(sat, self._session())

    def _regenerate_op(self, satellite_id: str) -> Op[SecretStr]:
        sat = Satellite(id=_id(satellite_id, "satellite_id"))
        return (yield from ops.regenerate_key(sat, self._session()))


class SatelliteResource(_SatelliteOps):
    """``client.satellites``: the official SDK's ``get``, plus create, list, update,
    delete and regenerate_key."""

    def get(self, satellite_id: str) -> Satellite | None:
        """The satellite with this id; None if absent."""
        return self._session().driver.run(self._find_op(Satellite, satellite_id,
                                                        "satellite_id"))

    def list(self, *, paired: bool | None = None) -> builtins.list[Satellite]:
        """The orbit's satellites (only the paired or unpaired ones, if ``paired`` is
        given), in creation order."""
        return self._session().driver.run(self._list_op(paired))

    def create(self, name: str, description: str | None = None) -> Satellite:
        """Create a satellite; its one-time pairing key is on ``.api_key``."""
        return self._session().driver.run(self._create_op(name, description))

    def update(self, satellite_id: str, *, name: str | None = None,
               description: str | None = None) -> Satellite:
        """Rename and/or describe a satellite (the other field kept as it is)."""
        return self._session().driver.run(self._update_op(satellite_id, name, description))

    def delete(self, satellite_id: str) -> None:
        """Delete a satellite (ConflictError naming the deployments still using it)."""
        self._session().driver.run(self._delete_op(satellite_id))

    def regenerate_key(self, satellite_id: str) -> SecretStr:
        """A new pairing key for the satellite; the old one stops working at once."""
        return self._session().driver.run(self._regenerate_op(satellite_id))


class AsyncSatelliteResource(_SatelliteOps):
    """``client.satellites`` on ``AsyncDataForceClient``: the same calls, awaited."""

    async def get(self, satellite_id: str) -> Satellite | None:
        """The satellite with this id; None if absent."""
        return await self._session().async_driver.run(self._find_op(Satellite, satellite_id,
                                                                    "satellite_id"))

    async def list(self, *, paired: bool | None = None) -> builtins.list[Satellite]:
        """The orbit's satellites (only the paired or unpaired ones, if ``paired`` is
        given), in creation order."""
        return await self._session().async_driver.run(self._list_op(paired))

    async def create(self, name: str, description: str | None = None) -> Satellite:
        """Create a satellite; its one-time pairing key is on ``.api_key``."""
        return await self._session().async_driver.run(self._create_op(name, description))

    async def update(self, satellite_id: str, *, name: str | None = None,
                     description: str | None = None) -> Satellite:
        """Rename and/or describe a satellite (the other field kept as it is)."""
        return await self._session().async_driver.run(
            self._update_op(satellite_id, name, description))

    async def delete(self, satellite_id: str) -> None:
        """Delete a satellite (ConflictError naming the deployments still using it)."""
        await self._session().async_driver.run(self._delete_op(satellite_id))

    async def regenerate_key(self, satellite_id: str) -> SecretStr:
        """A new pairing key for the satellite; the old one stops working at once."""
        return await self._session().async_driver.run(self._regenerate_op(satellite_id))


class _DeploymentOps(_Calls):
    def _list_op(self) -> Op[builtins.list[Deployment]]:
        found: builtins.list[Deployment] = yield from ops.rows(
            QuerySet(Deployment, self._session()), self._session())
        return found

    def _create_op(self, satellite_id: str, artifact_id: str, name: str,
                   fields: dict[str, Any]) -> Op[Deployment]:
        dep = Deployment(artifact=artifact_id, satellite=satellite_id, name=name,
                         **{k: v for k, v in fields.items() if v is not None})
        yield from ops.save(dep, self._session())
        return dep

    def _update_op(self, deployment_id: str, edits: dict[str, Any]) -> Op[Deployment]:
        edits = {k: v for k, v in edits.items() if v is not None}
        Deployment(**edits)  # checked before any request
        dep = yield from self._load_op(Deployment, deployment_id, "deployment_id")
        for k, v in edits.items():
            setattr(dep, k, v)
        yield from ops.save(dep, self._session())  # the six fields, merged
        return dep

    def _delete_op(self, deployment_id: str, wait: bool, timeout: float, force: bool
                   ) -> Op[None]:
        dep = Deployment(id=_id(deployment_id, "deployment_id"))
        yield from ops.delete_deployment(dep, self._session(), wait, timeout, force)

    def _wait_op(self, deployment_id: str, status: DeploymentStatus | str,
                 timeout: float) -> Op[Deployment]:
        target = _status(status)
        dep = yield from self._load_op(Deployment, deployment_id, "deployment_id")
        yield from ops.wait_deployment(dep, self._session(), target, timeout)
        return dep


class DeploymentResource(_DeploymentOps):
    """``client.deployments``: the official SDK's ``list`` and ``get``, plus create,
    update, delete and wait."""

    def list(self) -> builtins.list[Deployment]:
        """The orbit's deployments, newest first."""
        return self._session().driver.run(self._list_op())

    def get(self, deployment_id: str) -> Deployment | None:
        """The deployment with this id; None if absent."""
        return self._session().driver.run(self._find_op(Deployment, deployment_id,
                                                        "deployment_id"))

    def create(self, satellite_id: str, artifact_id: str, name: str, *,
               description: str | None = None,
               satellite_parameters: dict[str, Any] | None = None,
               env_variables: dict[str, str] | None = None,
               env_variables_secrets: dict[str, Any] | None = None,
               dynamic_attributes_secrets: dict[str, Any] | None = None,
               tags: builtins.list[str] | None = None) -> Deployment:
        """Deploy an artifact on a satellite (status ``pending`` until the satellite brings
        it up; secret ids are checked against the orbit's secrets first)."""
        return self._session().driver.run(self._create_op(
            satellite_id, artifact_id, name, {
                "description": description, "satellite_parameters": satellite_parameters,
                "env_variables": env_variables, "env_variables_secrets": env_variables_secrets,
                "dynamic_attributes_secrets": dynamic_attributes_secrets, "tags": tags}))

    def update(self, deployment_id: str, *, name: str | None = None,
               description: str | None = None, tags: builtins.list[str] | None = None,
               dynamic_attributes_secrets: dict[str, Any] | None = None) -> Deployment:
        """Change what the platform lets change after create (the rest kept as it is)."""
        return self._session().driver.run(self._update_op(deployment_id, {
            "name": name, "description": description, "tags": tags,
            "dynamic_attributes_secrets": dynamic_attributes_secrets}))

    def delete(self, deployment_id: str, *, wait: bool = False,
               timeout: float = DEFAULT_TIMEOUT, force: bool = False) -> None:
        """Queue the undeploy (``wait``: until the row is gone); ``force`` removes the row
        without undeploying (the container keeps running)."""
        self._session().driver.run(self._delete_op(deployment_id, wait, timeout, force))

    def wait(self, deployment_id: str, status: DeploymentStatus | str = "active", *,
             timeout: float = DEFAULT_TIMEOUT) -> Deployment:
        """Wait until the deployment has ``status`` (see ``Deployment.wait_until``)."""
        return self._session().driver.run(self._wait_op(deployment_id, status, timeout))


class AsyncDeploymentResource(_DeploymentOps):
    """``client.deployments`` on ``AsyncDataForceClient``: the same calls, awaited."""

    async def list(self) -> builtins.list[Deployment]:
        """The orbit's deployments, newest first."""
        return await self._session().async_driver.run(self._list_op())

    async def get(self, deployment_id: str) -> Deployment | None:
        """The deployment with this id; None if absent."""
        return await self._session().async_driver.run(
            self._find_op(Deployment, deployment_id, "deployment_id"))

    async def create(self, satellite_id: str, artifact_id: str, name: str, *,
                     description: str | None = None,
                     satellite_parameters: dict[str, Any] | None = None,
                     env_variables: dict[str, str] | None = None,
                     env_variables_secrets: dict[str, Any] | None = None,
                     dynamic_attributes_secrets: dict[str, Any] | None = None,
                     tags: builtins.list[str] | None = None) -> Deployment:
        """Deploy an artifact on a satellite (status ``pending`` until the satellite brings
        it up; secret ids are checked against the orbit's secrets first)."""
        return await self._session().async_driver.run(self._create_op(
            satellite_id, artifact_id, name, {
                "description": description, "satellite_parameters": satellite_parameters,
                "env_variables": env_variables, "env_variables_secrets": env_variables_secrets,
                "dynamic_attributes_secrets": dynamic_attributes_secrets, "tags": tags}))

    async def update(self, deployment_id: str, *, name: str | None = None,
                     description: str | None = None, tags: builtins.list[str] | None = None,
                     dynamic_attributes_secrets: dict[str, Any] | None = None) -> Deployment:
        """Change what the platform lets change after create (the rest kept as it is)."""
        return await self._session().async_driver.run(self._update_op(deployment_id, {
            "name": name, "description": description, "tags": tags,
            "dynamic_attributes_secrets": dynamic_attributes_secrets}))

    async def delete(self, deployment_id: str, *, wait: bool = False,
                     timeout: float = DEFAULT_TIMEOUT, force: bool = False) -> None:
        """Queue the undeploy (``wait``: until the row is gone); ``force`` removes the row
        without undeploying (the container keeps running)."""
        await self._session().async_driver.run(self._delete_op(deployment_id, wait, timeout,
                                                               force))

    async def wait(self, deployment_id: str, status: DeploymentStatus | str = "active", *,
                   timeout: float = DEFAULT_TIMEOUT) -> Deployment:
        """Wait until the deployment has ``status`` (see ``Deployment.wait_until``)."""
        return await self._session().async_driver.run(self._wait_op(deployment_id, status,
                                                                    timeout))


def resources(client: _ClientBase) -> tuple[SatelliteResource, DeploymentResource]:
    """``client.satellites`` and ``client.deployments`` of a DataForceClient."""
    return SatelliteResource(client), DeploymentResource(client)


def async_resources(client: _ClientBase
                    ) -> tuple[AsyncSatelliteResource, AsyncDeploymentResource]:
    """``client.satellites`` and ``client.deployments`` of an AsyncDataForceClient."""
    return AsyncSatelliteResource(client), AsyncDeploymentResource(client)
