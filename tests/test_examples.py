"""Every examples/*.py runs as a user would run it, against a LocalServer, on a fresh orbit."""

from __future__ import annotations

import ast
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataforce_orm.testing import LocalServer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))
# Lines each script must print: what it shows, and the proof it got to the end.
KEY_LINES = {
    "01_quickstart.py": ("updated   tags=['ml', 'prod']", "deleted   quickstart-"),
    "02_querying.py": ("images AND prod        vit-small, cats", "cleaned up 6 collections"),
    "03_updates_and_conflicts.py": ("ConflictError caught:  description",
                                    "bulk update            1 collection(s)"),
    "04_async.py": ("async for saw 5 collections", "adelete()              5 deleted"),
    "05_errors_and_retries.py": ("AuthenticationError    401",
                                 "TransportError after 3 attempts"),
    "06_artifacts.py": ("best      churn-v1 (accuracy 0.93)", "deleted   artifacts-"),
    "07_registry.py": ("registered run1 as v2 (staging)", "production v2: run1, accuracy 0.93",
                       "deleted    churn-"),
    "08_deploying.py": ("deployed  clf-prod (clf-v1): active", "inference 200 {'x': [1, 2]}",
                        "rolled    clf-prod now serves clf-v2: active", "deleted   deploying-"),
    "09_workflow.py": ("auc>=0.85 ['churn-v1', 'churn-v2']", "bulk      rows.csv, ValidationError",
                       "async     rows-async", "deleted   workflow-"),
}
_orbits = itertools.count()


@pytest.fixture(scope="module")
def platform() -> Iterator[LocalServer]:
    with LocalServer() as srv:
        yield srv


def test_every_example_is_listed() -> None:
    assert sorted(p.name for p in SCRIPTS) == sorted(KEY_LINES)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_has_a_docstring(script: Path) -> None:
    doc = ast.get_docstring(ast.parse(script.read_text()))
    assert doc and "python examples/" + script.name in doc


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_runs(script: Path, platform: LocalServer) -> None:
    orbit = platform.add_orbit(platform.organization_id, f"examples-{next(_orbits)}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DFS_", "LUML_"))}
    env.update(DFS_BASE_URL=platform.url, DFS_API_KEY=platform.api_key,
               DFS_ORGANIZATION=platform.organization_id, DFS_ORBIT=orbit)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=60, cwd=EXAMPLES.parent)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    for line in KEY_LINES[script.name]:
        assert line in done.stdout, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    if script.name == "05_errors_and_retries.py":  # each retry is logged at WARNING
        assert done.stderr.count("[log] retrying GET") == 2, done.stderr
    assert platform.collection_rows(orbit) == [], "the example left collections behind"
