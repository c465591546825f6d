"""Artifacts: the models, datasets and experiments inside collections, with their files.

``Artifact`` is declared on the resource layer like every model (its PATCH is partial; it
lists orbit-wide with ``collection_ids``); the upload, download and delete flows are
operations here, written once: API and storage requests alike go through the retry engine
(storage steps by ``_transfer.transfer_op``), the storage protocol of an upload is planned by
``_uploads``, and what a lost create or status change did is settled by ``_outcomes``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

import attrs

from . import _bulk as bulk
from . import _cache as cached
from . import _errors as errors
from ._archive_reader import archive_body
from ._bulk import ArtifactObjectsDescriptor
from ._capabilities import CursorPages
from ._create_only import ARTIFACT_CREATE_ONLY, CreateOnly
from ._download_target import Target, as_target, file_error
from ._errors import DataForceError, ValidationError
from ._fields import WireEnum, check_str, check_tags, field
from ._metrics import check_metrics
from ._outcomes import create_artifact_op, patch_status_op
from ._pack import apacked, packed
from ._progress import ProgressArg, progress_for
from ._protocol import Local, Op, Request
from ._query import QuerySet
from ._resource import MODELS, Model, load_one, wire_error
from ._satellites import deployed_check_op
from ._session import Session, current_session
from ._transfer import (
    CONCURRENCY,
    Call,
    Fetch,
    Open,
    check_concurrency,
    is_sha256,
    transfer_op,
)
from ._uploads import send_file_op

if TYPE_CHECKING:
    from ._models import Collection
    from ._registry import Track, TrackEntry


class ArtifactType(WireEnum):
    """What an artifact is (decided by the server from its manifest)."""

    MODEL = "model"
    DATASET = "dataset"
    EXPERIMENT = "experiment"


class ArtifactStatus(WireEnum):
    """Where an artifact is in its upload/delete lifecycle."""

    PENDING_UPLOAD = "pending_upload"
    UPLOADED = "uploaded"
    UPLOAD_FAILED = "upload_failed"
    PENDING_DELETION = "pending_deletion"
    DELETION_FAILED = "deletion_failed"


@attrs.define(slots=True, eq=False, repr=False)
class Artifact(CreateOnly, CursorPages, Model):
    """A model, dataset or experiment stored in a collection, with its file.

    Made by ``collection.artifacts.upload(path)``; ``save()`` after changing ``name``,
    ``description`` or ``tags`` sends only those; ``download()``, ``open()``, ``delete()``.
    """

    _path = "/v1/organizations/{organization}/orbits/{orbit}/collections/{collection}/artifacts"
    _list_path = "/v1/organizations/{organization}/orbits/{orbit}/artifacts"
    _default_order = ("-created_at",)
    _aliases: ClassVar[dict[str, str]] = {"collection": "collection_id"}
    _parent_fields: ClassVar[dict[str, str]] = {"collection": "collection_id"}
    _metrics = "extra_values"  # order_by("-extra_values__<key>") sorts by a metric
    _create_only = ARTIFACT_CREATE_ONLY
    objects = ArtifactObjectsDescriptor()  # Artifact.objects, with bulk_download()

    id: str | None = field("id", doc="The artifact's id (a UUID).")
    collection_id: str | None = field("id", checked=False, server_filter="collection_ids",
                                      doc="The id of the collection holding the artifact.")
    name: str = field("str", default="", editable=True, search=True, sort="name",
                      doc="The artifact's name (defaults to its file name on upload).")
    description: str | None = field("str", editable=True, nullable=True, sort="description",
                                    doc="What the artifact is, in words.")
    tags: list[str] | None = field("tags", editable=True, max_items=None, max_len=None,
                                   doc="Labels for finding the artifact.")
    type: ArtifactType | None = field(
        "enum", enum=ArtifactType, sort="type", server_filter="types",
        doc="Model, dataset or experiment (the platform reads it from the file's manifest).")
    status: ArtifactStatus | None = field(
        "enum", enum=ArtifactStatus, sort="status",
        doc="Where the artifact is in its upload or delete lifecycle.")
    file_name: str = field("str", default="", doc="The name of the artifact's file.")
    size: int = field("num", default=0, sort="size", doc="The file's size in bytes.")
    file_hash: str | None = field("str", shown=False, doc="The SHA-256 of the file, in hex.")
    bucket_location: str | None = field("str", shown=False,
                                        doc="Where the file is stored in the orbit's bucket.")
    unique_identifier: str | None = field("str", shown=False,
                                          doc="The platform's unique key for the stored file.")
    created_by_user: str | None = field("str", shown=False, doc="Who uploaded the artifact.")
    created_at: datetime | None = field("time", sort="created_at",
                                        doc="When the artifact was created (UTC).")
    updated_at: datetime | None = field("time", doc="When the artifact was last changed (UTC).")
    extra_values: dict[str, Any] = field(
        "json", factory=dict, shown=False,
        doc="The artifact's metrics and other values from its manifest (order_by sorts by a key).")
    manifest: dict[str, Any] = field(
        "json", factory=dict, shown=False,
        doc="The file's manifest: what the artifact is and what it holds.")
    file_index: dict[str, list[int]] = field(
        "json", factory=dict, shown=False,
        doc="Where each file inside the archive lies: name to [offset, length].")
    # listed: the active deployments and the collection's name; details (get by id): every
    # deployment, the tracks holding it, and the collection
    deployments: list[dict[str, Any]] | None = field(
        "json", shown=False,
        doc="Its deployments (the active ones when listed; every one by a get by id).")
    collection_name: str | None = field(
        "json", shown=False, doc="The name of the collection holding it (filled in listings).")
    tracks: list[dict[str, Any]] | None = field(
        "json", shown=False, doc="The registry tracks holding it (filled by a get by id).")
    collection_data: dict[str, Any] | None = field(
        "json", wire="collection", shown=False,
        doc="The collection holding it, as the server sent it (filled by a get by id).")

    @property
    def collection(self) -> Collection:
        """The collection holding it (from the details when loaded by id, else one GET)."""
        model = cast("type[Collection]", MODELS["Collection"])
        session = self._session_for(None)
        if self.collection_data is not None:
            return model._load(self.collection_data, session)
        return model.objects.using(session).get(id=self.collection_id)

    @property
    def track_entries(self) -> list[TrackEntry]:
        """The track entries (versions) registering this artifact. There is no route by
        artifact: it lists the orbit's tracks of its type and the entries of each (one walk
        per track)."""
        session = self._session_for(None)
        return session.driver.run(_tracks()._entries_of_op(session, self))

    async def atrack_entries(self) -> list[TrackEntry]:
        """Async ``track_entries``."""
        session = self._session_for(None)
        return await session.async_driver.run(_tracks()._entries_of_op(session, self))

    # -- upload (a class-level operation: the object is made by the create) -------------------

    @classmethod
    def _upload_op(cls, session: Session, collection_id: str, path: str | os.PathLike[str],
                   name: str | None, description: str | None, tags: Iterable[str] | None,
                   progress: ProgressArg, concurrency: int,
                   extra_values: Mapping[str, Any] | None = None) -> Op[Artifact]:
        if name is not None:
            check_str("name", name)
        if description is not None:
            check_str("description", description)
        tag_list = check_tags(tags, max_items=None, max_len=None)
        check_concurrency(concurrency)
        given = check_metrics(extra_values) if extra_values is not None else {}
        source = os.fspath(path)
        info: dict[str, Any] = yield Local(lambda: archive_body(source))
        body = {**info, "extra_values": {**info["extra_values"], **given},
                "name": info["file_name"] if name is None else name,
                "description": description, "tags": tag_list}
        made = yield from create_artifact_op(cls, session, collection_id, body)
        art, details = made.artifact, made.upload_details
        meter = progress_for(progress, int(info["size"]), f"upload {info['file_name']}",
                             session.progress_bars)
        try:
            yield from send_file_op(details, source, int(info["size"]), meter, concurrency)
            yield from patch_status_op(art, session, ArtifactStatus.UPLOADED)
        except GeneratorExit:
            raise
        except BaseException:
            if art.status is not ArtifactStatus.UPLOADED:
                with contextlib.suppress(DataForceError):  # the upload's own error is reported
                    yield from patch_status_op(art, session, ArtifactStatus.UPLOAD_FAILED)
            raise
        return art

    @classmethod
    def _create_row_op(cls, session: Session, collection_id: str, body: dict[str, Any],
                       recover: Callable[[], Op[Any]] | None = None) -> Op[CreatedArtifact]:
        """POST the artifact: the row (``pending_upload``) and where to send its file."""
        base = yield from cls._path_op(session, {"collection": collection_id})
        req = Request("POST", base, json=body, recover=recover)
        answer = (yield req).data
        if not isinstance(answer, dict) or not isinstance(answer.get("upload_details"), dict):
            raise wire_error(req, "expected {'artifact': ..., 'upload_details': ...}")
        art = load_one(cls, req, answer.get("artifact"), session)
        return CreatedArtifact(art, answer["upload_details"])

    # -- download, open, delete ----------------------------------------------------------------

    def _url_op(self, session: Session, what: str) -> Op[str]:
        self._require_saved()
        path = yield from self._own_path_op(session)
        req = Request("GET", f"{path}/{what}")
        data = yield from self._get_data_op(req, self.pk)
        if not isinstance(data.get("url"), str):
            raise wire_error(req, "expected {'url': ...}")
        return str(data["url"])

    def _download_op(self, session: Session, path: Target | str | os.PathLike[str] | None,
                     progress: ProgressArg, verify: bool = True,
                     concurrency: int = CONCURRENCY) -> Op[Path]:
        target = as_target(path).resolve(self.file_name, str(self.pk))
        url = yield from self._url_op(session, "download-url")
        meter = progress_for(progress, self.size, f"download {target.name}",
                             session.progress_bars)
        sha = self.file_hash if verify and is_sha256(self.file_hash) else None
        try:
            done = yield from transfer_op(Fetch(url, str(target), self.size or None, sha,
                                                session.ranged_download_above, concurrency),
                                          meter)
        except OSError as exc:
            raise file_error(exc, target) from None
        return Path(done)

    def _open_op(self, session: Session) -> Op[Any]:
        url = yield from self._url_op(session, "download-url")
        return (yield from transfer_op(Open(url)))

    def _delete_op(self, session: Session, force: bool = False,
                   force_deployments: bool = False) -> Op[None]:
        try:
            yield from self._delete_steps_op(session, force, force_deployments)
        except errors.ConflictError as exc:
            if "tracks" in exc.detail:  # say which entries block it (see _registry)
                yield from _tracks()._blocked_delete_op(session, self, exc)
            raise

    def _delete_steps_op(self, session: Session, force: bool,
                         force_deployments: bool) -> Op[None]:
        self._require_saved()
        path = yield from self._own_path_op(session)
        if force and not force_deployments:
            yield from deployed_check_op(session, str(self.pk), True, "DELETE", f"{path}/force")
        if not force:
            try:
                url = yield from self._url_op(session, "delete-url")  # now pending_deletion
            except errors.ConflictError as exc:
                if "deployments" in exc.detail:
                    yield from deployed_check_op(session, str(self.pk), False, exc.method,
                                                 exc.url)
                raise
            try:
                yield from transfer_op(Call("DELETE", url))
            except errors.NotFoundError:
                pass  # nothing stored under it: nothing to delete
            except DataForceError:
                yield from patch_status_op(self, session, ArtifactStatus.DELETION_FAILED)
                raise
        try:
            yield Request("DELETE", f"{path}/force" if force else path)
        except errors.NotFoundError as exc:
            if exc.attempts <= 1:  # a 404 after an ambiguous first try means it was deleted
                raise self.DoesNotExist(f"no artifact with id {self.pk!r}") from None
        object.__setattr__(self, "id", None)
        object.__setattr__(self, "_snapshot", None)

    def _require_saved(self) -> None:
        if self.pk is None or self.collection_id is None:
            raise ValidationError("id", "the artifact is not saved (upload it first)")

    # -- public methods ------------------------------------------------------------------------

    def download(self, target: str | os.PathLike[str] | None = None, /, *,
                 directory: str | os.PathLike[str] | None = None,
                 path: str | os.PathLike[str] | None = None,
                 progress: ProgressArg = None, verify: bool = True,
                 cache: bool | None = None, force: bool = False,
                 concurrency: int = CONCURRENCY, using: Session | None = None) -> Path:
        """Stream the file and return where it was written: into ``directory`` under its
        stored name (the directory made with its parents), to the file ``path`` (its
        directory must exist), or to ``target`` (an existing directory or text ending in a
        separator is a directory, anything else the file's path; default: the current
        directory).

        The stored name never escapes the directory; the size and (unless ``verify=False``)
        the SHA-256 are checked (IntegrityError, nothing kept); a broken transfer resumes with
        a range request; a file-system error is a DataForceError naming the path.
        ``progress``: None or True for a bar on a terminal (see the session's
        ``progress_bars``), False for none, or a callable taking (bytes done, total), or a
        list of them. ``cache=True`` (default: the session's ``cache``) keeps the verified
        file in the local cache and serves it from there without a transfer (with a target,
        hard-linked or copied there; else the cached path is returned); ``force=True``
        transfers it again. An artifact without a SHA-256 is never served from the cache.
        A file above the session's ``ranged_download_above`` comes in ranges, ``concurrency``
        at once (each retried and resumed alone).

        Args:
            target: A directory or a file path, by the rule above (default: the current
                directory).
            directory: A directory to put the file in under its stored name.
            path: The file's own path.
            progress: None/True for a bar on a terminal, False for none, or callables
                taking (bytes done, total).
            verify: Check the SHA-256 of the bytes written.
            cache: Go through the local cache (default: the session's ``cache``).
            force: Transfer again even when the cache holds the file.
            concurrency: How many ranges of a ranged download are fetched at once (1: one
                stream).
            using: The session to send it on.
        """
        check_concurrency(concurrency)
        session = self._session_for(using)
        where = Target(target, directory, path)
        return session.driver.run(cached.download_op(self, session, where, progress, verify,
                                                     cache, force, concurrency))

    async def adownload(self, target: str | os.PathLike[str] | None = None, /, *,
                        directory: str | os.PathLike[str] | None = None,
                        path: str | os.PathLike[str] | None = None,
                        progress: ProgressArg = None, verify: bool = True,
                        cache: bool | None = None, force: bool = False,
                        concurrency: int = CONCURRENCY, using: Session | None = None) -> Path:
        """Async ``download()`` (file writes and hashing run in threads)."""
        check_concurrency(concurrency)
        session = self._session_for(using)
        where = Target(target, directory, path)
        return await session.async_driver.run(cached.download_op(
            self, session, where, progress, verify, cache, force, concurrency))

    def open(self, *, using: Session | None = None) -> Any:
        """The file as a readable binary stream (a context manager), without writing it.

        Args:
            using: The session to send it on.
        """
        session = self._session_for(using)
        return session.driver.run(self._open_op(session))

    async def aopen(self, *, using: Session | None = None) -> Any:
        """Async ``open()``: ``async with await a.aopen() as f: await f.read()``."""
        session = self._session_for(using)
        return await session.async_driver.run(self._open_op(session))

    def delete(self, *, force: bool = False, force_deployments: bool = False,
               using: Session | None = None) -> None:
        """Delete the artifact and its stored file (delete URL, storage DELETE, confirm);
        ``force=True`` removes the row whatever its status (the stored file is left).

        ConflictError when it is used in deployments (naming them) or tracks; ``force=True``
        of a deployed artifact also needs ``force_deployments=True``, since the platform then
        drops its deployments without undeploying (their containers keep running). If
        storage refuses, the artifact is marked ``deletion_failed`` and the error raised.
        """
        session = self._session_for(using)
        session.driver.run(self._delete_op(session, force, force_deployments))

    async def adelete(self, *, force: bool = False, force_deployments: bool = False,
                      using: Session | None = None) -> None:
        """Async ``delete()``."""
        session = self._session_for(using)
        await session.async_driver.run(self._delete_op(session, force, force_deployments))


def _tracks() -> type[Track]:
    """The Track model (``_registry`` declares it; it imports this module)."""
    return cast("type[Track]", MODELS["Track"])


@attrs.frozen
class CreatedArtifact:
    """A registered artifact and where its file goes (``upload_details`` as the server sent
    it: ``type``, ``url``, ``multipart``, ``bucket_location``, ``bucket_secret_id``)."""

    artifact: Artifact
    upload_details: dict[str, Any]


class ArtifactManager(QuerySet[Artifact]):
    """``collection.artifacts``: the artifacts of one collection, and ``upload()``.

    Attributes:
        collection_id: The id of the collection whose artifacts these are.
    """

    def __init__(self, collection: Collection) -> None:
        if collection.pk is None:
            raise ValidationError("collection", "is not saved; save() it before its artifacts")
        self.collection_id: str = collection.pk
        session = collection._session
        base = QuerySet(Artifact, session).filter(collection_id=collection.pk)
        super().__init__(Artifact, session, base._where)

    def _session_for(self) -> Session:
        return self._session or current_session()

    def upload(self, path: str | os.PathLike[str], name: str | None = None,
               description: str | None = None, tags: Iterable[str] | None = None, *,
               progress: ProgressArg = None, concurrency: int = CONCURRENCY,
               extra_values: Mapping[str, Any] | None = None, type: str | None = None
               ) -> Artifact:
        """Upload a ``.luml`` archive as a new artifact of this collection; returns it in
        status ``uploaded``.

        Up to the server's threshold one PUT, beyond it parts of the server's size
        (``concurrency`` at once, each retried alone), streamed from the file. A file that is
        not a ``.luml`` archive is a ValidationError before any request; on a failure the
        artifact is marked ``upload_failed``. ``extra_values``: metrics merged over the ones
        the archive holds (these win), set at create (the platform cannot change them after).
        ``type`` (``"model"``, ``"dataset"``, ``"experiment"``): a file or directory that is
        not an archive is packed first (``dataforce_orm.pack()``, into a temporary file).

        Args:
            path: The ``.luml`` archive to upload (with ``type``: any file or directory).
            name: The artifact's name (default: the file's name).
            description: What the artifact is, in words.
            tags: Labels for finding it.
            progress: None/True for a bar on a terminal, False for none, or callables
                taking (bytes done, total).
            concurrency: How many parts of a multipart upload are sent at once.
            extra_values: Metrics set at create, merged over the archive's.
            type: Pack a non-archive first as this type of artifact.
        """
        session = self._session_for()
        with packed(path, type, name) as (source, name):
            return session.driver.run(Artifact._upload_op(
                session, self.collection_id, source, name, description, tags, progress,
                concurrency, extra_values))

    async def aupload(self, path: str | os.PathLike[str], name: str | None = None,
                      description: str | None = None, tags: Iterable[str] | None = None, *,
                      progress: ProgressArg = None, concurrency: int = CONCURRENCY,
                      extra_values: Mapping[str, Any] | None = None,
                      type: str | None = None) -> Artifact:
        """Async ``upload()`` (packing, reading and hashing the file run in threads)."""
        session = self._session_for()
        async with apacked(path, type, name) as (source, name):
            return await session.async_driver.run(Artifact._upload_op(
                session, self.collection_id, source, name, description, tags, progress,
                concurrency, extra_values))

    def bulk_upload(self, paths: Iterable[str | os.PathLike[str]],
                    concurrency: int = CONCURRENCY, *, progress: ProgressArg = None, **options: Any
                    ) -> list[Artifact | DataForceError]:
        """Upload each path (``options`` as ``upload()`` takes them: ``type``, ``tags``,
        ``extra_values``, ...), ``concurrency`` at a time, under one progress bar; each slot
        holds the artifact, or the library error that item raised (one failure does not
        stop the rest)."""
        return bulk.bulk_upload(self, paths, concurrency, progress, options)

    async def abulk_upload(self, paths: Iterable[str | os.PathLike[str]],
                           concurrency: int = CONCURRENCY, *, progress: ProgressArg = None,
                           **options: Any) -> list[Artifact | DataForceError]:
        """Async ``bulk_upload()`` (tasks on the running loop)."""
        return await bulk.abulk_upload(self, paths, concurrency, progress, options)


