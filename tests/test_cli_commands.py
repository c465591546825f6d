"""The command line as a program (a subprocess) against one LocalServer: global options
anywhere, objects named by id or name with "did you mean", every noun's commands, help text,
quiet retries, completion scripts, and the nouns kept in step with the public models."""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_kit import cli_env, dfo, ok

import dataforce_orm
from dataforce_orm import Collection, Session
from dataforce_orm._cli import GROUPS, NOT_NOUNS
from dataforce_orm._cli_base import build_parser
from dataforce_orm._fields import WireEnum
from dataforce_orm._resource import Model
from dataforce_orm.testing import LocalServer, make_luml_archive

ROOT = Path(__file__).resolve().parent.parent
_orbits = itertools.count()


@pytest.fixture(scope="module")
def srv() -> Iterator[LocalServer]:
    with LocalServer() as s:
        s.set_organization_limits(s.organization_id, orbits=100, artifacts=1000)
        yield s


@pytest.fixture
def orbit(srv: LocalServer) -> str:
    return srv.add_orbit(srv.organization_id, f"commands-{next(_orbits)}")


@pytest.fixture
def environ(srv: LocalServer, orbit: str, tmp_path: Path) -> dict[str, str]:
    return cli_env(srv, orbit, tmp_path)


@pytest.fixture
def lib(srv: LocalServer, orbit: str) -> Iterator[Session]:
    with Session(api_key=srv.api_key, base_url=srv.url, organization=srv.organization_id,
                 orbit=orbit) as s:
        yield s


def archive(tmp_path: Path, name: str, **kw: Any) -> Path:
    return make_luml_archive(tmp_path / f"{name}.luml", files={"w.bin": os.urandom(100)}, **kw)


# -- the shape of the command line ---------------------------------------------------------


@pytest.mark.parametrize("where", ["before", "between", "after"])
def test_global_options_go_anywhere(environ: dict[str, str], lib: Session, orbit: str,
                                    where: str) -> None:
    Collection.objects.using(lib).create(name="anywhere", collection_type="model")
    env = {k: v for k, v in environ.items() if k != "DFS_ORBIT"}
    opts = ["--json", "--orbit", orbit, "-q"]
    argv = {"before": [*opts, "collections", "list"],
            "between": ["collections", *opts, "list"],
            "after": ["collections", "list", *opts]}[where]
    done = dfo(env, *argv)
    assert (done.returncode, done.stderr) == (0, "")
    assert [c["name"] for c in json.loads(done.stdout)] == ["anywhere"]


def test_a_bare_command_prints_the_help(environ: dict[str, str]) -> None:
    top = dfo(environ)
    assert (top.returncode, top.stderr) == (0, "")
    assert top.stdout.startswith("usage: dataforce-orm")
    for name in [*GROUPS, "login", "whoami", "completion", "serve", "demo"]:
        assert f"    {name} " in top.stdout, name
    group = dfo(environ, "artifacts")
    assert group.returncode == 0 and group.stdout.startswith("usage: dataforce-orm artifacts")
    assert all(f"    {c} " in group.stdout for c in GROUPS["artifacts"].commands)


def _parsers(parser: argparse.ArgumentParser, path: str = "dataforce-orm"
             ) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_and_option_has_help() -> None:
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                assert all(a.help for a in action._choices_actions), path
            elif "--api-key" not in action.option_strings:  # (hidden: it is refused)
                assert action.help, (path, action.dest)


def test_each_public_model_has_its_noun() -> None:
    public = {name for name in dataforce_orm.__all__
              if isinstance(obj := getattr(dataforce_orm, name), type)
              and issubclass(obj, (Model, WireEnum)) and obj not in (Model, WireEnum)}
    nouns = {g.model.__name__ for g in GROUPS.values() if g.model is not None}
    assert nouns.isdisjoint(NOT_NOUNS)
    assert nouns | set(NOT_NOUNS) == public
    for group in GROUPS.values():
        if group.model is not None:
            assert {"list", "get"} <= set(group.commands), group.name
    text = (ROOT / "docs" / "cli.md").read_text()
    assert all(f"`{name}`" in text for name in public)  # the list is documented


# -- naming objects -----------------------------------------------------------------------


