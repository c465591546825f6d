"""Reading a ``.luml`` archive the way the official SDK does, so that artifacts uploaded by
either client look the same: the tar's ``manifest.json`` and optional ``meta.json``, the index
of member data offsets and sizes, the SHA-256 of the whole file, and ``extra_values`` from the
metrics payloads of ``meta.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ._errors import ValidationError

HASH_CHUNK = 8 * 1024 * 1024
REGISTRY_METRICS_TAG = "dataforce.studio::registry_metrics:v1"
_TABULAR_PRODUCER_TAGS = (
    "dataforce.studio::tabular_classification:v1",
    "dataforce.studio::tabular_regression:v1",
)
_TABULAR_METRICS_TAGS = (
    "falcon.beastbyte.ai::tabular_classification_metrics:v1",
    "falcon.beastbyte.ai::tabular_regression_metrics:v1",
)


def _payload_for(meta: Sequence[Any], tags: Sequence[str]) -> dict[str, Any] | None:
    for item in meta:
        if isinstance(item, dict) and any(t in tags for t in item.get("producer_tags") or ()):
            payload = item.get("payload")
            return payload if isinstance(payload, dict) else {}
    return None


def extra_values_of(manifest: Mapping[str, Any], meta: Sequence[Any]) -> dict[str, Any]:
    """``extra_values`` as the official SDK derives them: a tabular model's holdout (or
    cross-validation) scores, else a registry-metrics entry's metrics."""
    producer_tags = manifest.get("producer_tags") or ()
    if any(tag in _TABULAR_PRODUCER_TAGS for tag in producer_tags):
        payload = _payload_for(meta, _TABULAR_METRICS_TAGS) or {}
        performance = (payload.get("metrics") or {}).get("performance")
        if isinstance(performance, dict) and performance:
            scores = performance.get("eval_holdout") or performance.get("eval_cv") or {}
            return {k: v for k, v in scores.items() if k != "N_SAMPLES"}
    custom = _payload_for(meta, (REGISTRY_METRICS_TAG,))
    if custom:
        metrics = custom.get("metrics")
        return dict(metrics) if isinstance(metrics, dict) else {}
    return {}


def _json_member(tar: tarfile.TarFile, name: str, path: Path) -> Any:
    handle = tar.extractfile(name)
    if handle is None:
        raise ValidationError("path", f"{path.name}: {name} in the archive is not a file")
    try:
        return json.loads(handle.read())
    except ValueError:
        raise ValidationError("path", f"{path.name}: {name} is not valid JSON") from None


def archive_body(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What a create sends about an archive: ``file_name``, ``size``, ``file_hash``,
    ``file_index``, ``manifest``, ``extra_values``. A ValidationError (field ``path``) for a
    missing file or one that is not a ``.luml`` archive, before any request."""
    source = Path(path)
    if not source.is_file():
        raise ValidationError("path", f"no such file: {os.fspath(source)!r}")
    try:
        with tarfile.open(source, "r:*") as tar:
            members = tar.getmembers()
            index = {m.name: [m.offset_data, m.size] for m in members if m.isfile()}
            if "manifest.json" not in index:
                raise ValidationError("path", f"{source.name}: not a .luml archive (it has no "
                                              "manifest.json)")
            manifest = _json_member(tar, "manifest.json", source)
            meta = _json_member(tar, "meta.json", source) if "meta.json" in index else []
    except tarfile.TarError as exc:
        raise ValidationError("path", f"{source.name}: not a .luml archive (a tar "
                                      f"file): {exc}") from None
    if not isinstance(manifest, dict):
        raise ValidationError("path", f"{source.name}: manifest.json is not an object")
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {
        "file_name": source.name,
        "size": size,
        "file_hash": digest.hexdigest(),
        "file_index": index,
        "manifest": manifest,
        "extra_values": extra_values_of(manifest, meta if isinstance(meta, list) else []),
    }
