"""Contract 3.1, the tracks: create, list, read, partial update, the stage set, delete."""

from __future__ import annotations

import pytest
import requests
from artifacts_kit import decode_cursor
from registry_kit import Reg, new_reg, plain_500

from dataforce_orm.testing import LocalServer

TRACK_KEYS = [
    "id",
    "name",
    "created_at",
    "updated_at",
    "orbit_id",
    "artifact_type",
    "description",
    "tags",
    "stages",
    "next_version",
    "total_entries",
]
STAGE_KEYS = ["id", "track_id", "name", "is_used", "created_at", "updated_at"]


@pytest.fixture
def reg(server: LocalServer, session: requests.Session) -> Reg:
    return new_reg(server, session)


def test_create_answers_the_track_with_its_stages(reg: Reg) -> None:
    track = reg.track("churn", stages=["dev", "prod"], description="d", tags=["a"])
    assert list(track) == TRACK_KEYS
    assert (track["name"], track["artifact_type"], track["description"], track["tags"]) == (
        "churn",
        "model",
        "d",
        ["a"],
    )
    assert (track["orbit_id"], track["next_version"], track["total_entries"]) == (
        reg.arts.orbit,
        1,
        0,
    )
    assert [list(s) for s in track["stages"]] == [STAGE_KEYS, STAGE_KEYS]
    assert [(s["name"], s["is_used"], s["track_id"]) for s in track["stages"]] == [
        ("dev", False, track["id"]),
        ("prod", False, track["id"]),
    ]
    assert reg.track("bare")["tags"] is None and reg.track("bare")["stages"] == []


def test_names_have_no_length_limit_and_are_not_unique(reg: Reg) -> None:
    long = reg.track("n" * 600)
    assert long["name"] == "n" * 600
    first, second = reg.track("same"), reg.track("same")
    assert first["id"] != second["id"]
    names = [t["name"] for t in reg.session.get(reg.tracks).json()["items"]]
    assert names.count("same") == 2


def test_repeated_stage_names_are_409_in_create_and_in_patch(reg: Reg) -> None:
    r = reg.session.post(
        reg.tracks, json={"name": "t", "artifact_type": "model", "stages": ["a", "a"]}
    )
    assert (r.status_code, r.json()) == (409, {"detail": "Duplicate stage names are not allowed."})
    assert reg.session.get(reg.tracks).json()["items"] == []  # nothing half-written
    track = reg.track(stages=["a"])
    r = reg.session.patch(
        f"{reg.tracks}/{track['id']}", json={"stages": [{"name": "b"}, {"name": "b"}]}
    )
    assert (r.status_code, r.json()) == (409, {"detail": "Duplicate stage names are not allowed."})
    assert [s["name"] for s in reg.session.get(f"{reg.tracks}/{track['id']}/stages").json()] == [
        "a"
    ]


def test_a_rename_onto_a_name_still_taken_is_409_and_changes_nothing(reg: Reg) -> None:
    track = reg.track(stages=["dev", "prod"])
    ids = reg.stage_ids(track)
    url = f"{reg.tracks}/{track['id']}"
    swap = [{"id": ids["dev"], "name": "prod"}, {"id": ids["prod"], "name": "dev"}]
    onto_removed = [{"id": ids["dev"], "name": "prod"}]  # renames are written before deletes
    for stages in (swap, onto_removed):
        r = reg.session.patch(url, json={"stages": stages})
        assert (r.status_code, r.json()) == (
            409, {"detail": "Duplicate stage names are not allowed."}
        )
    assert reg.session.get(url + "/stages").json() == track["stages"]


def test_create_validation_is_a_pydantic_422(reg: Reg) -> None:
    r = reg.session.post(reg.tracks, json={"name": "t", "artifact_type": "notebook"})
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {
            "type": "enum",
            "loc": ["body", "artifact_type"],
            "msg": "Input should be 'model', 'experiment' or 'dataset'",
            "input": "notebook",
            "ctx": {"expected": "'model', 'experiment' or 'dataset'"},
        }
    ]
    r = reg.session.post(reg.tracks, json={"stages": "dev"})
    assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [
        ("missing", ["body", "name"]),
        ("missing", ["body", "artifact_type"]),
        ("list_type", ["body", "stages"]),
    ]


