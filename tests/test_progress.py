"""Progress: observers (a callable or a list of them) see every byte, sync and async; the bar
(tqdm, bytes, rate and ETA) is drawn only on a terminal, throttled, and turned off by
``progress=False``, the session's ``progress_bars=False`` or the environment."""

from __future__ import annotations

import io
import itertools
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import dataforce_orm as dfo
from dataforce_orm import Artifact, Collection, Session
from dataforce_orm._progress import Bar, Progress, progress_for
from dataforce_orm.testing import LocalServer, make_luml_archive


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    """A server of this module's own (the shared one's organization holds 50 artifacts)."""
    with LocalServer() as srv:
        srv.set_organization_limits(srv.organization_id, orbits=100, artifacts=10_000)
        yield srv

MIB = 1024 * 1024


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def coll(session: Session) -> Collection:
    return Collection.objects.create(name="bars", collection_type="model")


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return make_luml_archive(tmp_path / "s.luml", files={"w": os.urandom(3 * MIB + 5)})


def test_every_observer_sees_every_byte(m: Any, coll: Collection, small: Path,
                                        tmp_path: Path) -> None:
    a: list[tuple[int, int]] = []
    b: list[tuple[int, int]] = []
    art = m.upload(coll.artifacts, small, progress=[lambda d, t: a.append((d, t)),
                                                    lambda d, t: b.append((d, t))])
    size = small.stat().st_size
    assert a == b and a[-1] == (size, size) and len(a) > 1
    got: list[tuple[int, int]] = []
    m.download(art, tmp_path / "o", progress=lambda d, t: got.append((d, t)))
    assert got[-1] == (size, size) and all(x <= y for (x, _), (y, _) in itertools.pairwise(got))


def test_a_bad_observer_is_refused(coll: Collection, small: Path) -> None:
    with pytest.raises(dfo.ValidationError, match="progress"):
        coll.artifacts.upload(small, progress=["not callable"])  # type: ignore[list-item]


def test_the_bar_is_drawn_on_a_terminal_with_bytes_rate_and_eta(
        coll: Collection, small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    art = coll.artifacts.upload(small)  # the default: a bar, on a terminal
    shown = term.getvalue()
    size = f"{small.stat().st_size / MIB:.2f}M"
    assert "upload s.luml" in shown and "100%" in shown, shown
    assert f"{size}/{size}" in shown  # bytes done of the total
    assert "B/s]" in shown and "<00:00" in shown  # the rate, and the time left
    term.seek(0)
    term.truncate()
    art.download(tmp_path / "o", progress=True)
    assert "download o" in term.getvalue() and "100%" in term.getvalue()


def test_no_bar_when_stderr_is_not_a_terminal(
        coll: Collection, small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    captured = io.StringIO()  # a log file, a CI job's output
    monkeypatch.setattr(sys, "stderr", captured)
    coll.artifacts.upload(small, progress=True)
    assert captured.getvalue() == ""


@pytest.mark.parametrize("off", ["argument", "session", "DFS_DISABLE_PROGRESS_BARS",
                                 "LUML_DISABLE_PROGRESS_BARS"])
def test_bars_turned_off(session: Session, coll: Collection, small: Path,
                         monkeypatch: pytest.MonkeyPatch, off: str) -> None:
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    kw: dict[str, Any] = {}
    if off == "argument":
        kw["progress"] = False
    elif off == "session":
        monkeypatch.setattr(session, "progress_bars", False)
    else:
        monkeypatch.setenv(off, "1")
    coll.artifacts.upload(small, **kw)
    assert term.getvalue() == ""


def test_the_bar_is_throttled(coll: Collection, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    big = make_luml_archive(tmp_path / "b.luml", files={"w": os.urandom(24 * MIB)})
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    updates: list[int] = []
    art = coll.artifacts.upload(big, progress=False)
    bar = progress_for(None, art.size, "download", True)
    assert bar is not None
    bar.observers.append(lambda d, t: updates.append(d))
    art.download(tmp_path / "o", progress=bar)
    assert len(updates) >= 24
    assert term.getvalue().count("\r") < len(updates) // 2  # not a redraw per chunk


def test_one_bar_over_several_transfers(m: Any, coll: Collection, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    arts: list[Artifact] = []
    for i in range(3):
        p = make_luml_archive(tmp_path / f"m{i}.luml", files={"w": os.urandom(MIB)})
        arts.append(coll.artifacts.upload(p, progress=False))
    bar = Bar("3 files")
    shared = Progress(0, [bar], "3 files")
    for a in arts:
        shared.grow(a.size)
    for a in arts:
        m.download(a, tmp_path / f"o-{a.id}", progress=shared)
    bar.close()
    assert term.getvalue().count("3 files") >= 1
    assert shared.done == sum(a.size for a in arts) == shared.total
