"""Packing what a user has (a file, several files, a directory) into a ``.luml`` archive the
platform and its official SDK read as their own: a plain tar with ``manifest.json``, the
metadata entries (``meta.json``) and the files, written as a stream.

A model is an FNNX package, as the official tools make one: the FNNX manifest (``variant``,
producer fields, ``inputs``, ``outputs``, ``dynamic_attributes``, ``env_vars``) and the FNNX
files (``dtypes.json``, ``env.json``, ``meta.json``, ``ops.json``, ``variant_config.json``), by
which the platform types it. A dataset or an experiment has the platform's manifest
(``artifact_type``, ``variant``, producer fields, ``payload``): a dataset of CSV or Parquet
files is a ``tabular`` dataset whose payload lists its files (the official SDK's dataset reader
takes it); an experiment's payload names it (``local_experiment_id``). Metrics are a registry-
metrics entry of ``meta.json`` (what the platform turns into ``extra_values``); free
``metadata`` is an entry of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._archive_reader import REGISTRY_METRICS_TAG
from ._errors import DataForceError, ValidationError
from ._metrics import check_metrics
from ._version import __version__

PRODUCER = "dataforce-orm"
METADATA_TAG = f"{PRODUCER}::metadata:v1"
TYPES = ("model", "dataset", "experiment")
# members the format gives a meaning to: a source file may not take these names
# an FNNX model's files besides manifest.json and meta.json (the platform types a model by them)
FNNX_FILES: dict[str, Any] = {"dtypes.json": {}, "env.json": {}, "ops.json": [],
                              "variant_config.json": {}}
_FNNX_MANIFEST: dict[str, list[Any]] = {"inputs": [], "outputs": [], "dynamic_attributes": [],
                                        "env_vars": []}
# members the format gives a meaning to: a source file may not take these names
_RESERVED = re.compile(r"^(manifest\.json|meta(-[^/]+)?\.json|manifest-[^/]+\.patch\.json|"
                       + "|".join(map(re.escape, FNNX_FILES)) + ")$")

Source = str | os.PathLike[str]
Member = tuple[str, bytes | Path]  # a member's name and its bytes or the file to stream


def _files(source: Source | Iterable[Source]) -> list[tuple[str, Path]]:
    """The member names and files of a source: a file (its name), a directory (its files by
    their path inside it), or several files (their names)."""
    if isinstance(source, (str, os.PathLike)):
        root = Path(source)
        if root.is_dir():
            found = sorted(p for p in root.rglob("*") if p.is_file())
            if not found:
                raise ValidationError("source", f"the directory {str(root)!r} holds no file")
            return [(p.relative_to(root).as_posix(), p) for p in found]
        sources: list[Path] = [root]
    else:
        sources = [Path(s) for s in source]
        if not sources:
            raise ValidationError("source", "no file given")
    out: list[tuple[str, Path]] = []
    for path in sources:
        if not path.is_file():
            raise ValidationError("source", f"no such file: {str(path)!r}")
        out.append((path.name, path))
    names = [n for n, _ in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValidationError("source", f"two files named {twice[0]!r}: an archive holds one "
                                        "member by each name (pack their directory instead)")
    return out


def _payload(type: str, name: str | None, names: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """The manifest's variant and payload for a type, as the official SDK's readers take them."""
    if type == "dataset":
        formats = {Path(n).suffix.lower().lstrip(".") for n in names}
        if len(formats) == 1 and formats <= {"csv", "parquet"}:
            fmt = formats.pop()
            split = {"file_format": fmt, "num_rows": -1, "num_chunks": len(names),
                     "chunk_files": list(names)}
            return "tabular", {"subsets": {"default": {"splits": {"train": split}}},
                               "total_rows": 0, "file_format": fmt}
        return "default", {"files": list(names)}
    if type == "experiment":
        return "default", {"local_experiment_id": name or Path(names[0]).stem,
                           "status": None, "group": None, "tags": []}
    return "default", {"files": list(names)}


def _entry(entry_id: str, tag: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"id": entry_id, "producer": PRODUCER, "producer_version": __version__,
            "producer_tags": [tag], "payload": payload}


def pack(source: Source | Iterable[Source], target: Source, *, type: str,
         name: str | None = None, extra_values: Mapping[str, Any] | None = None,
         metadata: Mapping[str, Any] | None = None) -> Path:
    """Pack ``source`` (a file, a list of files, or a directory) into a ``.luml`` archive at
    ``target`` and return its path.

    ``type``: ``"model"``, ``"dataset"`` or ``"experiment"``; ``name``: the manifest's name
    (default: the source's name); ``extra_values``: metrics (numbers, text), which the
    platform shows and sorts by; ``metadata``: any JSON-able mapping kept in the archive.
    Files are streamed (never read whole); a directory's files keep their relative paths.
    Nothing is left at ``target`` when packing fails.
    """
    kind = str(getattr(type, "value", type))
    if kind not in TYPES:
        raise ValidationError("type", f"must be one of {', '.join(TYPES)}; got {type!r}")
    if name is not None and not isinstance(name, str):
        raise ValidationError("name", "must be text")
    metrics = check_metrics(extra_values) if extra_values is not None else None
    meta_values = check_metrics(metadata, "metadata") if metadata is not None else None
    files = _files(source)
    for member, _ in files:
        if _RESERVED.match(member):
            raise ValidationError("source", f"a file named {member!r} would take a name the "
                                            "archive format reserves; rename it")
    if name is None:
        name = Path(os.fspath(source)).name if isinstance(source, (str, os.PathLike)) \
            else files[0][0]
    variant, payload = _payload(kind, name, [m for m, _ in files])
    manifest: dict[str, Any] = {
        "variant": variant, "name": name, "description": None, "version": "1",
        "producer_name": PRODUCER, "producer_version": __version__,
        "producer_tags": [f"{PRODUCER}::{kind}:v1"]}
    extra: list[Member] = []
    if kind == "model":  # an FNNX model, as the official tools package one
        manifest.update(_FNNX_MANIFEST)
        extra = [(n, _json(v)) for n, v in FNNX_FILES.items()]
    else:
        manifest.update(artifact_type=kind, payload=payload)
    if variant == "tabular":
        manifest["producer_tags"].append("luml.ai::dataset:v1")
    meta: list[dict[str, Any]] = []
    if metrics is not None:
        meta.append(_entry("registry_metrics", REGISTRY_METRICS_TAG, {"metrics": metrics}))
    if meta_values is not None:
        meta.append(_entry("metadata", METADATA_TAG, meta_values))
    return write_archive(target, manifest, meta if meta or kind == "model" else None,
                         [*extra, *files])


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2).encode()


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    return info


def write_archive(target: Source, manifest: Mapping[str, Any],
                  meta: list[dict[str, Any]] | None, members: Iterable[Member]) -> Path:
    """Write the tar: ``manifest.json``, ``meta.json`` (when ``meta`` is given), then the
    members in order, each file streamed. Written beside ``target`` and renamed when whole;
    a file-system error is a DataForceError naming the path."""
    out = Path(target)
    if not out.parent.is_dir():
        raise DataForceError(f"cannot write the archive {str(out)!r}: no such directory "
                             f"{str(out.parent)!r}")
    tmp = out.with_name(out.name + ".part")
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(_info("manifest.json", len(body := _json(manifest))), io.BytesIO(body))
            if meta is not None:
                tar.addfile(_info("meta.json", len(body := _json(meta))), io.BytesIO(body))
            for name, content in members:
                if isinstance(content, bytes):
                    tar.addfile(_info(name, len(content)), io.BytesIO(content))
                    continue
                with open(content, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    tar.addfile(_info(name, size), f)  # copied in chunks
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        where = exc.filename or str(out)
        raise DataForceError(f"cannot pack into {str(out)!r}: {where}: "
                             f"{exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out


def is_archive(path: Source) -> bool:
    """Whether ``path`` is a tar holding ``manifest.json`` (a ``.luml`` archive)."""
    p = Path(path)
    if not p.is_file() or not tarfile.is_tarfile(p):
        return False
    try:
        with tarfile.open(p, "r:*") as tar:
            return any(m.name == "manifest.json" for m in tar)
    except (tarfile.TarError, OSError):
        return False


def _prepare(path: Source, type: str | None, name: str | None
             ) -> tuple[str, str | None, str | None]:
    """The archive to send, the artifact's name, and the temporary directory to remove."""
    if type is None or is_archive(path):
        return os.fspath(path), name, None
    label = Path(path).name or "artifact"
    work = tempfile.mkdtemp(prefix="dataforce-pack-")
    try:
        archive = pack(path, Path(work) / f"{label}.luml", type=type,
                       name=name if name is not None else label)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return str(archive), name if name is not None else label, work


@contextlib.contextmanager
def packed(path: Source, type: str | None, name: str | None
           ) -> Iterator[tuple[str, str | None]]:
    """For an upload: the archive to send and the artifact's name. With ``type`` given, a
    file or directory that is not yet an archive is packed into a temporary file (always
    removed); otherwise ``path`` is sent as it is."""
    source, name, work = _prepare(path, type, name)
    try:
        yield source, name
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


@contextlib.asynccontextmanager
async def apacked(path: Source, type: str | None, name: str | None
                  ) -> AsyncIterator[tuple[str, str | None]]:
    """Async ``packed()`` (the packing runs in a thread)."""
    source, name, work = await asyncio.to_thread(_prepare, path, type, name)
    try:
        yield source, name
    finally:
        if work is not None:
            await asyncio.to_thread(shutil.rmtree, work, True)
