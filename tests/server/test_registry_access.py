"""Contract 0 and 3.6 on the new routes: API-key validation, roles, wrong orbits, faults;
and the set-up helpers behind them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import requests
from artifacts_kit import Arts
from dfserver_helpers import session_for
from registry_kit import Reg, new_reg

from dataforce_orm.testing import Fault, LocalServer

RIGHTS = {"detail": "Not enough rights"}


@pytest.fixture
def reg(server: LocalServer, session: requests.Session) -> Reg:
    return new_reg(server, session)


def test_api_key_validate(server: LocalServer, session: requests.Session) -> None:
    url = f"{server.url}/v1/auth/api-keys/validate"
    ok = session.get(url)
    assert (ok.status_code, ok.content) == (204, b"")
    for headers in ({"Authorization": "Bearer dfs_unknown"}, {"Authorization": "Bearer x.y.z"}, {}):
        r = requests.get(url, headers=headers)
        assert (r.status_code, r.json()) == (401, {"detail": "Not authenticated"})


def test_a_plain_orbit_member_on_tracks(reg: Reg) -> None:
    member = reg.server.make_member(reg.arts.orbit)
    as_member = reg.as_user(member.api_key)
    listed = as_member.session.get(as_member.tracks)
    assert listed.status_code == 200
    track = as_member.track("by member", stages=["dev"])
    assert (
        as_member.session.patch(f"{as_member.tracks}/{track['id']}", json={"name": "u"}).status_code
        == 200
    )
    entry = as_member.entry(track["id"], reg.artifact())
    assert entry["added_by"] == member.id
    moved = as_member.session.patch(
        f"{as_member.entries(track['id'])}/{entry['id']}",
        json={"stage_id": track["stages"][0]["id"]},
    )
    assert moved.status_code == 200
    for r in (
        as_member.session.delete(f"{as_member.tracks}/{track['id']}"),
        as_member.session.delete(f"{as_member.entries(track['id'])}/{entry['id']}"),
        as_member.session.delete(as_member.entries(track["id"]), json={"entry_ids": [entry["id"]]}),
    ):
        assert (r.status_code, r.json()) == (403, RIGHTS)
    admin = reg.as_user(reg.server.make_member(reg.arts.orbit, orbit_role="admin").api_key)
    assert admin.session.delete(f"{admin.tracks}/{track['id']}").status_code == 204


def test_a_plain_orbit_member_on_secrets(reg: Reg) -> None:
    owned = reg.server.make_orbit_secret("OWNED", "v", orbit_id=reg.arts.orbit)
    as_member = reg.as_user(reg.server.make_member(reg.arts.orbit).api_key)
    made = as_member.session.post(as_member.secrets, json={"name": "MINE", "value": "m"})
    assert made.status_code == 200 and made.json()["value"] == "m"
    listed = as_member.session.get(as_member.secrets)
    assert listed.status_code == 200 and {s["value"] for s in listed.json()} == {""}
    url = f"{as_member.secrets}/{owned['id']}"
    for r in (
        as_member.session.get(url),
        as_member.session.patch(url, json={"value": "x"}),
        as_member.session.delete(url),
    ):
        assert (r.status_code, r.json()) == (403, RIGHTS)
    assert reg.server.orbit_secret_value(owned["id"]) == "v"


def test_outsiders_org_members_and_wrong_orbits(reg: Reg, server: LocalServer) -> None:
    track = reg.track()
    outsider = reg.as_user(server.add_user("outsider").api_key)
    org_member = reg.as_user(server.make_member(reg.arts.orbit, orbit_role=None).api_key)
    for client in (outsider, org_member):
        for r in (
            client.session.get(client.tracks),
            client.session.get(f"{client.tracks}/{track['id']}"),
            client.session.get(client.secrets),
            client.session.post(client.secrets, json={"name": "N", "value": "v"}),
        ):
            assert (r.status_code, r.json()) == (403, RIGHTS)
    foreign_orbit = server.add_orbit(server.organization_id, "of another organization")
    wrong = f"{reg.server.url}/v1/organizations/{reg.arts.org}/orbits/{foreign_orbit}"
    for r in (
        reg.session.get(wrong + "/tracks"),
        reg.session.patch(f"{wrong}/tracks/{track['id']}", json={"name": "x"}),
        reg.session.get(wrong + "/secrets"),
    ):
        assert (r.status_code, r.json()) == (404, {"detail": "Orbit not found"})
    assert requests.get(reg.tracks).status_code == 401


def test_a_create_whose_answer_is_lost_was_committed(reg: Reg, server: LocalServer) -> None:
    track = reg.track()
    artifact = reg.artifact()
    server.add_fault(Fault("drop_after", method="POST", path=r"/(tracks|entries|secrets)$"))
    try:
        for url, body in (
            (reg.tracks, {"name": "lost", "artifact_type": "model"}),
            (reg.entries(track["id"]), {"artifact_id": artifact}),
            (reg.secrets, {"name": "LOST", "value": "v"}),
        ):
            fresh = session_for(server.api_key)
            with pytest.raises(requests.ConnectionError):
                fresh.post(url, json=body)
            fresh.close()
    finally:
        server.clear_faults()
    names = [t["name"] for t in reg.session.get(reg.tracks).json()["items"]]
    assert names.count("lost") == 1
    assert [e["artifact_id"] for e in server.track_entries(track["id"])] == [artifact]
    assert [s["name"] for s in reg.session.get(reg.secrets).json()] == ["LOST"]
    status = Fault("status", status=503, method="GET", path=r"/tracks$", times=1)
    server.add_fault(status)
    assert reg.session.get(reg.tracks).status_code == 503
    assert reg.session.get(reg.tracks).status_code == 200


def test_add_track_and_remove_from_track_make_real_entries(reg: Reg, server: LocalServer) -> None:
    artifact = reg.artifact()
    track_id = server.add_track(artifact, name="helper")
    track = reg.session.get(f"{reg.tracks}/{track_id}").json()
    assert (track["name"], track["artifact_type"], track["total_entries"]) == ("helper", "model", 1)
    second = reg.artifact()
    assert server.add_track(second, track_id=track_id) == track_id
    assert server.add_track(second, track_id=track_id) == track_id  # already there: no-op
    listed = reg.session.get(reg.entries(track_id), params={"sort_by": "version", "order": "asc"})
    assert [(e["artifact_id"], e["version"]) for e in listed.json()["items"]] == [
        (artifact, 1),
        (second, 2),
    ]
    with pytest.raises(ValueError, match="does not match"):
        server.add_track(reg.artifact("dataset"), track_id=track_id)
    server.remove_from_track(track_id, artifact)
    assert [e["artifact_id"] for e in server.track_entries(track_id)] == [second]
    with pytest.raises(KeyError):
        server.remove_from_track(track_id, artifact)


def test_make_track_and_make_orbit_secret(reg: Reg, server: LocalServer) -> None:
    track = server.make_track(reg.arts.orbit, "made", stages=["dev", "prod"], tags=["t"])
    assert reg.session.get(f"{reg.tracks}/{track['id']}").json() == track
    with pytest.raises(ValueError, match="Duplicate stage names"):
        server.make_track(reg.arts.orbit, stages=["a", "a"])
    with pytest.raises(ValueError, match="artifact_type"):
        server.make_track(reg.arts.orbit, artifact_type="notebook")
    secret = server.make_orbit_secret("S", "value", orbit_id=reg.arts.orbit, tags=["x"])
    assert reg.session.get(f"{reg.secrets}/{secret['id']}").json() == secret
    with pytest.raises(ValueError, match="already has"):
        server.make_orbit_secret("S", "again", orbit_id=reg.arts.orbit)
    assert server.orbit_secret_value(reg.arts.orbit) is None


def test_a_database_with_the_older_bare_track_tables_is_carried_over(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with LocalServer(db_path=str(db)) as srv:
        s = session_for(srv.api_key)
        reg = Reg(Arts(srv, s, srv.organization_id, srv.orbit_id))
        artifact = reg.artifact()
        s.close()
    srv.close()
    with sqlite3.connect(db) as conn:  # the tables as earlier versions of the server made them
        conn.executescript(
            "DROP TABLE track_entries; DROP TABLE track_stages; DROP TABLE tracks;"
            "CREATE TABLE tracks (id TEXT PRIMARY KEY, orbit_id TEXT NOT NULL, name TEXT NOT NULL,"
            " created_at TEXT NOT NULL, updated_at TEXT);"
            "CREATE TABLE track_entries (track_id TEXT NOT NULL, artifact_id TEXT NOT NULL,"
            " created_at TEXT NOT NULL, PRIMARY KEY (track_id, artifact_id));"
        )
        conn.execute(
            "INSERT INTO tracks VALUES ('01900000-0000-7000-8000-000000000001', ?, 'old',"
            " '2026-01-01T00:00:00.000000Z', NULL)",
            (srv.orbit_id,),
        )
        conn.execute(
            "INSERT INTO track_entries VALUES ('01900000-0000-7000-8000-000000000001', ?,"
            " '2026-01-01T00:00:00.000000Z')",
            (artifact,),
        )
    with LocalServer(db_path=str(db)) as again:
        track_id = "01900000-0000-7000-8000-000000000001"
        entries = again.track_entries(track_id)
        assert [(e["artifact_id"], e["version"]) for e in entries] == [(artifact, 1)]
        s = session_for(again.api_key)
        base = f"{again.url}/v1/organizations/{again.organization_id}/orbits/{again.orbit_id}"
        track = s.get(f"{base}/tracks/{track_id}").json()
        assert (track["name"], track["artifact_type"], track["next_version"]) == ("old", "model", 2)
        s.close()
    again.close()
