"""Artifacts end to end against LocalServer (its own S3 and Azure storage), through the sync
API and its async twins (``m``): upload (single PUT and multipart, forced by small thresholds),
querying, download and open, edit, delete, bad input, failures and progress."""

from __future__ import annotations

import hashlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from parity import AsyncMode, SyncMode

import dataforce_orm as dfo
from dataforce_orm import (
    Artifact,
    ArtifactStatus,
    ArtifactType,
    Collection,
    RetryPolicy,
    Session,
)
from dataforce_orm.testing import Fault, LocalServer, RequestCounter, make_luml_archive

PART = 16 * 1024
THRESHOLD = 64 * 1024
_orbits = itertools.count()


@pytest.fixture(scope="module")
def aserver() -> Iterator[LocalServer]:
    with LocalServer(multipart_threshold=THRESHOLD, multipart_part_size=PART) as srv:
        srv.set_organization_limits(srv.organization_id, orbits=100, artifacts=10_000)
        yield srv


@pytest.fixture
def asession(aserver: LocalServer) -> Iterator[Session]:
    orbit = aserver.add_orbit(aserver.organization_id, f"artifacts-{next(_orbits)}")
    s = Session(api_key=aserver.api_key, base_url=aserver.url,
                organization=aserver.organization_id, orbit=orbit,
                retry=RetryPolicy(sleep=lambda _: None, backoff=0.0))
    with s:
        yield s
    s.close()
    aserver.clear_faults()


@pytest.fixture(params=["sync", "async"])
def am(request: pytest.FixtureRequest, asession: Session) -> Iterator[Any]:
    mode = SyncMode() if request.param == "sync" else AsyncMode(asession)
    yield mode
    if isinstance(mode, AsyncMode):
        mode.close()


@pytest.fixture
def coll(asession: Session) -> Collection:
    return Collection.objects.create(name="models", collection_type="mixed")


def archive(tmp_path: Path, name: str = "model.luml", size: int = 1024, **kw: Any) -> Path:
    return make_luml_archive(tmp_path / name, files={"weights.bin": os.urandom(size)}, **kw)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_single_put(am: Any, tmp_path: Path, coll: Collection,
                           aserver: LocalServer) -> None:
    path = archive(tmp_path, metrics={"accuracy": 0.91, "f1": 0.8})
    seen: list[tuple[int, int]] = []
    before = len(aserver.request_log)
    a = am.upload(coll.artifacts, path, tags=["candidate"], description="d",
                  progress=lambda done, total: seen.append((done, total)))
    sent = aserver.request_log[before:]
    assert a.status is ArtifactStatus.UPLOADED and a.type is ArtifactType.MODEL
    assert (a.name, a.file_name, a.size) == ("model.luml", "model.luml", path.stat().st_size)
    assert a.file_hash == sha(path) and a.extra_values == {"accuracy": 0.91, "f1": 0.8}
    assert a.tags == ["candidate"] and a.description == "d" and a.collection_id == coll.id
    assert "manifest.json" in a.file_index
    # the create and the PATCH to uploaded, and one storage PUT
    assert [m for m, p in sent if p.startswith("/v1/")] == ["POST", "PATCH"]
    assert [m for m, p in sent if not p.startswith("/v1/")] == ["PUT"]
    assert aserver.stored_object(coll.orbit_id, a.bucket_location) == path.read_bytes()
    assert seen[-1] == (a.size, a.size) and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_upload_multipart_and_download(am: Any, tmp_path: Path, coll: Collection) -> None:
    path = archive(tmp_path, size=5 * PART + 123)  # 6+ parts
    a = am.upload(coll.artifacts, path, name="big", concurrency=3)
    assert a.status is ArtifactStatus.UPLOADED and a.size > THRESHOLD
    out = am.download(a, tmp_path / "out")
    assert Path(out).read_bytes() == path.read_bytes()
    into = tmp_path / "dir"
    into.mkdir()
    got = am.download(a, into)
    assert Path(got) == into / "model.luml" and sha(Path(got)) == a.file_hash


def test_azure_storage(am: Any, tmp_path: Path, asession: Session,
                       aserver: LocalServer) -> None:
    orbit = asession.orbit
    assert orbit is not None
    aserver.set_storage_flavour(orbit, "azure")
    c = Collection.objects.create(name="azure", collection_type="model")
    for size in (100, 4 * PART + 7):
        path = archive(tmp_path, f"m{size}.luml", size=size)
        a = am.upload(c.artifacts, path)
        assert a.status is ArtifactStatus.UPLOADED
        assert Path(am.download(a, tmp_path / f"o{size}")).read_bytes() == path.read_bytes()