def test_list_is_a_cursor_page_newest_first(reg: Reg) -> None:
    made = [reg.track(f"t{i}")["id"] for i in range(3)]
    page = reg.session.get(reg.tracks, params={"limit": 2}).json()
    assert list(page) == ["items", "cursor"]
    assert [t["id"] for t in page["items"]] == made[::-1][:2]
    rest = reg.session.get(reg.tracks, params={"limit": 2, "cursor": page["cursor"]}).json()
    assert ([t["id"] for t in rest["items"]], rest["cursor"]) == ([made[0]], None)
    last_id, _value, sort_by, order, scope = decode_cursor(page["cursor"])
    assert (sort_by, order, scope) == ("created_at", "desc", reg.arts.orbit.replace("-", ""))
    assert last_id == made[1].replace("-", "")


@pytest.mark.parametrize(
    ("params", "kind", "loc"),
    [
        ({"limit": 0}, "greater_than", "limit"),
        ({"limit": 101}, "less_than_equal", "limit"),
        ({"sort_by": "artifact_type"}, "enum", "sort_by"),
        ({"order": "up"}, "enum", "order"),
    ],
)
def test_list_query_errors_are_422(
    reg: Reg, params: dict[str, object], kind: str, loc: str
) -> None:
    r = reg.session.get(reg.tracks, params=params)
    assert r.status_code == 422
    assert [(e["type"], e["loc"]) for e in r.json()["detail"]] == [(kind, ["query", loc])]


def test_list_sorts_by_each_key(reg: Reg) -> None:
    a = reg.track("b", description="y")
    b = reg.track("a", description=None)
    c = reg.track("c", description="x")
    reg.entry(c["id"])
    reg.entry(c["id"])
    reg.entry(a["id"])

    def ids(**params: str) -> list[str]:
        return [t["id"] for t in reg.session.get(reg.tracks, params=params).json()["items"]]

    assert ids(sort_by="name", order="asc") == [b["id"], a["id"], c["id"]]
    assert ids(sort_by="total_entries", order="desc") == [c["id"], a["id"], b["id"]]
    # NULLs first in asc, last in desc
    assert ids(sort_by="description", order="asc") == [b["id"], c["id"], a["id"]]
    assert ids(sort_by="description", order="desc") == [a["id"], c["id"], b["id"]]
    assert ids(order="asc") == [a["id"], b["id"], c["id"]]


def test_cursor_walks_every_sort_without_repeats(reg: Reg) -> None:
    for i in range(5):
        reg.track(f"t{i % 2}", description=None if i % 3 else f"d{i}")
    for sort_by in ("name", "description", "total_entries", "created_at"):
        for order in ("asc", "desc"):
            seen, cursor = [], None
            for _ in range(10):
                params = {"limit": 2, "sort_by": sort_by, "order": order}
                if cursor:
                    params["cursor"] = cursor
                page = reg.session.get(reg.tracks, params=params).json()
                seen += [t["id"] for t in page["items"]]
                cursor = page["cursor"]
                if cursor is None:
                    break
            assert len(seen) == len(set(seen)) == 5, (sort_by, order)


def test_search_matches_name_or_tags_ignoring_case(reg: Reg) -> None:
    reg.track("Churn model")
    reg.track("other", tags=["Alpha"])
    reg.track("plain")

    def names(search: str) -> list[str]:
        items = reg.session.get(reg.tracks, params={"search": search}).json()["items"]
        return sorted(t["name"] for t in items)

    assert names("alpha") == ["other"]
    assert names("CHURN") == ["Churn model"]
    assert names("zzz") == []


def test_types_filter_and_an_unknown_type_gives_an_empty_page(reg: Reg) -> None:
    reg.track("m")
    reg.track("d", artifact_type="dataset")
    reg.track("e", artifact_type="experiment")

    def names(*types: str) -> list[str]:
        items = reg.session.get(reg.tracks, params={"types": list(types)}).json()["items"]
        return sorted(t["name"] for t in items)

    assert names("dataset") == ["d"]
    assert names("dataset", "experiment") == ["d", "e"]
    r = reg.session.get(reg.tracks, params={"types": "notebook"})
    assert (r.status_code, r.json()) == (200, {"items": [], "cursor": None})


