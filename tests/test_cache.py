"""The download cache: keyed by artifact id and declared SHA-256, entered only once verified,
served without a transfer, placed at an explicit target by a hard link or a copy, refreshed by
``force=True``, and one complete file when threads or processes download at once."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from parity import MakeSession

import dataforce_orm as dfo
from dataforce_orm import Artifact, Collection, Session
from dataforce_orm.testing import LocalServer, RequestCounter, make_luml_archive


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """A server of this module's own (the shared one's organization holds 50 artifacts)."""
    with LocalServer() as srv:
        srv.set_organization_limits(srv.organization_id, orbits=100, artifacts=10_000)
        yield srv


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv("DFS_CACHE_DIR", str(where))
    return where


@pytest.fixture
def art(session: Session, tmp_path: Path) -> Artifact:
    coll = Collection.objects.create(name="cached", collection_type="model")
    src = make_luml_archive(tmp_path / "best.luml", files={"w": os.urandom(200_000)})
    return coll.artifacts.upload(src)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_second_download_is_served_from_the_cache(
        m: Any, art: Artifact, cache_dir: Path) -> None:
    first = m.download(art, cache=True)
    assert first == cache_dir / "artifacts" / art.id / art.file_hash / "best.luml"
    assert _sha(first) == art.file_hash
    with RequestCounter() as sent:
        again = m.download(art, cache=True)
    assert again == first and sent.total == 0  # no request, no transfer
    with RequestCounter() as sent:
        m.download(art, cache=True, force=True)
    assert sent.total >= 1 and _sha(first) == art.file_hash


def test_an_explicit_target_is_linked_or_copied_from_the_cache(
        m: Any, art: Artifact, cache_dir: Path, tmp_path: Path) -> None:
    cached = m.download(art, cache=True)
    with RequestCounter() as sent:
        into = m.download(art, directory=tmp_path / "work", cache=True)
        exact = m.download(art, path=tmp_path / "model.tar", cache=True)
    assert sent.total == 0
    assert into == tmp_path / "work" / "best.luml" and _sha(into) == art.file_hash
    assert exact.read_bytes() == cached.read_bytes()
    assert os.path.samefile(into, cached)  # the same file system here: a hard link


def test_the_session_setting_and_its_directory(
        art: Artifact, tmp_path: Path, make_session: MakeSession) -> None:
    with make_session(cache=True, cache_dir=tmp_path / "mine") as s:
        got = art.download(using=s)
    assert got.is_relative_to(tmp_path / "mine")
    assert art.download(using=s) == got


def test_luml_cache_dir(monkeypatch: pytest.MonkeyPatch, art: Artifact,
                        tmp_path: Path) -> None:
    monkeypatch.delenv("DFS_CACHE_DIR", raising=False)
    monkeypatch.setenv("LUML_CACHE_DIR", str(tmp_path / "luml"))
    assert art.download(cache=True).is_relative_to(tmp_path / "luml")


def test_the_default_location_is_the_users_cache_directory(
        monkeypatch: pytest.MonkeyPatch, art: Artifact, tmp_path: Path) -> None:
    for var in ("DFS_CACHE_DIR", "LUML_CACHE_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert art.download(cache=True).is_relative_to(tmp_path / "xdg" / "dataforce-orm")


def test_an_artifact_without_a_sha256_is_never_cached(
        art: Artifact, cache_dir: Path, tmp_path: Path) -> None:
    art.file_hash = "not-a-sha"
    out = art.download(tmp_path / "a.luml", cache=True)
    assert out == tmp_path / "a.luml" and not cache_dir.exists()
    with RequestCounter() as sent:
        art.download(tmp_path / "b.luml", cache=True)
    assert sent.total >= 1  # transferred again


def test_a_file_enters_only_once_verified(m: Any, art: Artifact, cache_dir: Path) -> None:
    art.file_hash = "0" * 64  # what the bytes will not match
    with pytest.raises(dfo.IntegrityError):
        m.download(art, cache=True)
    entry = cache_dir / "artifacts" / art.id / ("0" * 64)
    assert [p.name for p in entry.iterdir()] == [".lock"]  # no file, no .part


def test_threads_downloading_at_once_make_one_complete_file(
        art: Artifact, cache_dir: Path) -> None:
    results: list[Path] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(art.download(cache=True))
        except BaseException as exc:  # reported below
            errors.append(exc)

    with RequestCounter() as sent:
        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == [] and len(set(results)) == 1
    assert _sha(results[0]) == art.file_hash
    assert sent.by_method["GET"] == 1  # one download URL asked for: one transfer
    assert sorted(p.name for p in results[0].parent.iterdir()) == [".lock", "best.luml"]


def _child(params: dict[str, Any], art_id: str, out: Any) -> None:
    os.environ["DFS_CACHE_DIR"] = params.pop("cache")
    with Session(**params) as s:
        a = Artifact.objects.using(s).get(id=art_id)
        out.put(str(a.download(cache=True)))


def test_processes_downloading_at_once_make_one_complete_file(
        server: LocalServer, session: Session, art: Artifact, cache_dir: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    params = {"api_key": server.api_key, "base_url": server.url,
              "organization": session.organization, "orbit": session.orbit,
              "cache": str(cache_dir)}
    procs = [ctx.Process(target=_child, args=(dict(params), art.id, out)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    paths = {out.get(timeout=5) for _ in procs}
    assert len(paths) == 1
    got = Path(paths.pop())
    assert _sha(got) == art.file_hash
    assert sorted(p.name for p in got.parent.iterdir()) == [".lock", "best.luml"]
