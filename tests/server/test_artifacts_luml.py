"""make_luml_archive / luml_create_body: archives the official SDK would upload, end to end."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import pytest
import requests
from artifacts_kit import Arts

from dataforce_orm.testing import luml_create_body, make_luml_archive


def test_archive_layout_and_create_body(tmp_path: Path) -> None:
    path = make_luml_archive(
        tmp_path / "churn.luml",
        name="churn",
        description="gbm",
        metrics={"f1": 0.81, "auc": 0.9},
        files={"weights.bin": b"\x00\x01\x02"},
        payload={"framework": "sklearn"},
    )
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["manifest.json", "meta.json", "weights.bin"]
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        meta = json.loads(tar.extractfile("meta.json").read())  # type: ignore[union-attr]
    assert manifest == {
        "artifact_type": "model",
        "variant": "default",
        "name": "churn",
        "description": "gbm",
        "version": "1",
        "producer_name": "luml.ai",
        "producer_version": "0.1.0",
        "producer_tags": ["luml.ai::model:v1"],
        "payload": {"framework": "sklearn"},
    }
    assert meta[0]["producer_tags"] == ["dataforce.studio::registry_metrics:v1"]
    body = luml_create_body(path, tags=["t"])
    raw = path.read_bytes()
    assert body["file_name"] == "churn.luml" and body["name"] == "churn.luml"
    assert body["size"] == len(raw) and body["file_hash"] == hashlib.sha256(raw).hexdigest()
    assert body["extra_values"] == {"f1": 0.81, "auc": 0.9}
    assert body["manifest"] == manifest and body["tags"] == ["t"]
    offset, size = body["file_index"]["weights.bin"]
    assert raw[offset : offset + size] == b"\x00\x01\x02"  # the index points at the bytes


def test_tabular_metrics_follow_the_sdk(tmp_path: Path) -> None:
    meta_tag = "falcon.beastbyte.ai::tabular_classification_metrics:v1"
    path = make_luml_archive(
        tmp_path / "t.luml",
        producer_tags=["dataforce.studio::tabular_classification:v1"],
        files={
            "meta.json": json.dumps(
                [
                    {
                        "producer_tags": [meta_tag],
                        "payload": {
                            "metrics": {
                                "performance": {"eval_cv": {"acc": 0.7, "N_SAMPLES": 10}}
                            }
                        },
                    }
                ]
            ).encode()
        },
    )
    assert luml_create_body(path)["extra_values"] == {"acc": 0.7}


def test_large_members_are_streamed_from_disk(tmp_path: Path) -> None:
    blob = tmp_path / "big.bin"
    blob.write_bytes(b"\x07" * 3_000_000)
    path = make_luml_archive(tmp_path / "big.luml", type="dataset", files={"data/big.bin": blob})
    body = luml_create_body(path)
    assert body["file_index"]["data/big.bin"][1] == 3_000_000
    assert body["manifest"]["artifact_type"] == "dataset" and body["extra_values"] == {}
    with pytest.raises(ValueError):
        make_luml_archive(tmp_path / "x.luml", type="dataset", legacy=True)


@pytest.mark.parametrize(
    ("kwargs", "collection_type", "kind"),
    [
        ({"type": "model"}, "model", "model"),
        ({"type": "dataset"}, "dataset", "dataset"),
        ({"type": "experiment"}, "mixed", "experiment"),
        ({"legacy": True}, "model_dataset", "model"),
    ],
)
def test_the_server_types_the_archives(
    arts: Arts, tmp_path: Path, kwargs: dict[str, object], collection_type: str, kind: str
) -> None:
    path = make_luml_archive(tmp_path / "a.luml", metrics={"loss": 0.1}, **kwargs)  # type: ignore[arg-type]
    cid = arts.collection(collection_type)
    r = arts.post(cid, luml_create_body(path))
    assert r.status_code == 200, r.text
    art = r.json()["artifact"]
    assert art["type"] == kind and art["extra_values"] == {"loss": 0.1}
    assert arts.get_collection(cid)["artifacts_extra_values"] == ["loss"]


def test_unsupported_type_is_refused(arts: Arts, tmp_path: Path) -> None:
    path = make_luml_archive(tmp_path / "a.luml", type="notebook")
    r = arts.post(arts.collection("mixed"), luml_create_body(path))
    assert (r.status_code, r.json()) == (400, {"detail": "Unsupported LUML Artifact type."})


def test_full_sdk_flow(arts: Arts, tmp_path: Path) -> None:
    """create -> PUT -> PATCH uploaded -> download -> delete-url -> storage DELETE -> confirm."""
    path = make_luml_archive(tmp_path / "m.luml", metrics={"f1": 0.5}, files={"w": b"w" * 999})
    cid = arts.collection()
    created = arts.post(cid, luml_create_body(path, name="m")).json()
    art, up = created["artifact"], created["upload_details"]
    assert requests.put(up["url"], data=path.read_bytes()).status_code == 200
    assert arts.patch(cid, art["id"], {"status": "uploaded"}).json()["status"] == "uploaded"
    url = arts.get(cid, art["id"], "/download-url").json()["url"]
    got = requests.get(url).content
    assert hashlib.sha256(got).hexdigest() == art["file_hash"]
    delete_url = arts.get(cid, art["id"], "/delete-url").json()["url"]
    assert requests.delete(delete_url).status_code == 204
    assert arts.delete(cid, art["id"]).status_code == 204
    assert arts.server.stored_object(arts.orbit, art["bucket_location"]) is None
    assert arts.get_collection(cid)["total_artifacts"] == 0