def test_a_cursor_of_another_query_restarts_at_page_one(reg: Reg) -> None:
    for i in range(3):
        reg.track(f"t{i}")
    first = reg.session.get(reg.tracks, params={"limit": 1}).json()
    page_one = [t["id"] for t in first["items"]]
    for params in (
        {"sort_by": "name"},
        {"order": "asc"},
        {"cursor": "not-a-cursor"},
    ):
        query = {"limit": 1, "cursor": first["cursor"], **params}
        again = reg.session.get(reg.tracks, params=query).json()["items"]
        expected = reg.session.get(
            reg.tracks, params={"limit": 1, **{k: v for k, v in params.items() if k != "cursor"}}
        ).json()["items"]
        assert [t["id"] for t in again] == [t["id"] for t in expected]
    follow = reg.session.get(reg.tracks, params={"limit": 1, "cursor": first["cursor"]}).json()
    assert [t["id"] for t in follow["items"]] != page_one


def test_a_cursor_of_another_orbit_restarts_at_page_one(reg: Reg) -> None:
    other = reg.elsewhere()
    for r in (reg, other):
        for i in range(3):
            r.track(f"t{i}")
    cursor = reg.session.get(reg.tracks, params={"limit": 1}).json()["cursor"]
    assert cursor is not None
    first = other.session.get(other.tracks, params={"limit": 1}).json()["items"]
    again = other.session.get(other.tracks, params={"limit": 1, "cursor": cursor}).json()
    assert [t["id"] for t in again["items"]] == [t["id"] for t in first]
    assert all(t["orbit_id"] == other.arts.orbit for t in again["items"])


def test_get_and_stages(reg: Reg) -> None:
    track = reg.track(stages=["dev", "prod"])
    r = reg.session.get(f"{reg.tracks}/{track['id']}")
    assert (r.status_code, r.json()) == (200, track)
    stages = reg.session.get(f"{reg.tracks}/{track['id']}/stages")
    assert (stages.status_code, stages.json()) == (200, track["stages"])
    missing = reg.session.get(f"{reg.tracks}/{reg.arts.orbit}")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Track not found"})
    bad = reg.session.get(f"{reg.tracks}/nope")
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["path", "track_id"]


def test_update_is_partial(reg: Reg) -> None:
    track = reg.track("t", description="d", tags=["x"], stages=["dev"])
    url = f"{reg.tracks}/{track['id']}"
    noop = reg.session.patch(url, json={})
    assert (noop.status_code, noop.json()) == (200, track)
    renamed = reg.session.patch(url, json={"name": "u", "artifact_type": "dataset"}).json()
    assert (renamed["name"], renamed["description"], renamed["tags"]) == ("u", "d", ["x"])
    assert renamed["artifact_type"] == "model"  # ignored
    assert renamed["stages"] == track["stages"] and renamed["updated_at"] is not None
    cleared = reg.session.patch(url, json={"tags": None, "description": None}).json()
    assert (cleared["name"], cleared["tags"], cleared["description"]) == ("u", None, None)


def test_update_with_a_null_name_is_the_plain_500_and_changes_nothing(reg: Reg) -> None:
    track = reg.track("keep", description="d")
    url = f"{reg.tracks}/{track['id']}"
    assert plain_500(reg.session.patch(url, json={"name": None, "description": "e"}))
    after = reg.session.get(url).json()
    assert (after["name"], after["description"]) == ("keep", "d")


def test_stage_set_renames_adds_and_deletes(reg: Reg) -> None:
    track = reg.track(stages=["dev", "staging", "prod"])
    ids = reg.stage_ids(track)
    url = f"{reg.tracks}/{track['id']}"
    body = {
        "stages": [
            {"id": ids["dev"], "name": "development"},
            {"id": ids["prod"], "name": "prod"},
            {"name": "qa"},
        ]
    }
    r = reg.session.patch(url, json=body)
    assert r.status_code == 200
    # kept, renamed, then new
    assert [s["name"] for s in r.json()["stages"]] == ["prod", "development", "qa"]
    assert reg.stage_ids(r.json())["development"] == ids["dev"]
    assert reg.session.get(url + "/stages").json() == r.json()["stages"]
    gone = reg.session.get(
        f"{reg.entries(track['id'])}/by-stage", params={"stage_id": ids["staging"]}
    )
    assert (gone.status_code, gone.json()) == (404, {"detail": "Stage not found"})


