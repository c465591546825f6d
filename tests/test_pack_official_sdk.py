"""Archives cross-checked with the platform's own SDK (luml-sdk 0.4.0, which needs Python
3.12+): where such an interpreter is on the machine (on PATH or pyenv's), the SDK is installed
into a temporary venv, reads archives ``pack`` made with its typed readers, and makes one of
its own that the library reads and uploads. Without such an interpreter the test is skipped
and says so; ``test_pack.py`` checks the structure those readers require on every run."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dataforce_orm as dfo
from dataforce_orm import ArtifactType, Collection, Session
from dataforce_orm._archive_reader import archive_body
from dataforce_orm.testing import LocalServer

SDK = "luml-sdk==0.4.0"


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """A server of this module's own (the shared one's organization holds 50 artifacts)."""
    with LocalServer() as srv:
        srv.set_organization_limits(srv.organization_id, orbits=100, artifacts=10_000)
        yield srv


def _python_312() -> str | None:
    """A Python 3.12+ interpreter other than this one, if the machine has one."""
    names = [shutil.which(f"python3.{minor}") for minor in range(12, 20)]
    names += sorted(glob.glob(os.path.expanduser(
        os.path.join(os.environ.get("PYENV_ROOT", "~/.pyenv"), "versions/*/bin/python3"))))
    for py in filter(None, names):
        try:
            out = subprocess.run([py, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.stdout.strip() == "True":
            return py
    return None


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    py = _python_312()
    if py is None:
        pytest.skip(f"no Python 3.12+ on this machine, which {SDK} needs")
    venv = tmp_path_factory.mktemp("luml-sdk") / "venv"
    subprocess.run([py, "-m", "venv", str(venv)], check=True, timeout=120)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                           "--disable-pip-version-check", SDK],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{SDK} did not install: {done.stderr[-2000:]}"
    return str(venv / "bin" / "python")


READ = r"""
import json, sys
from luml.artifacts._base import ArtifactManifest, DiskReference
from luml.artifacts.dataset import DatasetReference
from luml.artifacts.experiment import ExperimentReference
from luml.artifacts.model import ModelReference
from fnnx.extras.reader import Reader
out = {}
for path, kind in json.loads(sys.argv[1]):
    ref = DiskReference(path)
    got = {"files": ref.list_files(), "valid": {"model": ModelReference,
           "dataset": DatasetReference, "experiment": ExperimentReference}[kind](path).validate()}
    if kind == "model":
        reader = Reader(path)
        got["name"] = reader.manifest.name
        got["meta"] = {m.id: m.payload for m in reader.metadata}
    else:
        got["name"] = ArtifactManifest.model_validate(ref.get_manifest()).name
    if kind == "dataset":
        manifest = DatasetReference(path).get_manifest()
        got["variant"] = manifest.variant
        chunks = manifest.payload.subsets["default"].splits["train"].chunk_files
        got["chunks"] = {c: ref.extract_file(c).decode() for c in chunks}
    out[path] = got
print(json.dumps(out))
"""

WRITE = r"""
import sys
from luml.artifacts.dataset import DatasetReference, save_tabular_dataset
ref = save_tabular_dataset(sys.argv[1], file_format="csv", name="theirs", output_path=sys.argv[2])
DatasetReference(sys.argv[2]).add_dataset_card("<p>rows</p>")
"""


def _run(py: str, code: str, *args: str) -> str:
    done = subprocess.run([py, "-c", code, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_official_sdk_reads_what_pack_makes(sdk_python: str, tmp_path: Path) -> None:
    weights = tmp_path / "model.pkl"
    weights.write_bytes(os.urandom(2000))
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1,2\n")
    made = [
        (dfo.pack(weights, tmp_path / "m.luml", type="model", name="churn",
                  extra_values={"auc": 0.9}), "model"),
        (dfo.pack(rows, tmp_path / "d.luml", type="dataset"), "dataset"),
        (dfo.pack(weights, tmp_path / "e.luml", type="experiment", name="run-1"),
         "experiment"),
    ]
    got: dict[str, Any] = json.loads(_run(sdk_python, READ,
                                          json.dumps([(str(p), k) for p, k in made])))
    model, dataset, experiment = (got[str(p)] for p, _ in made)
    assert model["valid"] and model["name"] == "churn" and "model.pkl" in model["files"]
    assert model["meta"]["registry_metrics"] == {"metrics": {"auc": 0.9}}
    assert dataset["valid"] and dataset["variant"] == "tabular"
    assert dataset["chunks"] == {"rows.csv": "a,b\n1,2\n"}
    assert experiment["valid"] and experiment["name"] == "run-1"


def test_the_library_reads_and_uploads_what_the_official_sdk_makes(
        sdk_python: str, tmp_path: Path, session: Session) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1,2\n3,4\n")
    theirs = tmp_path / "theirs.luml"
    _run(sdk_python, WRITE, str(rows), str(theirs))
    body = archive_body(theirs)
    assert body["manifest"]["artifact_type"] == "dataset"
    assert body["manifest"]["name"] == "theirs"
    with open(theirs, "rb") as f:  # the index the library sends points at the members
        offset, size = body["file_index"]["data/default/train/chunk_000.csv"]
        f.seek(offset)
        assert f.read(size) == rows.read_bytes()
    coll = Collection.objects.create(name="official", collection_type="dataset")
    art = coll.artifacts.upload(theirs)
    assert art.type is ArtifactType.DATASET and art.manifest["variant"] == "tabular"
    assert Path(art.download(tmp_path / "back.luml")).read_bytes() == theirs.read_bytes()

