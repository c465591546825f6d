"""Small valid ``.luml`` archives, and the create body the official SDK would send for one.

An archive is a plain tar holding ``manifest.json`` (the LUML manifest: ``artifact_type``,
``variant``, producer fields, ``payload``; or, with ``legacy=True``, an FNNX model manifest
plus the FNNX model files), an optional ``meta.json`` (a list of entries; a registry-metrics
entry carries ``payload.metrics``, which the SDK turns into ``extra_values``) and any files.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._archive_reader import REGISTRY_METRICS_TAG, archive_body

PRODUCER_NAME = "luml.ai"
PRODUCER_VERSION = "0.1.0"
# what an FNNX model archive holds besides manifest.json (the platform checks these names)
_FNNX_FILES: dict[str, Any] = {
    "dtypes.json": {},
    "env.json": {},
    "ops.json": [],
    "variant_config.json": {},
}

FileSource = bytes | str | os.PathLike[str]


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _dump(value: Any) -> bytes:
    return json.dumps(value, indent=2).encode()


def make_luml_archive(
    path: str | os.PathLike[str],
    *,
    type: str = "model",
    name: str | None = None,
    description: str | None = None,
    version: str | None = "1",
    variant: str = "default",
    metrics: Mapping[str, Any] | None = None,
    files: Mapping[str, FileSource] | None = None,
    payload: Mapping[str, Any] | None = None,
    producer_tags: Sequence[str] | None = None,
    legacy: bool = False,
) -> Path:
    """Write a small valid ``.luml`` archive at path and return the path.

    type: the manifest's ``artifact_type`` (``model``, ``dataset``, ``experiment``; any other
    text makes an archive the platform refuses with "Unsupported LUML Artifact type.").
    metrics: numbers the SDK reports as ``extra_values`` (a registry-metrics ``meta.json``
    entry). files: extra members, ``name -> bytes`` or ``name -> path of a file on disk``
    (streamed, so large test files are fine). legacy: write an FNNX model instead (a manifest
    without ``artifact_type`` plus ``dtypes.json``, ``env.json``, ``meta.json``, ``ops.json``,
    ``variant_config.json``), which the platform types as ``model`` from the file index.
    """
    if legacy and type != "model":
        raise ValueError("a legacy FNNX archive is always a model")
    target = Path(path)
    tags = list(producer_tags) if producer_tags is not None else [f"{PRODUCER_NAME}::{type}:v1"]
    manifest: dict[str, Any]
    if legacy:
        manifest = {
            "variant": variant,
            "name": name,
            "version": version,
            "description": description,
            "producer_name": PRODUCER_NAME,
            "producer_version": PRODUCER_VERSION,
            "producer_tags": tags,
            "inputs": [],
            "outputs": [],
            "dynamic_attributes": [],
            "env_vars": [],
        }
    else:
        manifest = {
            "artifact_type": type,
            "variant": variant,
            "name": name,
            "description": description,
            "version": version,
            "producer_name": PRODUCER_NAME,
            "producer_version": PRODUCER_VERSION,
            "producer_tags": tags,
            "payload": dict(payload or {}),
        }
    meta: list[dict[str, Any]] | None = None
    if metrics is not None:
        meta = [
            {
                "id": "registry_metrics",
                "producer": PRODUCER_NAME,
                "producer_version": PRODUCER_VERSION,
                "producer_tags": [REGISTRY_METRICS_TAG],
                "payload": {"metrics": dict(metrics)},
            }
        ]
    elif legacy:
        meta = []
    with tarfile.open(target, "w") as tar:
        _add_bytes(tar, "manifest.json", _dump(manifest))
        if meta is not None:
            _add_bytes(tar, "meta.json", _dump(meta))
        if legacy:
            for member, content in _FNNX_FILES.items():
                _add_bytes(tar, member, _dump(content))
        for member, source in (files or {}).items():
            if isinstance(source, bytes):
                _add_bytes(tar, member, source)
            else:
                info = tar.gettarinfo(os.fspath(source), arcname=member)
                info.mtime, info.mode, info.uid, info.gid = 0, 0o644, 0, 0
                info.uname = info.gname = ""
                with open(source, "rb") as f:
                    tar.addfile(info, f)
    return target


def luml_create_body(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    description: str | None = None,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """The ``POST …/collections/{c}/artifacts`` body the official SDK sends for an archive.

    ``file_name`` (basename), ``size`` (on disk), ``file_hash`` (SHA-256 hex of the file),
    ``file_index`` (``member -> [data offset, size]`` for regular files), ``manifest``
    (manifest.json as is), ``extra_values`` (from meta.json), ``name`` (defaults to the file
    name), ``description``, ``tags``. Read by the library's ``archive_body`` (a
    ValidationError for a file that is not a ``.luml`` archive).
    """
    info = archive_body(path)  # the library reads archives as the official SDK does
    return {
        "file_name": info["file_name"],
        "name": name if name is not None else info["file_name"],
        "description": description,
        "extra_values": info["extra_values"],
        "manifest": info["manifest"],
        "file_hash": info["file_hash"],
        "file_index": info["file_index"],
        "size": info["size"],
        "tags": tags,
    }
