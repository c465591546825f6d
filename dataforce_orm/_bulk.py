"""Many artifacts at once: ``bulk_upload`` of paths into a collection and ``bulk_download``
of artifacts into a directory, ``concurrency`` items at a time (threads, or tasks in the
async twins), each slot holding its result or the library error that item raised, under one
progress bar. Memory is bounded by the items in flight (each transfer streams), and the
session's cap on storage connections holds whatever the mix of items and parts."""

from __future__ import annotations

import asyncio
import contextvars
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import DataForceError
from ._progress import Progress, ProgressArg, progress_for
from ._query import Manager
from ._session import Session
from ._transfer import CONCURRENCY, check_concurrency

if TYPE_CHECKING:
    from ._artifacts import Artifact, ArtifactManager

T = TypeVar("T")
Source = str | os.PathLike[str]


def _size(path: Source) -> int:
    """What a source weighs (a directory: its files), for the one bar; 0 if unreadable."""
    try:
        p = Path(path)
        if p.is_dir():
            return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        return p.stat().st_size
    except OSError:
        return 0


def _shared(progress: ProgressArg, total: int, count: int, what: str,
            session: Session) -> Progress | bool:
    """One Progress for every item (False: none)."""
    shared = progress_for(progress, total, f"{what} {count} files", session.progress_bars)
    return False if shared is None else shared


def _threads(fn: Callable[[T], Any], items: list[T], concurrency: int) -> list[Any]:
    """``fn(item)`` for each item, ``concurrency`` at a time, in order; a DataForceError is
    the item's result (another exception stops the rest and is raised)."""
    def one(item: T, ctx: contextvars.Context) -> Any:
        try:
            return ctx.run(fn, item)  # the caller's current session and scope
        except DataForceError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(concurrency, max(1, len(items)))) as pool:
        futures = [pool.submit(one, item, contextvars.copy_context()) for item in items]
        try:
            return [f.result() for f in futures]
        finally:
            for f in futures:
                f.cancel()


async def _tasks(fn: Callable[[T], Any], items: list[T], concurrency: int) -> list[Any]:
    gate = asyncio.Semaphore(concurrency)

    async def one(item: T) -> Any:
        async with gate:
            try:
                return await fn(item)
            except DataForceError as exc:
                return exc

    return list(await asyncio.gather(*(one(i) for i in items)))


def _close(shared: Progress | bool) -> None:
    if isinstance(shared, Progress):
        shared.close()


def bulk_upload(manager: ArtifactManager, paths: Iterable[Source], concurrency: int,
                progress: ProgressArg, options: dict[str, Any]) -> list[Artifact | DataForceError]:
    """``manager.upload(path, **options)`` for each path, ``concurrency`` at a time."""
    check_concurrency(concurrency)
    items = list(paths)
    session = manager._session_for()
    shared = _shared(progress, sum(map(_size, items)), len(items), "upload", session)
    try:
        return _threads(lambda p: manager.upload(p, progress=shared, **options), items,
                        concurrency)
    finally:
        _close(shared)


async def abulk_upload(manager: ArtifactManager, paths: Iterable[Source], concurrency: int,
                       progress: ProgressArg, options: dict[str, Any]
                       ) -> list[Artifact | DataForceError]:
    """Async ``bulk_upload()``."""
    check_concurrency(concurrency)
    items = list(paths)
    session = manager._session_for()
    total = sum(await asyncio.to_thread(lambda: list(map(_size, items))))
    shared = _shared(progress, total, len(items), "upload", session)
    try:
        return await _tasks(lambda p: manager.aupload(p, progress=shared, **options), items,
                            concurrency)
    finally:
        _close(shared)


class ArtifactObjects(Manager["Artifact"]):
    """``Artifact.objects``: every artifact query, and ``bulk_download()``."""

    def bulk_download(self, artifacts: Iterable[Artifact], directory: Source,
                      concurrency: int = CONCURRENCY, *, progress: ProgressArg = None,
                      verify: bool = True, cache: bool | None = None
                      ) -> list[Path | DataForceError]:
        """Download each artifact into ``directory`` (made with its parents) under its
        stored name, ``concurrency`` at a time, under one progress bar; each slot holds the
        file's path, or the library error that item raised (one failure does not stop the
        rest). Two artifacts with the same stored name would write the same file: pass
        them to separate directories."""
        check_concurrency(concurrency)
        items = list(artifacts)
        session = self._session_for()
        shared = _shared(progress, sum(a.size for a in items), len(items), "download",
                         session)
        try:
            return _threads(lambda a: a.download(directory=directory, progress=shared,
                                                 verify=verify, cache=cache, using=session),
                            items, concurrency)
        finally:
            _close(shared)

    async def abulk_download(self, artifacts: Iterable[Artifact], directory: Source,
                             concurrency: int = CONCURRENCY, *, progress: ProgressArg = None,
                             verify: bool = True, cache: bool | None = None
                             ) -> list[Path | DataForceError]:
        """Async ``bulk_download()``."""
        check_concurrency(concurrency)
        items = list(artifacts)
        session = self._session_for()
        shared = _shared(progress, sum(a.size for a in items), len(items), "download",
                         session)
        try:
            return await _tasks(lambda a: a.adownload(directory=directory, progress=shared,
                                                      verify=verify, cache=cache,
                                                      using=session), items, concurrency)
        finally:
            _close(shared)


class ArtifactObjectsDescriptor:
    """Gives ``Artifact`` (not its instances) a fresh ``ArtifactObjects``."""

    def __get__(self, instance: object, owner: type[Artifact]) -> ArtifactObjects:
        if instance is not None:
            raise AttributeError("Manager isn't accessible via model instances")
        return ArtifactObjects(owner)