def test_removing_a_held_stage_is_409_naming_it(reg: Reg) -> None:
    track = reg.track(stages=["dev", "prod", "qa"])
    ids = reg.stage_ids(track)
    reg.entry(track["id"], stage_id=ids["prod"])
    reg.entry(track["id"], stage_id=ids["dev"])
    url = f"{reg.tracks}/{track['id']}"
    r = reg.session.patch(url, json={"stages": [{"id": ids["dev"], "name": "dev"}]})
    assert (r.status_code, r.json()) == (
        409,
        {"detail": f"Cannot remove stages that are assigned to a version: 'prod' ({ids['prod']})."},
    )
    r = reg.session.patch(url, json={"stages": []})
    assert r.json() == {
        "detail": "Cannot remove stages that are assigned to a version:"
        f" 'dev' ({ids['dev']}), 'prod' ({ids['prod']})."
    }
    assert [s["name"] for s in reg.session.get(url + "/stages").json()] == ["dev", "prod", "qa"]
    used = {s["name"]: s["is_used"] for s in reg.session.get(url + "/stages").json()}
    assert used == {"dev": True, "prod": True, "qa": False}


def test_a_stage_id_of_another_track_is_422(reg: Reg) -> None:
    track, other = reg.track(stages=["a"]), reg.track(stages=["b"])
    r = reg.session.patch(
        f"{reg.tracks}/{track['id']}",
        json={"stages": [{"id": other["stages"][0]["id"], "name": "b"}]},
    )
    assert (r.status_code, r.json()) == (422, {"detail": "Stage does not belong to this track."})


def test_delete_cascades_even_with_entries_and_frees_the_artifacts(reg: Reg) -> None:
    track = reg.track(stages=["dev"])
    artifact = reg.artifact()
    entry = reg.entry(track["id"], artifact, stage_id=track["stages"][0]["id"])
    r = reg.session.delete(f"{reg.tracks}/{track['id']}")
    assert (r.status_code, r.content) == (204, b"")
    assert reg.session.get(f"{reg.tracks}/{track['id']}").status_code == 404
    assert reg.server.track_entries(track["id"]) == []
    cid = entry["artifact_collection_id"]
    assert reg.arts.delete(cid, artifact, "/force").status_code == 204
    again = reg.session.delete(f"{reg.tracks}/{track['id']}")
    assert (again.status_code, again.json()) == (404, {"detail": "Track not found"})


BLOCKED = "Artifact is referenced by one or more tracks. Remove it from all tracks before deleting."


def test_an_artifact_with_an_entry_cannot_be_deleted_in_any_way(reg: Reg) -> None:
    track = reg.track()
    artifact = reg.artifact()
    entry = reg.entry(track["id"], artifact)
    cid = entry["artifact_collection_id"]
    for r in (
        reg.arts.get(cid, artifact, "/delete-url"),
        reg.arts.delete(cid, artifact),
        reg.arts.delete(cid, artifact, "/force"),
    ):
        assert (r.status_code, r.json()) == (409, {"detail": BLOCKED})
    listed = reg.arts.get(cid, artifact).json()["tracks"]
    assert [t["id"] for t in listed] == [track["id"]]
    reg.session.delete(f"{reg.entries(track['id'])}/{entry['id']}")
    assert reg.arts.delete(cid, artifact, "/force").status_code == 204


def test_patch_and_delete_through_another_orbit_of_the_org_succeed(reg: Reg) -> None:
    track = reg.track("mine", stages=["dev"])
    entry = reg.entry(track["id"])
    other = reg.elsewhere()
    for r in (
        other.session.get(f"{other.tracks}/{track['id']}"),
        other.session.get(f"{other.tracks}/{track['id']}/stages"),
        other.session.get(other.entries(track["id"])),
        other.session.get(f"{other.entries(track['id'])}/{entry['id']}"),
        other.session.post(other.entries(track["id"]), json={"artifact_id": entry["artifact_id"]}),
    ):
        assert (r.status_code, r.json()) == (404, {"detail": "Track not found"})
    r = other.session.patch(f"{other.tracks}/{track['id']}", json={"name": "renamed"})
    assert (r.status_code, r.json()["name"], r.json()["orbit_id"]) == (
        200,
        "renamed",
        reg.arts.orbit,
    )
    assert reg.session.get(f"{reg.tracks}/{track['id']}").json()["name"] == "renamed"
    r = other.session.delete(f"{other.tracks}/{track['id']}")
    assert r.status_code == 204
    assert reg.session.get(f"{reg.tracks}/{track['id']}").status_code == 404
