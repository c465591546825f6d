"""``dataforce_orm.pack``: a file, several files or a directory into a ``.luml`` archive of
the structure the official SDK's readers require (checked here field by field, always; the
SDK itself reads them in ``test_pack_official_sdk.py``), streamed, and
``upload(path, type=...)`` packing on the way."""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dataforce_orm as dfo
from dataforce_orm import ArtifactType, Collection, Session
from dataforce_orm._archive_reader import archive_body
from dataforce_orm.testing import LocalServer, RequestCounter


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """A server of this module's own (the shared one's organization holds 50 artifacts)."""
    with LocalServer() as srv:
        srv.set_organization_limits(srv.organization_id, orbits=100, artifacts=10_000)
        yield srv


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        out = {}
        for m in tar.getmembers():
            f = tar.extractfile(m)
            assert f is not None
            out[m.name] = f.read()
        return out


def _strs(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def check_official_structure(path: Path, type: str) -> dict[str, Any]:
    """What the official SDK's readers (luml-sdk 0.4.0) require of an archive of ``type``:
    its ArtifactManifest fields; for a model the FNNX manifest fields, an ``env.json`` and
    meta entries of FNNX's shape; for a dataset a tabular (or hf) payload; for an experiment
    a ``local_experiment_id``."""
    members = _members(path)
    manifest = json.loads(members["manifest.json"])
    for key in ("variant", "producer_name", "producer_version"):
        assert isinstance(manifest[key], str), key
    assert _strs(manifest["producer_tags"])
    for key in ("name", "description", "version"):
        assert manifest.get(key) is None or isinstance(manifest[key], str)
    if type != "model":  # the platform's manifest
        assert manifest["artifact_type"] == type and isinstance(manifest["payload"], dict)
    for entry in json.loads(members.get("meta.json", b"[]")):
        assert isinstance(entry["id"], str) and isinstance(entry["producer"], str)
        assert isinstance(entry["producer_version"], str) and _strs(entry["producer_tags"])
        assert isinstance(entry["payload"], dict)
    payload = manifest.get("payload")
    if type == "model":  # an FNNX package; the platform types it by these files
        for key in ("inputs", "outputs", "dynamic_attributes", "env_vars"):
            assert manifest[key] == [], key
        assert "artifact_type" not in manifest
        assert isinstance(json.loads(members["env.json"]), dict)
        assert {"dtypes.json", "env.json", "manifest.json", "meta.json", "ops.json",
                "variant_config.json"} <= set(members)
    elif type == "dataset" and manifest["variant"] == "tabular":
        assert payload["file_format"] in ("csv", "parquet")
        assert isinstance(payload["total_rows"], int)
        for subset in payload["subsets"].values():
            for split in subset["splits"].values():
                assert split["file_format"] in ("csv", "parquet")
                assert isinstance(split["num_rows"], int)
                assert isinstance(split["num_chunks"], int) and _strs(split["chunk_files"])
                assert all(f in members for f in split["chunk_files"])
    elif type == "experiment":
        assert isinstance(payload["local_experiment_id"], str)
        assert _strs(payload["tags"])
    return manifest


@pytest.mark.parametrize("type", ["model", "dataset", "experiment"])
def test_a_file_packs_into_the_official_structure(tmp_path: Path, type: str) -> None:
    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(3000))
    out = dfo.pack(src, tmp_path / "m.luml", type=type, extra_values={"auc": 0.91},
                   metadata={"framework": "torch", "layers": [3, 4]})
    manifest = check_official_structure(out, type)
    assert manifest["name"] == "weights.bin"
    assert _members(out)["weights.bin"] == src.read_bytes()
    body = archive_body(out)  # the create the library (and the SDK) derives from it
    assert body["extra_values"] == {"auc": 0.91}
    meta = json.loads(_members(out)["meta.json"])
    assert {"framework": "torch", "layers": [3, 4]} in [e["payload"] for e in meta]
    with tarfile.open(out) as tar:  # the file index points at the member's bytes
        offset, size = body["file_index"]["weights.bin"]
        assert (offset, size) == (tar.getmember("weights.bin").offset_data, 3000)
    with open(out, "rb") as f:
        f.seek(offset)
        assert f.read(size) == src.read_bytes()


def test_a_directory_keeps_its_paths_and_csv_files_make_a_tabular_dataset(
        tmp_path: Path) -> None:
    d = tmp_path / "data"
    (d / "part").mkdir(parents=True)
    (d / "a.csv").write_text("x,y\n1,2\n")
    (d / "part" / "b.csv").write_text("x,y\n3,4\n")
    out = dfo.pack(d, tmp_path / "d.luml", type="dataset", name="sales")
    manifest = check_official_structure(out, "dataset")
    assert manifest["variant"] == "tabular" and manifest["name"] == "sales"
    split = manifest["payload"]["subsets"]["default"]["splits"]["train"]
    assert split["chunk_files"] == ["a.csv", "part/b.csv"]
    assert _members(out)["part/b.csv"] == b"x,y\n3,4\n"


