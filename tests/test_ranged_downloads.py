"""Parallel ranged downloads against LocalServer's storage, sync and async: the file written
in place from ranges and verified, a range failing once retried alone, a bad Content-Range
refused, a server that ignores ``Range`` served as one stream, and ``concurrency``: the
ranges in flight at once (1: one stream), checked before any request."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dataforce_orm as dfo
from dataforce_orm import Artifact, Collection, RetryPolicy, _transfer
from dataforce_orm.testing import Fault, LocalServer, make_luml_archive
from dataforce_orm.testing._storage import Exchange, Storage

RANGE = 64 * 1024


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """A server of this module's own (the shared one's organization may be full)."""
    with LocalServer() as srv:
        srv.set_organization_limits(srv.organization_id, orbits=100, artifacts=10_000)
        yield srv


@pytest.fixture(autouse=True)
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_transfer, "RANGE_SIZE", RANGE)


@pytest.fixture
def ranged(make_session: Any) -> Any:
    with make_session(ranged_download_above=RANGE) as s:
        yield s


@pytest.fixture
def art(ranged: Any, tmp_path: Path) -> Artifact:
    coll = Collection.objects.create(name="ranged", collection_type="model")
    src = make_luml_archive(tmp_path / "big.luml", files={"w": os.urandom(5 * RANGE + 123)})
    return coll.artifacts.upload(src)


@pytest.fixture
def gets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """The Range header of each storage GET."""
    seen: list[str | None] = []
    real = Storage._get

    def spy(self: Storage, ex: Exchange, *args: Any, **kw: Any) -> None:
        seen.append(ex.headers.get("range"))
        real(self, ex, *args, **kw)

    monkeypatch.setattr(Storage, "_get", spy)
    yield seen


def _bad_content_range(monkeypatch: pytest.MonkeyPatch, times: int | None) -> None:
    """The next ``times`` 206 answers (None: all) name a range one byte off."""
    real = Exchange.send
    left = [times]

    def send(self: Exchange, status: int, headers: list[tuple[str, str]], *a: Any,
             **kw: Any) -> None:
        if status == 206 and left[0] != 0:
            left[0] = None if left[0] is None else left[0] - 1
            headers = [(k, v.replace("bytes ", "bytes 1") if k == "Content-Range" else v)
                       for k, v in headers]
        real(self, status, headers, *a, **kw)

    monkeypatch.setattr(Exchange, "send", send)


def test_a_large_download_comes_in_ranges_and_verifies(
        m: Any, art: Artifact, tmp_path: Path, gets: list[str | None]) -> None:
    out = m.download(art, path=tmp_path / "out.luml")
    assert out.read_bytes() == (tmp_path / "big.luml").read_bytes()
    size = art.size
    want = [f"bytes={a}-{min(a + RANGE, size) - 1}" for a in range(0, size, RANGE)]
    assert sorted(r or "" for r in gets) == sorted(want)
    assert not (tmp_path / "out.luml.part").exists()


def test_a_small_download_is_one_stream(make_session: Any, tmp_path: Path,
                                        gets: list[str | None]) -> None:
    with make_session(ranged_download_above=10 * RANGE):
        coll = Collection.objects.create(name="small", collection_type="model")
        src = make_luml_archive(tmp_path / "s.luml", files={"w": os.urandom(3 * RANGE)})
        out = coll.artifacts.upload(src).download(path=tmp_path / "o.luml")
    assert out.read_bytes() == src.read_bytes() and gets == [None]


def test_a_range_failing_once_is_retried_alone(
        m: Any, art: Artifact, tmp_path: Path, server: LocalServer,
        gets: list[str | None], sleeps: Any) -> None:
    server.add_fault(Fault(kind="status", status=503, method="GET", scope="storage", times=1))
    out = m.download(art, path=tmp_path / "out.luml")
    assert out.read_bytes() == (tmp_path / "big.luml").read_bytes()
    ranges = len(range(0, art.size, RANGE))
    assert len(gets) == ranges  # the failed one never reached the store; its retry did
    assert len(sleeps) == 1


def test_a_bad_content_range_is_asked_for_again(
        m: Any, art: Artifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        gets: list[str | None]) -> None:
    _bad_content_range(monkeypatch, times=1)
    out = m.download(art, path=tmp_path / "out.luml")
    assert out.read_bytes() == (tmp_path / "big.luml").read_bytes()
    assert len(gets) == len(range(0, art.size, RANGE)) + 1


def test_a_content_range_always_wrong_fails_leaving_nothing(
        m: Any, make_session: Any, art: Artifact, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, sleeps: Any) -> None:
    _bad_content_range(monkeypatch, times=None)
    retry = RetryPolicy(attempts=2, sleep=sleeps, async_sleep=sleeps.asleep)
    with make_session(ranged_download_above=RANGE, retry=retry) as s, \
            pytest.raises(dfo.TransportError, match="Content-Range"):
        m.download(art, path=tmp_path / "out.luml", using=s)
    assert not list(tmp_path.glob("out.luml*"))


def test_a_server_ignoring_range_still_works_as_one_stream(
        m: Any, art: Artifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        gets: list[str | None]) -> None:
    real = Storage._get

    def ignore(self: Storage, ex: Exchange, *args: Any, **kw: Any) -> None:
        ex.headers.pop("range", None)
        real(self, ex, *args, **kw)

    monkeypatch.setattr(Storage, "_get", ignore)
    seen: list[int] = []
    out = m.download(art, path=tmp_path / "out.luml",
                     progress=lambda done, total: seen.append(done))
    assert out.read_bytes() == (tmp_path / "big.luml").read_bytes()
    assert gets[-1] is None  # the last request: the whole file, asked without a range
    assert seen[-1] == art.size and max(seen) == art.size


def test_a_corrupt_range_fails_the_check(
        m: Any, art: Artifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Exchange._write

    def flip(self: Exchange, data: bytes) -> None:
        if len(data) > 100 and not data.startswith(b"HTTP/"):
            data = b"\0" + data[1:]
        real(self, data)

    monkeypatch.setattr(Exchange, "_write", flip)
    monkeypatch.setattr(Exchange, "_stream", lambda self, segs, first, length: _slow(
        self, segs, first, length))
    with pytest.raises(dfo.IntegrityError, match="SHA-256"):
        m.download(art, path=tmp_path / "out.luml")
    assert not list(tmp_path.glob("out.luml*"))


def _slow(ex: Exchange, segments: Any, first: int, length: int) -> None:
    """Send file bytes through ``_write`` (never sendfile), so the test can alter them."""
    for part in segments:
        if length <= 0:
            break
        if first >= part.size:
            first -= part.size
            continue
        count = min(part.size - first, length)
        with open(part.path, "rb") as f:
            f.seek(first)
            ex._write(f.read(count))
        length -= count
        first = 0


def test_concurrency_1_is_one_stream(m: Any, art: Artifact, tmp_path: Path,
                                     gets: list[str | None]) -> None:
    out = m.download(art, path=tmp_path / "out.luml", concurrency=1)
    assert out.read_bytes() == (tmp_path / "big.luml").read_bytes()
    assert gets == [None]


def test_concurrency_3_holds_at_most_3_ranges_in_flight(
        m: Any, art: Artifact, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each GET waits (briefly, released at once) until 3 are in flight: more would show."""
    real, busy = Storage._get, threading.Condition()
    now, peak = [0], [0]

    def counted(self: Storage, ex: Exchange, *args: Any, **kw: Any) -> None:
        with busy:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
            busy.notify_all()
            busy.wait_for(lambda: peak[0] >= 3, timeout=10)
        try:
            real(self, ex, *args, **kw)
        finally:
            with busy:
                now[0] -= 1

    monkeypatch.setattr(Storage, "_get", counted)
    out = m.download(art, path=tmp_path / "out.luml", concurrency=3)
    assert out.read_bytes() == (tmp_path / "big.luml").read_bytes()
    assert peak[0] == 3


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "4", None])
def test_a_bad_concurrency_is_refused_before_any_request(
        m: Any, art: Artifact, tmp_path: Path, server: LocalServer, bad: object) -> None:
    before = len(server.request_log)
    with pytest.raises(dfo.ValidationError, match=r"concurrency.*integer >= 1"):
        m.download(art, path=tmp_path / "out.luml", concurrency=bad)
    assert len(server.request_log) == before
    assert not list(tmp_path.glob("out.luml*"))


