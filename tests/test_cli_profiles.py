"""Profiles, login/logout/whoami and the key check, through the real entry point (a
subprocess) in a temporary home directory; the precedence argument > environment > profile >
default, for the command line and for Session()."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dataforce_orm import AuthenticationError, ConfigurationError, Session
from dataforce_orm.testing import LocalServer

ROOT = Path(__file__).resolve().parent.parent
VALIDATE = "/v1/auth/api-keys/validate"


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalServer]:
    with LocalServer() as s:
        yield s


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    return tmp_path / "home"


@pytest.fixture
def shell_env(home: Path) -> dict[str, str]:
    """The environment of a shell with a fresh home directory and no DFS_/LUML_ settings."""
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("DFS_", "LUML_", "XDG_"))}
    environ.update(HOME=str(home), PYTHONPATH=str(ROOT))
    return environ


def dfo(environ: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dataforce_orm", *args], env=environ,
                          input=stdin, capture_output=True, text=True, timeout=60)


def config_dir(home: Path) -> Path:
    return home / ".config" / "dataforce-orm"


def test_login_whoami_logout(srv: LocalServer, home: Path, shell_env: dict[str, str]) -> None:
    logged = dfo(shell_env, "login", "--base-url", srv.url, stdin=srv.api_key + "\n")
    assert (logged.returncode, logged.stderr) == (0, "")
    creds = config_dir(home) / "credentials"
    assert f"stored for profile 'default' in {creds}" in logged.stdout
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600  # readable by the user only
    assert srv.api_key in creds.read_text()
    assert f"base_url = {srv.url}" in (config_dir(home) / "config.ini").read_text()

    # the stored key and the profile's URL serve every command from now on
    who = dfo(shell_env, "whoami")
    assert (who.returncode, who.stderr) == (0, "")
    first, _, *table = who.stdout.splitlines()
    assert first == f"{srv.url}: the API key (from profile 'default' ({creds})) is valid"
    assert "Default Organization" in table[1] and "Default Orbit" in table[1]
    data = json.loads(dfo(shell_env, "whoami", "--json").stdout)
    assert data["base_url"] == srv.url and data["valid"] and data["profile"] == "default"
    (org,) = [o for o in data["organizations"] if o["id"] == srv.organization_id]
    assert {"id": srv.orbit_id, "name": "Default Orbit"} in org["orbits"]
    assert dfo(shell_env, "orbits", "list").returncode == 0
    # the environment's key comes before the stored one
    env_key = dfo({**shell_env, "DFS_API_KEY": "dfs_wrong"}, "whoami")
    assert env_key.returncode == 4 and env_key.stderr.endswith(
        "; the key came from DFS_API_KEY\n")
    stale = creds.read_text()
    creds.write_text(stale.replace(srv.api_key, "dfs_revoked"))
    revoked = dfo(shell_env, "whoami")
    assert revoked.returncode == 4 and revoked.stderr.endswith(
        f"; the key came from profile 'default' ({creds}) (run 'dataforce-orm login' to "
        "store a new one)\n")
    creds.write_text(stale)

    out = dfo(shell_env, "logout")
    assert (out.returncode, out.stdout) == (0, "Forgot the key of profile 'default'.\n")
    assert srv.api_key not in creds.read_text()
    gone = dfo(shell_env, "orbits", "list")
    assert gone.returncode == 3 and gone.stderr.startswith("dataforce-orm: error: no API key")
    again = dfo(shell_env, "logout")
    assert again.stdout == "No key was stored for profile 'default'.\n"


def test_login_with_a_bad_key_stores_nothing(srv: LocalServer, home: Path,
                                             shell_env: dict[str, str]) -> None:
    srv.reset_request_log()
    bad = dfo(shell_env, "--base-url", srv.url, "login", "--orbit", "x", stdin="dfs_wrong\n")
    assert (bad.returncode, bad.stdout) == (4, "")
    assert bad.stderr.startswith("dataforce-orm: error: AuthenticationError: 401 GET")
    assert bad.stderr.count("\n") == 1
    assert not config_dir(home).exists()  # neither the key nor the profile's settings
    assert srv.request_log == [("GET", VALIDATE)]  # one cheap request


@pytest.mark.parametrize("args", [["login", "--api-key", "dfs_secret1"],
                                  ["login", "--api-key=dfs_secret1"]])
def test_login_never_takes_the_key_from_the_command_line(
        shell_env: dict[str, str], home: Path, args: list[str]) -> None:
    refused = dfo(shell_env, *args)
    assert refused.returncode == 2 and "never taken from an argument" in refused.stderr
    assert "dfs_secret1" not in refused.stderr and not config_dir(home).exists()


def test_login_with_nothing_on_stdin(shell_env: dict[str, str], home: Path) -> None:
    empty = dfo(shell_env, "login", stdin="")
    assert empty.returncode == 3 and "no API key given" in empty.stderr
    assert not config_dir(home).exists()


def test_named_profiles(srv: LocalServer, home: Path, shell_env: dict[str, str]) -> None:
    other = srv.add_orbit(srv.organization_id, "profiles-orbit")
    made = dfo(shell_env, "--profile", "work", "login", "--base-url", srv.url,
               "--organization", "Default Organization", "--orbit", "profiles-orbit",
               stdin=srv.api_key)
    assert made.returncode == 0, made.stderr
    created = dfo(shell_env, "collections", "create", "in work", "--type", "model", "--json",
                  "--profile", "work")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["orbit_id"] == other
    by_env = dfo({**shell_env, "DFS_PROFILE": "work"}, "collections", "list", "--json")
    assert [c["name"] for c in json.loads(by_env.stdout)] == ["in work"]
    over = dfo({**shell_env, "DFS_PROFILE": "gone"}, "--profile", "work", "collections", "list")
    assert (over.returncode, over.stderr) == (0, "") and "in work" in over.stdout
    # the option wins over the environment; the default profile does not exist
    none = dfo({**shell_env, "DFS_PROFILE": "work"}, "--profile", "default", "orbits", "list")
    assert none.returncode == 3
    assert none.stderr == (f"dataforce-orm: error: ConfigurationError: profile 'default' is "
                           f"not in {config_dir(home) / 'config.ini'} (profiles: 'work'); "
                           "create it with dataforce-orm --profile NAME login\n")
    # the stored key belongs to its profile only
    bare = dfo(shell_env, "orbits", "list", "--base-url", srv.url)
    assert bare.returncode == 3 and "no API key" in bare.stderr


def test_the_config_file_moves_with_DFS_CONFIG_FILE(srv: LocalServer, tmp_path: Path,
                                                    home: Path,
                                                    shell_env: dict[str, str]) -> None:
    moved = tmp_path / "elsewhere" / "dfo.ini"
    environ = {**shell_env, "DFS_CONFIG_FILE": str(moved)}
    assert dfo(environ, "login", "--base-url", srv.url, stdin=srv.api_key).returncode == 0
    assert moved.exists() and (moved.parent / "credentials").exists()
    assert not config_dir(home).exists()
    assert dfo(environ, "whoami").returncode == 0


def test_a_profile_with_an_unknown_setting(shell_env: dict[str, str], home: Path) -> None:
    config_dir(home).mkdir(parents=True)
    (config_dir(home) / "config.ini").write_text("[default]\nbase_ulr = http://x\n")
    bad = dfo(shell_env, "orbits", "list")
    assert bad.returncode == 3
    assert "profile 'default' has an unknown setting 'base_ulr'" in bad.stderr


def test_insecure_http_from_the_shell(srv: LocalServer, shell_env: dict[str, str]) -> None:
    # 0.0.0.0 is not loopback to the library, but reaches the local server on Linux
    lan = srv.url.replace("127.0.0.1", "0.0.0.0")
    environ = {**shell_env, "DFS_API_KEY": srv.api_key}
    refused = dfo(environ, "--base-url", lan, "orbits", "list")
    assert refused.returncode == 3 and refused.stderr.count("\n") == 1
    assert refused.stderr.endswith("(here: --allow-insecure-http, DFS_ALLOW_INSECURE_HTTP=1, or "
                                   "allow_insecure_http = true in the profile)\n")
    assert dfo(environ, "--base-url", lan, "orbits", "list",
               "--allow-insecure-http").returncode == 0
    assert dfo({**environ, "DFS_ALLOW_INSECURE_HTTP": "1"}, "--base-url", lan, "orbits",
               "list").returncode == 0
    logged = dfo(shell_env, "--profile", "lan", "login", "--base-url", lan,
                 "--allow-insecure-http", stdin=srv.api_key)
    assert logged.returncode == 0, logged.stderr
    assert dfo(shell_env, "--profile", "lan", "orbits", "list").returncode == 0
    # the environment's "no" wins over the profile's "yes"
    no = dfo({**shell_env, "DFS_ALLOW_INSECURE_HTTP": "0"}, "--profile", "lan", "orbits", "list")
    assert no.returncode == 3


def test_the_cli_precedence(srv: LocalServer, tmp_path: Path,
                            shell_env: dict[str, str]) -> None:
    with LocalServer() as gone:
        dead = gone.url
    assert dfo(shell_env, "login", "--base-url", dead, stdin="x").returncode == 10  # no server
    key_file = tmp_path / "key"
    key_file.write_text(srv.api_key)
    cfg = tmp_path / "c.ini"
    cfg.write_text(f"[default]\nbase_url = {dead}\n")
    environ = {**shell_env, "DFS_CONFIG_FILE": str(cfg)}

    def base_url(env: dict[str, str], *args: str) -> str | int:
        done = dfo(env, "whoami", "--json", "--api-key-file", str(key_file), *args)
        return json.loads(done.stdout)["base_url"] if done.returncode == 0 else done.returncode

    assert base_url(environ) == 10  # the profile's (dead) URL is used
    assert base_url({**environ, "DFS_BASE_URL": srv.url}) == srv.url  # env > profile
    assert base_url({**environ, "DFS_BASE_URL": dead}, "--base-url", srv.url) == srv.url


# -- Session() reads the same places --------------------------------------------------------


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_config: None) -> Path:
    cfg = tmp_path / "config.ini"
    cfg.write_text("[default]\nbase_url = https://default.example\norganization = P-org\n"
                   "orbit = P-orbit\n\n[lan]\nbase_url = http://10.0.0.5:8000\n"
                   "allow_insecure_http = yes\n")
    (tmp_path / "credentials").write_text("[default]\napi_key = dfs_from_profile\n")
    (tmp_path / "credentials").chmod(0o600)
    monkeypatch.setenv("DFS_CONFIG_FILE", str(cfg))
    monkeypatch.delenv("DFS_PROFILE", raising=False)
    monkeypatch.delenv("DFS_ALLOW_INSECURE_HTTP", raising=False)
    return cfg


@pytest.mark.parametrize(("name", "env_var", "profile_value"), [
    ("base_url", "DFS_BASE_URL", "https://default.example"),
    ("organization", "DFS_ORGANIZATION", "P-org"),
    ("orbit", "DFS_ORBIT", "P-orbit"),
])
def test_session_precedence(profiles: Path, monkeypatch: pytest.MonkeyPatch, name: str,
                            env_var: str, profile_value: str) -> None:
    value = "https://arg.example" if name == "base_url" else "arg"
    env_value = "https://env.example" if name == "base_url" else "env"
    assert getattr(Session(), name) == profile_value  # profile > default
    monkeypatch.setenv(env_var, env_value)
    assert getattr(Session(), name) == env_value  # environment > profile
    assert getattr(Session(**{name: value}), name) == value  # argument > environment
    monkeypatch.delenv(env_var)
    profiles.unlink()
    expected = {"base_url": "https://api.luml.ai"}.get(name)
    assert getattr(Session(), name) == expected  # the default


def test_session_key_precedence(profiles: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert Session().key_source == f"profile 'default' ({profiles.parent / 'credentials'})"
    monkeypatch.setenv("LUML_API_KEY", "dfs_luml")
    assert Session().key_source == "LUML_API_KEY"
    monkeypatch.setenv("DFS_API_KEY", "dfs_env")
    assert Session().key_source == "DFS_API_KEY"
    assert Session(api_key="dfs_arg").key_source == "argument"
    assert Session(profile="lan").key_source == "DFS_API_KEY"


def test_session_profiles_and_insecure_http(profiles: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    lan = Session(profile="lan")
    assert (lan.base_url, lan.profile, lan.organization) == ("http://10.0.0.5:8000", "lan", None)
    monkeypatch.setenv("DFS_PROFILE", "lan")
    assert Session().profile == "lan"
    assert Session(profile="default").base_url == "https://default.example"  # arg > env
    monkeypatch.setenv("DFS_ALLOW_INSECURE_HTTP", "0")
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        Session()
    assert Session(allow_insecure_http=True).base_url == "http://10.0.0.5:8000"
    monkeypatch.setenv("DFS_ALLOW_INSECURE_HTTP", "maybe")
    with pytest.raises(ConfigurationError, match="DFS_ALLOW_INSECURE_HTTP: must be true or "
                                                 "false"):
        Session()
    monkeypatch.setenv("DFS_PROFILE", "nope")
    with pytest.raises(ConfigurationError, match=r"profile 'nope' is not in .*'default', 'lan'"):
        Session()


def test_a_shared_credentials_file_is_warned_about(
        profiles: Path, caplog: pytest.LogCaptureFixture) -> None:
    (profiles.parent / "credentials").chmod(0o644)
    with caplog.at_level("WARNING", logger="dataforce_orm"):
        Session()
    assert "readable by other users: chmod 600" in caplog.text


# -- the key check --------------------------------------------------------------------------


def test_check_is_one_request_needing_no_organization(srv: LocalServer, no_config: None) -> None:
    good = Session(api_key=srv.api_key, base_url=srv.url, organization="no such org")
    srv.reset_request_log()
    good.check()
    asyncio.run(good.acheck())
    assert srv.request_log == [("GET", VALIDATE)] * 2
    bad = Session(api_key="dfs_wrong", base_url=srv.url)
    with pytest.raises(AuthenticationError, match=r"401 GET .*validate.*the API key was refused"):
        bad.check()
    with pytest.raises(AuthenticationError):
        asyncio.run(bad.acheck())
    with pytest.raises(ConfigurationError, match="no API key"):
        Session(base_url=srv.url).check()
