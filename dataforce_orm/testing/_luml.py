"""Small valid ``.luml`` archives, and the create body the official SDK would send for one.

An archive is a plain tar holding ``manifest.json`` (the LUML manifest: ``artifact_type``,
``variant``, producer fields, ``payload``; or, with ``legacy=True``, an FNNX model manifest
plus the FNNX model files), an optional ``meta.json`` (a list of entries; a registry-metrics
entry carries ``payload.metrics``, which the SDK turns into ``extra_values``) and any files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PRODUCER_NAME = "luml.ai"
PRODUCER_VERSION = "0.1.0"
REGISTRY_METRICS_TAG = "dataforce.studio::registry_metrics:v1"
_TABULAR_PRODUCER_TAGS = (
    "dataforce.studio::tabular_classification:v1",
    "dataforce.studio::tabular_regression:v1",
)
_TABULAR_METRICS_TAGS = (
    "falcon.beastbyte.ai::tabular_classification_metrics:v1",
    "falcon.beastbyte.ai::tabular_regression_metrics:v1",
)
# what an FNNX model archive holds besides manifest.json (the platform checks these names)
_FNNX_FILES: dict[str, Any] = {
    "dtypes.json": {},
    "env.json": {},
    "ops.json": [],
    "variant_config.json": {},
}
_HASH_CHUNK = 8 * 1024 * 1024

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


def _payload_for(meta: list[Any], tags: Sequence[str]) -> dict[str, Any] | None:
    for item in meta:
        if isinstance(item, dict) and any(t in tags for t in item.get("producer_tags", [])):
            payload = item.get("payload", {})
            return payload if isinstance(payload, dict) else {}
    return None


def extra_values_of(manifest: Mapping[str, Any], meta: list[Any]) -> dict[str, Any]:
    """``extra_values`` as the official SDK derives them from manifest and meta.json."""
    producer_tags = manifest.get("producer_tags", [])
    if any(tag in _TABULAR_PRODUCER_TAGS for tag in producer_tags):
        payload = _payload_for(meta, _TABULAR_METRICS_TAGS) or {}
        performance = (payload.get("metrics") or {}).get("performance")
        if performance:
            scores = performance.get("eval_holdout") or performance.get("eval_cv", {})
            return {k: v for k, v in scores.items() if k != "N_SAMPLES"}
    custom = _payload_for(meta, (REGISTRY_METRICS_TAG,))
    if custom:
        metrics = custom.get("metrics", {})
        return dict(metrics) if isinstance(metrics, dict) else {}
    return {}


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
    name), ``description``, ``tags``.
    """
    source = Path(path)
    with tarfile.open(source, "r") as tar:
        index = {m.name: [m.offset_data, m.size] for m in tar.getmembers() if m.isfile()}
        handle = tar.extractfile(tar.getmember("manifest.json"))
        manifest = json.loads(handle.read().decode()) if handle is not None else {}
        meta: list[Any] = []
        try:
            meta_handle = tar.extractfile(tar.getmember("meta.json"))
            meta = json.loads(meta_handle.read().decode()) if meta_handle is not None else []
        except (KeyError, ValueError):
            meta = []
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        for chunk in iter(lambda: f.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return {
        "file_name": source.name,
        "name": name if name is not None else source.name,
        "description": description,
        "extra_values": extra_values_of(manifest, meta if isinstance(meta, list) else []),
        "manifest": manifest,
        "file_hash": digest.hexdigest(),
        "file_index": index,
        "size": source.stat().st_size,
        "tags": tags,
    }