def test_ranges_are_sized_from_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """About four ranges per connection, in multiples of 8 MiB from 8 to 32 MiB."""
    mib = 1024 * 1024
    monkeypatch.setattr(_transfer, "RANGE_SIZE", 8 * mib)
    assert _transfer.range_size(1024 * mib, 4) == 32 * mib  # capped: 32 ranges
    assert _transfer.range_size(256 * mib, 4) == 16 * mib
    assert _transfer.range_size(100 * mib, 4) == 8 * mib  # 6.25 MiB, rounded up
    assert _transfer.range_size(65 * mib, 16) == 8 * mib  # never below 8 MiB
    assert _transfer.range_size(1024 * mib, 16) == 16 * mib


def test_the_ordered_hash_reads_back_what_exceeds_its_budget(tmp_path: Path) -> None:
    """Chunks arriving ahead of the next byte to hash beyond the budget are read back from
    the file: the digest is still the file's, in order."""
    import hashlib

    data = os.urandom(10 * 1000)
    path = tmp_path / "f"
    path.write_bytes(data)
    hasher = _transfer._OrderedHash(path, budget=2500)
    for offset in [9000, 7000, 8000, 3000, 1000, 2000, 4000, 6000, 5000, 0]:
        hasher.add(offset, data[offset:offset + 1000])
    hasher.close()
    assert hasher.done == len(data)
    assert hasher.digest.hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("bad", [-1, 1.5, True, "64"])
def test_the_threshold_is_checked(bad: object) -> None:
    with pytest.raises(dfo.ValidationError, match="ranged_download_above"):
        dfo.Session(api_key="dfs_x", base_url="http://127.0.0.1:9",
                    ranged_download_above=bad)  # type: ignore[arg-type]


def test_a_pickled_session_keeps_the_threshold() -> None:
    import pickle

    s = dfo.Session(api_key="dfs_x", base_url="http://127.0.0.1:9", ranged_download_above=None)
    assert pickle.loads(pickle.dumps(s)).ranged_download_above is None