def test_open_streams_the_file(tmp_path: Path, coll: Collection) -> None:
    path = archive(tmp_path, size=3 * PART)
    a = coll.artifacts.upload(path)
    with a.open() as f:
        assert f.read(10) + f.read() == path.read_bytes()


def test_querying(am: Any, tmp_path: Path, coll: Collection) -> None:
    other = Collection.objects.create(name="other", collection_type="dataset")
    made = []
    for i, acc in enumerate([0.5, 0.9, None, 0.7]):
        metrics = {"accuracy": acc} if acc is not None else {}
        made.append(am.upload(coll.artifacts, archive(tmp_path, f"m{i}.luml", metrics=metrics),
                              name=f"model-{i}", tags=["even" if i % 2 == 0 else "odd"]))
    ds = am.upload(other.artifacts, archive(tmp_path, "d.luml", type="dataset"), name="data")
    assert ds.type is ArtifactType.DATASET
    assert am.count(coll.artifacts.all()) == 4
    assert am.get(coll.artifacts, name="model-1") == made[1]
    assert am.get(coll.artifacts, id=made[2].id).tracks == []  # details by id
    assert am.first(coll.artifacts.filter(tags__contains="odd").order_by("name")) == made[1]
    assert set(am.list(Artifact.objects.filter(collection__in=[coll, other]))) == {
        *made, ds}
    assert am.list(Artifact.objects.filter(collection=other)) == [ds]
    assert am.list(Artifact.objects.filter(type=ArtifactType.DATASET, name__startswith="d")) \
        == [ds]
    assert am.count(Artifact.objects.filter(collection=coll, size__gt=0)) == 4
    by_metric = am.list(coll.artifacts.order_by("-extra_values__accuracy"))
    assert by_metric == [made[2], made[1], made[3], made[0]]  # missing first when descending
    assert am.list(coll.artifacts.order_by("extra_values__accuracy"))[:3] == [
        made[0], made[3], made[1]]
    with pytest.raises(dfo.ValidationError, match="order_by"):
        coll.artifacts.order_by("nonsense")


def test_metric_order_over_many_pages(tmp_path: Path, coll: Collection) -> None:
    path = archive(tmp_path)
    want = []
    for i in range(130):  # more than a page: the server's metric cursor never advances
        p = make_luml_archive(tmp_path / f"x{i}.luml", metrics={"score": (i * 37) % 130})
        want.append(coll.artifacts.upload(p, name=f"a{i}"))
    del path
    got = list(coll.artifacts.order_by("-extra_values__score"))
    assert len(got) == 130 and len(set(got)) == 130
    assert [a.extra_values["score"] for a in got] == sorted(range(130), reverse=True)


def test_edit_and_delete(am: Any, tmp_path: Path, coll: Collection,
                         aserver: LocalServer) -> None:
    a = am.upload(coll.artifacts, archive(tmp_path))
    a.tags = ["prod"]
    a.name = "renamed"
    with RequestCounter() as counter:
        am.save(a)
    assert counter.total == 1 and counter.by_method["PATCH"] == 1
    fresh = am.get(coll.artifacts, id=a.id)
    assert (fresh.name, fresh.tags, fresh.status) == ("renamed", ["prod"], ArtifactStatus.UPLOADED)
    location = a.bucket_location
    am.delete(a)
    assert a.id is None and am.count(coll.artifacts.all()) == 0
    assert aserver.stored_object(coll.orbit_id, location) is None
    b = am.upload(coll.artifacts, archive(tmp_path, "b.luml"))
    track = aserver.add_track(b.id)
    with pytest.raises(dfo.ConflictError, match="tracks"):
        am.delete(b)
    aserver.remove_from_track(track, b.id)
    am.delete(b, force=True)
    assert am.count(coll.artifacts.all()) == 0


def test_bad_input_leaves_nothing(tmp_path: Path, coll: Collection,
                                  aserver: LocalServer) -> None:
    not_tar = tmp_path / "x.luml"
    not_tar.write_bytes(b"not an archive")
    before = len(aserver.request_log)
    for bad, field in ((not_tar, "path"), (tmp_path / "missing.luml", "path")):
        with pytest.raises(dfo.ValidationError) as info:
            coll.artifacts.upload(bad)
        assert info.value.field == field
    with pytest.raises(dfo.ValidationError, match="concurrency"):
        coll.artifacts.upload(archive(tmp_path), concurrency=0)
    assert len(aserver.request_log) == before
    # a type the collection does not admit: the server refuses it, no row is made
    models_only = Collection.objects.create(name="models-only", collection_type="model")
    with pytest.raises(dfo.APIError, match="not allowed"):
        models_only.artifacts.upload(archive(tmp_path, "d.luml", type="dataset"))
    assert models_only.artifacts.count() == 0


