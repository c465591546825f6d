"""Running the command line in a subprocess against a LocalServer, for the CLI tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from dataforce_orm.testing import LocalServer

ROOT = Path(__file__).resolve().parent.parent


def cli_env(srv: LocalServer, orbit: str, tmp_path: Path) -> dict[str, str]:
    """This process's environment without any DFS_/LUML_ setting, pointed at ``srv``'s
    ``orbit`` (no config file)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DFS_", "LUML_"))}
    env.update(PYTHONPATH=str(ROOT), DFS_BASE_URL=srv.url, DFS_API_KEY=srv.api_key,
               DFS_ORBIT=orbit, DFS_CONFIG_FILE=str(tmp_path / "none.ini"))
    return env


def dfo(env: dict[str, str], *args: str, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    """``dataforce-orm ARGS`` run in ``env`` (``stdin`` its input, else none)."""
    return subprocess.run([sys.executable, "-m", "dataforce_orm", *args], env=env,
                          capture_output=True, text=True, timeout=60, input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL)


def ok(env: dict[str, str], *args: str) -> Any:
    """The JSON answer of ``dataforce-orm ARGS --json``, which must succeed silently."""
    done = dfo(env, *args, "--json")
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return json.loads(done.stdout)
