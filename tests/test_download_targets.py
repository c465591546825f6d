"""Where ``download()`` writes: ``directory=`` (made with its parents), ``path=`` (its
directory must exist), the plain target's rule, and every file-system problem as a
DataForceError naming the path, sync and async."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
def art(session: Session, tmp_path: Path) -> Artifact:
    coll = Collection.objects.create(name="dl", collection_type="model")
    src = make_luml_archive(tmp_path / "best.luml", files={"w": os.urandom(700)})
    return coll.artifacts.upload(src)


def test_directory_is_made_with_its_parents(m: Any, art: Artifact, tmp_path: Path) -> None:
    out = m.download(art, directory=tmp_path / "work" / "best")
    assert out == tmp_path / "work" / "best" / "best.luml"
    assert out.read_bytes() == (tmp_path / "best.luml").read_bytes()
    again = m.download(art, directory=str(tmp_path / "work" / "best"))  # it exists now
    assert again == out


def test_path_is_the_files_own(m: Any, art: Artifact, tmp_path: Path) -> None:
    out = m.download(art, path=tmp_path / "model.tar")
    assert out == tmp_path / "model.tar" and out.stat().st_size == art.size


@pytest.mark.parametrize("how", ["path", "plain"])
def test_a_missing_parent_is_an_error_naming_it(m: Any, art: Artifact, tmp_path: Path,
                                                 how: str) -> None:
    where = tmp_path / "missing" / "model.luml"
    with RequestCounter() as sent, pytest.raises(dfo.DataForceError) as info:
        if how == "path":
            m.download(art, path=where)
        else:
            m.download(art, where)
    assert str(tmp_path / "missing") in str(info.value) and "no such directory" in str(
        info.value)
    assert sent.total == 0 and not (tmp_path / "missing").exists()


def test_the_plain_rule(m: Any, art: Artifact, tmp_path: Path) -> None:
    (tmp_path / "existing").mkdir()
    assert m.download(art, tmp_path / "existing") == tmp_path / "existing" / "best.luml"
    assert m.download(art, tmp_path / "file") == tmp_path / "file"  # not a directory: a file
    assert (tmp_path / "file").is_file()
    made = m.download(art, f"{tmp_path}/new/dir/")  # a separator at the end: a directory
    assert made == tmp_path / "new" / "dir" / "best.luml"


def test_file_system_problems_are_errors_naming_the_path(
        m: Any, art: Artifact, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file")
    with pytest.raises(dfo.DataForceError, match="it is a file") as info:
        m.download(art, directory=blocker)
    assert str(blocker) in str(info.value)
    with pytest.raises(dfo.DataForceError) as info:
        m.download(art, directory=blocker / "sub")
    assert str(blocker) in str(info.value)
    with pytest.raises(dfo.DataForceError, match="is a directory"):
        m.download(art, path=tmp_path)
    (tmp_path / "out.luml.part").mkdir()  # where the download is written meanwhile
    with pytest.raises(dfo.DataForceError) as info:
        m.download(art, path=tmp_path / "out.luml")
    assert "out.luml" in str(info.value)
    assert not (tmp_path / "out.luml").exists()


def test_one_target_only(art: Artifact, tmp_path: Path) -> None:
    with pytest.raises(dfo.ValidationError, match="not both"):
        art.download(tmp_path, directory=tmp_path)
    with pytest.raises(dfo.ValidationError, match="not both"):
        art.download(path=tmp_path / "a", directory=tmp_path)