def test_several_files(tmp_path: Path) -> None:
    a, b = tmp_path / "model.onnx", tmp_path / "vocab.txt"
    a.write_bytes(b"onnx")
    b.write_bytes(b"vocab")
    out = dfo.pack([a, b], tmp_path / "m.luml", type=ArtifactType.MODEL)
    check_official_structure(out, "model")
    assert {"model.onnx", "vocab.txt"} <= set(_members(out))


@pytest.mark.parametrize(("kw", "field"), [
    ({"type": "weights"}, "type"), ({"type": "model", "extra_values": {"a": float("inf")}},
                                    "extra_values['a']"),
    ({"type": "model", "metadata": "text"}, "metadata"),
])
def test_bad_arguments(tmp_path: Path, kw: Any, field: str) -> None:
    src = tmp_path / "f.bin"
    src.write_bytes(b"x")
    with pytest.raises(dfo.ValidationError) as info:
        dfo.pack(src, tmp_path / "m.luml", **kw)
    assert info.value.field == field
    assert not list(tmp_path.glob("m.luml*"))


def test_bad_sources(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    (tmp_path / "x" / "w.bin").write_bytes(b"1")
    (tmp_path / "y" / "w.bin").write_bytes(b"2")
    (tmp_path / "x" / "manifest.json").write_text("{}")
    with pytest.raises(dfo.ValidationError, match=r"two files named 'w\.bin'"):
        dfo.pack([tmp_path / "x" / "w.bin", tmp_path / "y" / "w.bin"], tmp_path / "o",
                 type="model")
    with pytest.raises(dfo.ValidationError, match="reserves"):
        dfo.pack(tmp_path / "x", tmp_path / "o", type="model")
    with pytest.raises(dfo.ValidationError, match="no such file"):
        dfo.pack(tmp_path / "missing.bin", tmp_path / "o", type="model")
    with pytest.raises(dfo.DataForceError, match="no such directory") as info:
        dfo.pack(tmp_path / "y" / "w.bin", tmp_path / "nope" / "o.luml", type="model")
    assert str(tmp_path / "nope") in str(info.value)
    assert not list(tmp_path.glob("o*"))


def test_packing_streams(tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    with open(src, "wb") as f:
        for _ in range(24):
            f.write(os.urandom(1024 * 1024))
    tracemalloc.start()
    try:
        dfo.pack(src, tmp_path / "big.luml", type="model")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024  # a 24 MB file, never held whole
    assert archive_body(tmp_path / "big.luml")["file_index"]["big.bin"][1] == 24 * 1024 * 1024


def test_make_luml_archive_writes_through_pack(tmp_path: Path) -> None:
    from dataforce_orm.testing import make_luml_archive

    out = make_luml_archive(tmp_path / "t.luml", metrics={"f1": 0.5}, files={"w": b"1"})
    body = archive_body(out)
    assert body["extra_values"] == {"f1": 0.5} and body["manifest"]["artifact_type"] == "model"
    assert _members(out)["w"] == b"1"


# -- upload(path, type=...) --------------------------------------------------------------------


@pytest.fixture
def coll(session: Session) -> Collection:
    return Collection.objects.create(name="packed", collection_type="mixed")


def test_upload_packs_a_file_or_directory_given_a_type(
        m: Any, tmp_path: Path, coll: Collection, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(os.urandom(500))
    art = m.upload(coll.artifacts, pkl, type="model", extra_values={"auc": 0.8})
    assert art.type is ArtifactType.MODEL and art.name == "model.pkl"
    assert art.extra_values == {"auc": 0.8} and "model.pkl" in art.file_index
    d = tmp_path / "ds"
    d.mkdir()
    (d / "rows.csv").write_text("a\n1\n")
    ds = m.upload(coll.artifacts, d, type="dataset", name="rows")
    assert ds.type is ArtifactType.DATASET and ds.name == "rows"
    assert ds.manifest["variant"] == "tabular"
    assert list(scratch.glob("dataforce-pack-*")) == []  # the temporary archives are gone
    got = m.download(ds, tmp_path / "back.luml")
    assert _members(Path(got))["rows.csv"] == b"a\n1\n"


def test_the_temporary_archive_is_removed_when_the_upload_fails(
        tmp_path: Path, coll: Collection, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(b"x")
    with pytest.raises(dfo.ValidationError, match="tags"):
        coll.artifacts.upload(pkl, type="model", tags="not-a-list")
    assert list(scratch.glob("dataforce-pack-*")) == []


def test_without_a_type_a_non_archive_is_refused(tmp_path: Path, coll: Collection) -> None:
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(b"x")
    with RequestCounter() as sent, pytest.raises(dfo.ValidationError, match=r"not a \.luml"):
        coll.artifacts.upload(pkl)
    assert sent.total == 0
