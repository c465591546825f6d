"""Small valid ``.luml`` archives for tests (written by the library's archive writer, with
every manifest field open to a test), and the create body the official SDK would send for one.

An archive is a plain tar holding ``manifest.json`` (the LUML manifest: ``artifact_type``,
``variant``, producer fields, ``payload``; or, with ``legacy=True``, an FNNX model manifest
plus the FNNX model files), an optional ``meta.json`` (a list of entries; a registry-metrics
entry carries ``payload.metrics``, which the SDK turns into ``extra_values``) and any files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .._archive_reader import REGISTRY_METRICS_TAG, archive_body
from .._pack import FNNX_FILES, Member, write_archive

PRODUCER_NAME = "luml.ai"
PRODUCER_VERSION = "0.1.0"
FileSource = bytes | str | os.PathLike[str]


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
    members: list[Member] = []
    if legacy:
        members.extend((member, _dump(content)) for member, content in FNNX_FILES.items())
    for member, source in (files or {}).items():
        members.append((member, source if isinstance(source, bytes) else Path(source)))
    return write_archive(target, manifest, meta, members)


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
