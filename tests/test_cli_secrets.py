"""The ``secrets`` commands and ``bucket-secrets test`` as a program (a subprocess) against one
LocalServer: values read from standard input or a file, never printed (tables, JSON, errors,
--debug logs)."""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_kit import cli_env, dfo

from dataforce_orm.testing import LocalServer

VALUE = "sk-cli-value-0123456789abcdef"
_orbits = itertools.count()


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalServer]:
    with LocalServer() as s:
        s.set_organization_limits(s.organization_id, orbits=100)
        yield s


@pytest.fixture
def env(srv: LocalServer, tmp_path: Path) -> dict[str, str]:
    return cli_env(srv, srv.add_orbit(srv.organization_id, f"cli-secrets-{next(_orbits)}"),
                   tmp_path)


def _no_value(*runs: subprocess.CompletedProcess[str]) -> None:
    for r in runs:
        assert VALUE not in r.stdout + r.stderr, r.args


def test_secret_lifecycle_on_the_command_line(srv: LocalServer, env: dict[str, str],
                                              tmp_path: Path) -> None:
    made = dfo(env, "secrets", "create", "OPENAI_API_KEY", "--value-file", "-", "--tag", "llm",
               "--json", "--debug", stdin=VALUE + "\n")
    assert made.returncode == 0, made.stderr
    data = json.loads(made.stdout)
    assert (data["name"], data["tags"]) == ("OPENAI_API_KEY", ["llm"]) and "value" not in data
    assert srv.orbit_secret_value(data["id"]) == VALUE  # the trailing newline dropped
    listed = dfo(env, "secrets", "list")
    assert listed.returncode == 0 and "OPENAI_API_KEY" in listed.stdout
    shown = dfo(env, "secrets", "get", "OPENAI_API_KEY")
    assert shown.returncode == 0 and data["id"] in shown.stdout
    rotated = tmp_path / "value.txt"
    rotated.write_text(VALUE + "-rotated")
    changed = dfo(env, "secrets", "set", "OPENAI_API_KEY", "--value-file", str(rotated),
                  "--name", "OPENAI_KEY", "--debug")
    assert changed.returncode == 0, changed.stderr
    assert srv.orbit_secret_value(data["id"]) == VALUE + "-rotated"
    renamed = dfo(env, "secrets", "set", "OPENAI_KEY", "--clear-tags", "--json")
    assert json.loads(renamed.stdout)["tags"] == []
    assert srv.orbit_secret_value(data["id"]) == VALUE + "-rotated"  # a rename keeps it
    twice = dfo(env, "secrets", "create", "OPENAI_KEY", "--value-file", "-", stdin=VALUE)
    assert twice.returncode == 8 and "already has a secret named 'OPENAI_KEY'" in twice.stderr
    refused = dfo(env, "secrets", "delete", "OPENAI_KEY")
    assert refused.returncode == 1 and "without --yes" in refused.stderr
    gone = dfo(env, "secrets", "delete", "OPENAI_KEY", "--yes", "--json")
    assert gone.returncode == 0 and json.loads(gone.stdout)["deleted"] is True
    assert srv.orbit_secret_value(data["id"]) is None
    _no_value(made, listed, shown, changed, renamed, twice, refused, gone)


def test_a_value_is_never_taken_from_the_command_line(env: dict[str, str]) -> None:
    as_argument = dfo(env, "secrets", "create", "X", VALUE)
    assert as_argument.returncode == 2 and "--value-file" in as_argument.stderr
    nothing = dfo(env, "secrets", "set", "X")
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    missing = dfo(env, "secrets", "create", "X", "--value-file", "/no/such/file")
    assert missing.returncode == 1 and "cannot read the value" in missing.stderr
    big = dfo(env, "secrets", "create", "X", "--value-file", "-", stdin="v" * 8193)
    assert big.returncode == 9 and "value: must be at most 8192" in big.stderr
    _no_value(as_argument, nothing, missing, big)


def test_bucket_secrets_test(srv: LocalServer, env: dict[str, str]) -> None:
    ok = dfo(env, "bucket-secrets", "test", srv.bucket_secret_id, "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"id": srv.bucket_secret_id,
                                     "bucket_name": json.loads(ok.stdout)["bucket_name"],
                                     "passed": True}
    broken = srv.add_bucket_secret(srv.organization_id, endpoint="127.0.0.1:9",
                                   bucket_name="unreachable", secure=False)
    failed = dfo(env, "bucket-secrets", "test", "unreachable")
    assert failed.returncode == 1
    assert "BucketConnectionError: the connection test failed at its put step" in failed.stderr
    assert broken in dfo(env, "bucket-secrets", "list").stdout
