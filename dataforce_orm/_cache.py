"""The local download cache: an artifact's file kept under its id and its declared SHA-256,
entered only once verified, served without a transfer, and written by one downloader at a
time (a lock file per entry, threads and processes alike; the file itself appears by an
atomic rename, so no reader sees it torn).

Where it lives: the session's ``cache_dir``, else ``DFS_CACHE_DIR`` (or ``LUML_CACHE_DIR``),
else ``dataforce-orm`` under the user's cache directory (``XDG_CACHE_HOME`` or
``~/.cache``; ``%LOCALAPPDATA%`` on Windows). Layout: ``artifacts/<id>/<sha256>/<name>``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ._download_target import Target, as_target, file_error, safe_name
from ._errors import DataForceError
from ._ids import path_id
from ._progress import ProgressArg
from ._protocol import Local, Op
from ._session import Session
from ._transfer import is_sha256

if TYPE_CHECKING:
    from ._artifacts import Artifact

APP = "dataforce-orm"


def cache_root(session: Session) -> Path:
    """The cache's directory for ``session`` (see the module's docstring)."""
    given = session.cache_dir or os.environ.get("DFS_CACHE_DIR") or os.environ.get(
        "LUML_CACHE_DIR")
    if given:
        return Path(given).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / APP / "cache"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / APP


def entry(session: Session, art: Artifact) -> Path | None:
    """Where the cache keeps ``art``'s file, or None if it cannot be cached (no 64-hex
    SHA-256 declared)."""
    if not is_sha256(art.file_hash):
        return None
    ident = path_id(art.pk, "artifact")
    name = safe_name(art.file_name) or f"{ident}.luml"
    return cache_root(session) / "artifacts" / ident / str(art.file_hash).lower() / name


class _Lock:
    """An exclusive lock on ``<dir>/.lock``, held from ``acquire()`` to ``release()``
    (blocking; between processes and between threads, each holding its own open file)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / ".lock"
        self._file: IO[bytes] | None = None

    def acquire(self) -> _Lock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            f = open(self.path, "a+b")  # noqa: SIM115 (held until release)
        except OSError as exc:
            raise file_error(exc, self.path) from None
        try:
            if sys.platform == "win32":
                import msvcrt

                f.seek(0)
                while True:
                    try:
                        msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)
                        break
                    except OSError:  # LK_LOCK gives up after ten seconds: try again
                        continue
            else:
                import fcntl

                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        except BaseException:
            f.close()
            raise
        self._file = f
        return self

    def release(self) -> None:
        f, self._file = self._file, None
        if f is None:
            return
        try:
            if sys.platform == "win32":
                import msvcrt

                f.seek(0)
                msvcrt.locking(f.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        finally:
            f.close()


def _whole(path: Path, size: int) -> bool:
    try:
        return path.is_file() and path.stat().st_size == size
    except OSError:
        return False


def place(cached: Path, target: Path) -> Path:
    """Put the cached file at ``target``: a hard link where the file system allows, else a
    copy (written beside it and renamed, so ``target`` is never half there)."""
    if target.exists() and os.path.samefile(cached, target):
        return target
    tmp = target.with_name(target.name + ".part")
    try:
        tmp.unlink(missing_ok=True)
        try:
            os.link(cached, tmp)
        except OSError:
            shutil.copyfile(cached, tmp)
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise file_error(exc, target) from None
    return target


def download_op(art: Artifact, session: Session, where: Target, progress: ProgressArg,
                verify: bool, cache: bool | None, force: bool, concurrency: int) -> Op[Path]:
    """A download through the cache when ``cache`` (else the session's ``cache``) is on and
    the artifact declares a SHA-256; otherwise the plain download."""
    use = session.cache if cache is None else cache
    cached = entry(session, art) if use else None
    if cached is None:
        return (yield from art._download_op(session, where, progress, verify, concurrency))
    if not verify:
        raise DataForceError("download(cache=True) keeps only verified files: drop "
                             "verify=False or the cache")
    explicit = any(v is not None for v in (where.given, where.directory, where.path))
    target = as_target(where).resolve(art.file_name, str(art.pk)) if explicit else None
    lock = _Lock(cached.parent)
    yield Local(lock.acquire)  # (blocking: in a thread under the async driver)
    try:
        if force or not (yield Local(lambda: _whole(cached, art.size))):
            yield from art._download_op(session, Target(path=cached), progress, True,
                                          concurrency)
    finally:
        lock.release()
    if target is None:
        return cached
    placed: Path = yield Local(lambda: place(cached, target))
    return placed

