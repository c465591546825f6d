"""The command line end to end against a LocalServer: output, --json shapes, exit codes,
prompts, and where the API key may come from."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import dataforce_orm
from dataforce_orm import Artifact, Collection, Session
from dataforce_orm.__main__ import main
from dataforce_orm.testing import LocalServer, make_luml_archive

COLLECTION_FIELDS = {"id", "name", "description", "collection_type", "orbit_id", "tags",
                     "total_artifacts", "created_at", "updated_at", "artifacts_tags",
                     "artifacts_extra_values"}
ARTIFACT_FIELDS = {"id", "collection_id", "name", "description", "tags", "type", "status",
                   "file_name", "size", "file_hash", "bucket_location", "unique_identifier",
                   "created_by_user", "created_at", "updated_at", "extra_values", "manifest",
                   "file_index", "deployments", "collection_name", "tracks", "collection_data"}
ARTIFACT_HEADER = ["ID", "NAME", "TYPE", "STATUS", "SIZE", "CREATED", "(UTC)"]
NO_ID = "00000000-0000-4000-8000-000000000000"
ROOT = Path(__file__).resolve().parent.parent


class Terminal(io.StringIO):
    """A standard input that says it is a terminal, holding what the person types."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def env(server: LocalServer, orbit_id: str, no_config: None,
        monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI configured through DFS_* on a fresh orbit; returns the orbit id."""
    monkeypatch.setenv("DFS_BASE_URL", server.url)
    monkeypatch.setenv("DFS_API_KEY", server.api_key)
    monkeypatch.setenv("DFS_ORGANIZATION", server.organization_id)
    monkeypatch.setenv("DFS_ORBIT", orbit_id)
    return orbit_id


@pytest.fixture
def other(server: LocalServer, orbit_id: str) -> Session:
    """A session of the library on the same orbit, to set things up and look behind the CLI."""
    return Session(api_key=server.api_key, base_url=server.url,
                   organization=server.organization_id, orbit=orbit_id)


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out, err = cli(capsys, *args, "--json")
    assert (code, err) == (0, ""), err
    return json.loads(out)


def make(other: Session, name: str, kind: str = "model", **fields: Any) -> Collection:
    return Collection.objects.using(other).create(name=name, collection_type=kind, **fields)


# -- --version, usage errors -------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "--version") == (0, f"dataforce-orm {dataforce_orm.__version__}\n", "")


@pytest.mark.parametrize("args", [
    ["collections", "frobnicate"],
    ["collections", "get"],                           # ID_OR_NAME missing
    ["collections", "create", "x"],                   # --type is required
    ["collections", "create", "x", "--type", "bogus"],
    ["collections", "list", "--limit", "0"],
    ["collections", "list", "--limit", "many"],
    ["collections", "list", "--type", "model_datasets"],
    ["collections", "update", "x"],                   # nothing to change
    ["collections", "update", "x", "--tag", "a", "--clear-tags"],
    ["orbits", "get"],
    ["collections", "list", "--jso"],                 # no abbreviations
    ["artifacts", "list", "--limit", "0"],
    ["artifacts", "list", "--sort", "bogus"],
    ["artifacts", "list", "--type", "models"],
    ["artifacts", "update", "x"],                    # nothing to change
    ["orbits", "update", "x"],
    ["orbits", "create", "x"],                       # --bucket-secret is required
    ["collections", "list", "--quiet", "--verbose"],
    ["--quiet", "collections", "list", "--debug"],
    ["completion", "tcsh"],
    ["bucket-secrets", "update", "x"],               # --keys-file is required
    ["completion"],
    ["artifacts", "upload", "model.luml"],           # --collection is required
    ["artifacts", "upload", "--collection", "c"],    # FILE missing
    ["artifacts", "download"],                       # ID_OR_NAME missing
    ["artifacts", "delete", "--collection", "c"],
    ["artifacts", "delete", NO_ID, "--collection", "c", "--forc"],
])
def test_usage_errors_exit_2_before_any_request(
        capsys: pytest.CaptureFixture[str], env: str, server: LocalServer,
        args: list[str]) -> None:
    server.reset_request_log()
    code, out, err = cli(capsys, *args)
    assert code == 2 and out == ""
    assert "usage: dataforce-orm" in err and "error:" in err
    assert server.request_log == []


# -- collections ---------------------------------------------------------------------------


def test_create_then_list_as_a_table(capsys: pytest.CaptureFixture[str], env: str) -> None:
    code, out, err = cli(capsys, "collections", "create", "Training images", "--type",
                         "dataset", "--tag", "ml", "--tag", "images", "--description", "first")
    assert (code, err) == (0, "")
    shown = dict(line.split(None, 1) for line in out.splitlines() if " " in line.strip())
    assert shown["name"] == "Training images" and shown["description"] == "first"
    assert shown["collection_type"] == "dataset" and shown["tags"] == "ml, images"
    assert shown["created_at"].endswith(" UTC")
    assert cli(capsys, "collections", "create", "resnet", "--type", "model")[0] == 0

    code, out, err = cli(capsys, "collections", "list")
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "NAME", "TYPE", "TAGS", "ARTIFACTS", "CREATED", "(UTC)"]
    assert [r.split()[1] for r in rows] == ["resnet", "Training"]  # newest first
    for column in ("NAME", "TYPE", "TAGS", "ARTIFACTS", "CREATED"):  # aligned columns
        at = header.index(column)
        assert all(r[at - 2:at] == "  " and r[at] != " " for r in rows), (column, out)
    assert "ml, images" in rows[1] and rows[0].split()[3] == "-"
    assert all(line == line.rstrip() for line in out.splitlines())


def test_an_empty_listing(capsys: pytest.CaptureFixture[str], env: str) -> None:
    assert cli(capsys, "collections", "list") == (0, "No collections.\n", "")
    assert cli(capsys, "collections", "list", "--json") == (0, "[]\n", "")


def test_json_shapes(capsys: pytest.CaptureFixture[str], env: str) -> None:
    made = run_json(capsys, "collections", "create", "a", "--type", "model", "--tag", "x")
    assert set(made) == COLLECTION_FIELDS and next(iter(made)) == "id"
    assert made["collection_type"] == "model" and made["tags"] == ["x"]
    assert made["orbit_id"] == env and made["total_artifacts"] == 0
    assert datetime.fromisoformat(made["created_at"]).tzinfo is not None  # ISO-8601, aware

    listed = run_json(capsys, "collections", "list")
    assert isinstance(listed, list) and [c["id"] for c in listed] == [made["id"]]
    assert set(listed[0]) == COLLECTION_FIELDS

    got = run_json(capsys, "collections", "get", made["id"])
    assert isinstance(got, dict) and got["id"] == made["id"] and got["name"] == "a"
    assert got["artifacts_tags"] == []  # details-only fields come with a get by id

    gone = run_json(capsys, "collections", "delete", "a", "--yes")
    assert gone == {"id": made["id"], "name": "a", "deleted": True}


def test_list_filters(capsys: pytest.CaptureFixture[str], env: str, other: Session) -> None:
    make(other, "Alpha one", "model", tags=["ml", "prod"])
    make(other, "alpha two", "dataset", tags=["ml"])
    make(other, "beta", "experiment", tags=["prod"])
    make(other, "gamma", "model_dataset")

    def names(*args: str) -> list[str]:
        return sorted(c["name"] for c in run_json(capsys, "collections", "list", *args))

    assert names("--search", "ALPHA") == ["Alpha one", "alpha two"]
    assert names("--type", "model") == ["Alpha one"]
    assert names("--type", "model", "--type", "model_dataset") == ["Alpha one", "gamma"]
    assert names("--tag", "ml") == ["Alpha one", "alpha two"]
    assert names("--tag", "ml", "--tag", "prod") == ["Alpha one"]
    assert names("--search", "alpha", "--tag", "prod", "--type", "model") == ["Alpha one"]
    assert len(names("--limit", "3")) == 3
    assert names("--search", "nothing like it") == []


def test_get_by_id_or_exact_name(capsys: pytest.CaptureFixture[str], env: str,
                                 other: Session) -> None:
    c = make(other, "exact")
    make(other, "exact but longer")
    assert run_json(capsys, "collections", "get", "exact")["id"] == c.id
    assert run_json(capsys, "collections", "get", str(c.id).upper())["id"] == c.id  # any UUID form
    code, out, err = cli(capsys, "collections", "get", "EXACT")
    assert (code, out) == (6, "")
    assert err == "dataforce-orm: error: no collection named 'EXACT'; did you mean 'exact'?\n"
    code, out, err = cli(capsys, "collections", "get", "nothing alike at all")
    assert (code, err) == (6, "dataforce-orm: error: no collection named "
                              "'nothing alike at all'\n")
    code, out, err = cli(capsys, "collections", "get", "00000000-0000-4000-8000-000000000000")
    assert (code, err) == (6, "dataforce-orm: error: no collection with id "
                              "00000000-0000-4000-8000-000000000000\n")


def test_a_name_several_collections_have_is_refused_naming_their_ids(
        capsys: pytest.CaptureFixture[str], env: str, other: Session) -> None:
    ids = {str(make(other, "twin").id) for _ in range(2)}
    for command in (["get", "twin"], ["update", "twin", "--name", "x"],
                    ["delete", "twin", "--yes"]):
        code, out, err = cli(capsys, "collections", *command)
        assert (code, out) == (7, "")
        assert err.startswith("dataforce-orm: error: 2 collections are named 'twin': ")
        assert all(i in err for i in ids) and err.count("\n") == 1
    assert Collection.objects.using(other).filter(name="twin").count() == 2


def test_update_changes_only_the_given_fields(capsys: pytest.CaptureFixture[str], env: str,
                                              other: Session) -> None:
    c = make(other, "before", description="keep me", tags=["a", "b"])
    got = run_json(capsys, "collections", "update", "before", "--name", "after")
    assert (got["name"], got["description"], got["tags"]) == ("after", "keep me", ["a", "b"])
    got = run_json(capsys, "collections", "update", str(c.id), "--tag", "c")
    assert (got["name"], got["tags"]) == ("after", ["c"])  # the given tags replace the list
    got = run_json(capsys, "collections", "update", "after", "--description", "new")
    assert (got["description"], got["tags"]) == ("new", ["c"])
    got = run_json(capsys, "collections", "update", "after", "--clear-tags")
    assert got["tags"] == []
    c.refresh()
    assert (c.name, c.description, c.tags) == ("after", "new", [])


def test_update_keeps_what_someone_else_changed(capsys: pytest.CaptureFixture[str], env: str,
                                                other: Session) -> None:
    c = make(other, "shared", description="old")
    stale = Collection.objects.using(other).get(id=c.id)
    c.description = "theirs"
    c.save()
    assert cli(capsys, "collections", "update", "shared", "--tag", "mine")[0] == 0
    stale.refresh()
    assert (stale.description, stale.tags) == ("theirs", ["mine"])


def test_create_refuses_bad_input_with_one_line(capsys: pytest.CaptureFixture[str], env: str,
                                                server: LocalServer) -> None:
    server.reset_request_log()
    code, out, err = cli(capsys, "collections", "create", "x" * 101, "--type", "model")
    assert (code, out) == (9, "")
    assert err == ("dataforce-orm: error: ValidationError: name: must be at most 100 "
                   "characters (got 101)\n")
    assert not [m for m, _ in server.request_log if m == "POST"]


def test_odd_characters_stay_on_one_line(capsys: pytest.CaptureFixture[str], env: str,
                                         other: Session) -> None:
    make(other, "tab\there\nnewline", tags=["t\x1b[31m"])
    make(other, "wide 日本語")
    code, out, _ = cli(capsys, "collections", "list")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert "tab\\there\\nnewline" in out and "t\\x1b[31m" in out and "\x1b" not in out
    # a wide character takes two columns: the next column starts at the same place
    wide = next(line for line in lines if "日本語" in line)
    plain = next(line for line in lines if "newline" in line)
    assert wide.index("model") + 3 == plain.index("model")


# -- delete and its prompt ---------------------------------------------------------------------


def test_delete_without_yes_is_refused_when_no_one_can_answer(
        capsys: pytest.CaptureFixture[str], env: str, other: Session,
        monkeypatch: pytest.MonkeyPatch) -> None:
    c = make(other, "doomed")
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # a pipe, not a terminal
    code, out, err = cli(capsys, "collections", "delete", "doomed")
    assert (code, out) == (1, "")
    assert err == (f"dataforce-orm: error: refusing to delete collection 'doomed' ({c.id}) "
                   "without --yes (standard input is not a terminal to ask on)\n")
    assert Collection.objects.using(other).filter(id=c.id).exists()


@pytest.mark.parametrize(("typed", "deleted"), [
    ("y\n", True), ("YES\n", True), ("n\n", False), ("\n", False), ("", False)])
def test_delete_asks_at_a_terminal(capsys: pytest.CaptureFixture[str], env: str,
                                   other: Session, monkeypatch: pytest.MonkeyPatch,
                                   typed: str, deleted: bool) -> None:
    c = make(other, "asked")
    monkeypatch.setattr(sys, "stdin", Terminal(typed))
    code, out, err = cli(capsys, "collections", "delete", "asked")
    prompt = f"Delete collection 'asked' ({c.id})? [y/N] "
    assert err.startswith(prompt)
    if deleted:
        assert (code, out, err) == (0, f"Deleted collection 'asked' ({c.id}).\n", prompt)
    else:
        assert (code, out) == (1, "")
        assert err == (f"{prompt}dataforce-orm: error: cancelled: did not delete collection "
                       f"'asked' ({c.id})\n")
    assert Collection.objects.using(other).filter(id=c.id).exists() is not deleted


def test_delete_asks_through_input(capsys: pytest.CaptureFixture[str], env: str,
                                   other: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    c = make(other, "typed")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda *prompt: "y")
    assert cli(capsys, "collections", "delete", str(c.id))[0] == 0
    assert not Collection.objects.using(other).filter(id=c.id).exists()


def test_delete_with_yes_does_not_ask(capsys: pytest.CaptureFixture[str], env: str,
                                      other: Session, monkeypatch: pytest.MonkeyPatch) -> None:
    c = make(other, "quick")
    monkeypatch.setattr(sys, "stdin", Terminal(""))
    assert cli(capsys, "collections", "delete", "quick", "-y") == (
        0, f"Deleted collection 'quick' ({c.id}).\n", "")


# -- artifacts -----------------------------------------------------------------------------

_artifact_orbits = itertools.count()


@pytest.fixture(scope="module")
def aserver() -> Iterator[LocalServer]:
    """A server of their own for the artifact commands (the artifacts quota is the
    organization's: the other tests' server keeps the default)."""
    with LocalServer() as srv:
        srv.set_organization_limits(srv.organization_id, orbits=100, artifacts=1000)
        yield srv


@pytest.fixture
def aenv(aserver: LocalServer, no_config: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """The CLI configured through DFS_* on a fresh orbit of aserver; returns the orbit id."""
    orbit = aserver.add_orbit(aserver.organization_id, f"cli-artifacts-{next(_artifact_orbits)}")
    monkeypatch.setenv("DFS_BASE_URL", aserver.url)
    monkeypatch.setenv("DFS_API_KEY", aserver.api_key)
    monkeypatch.setenv("DFS_ORGANIZATION", aserver.organization_id)
    monkeypatch.setenv("DFS_ORBIT", orbit)
    return orbit


@pytest.fixture
def aother(aserver: LocalServer, aenv: str) -> Iterator[Session]:
    """A library session on aenv's orbit."""
    with Session(api_key=aserver.api_key, base_url=aserver.url,
                 organization=aserver.organization_id, orbit=aenv) as s:
        yield s