def test_artifacts_by_name_anywhere_in_the_orbit(environ: dict[str, str], lib: Session,
                                                 tmp_path: Path) -> None:
    c = Collection.objects.using(lib).create(name="models", collection_type="model")
    a = c.artifacts.upload(archive(tmp_path, "a"), name="churn-v3")
    got = ok(environ, "artifacts", "get", "churn-v3")
    assert (got["id"], got["collection_id"]) == (a.id, c.id)
    assert got["tracks"] == [] and got["collection_data"]["name"] == "models"  # the details
    assert ok(environ, "artifacts", "get", a.id)["name"] == "churn-v3"
    out = tmp_path / "out.luml"
    fetched = dfo(environ, "artifacts", "download", "churn-v3", "-o", str(out))
    assert (fetched.returncode, fetched.stdout) == (0, f"{out}\n")
    assert out.read_bytes() == (tmp_path / "a.luml").read_bytes()
    miss = dfo(environ, "artifacts", "download", "churn-v2")
    assert (miss.returncode, miss.stdout) == (6, "")
    assert miss.stderr == ("dataforce-orm: error: no artifact named 'churn-v2'; did you mean "
                           "'churn-v3'?\n")
    other = Collection.objects.using(lib).create(name="other", collection_type="model")
    narrowed = dfo(environ, "artifacts", "get", "churn-v3", "--collection", "other")
    assert narrowed.returncode == 6
    assert narrowed.stderr == ("dataforce-orm: error: no artifact named 'churn-v3' in "
                               "collection 'other'\n")
    other.artifacts.upload(archive(tmp_path, "b"), name="churn-v3")
    twins = dfo(environ, "artifacts", "get", "churn-v3")
    assert twins.returncode == 7 and "2 artifacts are named 'churn-v3'" in twins.stderr
    assert ok(environ, "artifacts", "get", "churn-v3", "--collection", "models")["id"] == a.id


def test_artifacts_update(environ: dict[str, str], lib: Session, tmp_path: Path) -> None:
    c = Collection.objects.using(lib).create(name="models", collection_type="model")
    a = c.artifacts.upload(archive(tmp_path, "a"), name="v1", tags=["x"], description="d")
    got = ok(environ, "artifacts", "update", "v1", "--name", "v2", "--tag", "prod")
    assert (got["name"], got["tags"], got["description"]) == ("v2", ["prod"], "d")
    got = ok(environ, "artifacts", "update", a.id, "--clear-tags")
    assert got["tags"] == []
    a.refresh()
    assert (a.name, a.tags) == ("v2", [])


def test_artifacts_list_filters_and_sort(environ: dict[str, str], lib: Session,
                                         tmp_path: Path) -> None:
    c = Collection.objects.using(lib).create(name="mixed", collection_type="mixed")
    c.artifacts.upload(archive(tmp_path, "m1", metrics={"acc": 0.7}), name="m1", tags=["prod"])
    c.artifacts.upload(archive(tmp_path, "m2", metrics={"acc": 0.9}), name="m2",
                       tags=["prod", "ml"])
    c.artifacts.upload(archive(tmp_path, "d1", type="dataset"), name="d1", tags=["ml"])

    def names(*args: str) -> list[str]:
        return [a["name"] for a in ok(environ, "artifacts", "list", *args)]

    assert names() == ["d1", "m2", "m1"]
    assert names("--type", "model", "--sort", "name") == ["m1", "m2"]
    assert names("--type", "dataset") == ["d1"]
    assert names("--tag", "prod", "--tag", "ml") == ["m2"]
    assert names("--sort=-metric:acc", "--type", "model") == ["m2", "m1"]
    assert names("--sort", "metric:acc", "--type", "model", "--limit", "1") == ["m1"]
    assert names("--status", "uploaded", "--search", "M", "--sort=-name") == ["m2", "m1"]
    assert names("--status", "upload_failed") == []


# -- the other nouns ------------------------------------------------------------------------


def test_orbits_create_update_delete(environ: dict[str, str], srv: LocalServer) -> None:
    made = ok(environ, "orbits", "create", "cli-made", "--bucket-secret", "default-bucket")
    assert made["name"] == "cli-made" and made["organization_id"] == srv.organization_id
    renamed = ok(environ, "orbits", "update", "cli-made", "--name", "cli-renamed")
    assert (renamed["id"], renamed["name"]) == (made["id"], "cli-renamed")
    shown = dfo(environ, "orbits", "get", "cli-renamed")
    assert shown.returncode == 0
    permissions = next(line for line in shown.stdout.splitlines()
                       if line.startswith("permissions"))
    assert "collection: " in permissions and "{" not in permissions and "[" not in permissions
    gone = ok(environ, "orbits", "delete", made["id"], "--yes")
    assert gone == {"id": made["id"], "name": "cli-renamed", "deleted": True}
    miss = dfo(environ, "orbits", "create", "x", "--bucket-secret", "default-buckt")
    assert miss.returncode == 6 and "did you mean 'default-bucket'?" in miss.stderr


