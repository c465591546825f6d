"""Contract 3.1, the entries: versions, checks, listing, the stage pointer and the quirks."""

from __future__ import annotations

import pytest
import requests
from registry_kit import Reg, new_reg, plain_500

from dataforce_orm.testing import LocalServer

ENTRY_KEYS = [
    "id",
    "track_id",
    "artifact_id",
    "version",
    "stage_id",
    "added_by",
    "created_at",
    "updated_at",
    "artifact_collection_id",
    "artifact_name",
    "artifact_description",
    "stage_name",
]


@pytest.fixture
def reg(server: LocalServer, session: requests.Session) -> Reg:
    return new_reg(server, session)


def test_an_entry_is_the_next_version_with_its_joins(reg: Reg) -> None:
    track = reg.track(stages=["dev"])
    artifact = reg.artifact(name="churn-v1")
    entry = reg.entry(track["id"], artifact, stage_id=track["stages"][0]["id"])
    assert list(entry) == ENTRY_KEYS
    assert (entry["track_id"], entry["artifact_id"], entry["version"]) == (track["id"], artifact, 1)
    assert (entry["added_by"], entry["artifact_name"], entry["stage_name"]) == (
        reg.server.user_id,
        "churn-v1",
        "dev",
    )
    row = reg.server.artifact_rows(entry["artifact_collection_id"])[0]
    assert row["id"] == artifact and entry["artifact_description"] is None
    after = reg.session.get(f"{reg.tracks}/{track['id']}").json()
    assert (after["next_version"], after["total_entries"]) == (2, 1)
    assert after["stages"][0]["is_used"] is True


def test_versions_are_never_reused(reg: Reg) -> None:
    track = reg.track()
    versions = [reg.entry(track["id"])["version"] for _ in range(3)]
    assert versions == [1, 2, 3]
    third = reg.server.track_entries(track["id"])[-1]
    reg.session.delete(f"{reg.entries(track['id'])}/{third['id']}")
    assert reg.entry(track["id"])["version"] == 4


def test_entry_create_checks_in_the_platforms_order(reg: Reg) -> None:
    track = reg.track(stages=["dev"])
    dev = track["stages"][0]["id"]
    held = reg.entry(track["id"], stage_id=dev)
    r = reg.add(track["id"], reg.artifact("dataset"))
    assert (r.status_code, r.json()) == (
        400,
        {"detail": "Artifact type 'dataset' does not match track artifact type 'model'."},
    )
    other = reg.elsewhere()
    foreign = other.artifact()
    r = reg.add(track["id"], foreign)
    assert (r.status_code, r.json()) == (
        422,
        {"detail": "Artifact must belong to the same orbit as the track."},
    )
    r = reg.add(track["id"], reg.arts.orbit)
    assert (r.status_code, r.json()) == (404, {"detail": "Artifact not found"})
    r = reg.add(track["id"], reg.artifact(), stage_id=reg.track(stages=["x"])["stages"][0]["id"])
    assert (r.status_code, r.json()) == (422, {"detail": "Stage does not belong to this track."})
    r = reg.add(track["id"], reg.artifact(), stage_id=dev)
    assert (r.status_code, r.json()) == (409, {"detail": "Stage 'dev' is already assigned to v1."})
    r = reg.add(track["id"], held["artifact_id"])
    assert (r.status_code, r.json()) == (
        409,
        {"detail": "Artifact is already an entry in this track."},
    )
    assert reg.entry(reg.track()["id"], held["artifact_id"])["version"] == 1  # another track: fine
    assert reg.entry(track["id"])["version"] == 2  # the refused adds spent no version


def test_entry_create_validation_is_a_pydantic_422(reg: Reg) -> None:
    track = reg.track()
    r = reg.session.post(reg.entries(track["id"]), json={"artifact_id": "x", "stage_id": 5})
    assert r.status_code == 422
    assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [
        ("uuid_parsing", ["body", "artifact_id"]),
        ("uuid_type", ["body", "stage_id"]),
    ]
    assert reg.session.post(reg.entries(track["id"])).json()["detail"][0]["type"] == "missing"


