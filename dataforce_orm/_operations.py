"""The package-internal operation API: what the client facade (and any other front end) may do
with models and querysets, each as an operation a session's driver runs.

A front end composes these, never the private helpers of the model, listing, or artifact
modules: the operations' names and signatures here are the contract between the rooms. Each
returns an ``Op`` (run it with ``session.driver.run(op)`` or
``await session.async_driver.run(op)``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar

from ._artifacts import Artifact, CreatedArtifact
from ._deployments import Deployment, DeploymentStatus, rollout_op
from ._deployments import Progress as DeployProgress
from ._fields import SecretStr
from ._models import BucketSecret
from ._progress import ProgressArg
from ._protocol import Op
from ._query import QuerySet, collect
from ._registry import Stage, Track, TrackEntry
from ._resource import Model
from ._satellites import Satellite
from ._session import Session

M = TypeVar("M", bound=Model)


# -- checks before any request ----------------------------------------------------------------


def check_field(model: type[Model], name: str, value: Any) -> Any:
    """``value`` as a caller may set ``model``'s field ``name`` (normalised), or the
    ValidationError naming the field and the rule."""
    return model._specs[name].check(value)


def lookup_fields(model: type[Model]) -> tuple[str, ...]:
    """The fields lookups and ``order_by`` take on ``model``."""
    return tuple(model._fields)


def noun(model: type[Model]) -> str:
    """How messages name one ``model`` object ("bucket secret")."""
    return model._noun


# -- reading ----------------------------------------------------------------------------------


def first(qs: QuerySet[M], session: Session) -> Op[M | None]:
    """The first match of ``qs``, or None."""
    return qs._first_op(session)


def get(qs: QuerySet[M], session: Session) -> Op[M]:
    """The one match of ``qs`` (DoesNotExist, MultipleObjectsReturned otherwise)."""
    return qs._get_op(session)


def rows(qs: QuerySet[M], session: Session, limit: int | None = None) -> Op[list[M]]:
    """The matches of ``qs`` (at most ``limit``), streamed page by page into a list."""
    return collect(qs._rows_op(session), limit=limit)


def get_by_id(model: type[M], session: Session, ident: str,
              parents: dict[str, str] | None = None) -> Op[M]:
    """The ``model`` object with this id (``parents``: the ids its path needs)."""
    return model._get_by_id_op(session, ident, parents)


# -- writing ----------------------------------------------------------------------------------


def save(obj: Model, session: Session, *, force: bool = False,
         update_fields: Iterable[str] | None = None) -> Op[None]:
    """``obj.save()`` (see ``Model.save()``)."""
    return obj._save_op(session, force, update_fields)


def delete(obj: Model, session: Session) -> Op[None]:
    """``obj.delete()``; DoesNotExist if it is gone."""
    return obj._delete_op(session)


def test_connection(secret: BucketSecret, session: Session) -> Op[None]:
    """``secret.test_connection()`` (see ``BucketSecret.test_connection()``)."""
    return secret._test_connection_op(session)


# -- the model registry -----------------------------------------------------------------------


def add_entry(track: Track, session: Session, artifact: Artifact | str,
              stage: Stage | str | None) -> Op[TrackEntry]:
    """``track.entries.add(artifact, stage)``."""
    return track.entries._add_op(session, artifact, stage)


def promote(entry: TrackEntry, session: Session, stage: Stage | str | None,
            force: bool) -> Op[None]:
    """``entry.promote(stage, force=force)``."""
    return entry._promote_op(session, stage, force)


def remove_entries(track: Track, session: Session, entries: Iterable[TrackEntry | str]
                   ) -> Op[None]:
    """``track.entries.remove(entries)``."""
    return track.entries._remove_op(session, entries)


def entry_in(track: Track, entry_id: str) -> TrackEntry:
    """An entry of ``track`` known by its id only (for a delete or a promotion without a
    read)."""
    return track.entries._known(entry_id)


# -- artifacts --------------------------------------------------------------------------------


def register_artifact(session: Session, collection_id: str, body: dict[str, Any]
                      ) -> Op[CreatedArtifact]:
    """Register an artifact without its file: the row (``pending_upload``) and where its
    file goes."""
    return Artifact._create_row_op(session, collection_id, body)


def upload(session: Session, collection_id: str, path: str | os.PathLike[str],
           name: str | None, description: str | None, tags: Iterable[str] | None,
           progress: ProgressArg, concurrency: int) -> Op[Artifact]:
    """Upload a ``.luml`` archive as a new artifact (see ``ArtifactManager.upload``)."""
    return Artifact._upload_op(session, collection_id, path, name, description, tags,
                               progress, concurrency)


def download(art: Artifact, session: Session, path: str | os.PathLike[str] | None,
             progress: ProgressArg = None) -> Op[Path]:
    """Download an artifact's file (checked); where it was written."""
    return art._download_op(session, path, progress)


def artifact_url(art: Artifact, session: Session, what: str) -> Op[str]:
    """A presigned URL of the artifact's file: ``what`` is ``download-url`` or
    ``delete-url``."""
    return art._url_op(session, what)


def delete_artifact(art: Artifact, session: Session, force: bool) -> Op[None]:
    """Delete an artifact and its stored file (``force``: the row only, whatever its
    status)."""
    return art._delete_op(session, force)


# -- satellites and deployments -----------------------------------------------------------------


def regenerate_key(sat: Satellite, session: Session) -> Op[SecretStr]:
    """A satellite's new pairing key (the old one stops working)."""
    return sat._regenerate_op(session)


def wait_deployment(dep: Deployment, session: Session, status: DeploymentStatus | None,
                    timeout: float, progress: DeployProgress = None) -> Op[None]:
    """Poll until the deployment has ``status`` (None: until it is gone)."""
    return dep._wait_op(session, status, timeout, progress)


def delete_deployment(dep: Deployment, session: Session, wait: bool, timeout: float,
                      force: bool, progress: DeployProgress = None) -> Op[None]:
    """Queue a deployment's undeploy (``wait``: until it is gone), or ``force`` its row away."""
    return dep._remove_op(session, wait, timeout, force, progress)


def rollout(session: Session, old: Deployment, artifact: Any, wait: bool, timeout: float,
            progress: DeployProgress = None, fields: dict[str, Any] | None = None
            ) -> Op[Deployment]:
    """Replace ``old`` with a deployment of ``artifact`` (see ``DeploymentManager.rollout``)."""
    return rollout_op(session, old, artifact, wait, timeout, progress, fields or {})