def luml(tmp_path: Path, name: str = "model.luml", size: int = 1000, **kw: Any) -> Path:
    return make_luml_archive(tmp_path / name, files={"weights.bin": os.urandom(size)}, **kw)


def upload(collection: Collection, path: Path, **kw: Any) -> Artifact:
    return collection.artifacts.upload(path, **kw)


def test_artifacts_upload_prints_the_artifact_as_a_row_or_an_object(
        capsys: pytest.CaptureFixture[str], aenv: str, aother: Session, tmp_path: Path) -> None:
    c = make(aother, "models", "mixed")
    path = luml(tmp_path, metrics={"accuracy": 0.9})
    code, out, err = cli(capsys, "artifacts", "upload", str(path), "--collection", "models")
    assert (code, err) == (0, "")  # no progress bar: stderr is not a terminal
    header, row = out.splitlines()
    assert header.split() == ARTIFACT_HEADER
    (made,) = c.artifacts.all()
    size = path.stat().st_size
    assert row.split()[:6] == [made.id, "model.luml", "model", "uploaded",
                               f"{size / 1024:.1f}", "KiB"]
    assert all(line == line.rstrip() for line in out.splitlines())

    got = run_json(capsys, "artifacts", "upload", str(path), "--collection", c.id,
                   "--name", "churn-v3", "--description", "third try", "--tag", "candidate",
                   "--tag", "ml")
    assert isinstance(got, dict) and set(got) == ARTIFACT_FIELDS and next(iter(got)) == "id"
    assert (got["name"], got["description"], got["tags"]) == ("churn-v3", "third try",
                                                               ["candidate", "ml"])
    assert (got["type"], got["status"], got["size"]) == ("model", "uploaded", size)
    assert got["collection_id"] == c.id and got["extra_values"] == {"accuracy": 0.9}
    assert got["file_name"] == "model.luml" and "manifest.json" in got["file_index"]
    assert datetime.fromisoformat(got["created_at"]).tzinfo is not None
    stored = c.artifacts.get(id=got["id"])
    assert (stored.name, stored.tags) == ("churn-v3", ["candidate", "ml"])