def test_list_pages_sorts_and_filters_by_stage(reg: Reg) -> None:
    track = reg.track(stages=["b-stage", "a-stage", "empty"])
    ids = reg.stage_ids(track)
    e1 = reg.entry(track["id"], reg.artifact(name="zeta"), stage_id=ids["b-stage"])
    e2 = reg.entry(track["id"], reg.artifact(name="alpha"))
    e3 = reg.entry(track["id"], reg.artifact(name="mid"), stage_id=ids["a-stage"])
    url = reg.entries(track["id"])

    def ids_of(**params: object) -> list[str]:
        r = reg.session.get(url, params=params)
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()["items"]]

    assert ids_of() == [e3["id"], e2["id"], e1["id"]]  # created_at desc
    assert ids_of(sort_by="version", order="asc") == [e1["id"], e2["id"], e3["id"]]
    assert ids_of(sort_by="artifact_name", order="asc") == [e2["id"], e3["id"], e1["id"]]
    # by stage name: entries without a stage first in asc, last in desc
    assert ids_of(sort_by="stage", order="asc") == [e2["id"], e3["id"], e1["id"]]
    assert ids_of(sort_by="stage", order="desc") == [e1["id"], e3["id"], e2["id"]]
    assert ids_of(stage=ids["a-stage"]) == [e3["id"]]
    assert reg.session.get(url, params={"stage": ids["empty"]}).json() == {
        "items": [],
        "cursor": None,
    }
    first = reg.session.get(url, params={"limit": 2, "sort_by": "stage"}).json()
    rest = reg.session.get(
        url, params={"limit": 2, "sort_by": "stage", "cursor": first["cursor"]}
    ).json()
    assert [e["id"] for e in first["items"] + rest["items"]] == [e1["id"], e3["id"], e2["id"]]
    assert rest["cursor"] is None


@pytest.mark.parametrize(
    ("params", "kind", "loc"),
    [
        ({"limit": 0}, "greater_than", "limit"),
        ({"limit": 101}, "less_than_equal", "limit"),
        ({"sort_by": "name"}, "enum", "sort_by"),
        ({"stage": "dev"}, "uuid_parsing", "stage"),
    ],
)
def test_list_query_errors_are_422(
    reg: Reg, params: dict[str, object], kind: str, loc: str
) -> None:
    r = reg.session.get(reg.entries(reg.track()["id"]), params=params)
    assert r.status_code == 422
    assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [(kind, ["query", loc])]


def test_patch_moves_the_stage_and_an_empty_body_clears_it(reg: Reg) -> None:
    track = reg.track(stages=["dev", "prod"])
    ids = reg.stage_ids(track)
    entry = reg.entry(track["id"])
    url = f"{reg.entries(track['id'])}/{entry['id']}"
    moved = reg.session.patch(url, json={"stage_id": ids["prod"]}).json()
    assert (moved["stage_id"], moved["stage_name"]) == (ids["prod"], "prod")
    assert moved["updated_at"] is not None
    cleared = reg.session.patch(url, json={})
    assert (cleared.status_code, cleared.json()["stage_id"]) == (200, None)
    reg.session.patch(url, json={"stage_id": ids["dev"]})
    assert reg.session.patch(url, json={"stage_id": None}).json()["stage_id"] is None
    r = reg.session.patch(url, json={"stage_id": reg.track(stages=["x"])["stages"][0]["id"]})
    assert (r.status_code, r.json()) == (422, {"detail": "Stage does not belong to this track."})