def test_download_name_cannot_escape(tmp_path: Path, coll: Collection) -> None:
    a = coll.artifacts.upload(archive(tmp_path))
    object.__setattr__(a, "file_name", "../../evil.luml")
    into = tmp_path / "safe"
    into.mkdir()
    got = a.download(into)
    assert got == into / "evil.luml" and got.exists()
    assert not (tmp_path.parent / "evil.luml").exists()


def test_a_failed_part_is_retried_alone(am: Any, tmp_path: Path, coll: Collection,
                                        aserver: LocalServer) -> None:
    path = archive(tmp_path, size=4 * PART)
    aserver.add_fault(Fault(kind="status", status=503, method="PUT", scope="storage",
                            times=1))
    a = am.upload(coll.artifacts, path)
    assert a.status is ArtifactStatus.UPLOADED
    assert Path(am.download(a, tmp_path / "o")).read_bytes() == path.read_bytes()


def test_a_failed_upload_is_marked_failed(am: Any, tmp_path: Path, coll: Collection,
                                          aserver: LocalServer) -> None:
    aserver.add_fault(Fault(kind="status", status=500, method="PUT", scope="storage"))
    with pytest.raises(dfo.ServerError):
        am.upload(coll.artifacts, archive(tmp_path))
    (row,) = aserver.artifact_rows(coll.id)
    assert row["status"] == "upload_failed"


def test_storage_refusing_a_delete_marks_it(tmp_path: Path, coll: Collection,
                                            aserver: LocalServer) -> None:
    a = coll.artifacts.upload(archive(tmp_path))
    aserver.add_fault(Fault(kind="status", status=403, method="DELETE", scope="storage"))
    with pytest.raises(dfo.PermissionDeniedError):
        a.delete()
    assert coll.artifacts.get(id=a.id).status is ArtifactStatus.DELETION_FAILED


def test_artifact_collection(tmp_path: Path, coll: Collection) -> None:
    a = coll.artifacts.upload(archive(tmp_path))
    assert a.collection == coll
    assert coll.artifacts.get(id=a.id).collection.total_artifacts == 1


def test_a_lost_answer_to_the_create_leaves_one_artifact(am: Any, tmp_path: Path,
                                                         coll: Collection,
                                                         aserver: LocalServer) -> None:
    # the create is committed, then its connection dropped: the row it made is found and
    # removed (its upload URLs were lost with the answer), and the create sent again
    aserver.add_fault(Fault(kind="drop_after", method="POST", path="/artifacts$", times=1))
    a = am.upload(coll.artifacts, archive(tmp_path))
    assert a.status is ArtifactStatus.UPLOADED
    assert [r["id"] for r in aserver.artifact_rows(coll.id)] == [a.id]


def test_a_lost_answer_to_the_status_patch_is_settled(am: Any, tmp_path: Path,
                                                      coll: Collection,
                                                      aserver: LocalServer) -> None:
    # PATCH uploaded is applied, its answer lost: the re-sent PATCH is an invalid transition,
    # and the upload reads the artifact back instead of failing
    aserver.add_fault(Fault(kind="drop_after", method="PATCH", times=1))
    a = am.upload(coll.artifacts, archive(tmp_path))
    assert a.status is ArtifactStatus.UPLOADED
    assert aserver.artifact_rows(coll.id)[0]["status"] == "uploaded"


def test_a_create_that_timed_out_is_not_left_pending(tmp_path: Path, aserver: LocalServer,
                                                     asession: Session) -> None:
    s = Session(api_key=aserver.api_key, base_url=aserver.url,
                organization=aserver.organization_id, orbit=asession.orbit, timeout=(5, 0.4),
                retry=RetryPolicy(attempts=2, backoff=0.0))
    with s:
        c = Collection.objects.create(name="slow", collection_type="model")
        aserver.add_fault(Fault(kind="delay", delay=1.0, method="POST", path="/artifacts$",
                                times=1))
        with pytest.raises(dfo.TimeoutError):
            c.artifacts.upload(archive(tmp_path))
        assert aserver.artifact_rows(c.id) == []  # found once committed, and removed
    s.close()


def test_download_checks_the_hash_unless_told_not_to(am: Any, tmp_path: Path,
                                                    coll: Collection) -> None:
    path = archive(tmp_path)
    a = am.upload(coll.artifacts, path)
    object.__setattr__(a, "file_hash", "0" * 64)  # as if the stored file did not match
    with pytest.raises(dfo.IntegrityError, match="SHA-256"):
        am.download(a, tmp_path / "checked.luml")
    assert not (tmp_path / "checked.luml").exists()  # nothing kept
    got = am.download(a, tmp_path / "unchecked.luml", verify=False)
    assert Path(got).read_bytes() == path.read_bytes()