def test_artifacts_list_a_collection_or_the_whole_orbit(
        capsys: pytest.CaptureFixture[str], aenv: str, aother: Session, tmp_path: Path) -> None:
    assert cli(capsys, "artifacts", "list") == (0, "No artifacts.\n", "")
    assert cli(capsys, "artifacts", "list", "--json") == (0, "[]\n", "")
    models = make(aother, "models", "mixed")
    data = make(aother, "data", "dataset")
    a = upload(models, luml(tmp_path, "a.luml"), name="first")
    b = upload(models, luml(tmp_path, "b.luml", size=3 * 1024 * 1024), name="second")
    d = upload(data, luml(tmp_path, "d.luml", type="dataset"), name="the data")

    code, out, err = cli(capsys, "artifacts", "list")
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split() == ARTIFACT_HEADER
    assert [r.split()[0] for r in rows] == [d.id, b.id, a.id]  # newest first
    for column in ("NAME", "TYPE", "STATUS", "SIZE", "CREATED"):  # aligned columns
        at = header.index(column)
        assert all(r[at - 2:at] == "  " and r[at] != " " for r in rows), (column, out)
    assert "the data  dataset  uploaded" in rows[0] and "3.0 MiB" in rows[1]

    listed = run_json(capsys, "artifacts", "list")
    assert [x["id"] for x in listed] == [d.id, b.id, a.id]
    assert all(set(x) == ARTIFACT_FIELDS for x in listed)
    assert listed[0]["type"] == "dataset" and listed[0]["status"] == "uploaded"
    assert listed[0]["collection_name"] == "data"

    def ids(*args: str) -> list[str]:
        return [x["id"] for x in run_json(capsys, "artifacts", "list", *args)]

    assert ids("--collection", "models") == [b.id, a.id]
    assert ids("--collection", data.id) == [d.id]
    assert ids("--limit", "2") == [d.id, b.id]
    assert ids("--collection", "models", "--limit", "1") == [b.id]
    code, out, err = cli(capsys, "artifacts", "list", "--collection", "Models")
    assert (code, out, err) == (6, "", "dataforce-orm: error: no collection named 'Models'; "
                                       "did you mean 'models'?\n")