def test_moving_onto_a_held_stage_needs_force(reg: Reg) -> None:
    track = reg.track(stages=["prod"])
    prod = track["stages"][0]["id"]
    holder = reg.entry(track["id"], stage_id=prod)
    mover = reg.entry(track["id"])
    url = f"{reg.entries(track['id'])}/{mover['id']}"
    text = {"detail": "Stage 'prod' is already assigned to v1. Use force to reassign."}
    for params in ({}, {"force": "false"}):
        r = reg.session.patch(url, json={"stage_id": prod}, params=params)
        assert (r.status_code, r.json()) == (409, text)
    own = reg.session.patch(f"{reg.entries(track['id'])}/{holder['id']}", json={"stage_id": prod})
    assert own.status_code == 200  # its own stage: no conflict
    r = reg.session.patch(url, json={"stage_id": prod}, params={"force": "true"})
    assert (r.status_code, r.json()["stage_id"]) == (200, prod)
    before = reg.session.get(f"{reg.entries(track['id'])}/{holder['id']}").json()
    assert before["stage_id"] is None
    bad = reg.session.patch(url, json={}, params={"force": "maybe"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "force"]


def test_an_unknown_entry_and_an_empty_stage_are_the_plain_500(
    reg: Reg, server: LocalServer
) -> None:
    track = reg.track(stages=["prod", "empty"])
    ids = reg.stage_ids(track)
    entry = reg.entry(track["id"], stage_id=ids["prod"])
    url = reg.entries(track["id"])
    by_stage = reg.session.get(url + "/by-stage", params={"stage_id": ids["prod"]})
    assert (by_stage.status_code, by_stage.json()) == (
        200,
        reg.session.get(f"{url}/{entry['id']}").json(),
    )
    fresh = requests.Session()
    fresh.headers.update(reg.session.headers)
    assert plain_500(fresh.get(url + "/by-stage", params={"stage_id": ids["empty"]}))
    assert plain_500(fresh.get(f"{url}/{reg.arts.orbit}"))
    fresh.delete(f"{url}/{entry['id']}")
    assert plain_500(fresh.get(f"{url}/{entry['id']}"))  # just deleted
    fresh.close()


def test_other_misses_are_proper_404s(reg: Reg) -> None:
    track, other = reg.track(stages=["dev"]), reg.track(stages=["x"])
    entry = reg.entry(other["id"])
    url = reg.entries(track["id"])
    for r, text in (
        (
            reg.session.get(url + "/by-stage", params={"stage_id": reg.arts.orbit}),
            "Stage not found",
        ),
        (
            reg.session.get(url + "/by-stage", params={"stage_id": other["stages"][0]["id"]}),
            "Stage not found",
        ),
        (reg.session.get(f"{url}/{entry['id']}"), "Entry not found"),
        (reg.session.patch(f"{url}/{entry['id']}", json={}), "Entry not found"),
        (reg.session.patch(f"{url}/{reg.arts.orbit}", json={}), "Entry not found"),
        (reg.session.delete(f"{url}/{reg.arts.orbit}"), "Entry not found"),
        (reg.session.get(reg.entries(reg.arts.orbit)), "Track not found"),
    ):
        assert (r.status_code, r.json()) == (404, {"detail": text})
    missing = reg.session.get(url + "/by-stage")
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["query", "stage_id"]


def test_batch_delete_skips_ids_that_are_not_in_the_track(reg: Reg) -> None:
    track, other = reg.track(), reg.track()
    mine = [reg.entry(track["id"]) for _ in range(2)]
    theirs = reg.entry(other["id"])
    r = reg.session.delete(
        reg.entries(track["id"]),
        json={"entry_ids": [mine[0]["id"], theirs["id"], reg.arts.orbit]},
    )
    assert (r.status_code, r.content) == (204, b"")
    assert [e["id"] for e in reg.server.track_entries(track["id"])] == [mine[1]["id"]]
    assert [e["id"] for e in reg.server.track_entries(other["id"])] == [theirs["id"]]
    empty = reg.session.delete(reg.entries(track["id"]), json={"entry_ids": []})
    assert empty.status_code == 422
    assert empty.json()["detail"] == [
        {
            "type": "too_short",
            "loc": ["body", "entry_ids"],
            "msg": "List should have at least 1 item after validation, not 0",
            "input": [],
            "ctx": {"field_type": "List", "min_length": 1, "actual_length": 0},
        }
    ]
    assert reg.session.delete(reg.entries(track["id"])).status_code == 422


def test_single_delete(reg: Reg) -> None:
    track = reg.track()
    entry = reg.entry(track["id"])
    r = reg.session.delete(f"{reg.entries(track['id'])}/{entry['id']}")
    assert (r.status_code, r.content) == (204, b"")
    assert reg.server.track_entries(track["id"]) == []
