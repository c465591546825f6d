"""Many artifacts at once: ``bulk_upload`` and ``bulk_download`` with each item's result or
error in its slot, sync and async, one progress for the whole; and the session's cap on
storage connections, whatever mix of items and parts asks for them."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

import dataforce_orm as dfo
from dataforce_orm import Artifact, ArtifactStatus, Collection, RetryPolicy, Session
from dataforce_orm._storage_gate import Gate
from dataforce_orm.testing import LocalServer, make_luml_archive

PART = 16 * 1024


@pytest.fixture(scope="module")
def small_parts() -> Any:
    with LocalServer(multipart_threshold=4 * PART, multipart_part_size=PART) as srv:
        yield srv


@pytest.fixture
def bsession(small_parts: LocalServer) -> Any:
    orbit = small_parts.add_orbit(small_parts.organization_id, f"bulk-{os.urandom(4).hex()}")
    with Session(api_key=small_parts.api_key, base_url=small_parts.url,
                 organization=small_parts.organization_id, orbit=orbit,
                 retry=RetryPolicy(sleep=lambda _: None, backoff=0.0),
                 max_storage_connections=3) as s:
        yield s


def _call(mode: str, fn: Any, *a: Any, **kw: Any) -> Any:
    if mode == "sync":
        return fn(*a, **kw)
    import asyncio

    return asyncio.run(fn(*a, **kw))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_bulk_upload_and_download_keep_each_items_slot(
        bsession: Session, tmp_path: Path, mode: str) -> None:
    coll = Collection.objects.create(name="bulk", collection_type="mixed")
    paths: list[Any] = [make_luml_archive(tmp_path / f"m{i}.luml",
                                          files={"w": os.urandom(10 * PART * (i % 2) + 99)})
                        for i in range(5)]
    paths.insert(2, tmp_path / "missing.luml")  # an error in its slot, the rest go on
    seen: list[tuple[int, int]] = []
    up = coll.artifacts.abulk_upload if mode == "async" else coll.artifacts.bulk_upload
    got = _call(mode, up, paths, concurrency=3, progress=lambda d, t: seen.append((d, t)),
                tags=["bulk"])
    assert isinstance(got[2], dfo.ValidationError) and "missing.luml" in str(got[2])
    arts = [a for a in got if isinstance(a, Artifact)]
    assert len(arts) == 5 and [a.name for a in arts] == [f"m{i}.luml" for i in range(5)]
    assert all(a.status is ArtifactStatus.UPLOADED and a.tags == ["bulk"] for a in arts)
    total = sum(p.stat().st_size for p in paths if p.exists())
    assert seen[-1] == (total, total)  # one progress over every file
    down = Artifact.objects.abulk_download if mode == "async" else \
        Artifact.objects.bulk_download
    out = _call(mode, down, [*arts, Artifact()], tmp_path / "out",
                concurrency=2)
    assert isinstance(out[-1], dfo.ValidationError)
    for art, path, src in zip(arts, out, [p for p in paths if p.exists()], strict=False):
        assert path == tmp_path / "out" / art.name and path.read_bytes() == src.read_bytes()


def test_storage_connections_are_capped_once_per_session(
        bsession: Session, tmp_path: Path) -> None:
    gate = bsession.driver.storage.gate
    assert isinstance(gate, Gate) and gate.limit == 3
    lock, now, peak = threading.Lock(), [0], [0]
    run = gate.run

    def counted(fn: Any) -> Any:
        def inner() -> Any:
            with lock:
                now[0] += 1
                peak[0] = max(peak[0], now[0])
            try:
                return fn()
            finally:
                with lock:
                    now[0] -= 1
        return run(inner)

    gate.run = counted  # type: ignore[method-assign]
    coll = Collection.objects.create(name="cap", collection_type="mixed")
    paths = [make_luml_archive(tmp_path / f"c{i}.luml", files={"w": os.urandom(12 * PART)})
             for i in range(4)]
    got = coll.artifacts.bulk_upload(paths, concurrency=4)
    assert all(isinstance(a, Artifact) for a in got)
    assert 1 < peak[0] <= 3  # 4 items x 4 parts asked for 16 at once; the session allows 3


def test_bad_arguments(bsession: Session) -> None:
    coll = Collection.objects.create(name="bad", collection_type="mixed")
    with pytest.raises(dfo.ValidationError, match="concurrency"):
        coll.artifacts.bulk_upload([], concurrency=0)
    with pytest.raises(dfo.ValidationError, match="max_storage_connections"):
        Session(api_key="dfs_x" * 4, max_storage_connections=0)
