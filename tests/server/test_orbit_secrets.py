"""Contract 3.4: orbit secrets, encrypted at rest, blanked in the listing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import requests
from registry_kit import Reg, new_reg, plain_500

from dataforce_orm.testing import LocalServer

SECRET_KEYS = ["id", "name", "value", "orbit_id", "tags", "created_at", "updated_at"]


@pytest.fixture
def reg(server: LocalServer, session: requests.Session) -> Reg:
    return new_reg(server, session)


def _create(reg: Reg, name: str = "OPENAI_API_KEY", value: str = "sk-1", **kw: object) -> dict:
    r = reg.session.post(reg.secrets, json={"name": name, "value": value, **kw})
    assert r.status_code == 200, r.text
    data: dict = r.json()
    return data


def test_create_and_read_return_the_value_the_list_blanks_it(reg: Reg) -> None:
    made = _create(reg, tags=["llm"])
    assert list(made) == SECRET_KEYS
    assert (made["name"], made["value"], made["tags"], made["orbit_id"]) == (
        "OPENAI_API_KEY",
        "sk-1",
        ["llm"],
        reg.arts.orbit,
    )
    got = reg.session.get(f"{reg.secrets}/{made['id']}")
    assert (got.status_code, got.json()) == (200, made)
    listed = reg.session.get(reg.secrets)
    assert listed.status_code == 200 and listed.json() == [{**made, "value": ""}]
    assert _create(reg, "NO_TAGS")["tags"] is None


def test_a_duplicate_name_is_400(reg: Reg) -> None:
    _create(reg, "TOKEN")
    r = reg.session.post(reg.secrets, json={"name": "TOKEN", "value": "other"})
    assert (r.status_code, r.json()) == (
        400,
        {"detail": "Secret with name TOKEN already exist in orbit."},
    )
    assert len(reg.session.get(reg.secrets).json()) == 1
    other = reg.elsewhere()
    r = other.session.post(other.secrets, json={"name": "TOKEN", "value": "v"})
    assert r.status_code == 200  # unique per orbit only


def test_create_limits(reg: Reg) -> None:
    assert _create(reg, "EMPTY", "")["value"] == ""
    assert _create(reg, "BIG", "v" * 8192)["value"] == "v" * 8192
    r = reg.session.post(reg.secrets, json={"name": "n" * 256, "value": "v" * 8193})
    assert r.status_code == 422
    assert [(e["type"], e["loc"], e.get("ctx")) for e in r.json()["detail"]] == [
        ("string_too_long", ["body", "name"], {"max_length": 255}),
        ("string_too_long", ["body", "value"], {"max_length": 8192}),
    ]
    r = reg.session.post(reg.secrets, json={"name": "T", "value": "v", "tags": ["t" * 65]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "tags", 0]
    r = reg.session.post(reg.secrets, json={"name": "T"})
    assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [("missing", ["body", "value"])]


def test_update_is_partial(reg: Reg) -> None:
    made = _create(reg, "A", "one", tags=["x"])
    url = f"{reg.secrets}/{made['id']}"
    noop = reg.session.patch(url, json={})
    assert (noop.status_code, noop.json()) == (200, made)
    value = reg.session.patch(url, json={"value": "two"}).json()
    assert (value["name"], value["value"], value["tags"]) == ("A", "two", ["x"])
    assert value["updated_at"] is not None
    tags = reg.session.patch(url, json={"tags": ["y"]}).json()
    assert (tags["name"], tags["value"], tags["tags"]) == ("A", "two", ["y"])
    renamed = reg.session.patch(url, json={"name": "B"}).json()
    assert (renamed["name"], renamed["value"]) == ("B", "two")  # a rename keeps the value
    assert reg.server.orbit_secret_value(made["id"]) == "two"


def test_renaming_onto_a_taken_name_is_the_plain_500_and_changes_nothing(reg: Reg) -> None:
    _create(reg, "TAKEN")
    made = _create(reg, "MINE", "v")
    assert plain_500(reg.session.patch(f"{reg.secrets}/{made['id']}", json={"name": "TAKEN"}))
    assert reg.session.get(f"{reg.secrets}/{made['id']}").json()["name"] == "MINE"


def test_delete_and_misses(reg: Reg) -> None:
    made = _create(reg)
    url = f"{reg.secrets}/{made['id']}"
    r = reg.session.delete(url)
    assert (r.status_code, r.content) == (204, b"")
    for r in (reg.session.get(url), reg.session.patch(url, json={}), reg.session.delete(url)):
        assert (r.status_code, r.json()) == (404, {"detail": "Orbit secret not found"})
    other = reg.elsewhere()
    theirs = other.session.post(other.secrets, json={"name": "X", "value": "v"}).json()
    r = reg.session.get(f"{reg.secrets}/{theirs['id']}")  # another orbit's secret
    assert (r.status_code, r.json()) == (404, {"detail": "Orbit secret not found"})


def test_values_are_not_stored_in_plain_text(tmp_path: Path) -> None:
    db = tmp_path / "local.db"
    value = "sk-plain-text-value-0123456789"
    with LocalServer(db_path=str(db)) as srv:
        made = srv.make_orbit_secret("OPENAI_API_KEY", value)
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {srv.api_key}"
        base = f"{srv.url}/v1/organizations/{srv.organization_id}/orbits/{srv.orbit_id}/secrets"
        s.patch(f"{base}/{made['id']}", json={"value": value + "-rotated"})
        assert s.get(f"{base}/{made['id']}").json()["value"] == value + "-rotated"
        s.close()
    srv.close()
    for path in tmp_path.iterdir():  # the database and its WAL files
        assert value.encode() not in path.read_bytes()
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT name, value FROM orbit_secrets").fetchall()
    assert stored[0][0] == "OPENAI_API_KEY" and value not in stored[0][1]
    with LocalServer(db_path=str(db)) as again:  # the same file, read back
        assert again.orbit_secret_value(made["id"]) == value + "-rotated"
    again.close()
