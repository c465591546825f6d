"""Session(transport=...): API calls and artifact uploads and downloads (single PUT and
multipart), sync and async, answered by a LocalServer that was never started (no socket),
through dataforce_orm.testing.InProcessTransport; the retry engine still re-sends through it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataforce_orm import ArtifactStatus, Collection, RetryPolicy, Session, ValidationError
from dataforce_orm.testing import Fault, InProcessTransport, LocalServer, make_luml_archive

PART = 16 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    # Never started: nothing listens on the port its URLs name (a request that missed the
    # transport would be refused).
    srv = LocalServer(port=9, multipart_threshold=4 * PART, multipart_part_size=PART)
    yield srv
    srv.close()


@pytest.fixture
def session(server: LocalServer) -> Iterator[Session]:
    s = Session(api_key=server.api_key, base_url=server.url,
                organization=server.organization_id, orbit=server.orbit_id,
                retry=RetryPolicy(sleep=lambda _: None, async_sleep=_no_sleep, backoff=0.0),
                transport=InProcessTransport(server))
    yield s
    s.close()
    server.clear_faults()


async def _no_sleep(seconds: float) -> None:
    return None


def _archive(tmp_path: Path, size: int) -> Path:
    return make_luml_archive(tmp_path / "model.luml", files={"weights.bin": os.urandom(size)})


def test_the_server_has_no_socket(server: LocalServer) -> None:
    assert server._httpd is None  # every answer below came without one


def test_api_calls_go_through_the_transport(server: LocalServer, session: Session) -> None:
    before = len(server.request_log)
    made = Collection.objects.using(session).create(name="in-process", collection_type="model")
    made.description = "edited"
    made.save()
    got = Collection.objects.using(session).filter(name__icontains="in-proc")[:10]
    assert [c.id for c in got] == [made.id] and got[0].description == "edited"
    made.delete()
    methods = [m for m, p in server.request_log[before:] if p.startswith("/v1/")]
    assert "POST" in methods and "PATCH" in methods and "DELETE" in methods


@pytest.mark.parametrize("size", [1024, 5 * PART + 77])  # one PUT; multipart (6 parts)
def test_upload_and_download_through_the_transport(server: LocalServer, session: Session,
                                                   tmp_path: Path, size: int) -> None:
    coll = Collection.objects.using(session).create(name=f"files-{size}",
                                                    collection_type="model")
    path = _archive(tmp_path, size)
    before = len(server.request_log)
    art = coll.artifacts.upload(path, concurrency=3)
    storage = [m for m, p in server.request_log[before:] if not p.startswith("/v1/")]
    assert art.status is ArtifactStatus.UPLOADED
    if size < PART:
        assert storage == ["PUT"]
    else:
        assert storage.count("PUT") == 6
    out = art.download(tmp_path / "out")
    assert out.read_bytes() == path.read_bytes()
    with art.open() as f:
        assert f.read() == path.read_bytes()


def test_async_calls_and_transfers_go_through_the_transport(
        server: LocalServer, session: Session, tmp_path: Path) -> None:
    path = _archive(tmp_path, 5 * PART + 5)

    async def go() -> bytes:
        coll = await Collection.objects.using(session).acreate(name="async-files",
                                                               collection_type="model")
        art = await coll.artifacts.aupload(path)
        out = await art.adownload(tmp_path / "out")
        await session.aclose()
        return out.read_bytes()

    before = len(server.request_log)
    assert asyncio.run(go()) == path.read_bytes()
    assert any(not p.startswith("/v1/") for _, p in server.request_log[before:])


def test_an_api_503_is_retried_through_the_transport(
        server: LocalServer, session: Session) -> None:
    server.add_fault(Fault("status", status=503, method="GET", path="/collections$", times=1))
    before = len(server.request_log)
    assert Collection.objects.using(session).filter(name="nothing-here").count() == 0
    gets = [p for m, p in server.request_log[before:] if m == "GET" and "collections" in p]
    assert len(gets) == 2  # the 503, then the answer


def test_a_storage_drop_is_retried_through_the_transport(
        server: LocalServer, session: Session, tmp_path: Path) -> None:
    coll = Collection.objects.using(session).create(name="dropped", collection_type="model")
    server.add_fault(Fault("drop", method="PUT", scope="storage", times=1))
    before = len(server.request_log)
    art = coll.artifacts.upload(_archive(tmp_path, 1024))
    puts = [p for m, p in server.request_log[before:] if m == "PUT"]
    assert art.status is ArtifactStatus.UPLOADED and len(puts) == 2


def test_a_transport_without_the_two_hooks_is_refused(server: LocalServer) -> None:
    with pytest.raises(ValidationError, match="transport"):
        Session(api_key=server.api_key, base_url=server.url, transport=object())  # type: ignore[arg-type]