def test_organizations(environ: dict[str, str], srv: LocalServer) -> None:
    (org,) = [o for o in ok(environ, "organizations", "list") if o["id"] == srv.organization_id]
    assert org["name"] == "Default Organization"
    assert ok(environ, "organizations", "get", "Default Organization")["id"] == org["id"]
    shown = dfo(environ, "organizations", "get", org["id"])
    assert shown.returncode == 0 and "{" not in shown.stdout  # permissions readable


def test_bucket_secrets(environ: dict[str, str], tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"access_key": "AKIA-cli", "secret_key": "s3cr3t-cli"}))
    made = ok(environ, "bucket-secrets", "create", "--endpoint", "s3.example.com",
              "--bucket", "cli-bucket", "--region", "eu-west-1", "--keys-file", str(keys))
    assert (made["bucket_name"], made["region"]) == ("cli-bucket", "eu-west-1")
    listed = dfo(environ, "bucket-secrets", "list")
    assert listed.returncode == 0 and "cli-bucket" in listed.stdout
    assert "s3cr3t-cli" not in listed.stdout + json.dumps(made)
    assert ok(environ, "bucket-secrets", "get", "cli-bucket")["id"] == made["id"]
    updated = ok(environ, "bucket-secrets", "update", "cli-bucket", "--region", "us-east-2",
                 "--keys-file", str(keys))
    assert updated["region"] == "us-east-2"
    keys.write_text('{"password": "x"}')
    bad = dfo(environ, "bucket-secrets", "update", "cli-bucket", "--keys-file", str(keys))
    assert bad.returncode == 1 and "unknown keys ['password']" in bad.stderr
    assert ok(environ, "bucket-secrets", "delete", made["id"], "-y")["deleted"] is True


# -- retries, completion ------------------------------------------------------------------


def test_with_no_server_the_refusal_is_said_once(environ: dict[str, str]) -> None:
    with LocalServer() as gone:
        env = {**environ, "DFS_BASE_URL": gone.url}
    quiet = dfo(env, "orbits", "list")
    assert (quiet.returncode, quiet.stdout) == (10, "")
    assert quiet.stderr.count("\n") == 1 and "after 5 attempts" in quiet.stderr
    assert quiet.stderr.lower().count("refused") == 1
    loud = dfo(env, "orbits", "list", "-v")
    assert loud.returncode == 10 and loud.stderr.count("retrying GET") == 4


def complete(script: str, *words: str) -> list[str]:
    """What bash's completion offers for the last of ``words``."""
    line = " ".join(f"'{w}'" for w in words)
    done = subprocess.run(
        ["bash", "-c", f'{script}\nCOMP_WORDS=(dataforce-orm {line}); '
                       f'COMP_CWORD={len(words)}; _dataforce_orm; printf "%s\\n" '
                       '"${COMPREPLY[@]}"'], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return [w for w in done.stdout.splitlines() if w]


def test_bash_completion(environ: dict[str, str]) -> None:
    done = dfo(environ, "completion", "bash")
    assert done.returncode == 0 and "complete -F _dataforce_orm dataforce-orm" in done.stdout
    script = done.stdout
    assert complete(script, "co") == ["collections", "completion"]
    assert complete(script, "collections", "") == ["create", "delete", "get", "list", "update"]
    assert complete(script, "--json", "--profile", "x", "art") == ["artifacts"]
    assert complete(script, "artifacts", "list", "--ty") == ["--type"]
    assert complete(script, "artifacts", "list", "--type", "d") == ["dataset"]
    assert complete(script, "completion", "") == ["bash", "zsh", "fish"]
    assert "--json" in complete(script, "orbits", "get", "--")


def test_zsh_and_fish_completion(environ: dict[str, str]) -> None:
    zsh = dfo(environ, "completion", "zsh")
    assert zsh.returncode == 0 and zsh.stdout.startswith("#compdef dataforce-orm")
    assert "bashcompinit" in zsh.stdout and "complete -F _dataforce_orm" in zsh.stdout
    fish = dfo(environ, "completion", "fish")
    assert fish.returncode == 0
    lines = fish.stdout.splitlines()
    assert "complete -c dataforce-orm -n '__fish_use_subcommand' -a collections -d 'list, " \
           "show, create, update and delete collections'" in lines
    assert any(line.startswith("complete -c dataforce-orm -n '__fish_seen_subcommand_from "
                               "artifacts; and __fish_seen_subcommand_from list' -l type -x "
                               "-a 'model dataset") for line in lines)
    assert all(line.startswith(("#", "complete -c dataforce-orm ")) for line in lines)