def test_artifacts_download_into_a_directory_to_a_file_or_here(
        capsys: pytest.CaptureFixture[str], aenv: str, aother: Session, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    c = make(aother, "models", "model")
    (tmp_path / "src").mkdir()
    path = luml(tmp_path / "src")
    a = upload(c, path, name="renamed")  # the file keeps its stored name
    into = tmp_path / "into"
    into.mkdir()
    code, out, err = cli(capsys, "artifacts", "download", a.id, "--collection", "models",
                         "-o", str(into))
    assert (code, out, err) == (0, f"{into / 'model.luml'}\n", "")
    assert (into / "model.luml").read_bytes() == path.read_bytes()

    target = tmp_path / "copy.bin"
    got = run_json(capsys, "artifacts", "download", a.id.upper(), "--collection", c.id,
                   "--output", str(target))
    assert got == {"id": a.id, "name": "renamed", "path": str(target), "size": a.size}
    assert target.read_bytes() == path.read_bytes()

    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert cli(capsys, "artifacts", "download", a.id, "--collection", "models") == (
        0, "model.luml\n", "")
    assert (here / "model.luml").read_bytes() == path.read_bytes()

    code, out, err = cli(capsys, "artifacts", "download", a.id, "--collection", "models",
                         "-o", str(tmp_path / "no" / "such" / "dir" / "x.luml"))
    assert (code, out) == (9, "")
    assert err.startswith("dataforce-orm: error: ValidationError: path: no such directory")
    assert err.count("\n") == 1


def test_artifacts_progress_only_on_a_terminal(
        capsys: pytest.CaptureFixture[str], aenv: str, aother: Session, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    make(aother, "models", "model")
    path = luml(tmp_path, size=200_000)
    made = run_json(capsys, "artifacts", "upload", str(path), "--collection", "models")
    code, _, err = cli(capsys, "artifacts", "download", made["id"], "--collection", "models",
                       "-o", str(tmp_path / "quiet.luml"))
    assert (code, err) == (0, "")

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, out, err = cli(capsys, "artifacts", "upload", str(path), "--collection", "models",
                         "--json")
    assert code == 0 and json.loads(out)["status"] == "uploaded"
    assert err.startswith("\rupload model.luml:") and "100%" in err and err.endswith("\n")
    code, out, err = cli(capsys, "artifacts", "download", made["id"], "--collection", "models",
                         "-o", str(tmp_path / "loud.luml"))
    assert (code, out) == (0, f"{tmp_path / 'loud.luml'}\n")
    assert err.startswith("\rdownload loud.luml:") and "100%" in err and err.endswith("\n")
    assert (tmp_path / "loud.luml").read_bytes() == path.read_bytes()


def test_artifacts_upload_refuses_a_bad_file_with_one_line(
        capsys: pytest.CaptureFixture[str], aenv: str, aother: Session, tmp_path: Path,
        aserver: LocalServer) -> None:
    c = make(aother, "models", "model")
    not_an_archive = tmp_path / "notes.luml"
    not_an_archive.write_text("just text\n")
    aserver.reset_request_log()
    for bad in (not_an_archive, tmp_path / "missing.luml"):
        code, out, err = cli(capsys, "artifacts", "upload", str(bad), "--collection", c.id)
        assert (code, out) == (9, "")
        assert err.startswith("dataforce-orm: error: ValidationError: path: ")
        assert err.count("\n") == 1 and "Traceback" not in err
    assert not [m for m, _ in aserver.request_log if m != "GET"]  # only the collection looked up
    code, _, err = cli(capsys, "artifacts", "upload", str(not_an_archive), "--collection",
                       c.id, "--debug")
    assert code == 9 and "Traceback (most recent call last)" in err
    assert c.artifacts.count() == 0


def test_artifacts_quota_is_one_line(
        capsys: pytest.CaptureFixture[str], aenv: str, aother: Session, tmp_path: Path,
        aserver: LocalServer) -> None:
    c = make(aother, "models", "model")
    aserver.set_organization_limits(aserver.organization_id, artifacts=0)
    try:
        code, out, err = cli(capsys, "artifacts", "upload", str(luml(tmp_path)),
                             "--collection", "models")
    finally:
        aserver.set_organization_limits(aserver.organization_id, artifacts=1000)
    assert (code, out) == (8, "")
    assert err.startswith("dataforce-orm: error: ConflictError: 409 POST http") and "/v1/" in err
    assert "maximum number of artifacts" in err and err.count("\n") == 1
    assert c.artifacts.count() == 0


def test_artifacts_unknown_id(
        capsys: pytest.CaptureFixture[str], aenv: str, aother: Session, tmp_path: Path) -> None:
    c = make(aother, "models", "model")
    elsewhere = make(aother, "elsewhere", "model")
    a = upload(elsewhere, luml(tmp_path))
    for ident in (NO_ID, a.id):  # an artifact of another collection is not this one's
        for command in (["download", ident, "--collection", "models"],
                        ["delete", ident, "--collection", "models", "--yes"]):
            code, out, err = cli(capsys, "artifacts", *command)
            assert (code, out, err) == (6, "", f"dataforce-orm: error: no artifact with id "
                                               f"{ident} in collection 'models'\n")
    assert c.artifacts.count() == 0 and elsewhere.artifacts.count() == 1


def test_artifacts_delete_is_refused_when_no_one_can_answer(
        capsys: pytest.CaptureFixture[str], aenv: str, aother: Session, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    c = make(aother, "models", "model")
    a = upload(c, luml(tmp_path), name="keep")
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # a pipe, not a terminal
    code, out, err = cli(capsys, "artifacts", "delete", a.id, "--collection", "models")
    assert (code, out) == (1, "")
    assert err == (f"dataforce-orm: error: refusing to delete artifact 'keep' ({a.id}) "
                   "without --yes (standard input is not a terminal to ask on)\n")
    assert c.artifacts.filter(id=a.id).exists()


@pytest.mark.parametrize(("typed", "deleted"), [("y\n", True), ("n\n", False), ("", False)])
def test_artifacts_delete_asks_at_a_terminal(
        capsys: pytest.CaptureFixture[str], aenv: str, aother: Session, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, aserver: LocalServer, typed: str, deleted: bool) -> None:
    c = make(aother, "models", "model")
    a = upload(c, luml(tmp_path), name="asked")
    location = a.bucket_location
    monkeypatch.setattr(sys, "stdin", Terminal(typed))
    code, out, err = cli(capsys, "artifacts", "delete", a.id, "--collection", c.id)
    prompt = f"Delete artifact 'asked' ({a.id})? [y/N] "
    if deleted:
        assert (code, out, err) == (0, f"Deleted artifact 'asked' ({a.id}).\n", prompt)
        assert aserver.stored_object(aenv, location) is None  # the stored file went too
    else:
        assert (code, out) == (1, "")
        assert err == (f"{prompt}dataforce-orm: error: cancelled: did not delete artifact "
                       f"'asked' ({a.id})\n")
        assert aserver.stored_object(aenv, location) is not None
    assert c.artifacts.filter(id=a.id).exists() is not deleted


def test_artifacts_delete_with_yes_and_force(
        capsys: pytest.CaptureFixture[str], aenv: str, aother: Session, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, aserver: LocalServer) -> None:
    c = make(aother, "models", "model")
    a = upload(c, luml(tmp_path), name="plain")
    b = upload(c, luml(tmp_path), name="forced")
    monkeypatch.setattr(sys, "stdin", Terminal(""))  # never read
    aserver.reset_request_log()
    assert cli(capsys, "artifacts", "delete", a.id, "--collection", "models", "-y") == (
        0, f"Deleted artifact 'plain' ({a.id}).\n", "")
    assert not any(p.endswith("/force") for _, p in aserver.request_log)
    aserver.reset_request_log()
    gone = run_json(capsys, "artifacts", "delete", b.id, "--collection", "models", "--yes",
                    "--force")
    assert gone == {"id": b.id, "name": "forced", "deleted": True}
    assert [p for m, p in aserver.request_log if m == "DELETE"] == [
        f"/v1/organizations/{aserver.organization_id}/orbits/{aenv}/collections/{c.id}"
        f"/artifacts/{b.id}/force"]
    assert c.artifacts.count() == 0


def test_artifacts_delete_of_an_artifact_in_a_track_is_one_line(
        capsys: pytest.CaptureFixture[str], aenv: str, aother: Session, tmp_path: Path,
        aserver: LocalServer) -> None:
    c = make(aother, "models", "model")
    a = upload(c, luml(tmp_path), name="tracked")
    aserver.add_track(a.id)
    code, out, err = cli(capsys, "artifacts", "delete", a.id, "--collection", "models",
                         "--yes")
    assert (code, out) == (8, "")
    assert err.startswith("dataforce-orm: error: ConflictError: 409 ") and "tracks" in err
    assert err.count("\n") == 1
    assert c.artifacts.filter(id=a.id).exists()


# -- orbits --------------------------------------------------------------------------------


def test_orbits(capsys: pytest.CaptureFixture[str], env: str, server: LocalServer) -> None:
    code, out, err = cli(capsys, "orbits", "list")
    assert (code, err) == (0, "")
    header, *rows = out.splitlines()
    assert header.split() == ["ID", "NAME", "ROLE", "COLLECTIONS", "ARTIFACTS", "MEMBERS"]
    assert any(r.startswith(env) for r in rows)
    assert any(r.startswith(server.orbit_id) and "Default Orbit" in r for r in rows)

    listed = run_json(capsys, "orbits", "list")
    assert {o["id"] for o in listed} >= {env, server.orbit_id}
    by_name = run_json(capsys, "orbits", "get", "Default Orbit")
    assert by_name["id"] == server.orbit_id and by_name["name"] == "Default Orbit"
    assert by_name["organization_id"] == server.organization_id
    assert datetime.fromisoformat(by_name["created_at"]).tzinfo is not None
    assert run_json(capsys, "orbits", "get", env)["id"] == env
    code, out, err = cli(capsys, "orbits", "get", "Nowhere")
    assert (code, out, err) == (6, "", "dataforce-orm: error: no orbit named 'Nowhere'\n")
    code, out, err = cli(capsys, "orbits", "get", "default orbit")
    assert (code, out) == (6, "")
    assert err == ("dataforce-orm: error: no orbit named 'default orbit'; did you mean "
                   "'Default Orbit'?\n")


def test_orbits_sharing_a_name_are_refused_naming_their_ids(
        capsys: pytest.CaptureFixture[str], env: str, server: LocalServer) -> None:
    ids = [server.add_orbit(server.organization_id, "Twin orbit") for _ in range(2)]
    code, _, err = cli(capsys, "orbits", "get", "Twin orbit")
    assert code == 7 and "2 orbits are named 'Twin orbit'" in err
    assert all(i in err for i in ids)


# -- configuration and the API key ----------------------------------------------------------


def test_flags_instead_of_the_environment(capsys: pytest.CaptureFixture[str], no_config: None,
                                          server: LocalServer, orbit_id: str,
                                          tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(server.api_key + "\n")  # as `echo ... > key` writes it
    made = run_json(capsys, "collections", "create", "flagged", "--type", "model",
                    "--base-url", server.url, "--organization", "Default Organization",
                    "--orbit", orbit_id, "--api-key-file", str(key_file))
    assert made["orbit_id"] == orbit_id


def test_the_key_file_overrides_the_environment(capsys: pytest.CaptureFixture[str], env: str,
                                                server: LocalServer, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFS_API_KEY", "dfs_wrong")
    assert cli(capsys, "orbits", "list")[0] == 4
    key_file = tmp_path / "key"
    key_file.write_text(f"  {server.api_key}\r\n\n")
    assert cli(capsys, "orbits", "list", "--api-key-file", str(key_file))[0] == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(server.api_key + "\n"))
    assert cli(capsys, "orbits", "list", "--api-key-file", "-")[0] == 0


def test_luml_spellings(capsys: pytest.CaptureFixture[str], no_config: None,
                        server: LocalServer, orbit_id: str,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUML_BASE_URL", server.url)
    monkeypatch.setenv("LUML_API_KEY", server.api_key)
    monkeypatch.setenv("LUML_ORGANIZATION", server.organization_id)
    monkeypatch.setenv("LUML_ORBIT", orbit_id)
    assert run_json(capsys, "collections", "list") == []


@pytest.mark.parametrize(("setup", "message"), [
    ("none", "no API key: set DFS_API_KEY, pass --api-key-file PATH, or store one with "
             "'dataforce-orm login'"),
    ("missing", "cannot read the API key file {path}: No such file or directory"),
    ("empty", "the API key file {path} is empty"),
])
def test_no_usable_key(capsys: pytest.CaptureFixture[str], no_config: None,
                       server: LocalServer, tmp_path: Path, setup: str, message: str) -> None:
    path = tmp_path / "key"
    if setup == "empty":
        path.write_text("\n \n")
    args = ["collections", "list", "--base-url", server.url]
    if setup != "none":
        args += ["--api-key-file", str(path)]
    server.reset_request_log()
    code, out, err = cli(capsys, *args)
    assert (code, out) == (3, "")
    assert err == f"dataforce-orm: error: {message.format(path=path)}\n"
    assert server.request_log == []


@pytest.mark.parametrize("args", [["--api-key", "dfs_secret123"], ["--api-key=dfs_secret123"],
                                  ["--api-key"]])
def test_the_key_is_never_taken_from_an_argument(capsys: pytest.CaptureFixture[str], env: str,
                                                 args: list[str]) -> None:
    code, out, err = cli(capsys, "collections", "list", *args)
    assert (code, out) == (2, "")
    assert "the API key is never taken from an argument" in err and "--api-key-file" in err
    assert "dfs_secret123" not in err


def test_errors_are_one_line_and_debug_shows_the_traceback(
        capsys: pytest.CaptureFixture[str], env: str, server: LocalServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFS_API_KEY", "dfs_wrong_key")
    code, out, err = cli(capsys, "collections", "list")
    assert (code, out) == (4, "")
    assert err.startswith("dataforce-orm: error: AuthenticationError: 401 GET http")
    assert "/v1/" in err and err.endswith("; the key came from DFS_API_KEY\n")
    assert err.count("\n") == 1 and "Traceback" not in err
    code, out, err = cli(capsys, "collections", "list", "--debug")
    assert code == 4 and "Traceback (most recent call last)" in err
    assert "DEBUG dataforce_orm: GET /v1/" in err  # each request logged
    assert err.splitlines()[-1].startswith("dataforce-orm: error: AuthenticationError: 401")
    assert "dfs_wrong_key" not in err
    monkeypatch.setenv("DFS_API_KEY", server.api_key)
    code, _, err = cli(capsys, "collections", "list", "--orbit", "No such orbit")
    assert code == 3 and err.startswith(
        "dataforce-orm: error: ConfigurationError: orbit: no orbit named 'No such orbit'")


def test_a_server_that_is_not_there(capsys: pytest.CaptureFixture[str], env: str,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalServer() as gone:
        url = gone.url
    monkeypatch.setenv("DFS_BASE_URL", url)
    code, out, err = cli(capsys, "orbits", "list")
    assert (code, out) == (10, "")
    assert err.startswith("dataforce-orm: error: TransportError: ") and err.count("\n") == 1


# -- as a program ----------------------------------------------------------------------------


def test_as_a_subprocess_with_the_key_in_a_file(server: LocalServer, orbit_id: str,
                                                tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(server.api_key + "\n")
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("DFS_", "LUML_"))}
    environ.update(DFS_BASE_URL=server.url, DFS_ORBIT=orbit_id, PYTHONPATH=str(ROOT))
    base = [sys.executable, "-m", "dataforce_orm"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [*base, *args, "--api-key-file", str(key_file)]
        assert not any(server.api_key in a for a in argv)
        return subprocess.run(argv, env=environ, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    made = run("collections", "create", "from a shell", "--type", "mixed", "--json")
    assert (made.returncode, made.stderr) == (0, "")
    ident = json.loads(made.stdout)["id"]
    listed = run("collections", "list")
    assert listed.returncode == 0 and ident in listed.stdout and "from a shell" in listed.stdout
    refused = run("collections", "delete", ident)  # stdin is not a terminal
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("dataforce-orm: error: refusing to delete collection")
    assert run("collections", "delete", ident, "--yes").returncode == 0
    usage = run("collections", "list", "--limit", "0")
    assert usage.returncode == 2 and "usage:" in usage.stderr
    version = subprocess.run([*base, "--version"], env=environ, capture_output=True,
                             text=True, timeout=60)
    assert version.stdout == f"dataforce-orm {dataforce_orm.__version__}\n"


def test_artifacts_list_as_a_subprocess(aserver: LocalServer, aenv: str, aother: Session,
                                        tmp_path: Path) -> None:
    c = make(aother, "models", "model")
    a = upload(c, luml(tmp_path), name="from the library")
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LUML_")}
    environ["PYTHONPATH"] = str(ROOT)  # (DFS_* as aenv set them)
    base = [sys.executable, "-m", "dataforce_orm", "artifacts"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], env=environ, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL)

    listed = run("list", "--json")
    assert (listed.returncode, listed.stderr) == (0, "")
    (got,) = json.loads(listed.stdout)
    assert set(got) == ARTIFACT_FIELDS
    assert (got["id"], got["name"], got["status"]) == (a.id, "from the library", "uploaded")
    copy = tmp_path / "copy.luml"
    fetched = run("download", a.id, "--collection", "models", "-o", str(copy))
    assert (fetched.returncode, fetched.stdout, fetched.stderr) == (0, f"{copy}\n", "")
    assert copy.read_bytes() == (tmp_path / "model.luml").read_bytes()
    refused = run("delete", a.id, "--collection", "models")  # stdin is not a terminal
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("dataforce-orm: error: refusing to delete artifact")
    usage = run("download")
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_warnings_show_unless_quiet(capsys: pytest.CaptureFixture[str], env: str,
                                    server: LocalServer,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DFS_BASE_URL", server.url + "/v1")  # the library warns and drops it
    code, out, err = cli(capsys, "orbits", "list", "--json")
    assert code == 0 and json.loads(out)
    assert err.startswith("WARNING dataforce_orm: base_url ") and err.count("\n") == 1
    code, out, err = cli(capsys, "-q", "orbits", "list", "--json")
    assert (code, err) == (0, "") and json.loads(out)
