"""The demo: every step shows, it works in its own namespace, and it always cleans up."""

from __future__ import annotations

import io
import itertools
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataforce_orm.__main__ import main
from dataforce_orm._demo import run_demo
from dataforce_orm.testing import Fault, LocalServer

ROOT = Path(__file__).resolve().parent.parent
STEPS = ("1. Create", "2. Query", "3. Update with tags", "4. A conflict, caught",
         "5. Bad input", "6. Delete", "Done:")
_orbits = itertools.count()


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalServer]:
    """A LocalServer standing in for a configured platform."""
    with LocalServer() as srv:
        yield srv


@pytest.fixture
def orbit(platform: LocalServer, no_config: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh orbit, configured through DFS_*, holding one collection that is not the demo's."""
    orbit_id = platform.add_orbit(platform.organization_id, f"demo-orbit-{next(_orbits)}")
    platform.insert_collections(orbit_id, [{"name": "keep-me", "type": "model", "tags": ["ml"]}])
    monkeypatch.setenv("DFS_BASE_URL", platform.url)
    monkeypatch.setenv("DFS_API_KEY", platform.api_key)
    monkeypatch.setenv("DFS_ORGANIZATION", platform.organization_id)
    monkeypatch.setenv("DFS_ORBIT", orbit_id)
    return orbit_id


def namespace(output: str) -> str:
    found = re.search(r"namespace (dfo-demo-[0-9a-f]{6}-) ", output)
    assert found, output
    return found.group(1)


def rows(output: str, what: str) -> list[str]:
    """The result column of every row that starts with ``what``."""
    return [line.strip()[len(what):].strip() for line in output.splitlines()
            if line.strip().startswith(what)]


def row(output: str, what: str) -> str:
    """The result column of the first row that starts with ``what``."""
    found = rows(output, what)
    assert found, f"no row {what!r} in:\n{output}"
    return found[0]


def test_demo_without_a_key_uses_an_in_process_local_server(no_config: None) -> None:
    out = io.StringIO()
    level = logging.getLogger("dataforce_orm").level
    assert run_demo(out) == 0
    text = out.getvalue()
    assert "no DFS_API_KEY / LUML_API_KEY set (nor a key stored by login): using an " \
           "in-process LocalServer at http://127.0.0.1:" in text
    for step in STEPS:
        assert step in text
    assert logging.getLogger("dataforce_orm").level == level  # the request counter is gone


def test_demo_against_the_configured_platform(platform: LocalServer, orbit: str) -> None:
    out = io.StringIO()
    assert run_demo(out) == 0
    text = out.getvalue()
    assert f"the configured platform at {platform.url}" in text
    prefix = namespace(text)
    # Each step shows its results; the orbit's own collection never appears in them.
    assert [line.split()[1] for line in text.splitlines() if line.startswith("   + ")] == [
        "training-images", "resnet-50", "lr-sweep", "scratch"]
    assert rows(text, "ours.count()") == ["4", "0"]  # before and after deleting
    assert row(text, ".filter(collection_type=MODEL)") == "resnet-50"
    assert row(text, '.filter(tags__contains="ml").count()') == "3"
    assert row(text, '.exclude(tags__contains="tmp")') == "scratch, resnet-50, training-images"
    assert row(text, '.order_by("name")') == "lr-sweep, resnet-50, scratch, training-images"
    assert row(text, '.order_by("-created_at").first()') == "scratch"
    assert row(text, "c.save()") == "sent GET + PATCH; tags [ml, vision, prod, reviewed]"
    assert row(text, "c.save() again") == "nothing changed, so requests sent: none"
    assert "description kept as 'tuned by a teammate'" in text
    assert "ConflictError on ['description']" in text
    assert row(text, "c.refresh(discard=True)") == "description is 'final numbers'"
    assert "name: must be at most 100 characters (got 101)" in text
    assert "tags[1]: must be a string, not int" in text
    assert "created_at__gt: not an ISO-8601 time" in text
    assert rows(text, "requests sent") == ["4 requests (POST x4)", "none"]
    assert row(text, "scratch.delete()") == "deleted; scratch.id is None"
    assert row(text, "ours.delete()") == "3 deleted"
    assert "cleaned up" not in text  # the tour itself deleted everything it made
    names = [r["name"] for r in platform.collection_rows(orbit)]
    assert names == ["keep-me"]
    assert not any(n.startswith(prefix) for n in names)


def test_demo_cleans_up_after_a_server_error(platform: LocalServer, orbit: str) -> None:
    platform.add_fault(Fault("status", status=500, method="PATCH", times=1))
    try:
        out = io.StringIO()
        assert run_demo(out) == 1
    finally:
        platform.clear_faults()
    text = out.getvalue()
    assert "demo failed: ServerError: 500 PATCH" in text
    assert "cleaned up 4 leftover" in text
    assert [r["name"] for r in platform.collection_rows(orbit)] == ["keep-me"]


class _Interrupting(io.StringIO):
    """An output that raises KeyboardInterrupt (like Ctrl-C) when the conflict step starts."""

    def write(self, s: str) -> int:
        if s.startswith("4. A conflict"):
            raise KeyboardInterrupt
        return super().write(s)


def test_demo_cleans_up_when_interrupted(platform: LocalServer, orbit: str) -> None:
    out = _Interrupting()
    with pytest.raises(KeyboardInterrupt):
        run_demo(out)
    assert "cleaned up 4 leftover" in out.getvalue()
    assert [r["name"] for r in platform.collection_rows(orbit)] == ["keep-me"]


def test_demo_reports_a_bad_key(platform: LocalServer, orbit: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFS_API_KEY", "dfs_not-a-real-key")
    out = io.StringIO()
    assert run_demo(out) == 1
    assert "demo failed: AuthenticationError: 401" in out.getvalue()
    assert [r["name"] for r in platform.collection_rows(orbit)] == ["keep-me"]


def test_demo_command(no_config: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    captured = capsys.readouterr()
    assert "in-process LocalServer" in captured.out and "6. Delete" in captured.out
    assert captured.err == ""


def test_python_m_dataforce_orm_demo_with_no_configuration() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DFS_", "LUML_"))}
    done = subprocess.run([sys.executable, "-m", "dataforce_orm", "demo"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "in-process LocalServer" in done.stdout
    for step in STEPS:
        assert step in done.stdout
    assert done.stderr == ""  # no debug noise, no warnings


def test_demo_into_a_closed_pipe_stops_quietly() -> None:
    """Like `dataforce-orm demo | head`: no BrokenPipeError traceback, a non-zero exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DFS_", "LUML_"))}
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first line
    try:
        done = subprocess.run([sys.executable, "-m", "dataforce_orm", "demo"], cwd=ROOT, env=env,
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert done.stderr == ""
