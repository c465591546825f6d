"""GET P/artifacts (contract §3.3, §4): filters, ordering, a cursor bound to every filter, and
the platform's two cursor bugs (metric sort repeats page 1; unknown sort_by truncates)."""

from __future__ import annotations

import uuid

import pytest
from artifacts_kit import Arts, decode_cursor

from dataforce_orm.testing import LocalServer

SCOPE_NS = uuid.UUID("a8f5f167-4f8a-5e6c-9b2d-1c3e4d5a6b7f")


@pytest.fixture
def filled(arts: Arts) -> tuple[Arts, str, str]:
    """Two collections: c1 holds m1..m4 (models) and d1 (dataset); c2 holds x1."""
    c1, c2 = arts.collection("mixed", "first"), arts.collection("mixed", "second")
    for i, (name, kind) in enumerate(
        [("m1", "model"), ("m2", "model"), ("m3", "model"), ("m4", "model"), ("d1", "dataset")]
    ):
        arts.make(
            c1,
            name=name,
            artifact_type=kind,
            size=100 - i,
            description=None if i % 2 else f"desc-{i}",
            tags=[f"tag-{name}"],
            file_name=f"file-{name}.luml",
        )
    arts.make(c2, name="x1")
    return arts, c1, c2


def test_orbit_wide_newest_first(filled: tuple[Arts, str, str]) -> None:
    arts, c1, c2 = filled
    assert arts.names() == ["x1", "d1", "m4", "m3", "m2", "m1"]
    assert arts.names(order="asc") == ["m1", "m2", "m3", "m4", "d1", "x1"]
    assert arts.names(collection_ids=c2) == ["x1"]
    assert arts.names(collection_ids=[c1, c2], limit=2) == ["x1", "d1"]
    empty = arts.list(collection_ids=arts.collection()).json()
    assert empty == {"items": [], "cursor": None}


def test_filters(filled: tuple[Arts, str, str]) -> None:
    arts, c1, _ = filled
    assert arts.names(types="dataset") == ["d1"]
    assert arts.names(types=["dataset", "model"], collection_ids=c1, order="asc") == [
        "m1",
        "m2",
        "m3",
        "m4",
        "d1",
    ]
    assert arts.names(search="M") == ["m4", "m3", "m2", "m1"]  # case-insensitive
    assert arts.names(search="m_") == ["m4", "m3", "m2", "m1"]  # live wildcard
    for not_searched in ("file-", "tag-", "desc-"):
        assert arts.names(search=not_searched) == []  # search covers name only
    assert arts.names(search="") == arts.names()


def test_excluded_tracks(filled: tuple[Arts, str, str], server: LocalServer) -> None:
    arts, c1, _ = filled
    items = {i["name"]: i["id"] for i in arts.list(collection_ids=c1).json()["items"]}
    track = server.add_track(items["m1"])
    server.add_track(items["m2"], track_id=track)
    other = server.add_track(items["m3"])
    assert arts.names(collection_ids=c1, excluded_tracks=track) == ["d1", "m4", "m3"]
    assert arts.names(collection_ids=c1, excluded_tracks=[track, other]) == ["d1", "m4"]
    assert arts.names(collection_ids=c1, excluded_tracks=str(uuid.uuid4())) == [
        "d1",
        "m4",
        "m3",
        "m2",
        "m1",
    ]


def test_foreign_collection_ids_are_404(filled: tuple[Arts, str, str], server: LocalServer) -> None:
    arts, c1, _ = filled
    foreign = Arts(server, arts.session, arts.org, server.add_orbit(arts.org, "o")).collection()
    missing = str(uuid.uuid4())
    r = arts.list(collection_ids=[c1, foreign, missing])
    text = f"You don't have access to the following collections: {foreign}, {missing}"
    assert (r.status_code, r.json()) == (404, {"detail": text})


@pytest.mark.parametrize(
    ("sort_by", "order", "expected"),
    [
        ("name", "asc", ["d1", "m1", "m2", "m3", "m4"]),
        ("size", "asc", ["d1", "m4", "m3", "m2", "m1"]),
        ("size", "desc", ["m1", "m2", "m3", "m4", "d1"]),
        # NULLs last when descending, first when ascending
        ("description", "desc", ["d1", "m3", "m1", "m4", "m2"]),
        ("description", "asc", ["m2", "m4", "m1", "m3", "d1"]),
        ("type", "asc", ["d1", "m1", "m2", "m3", "m4"]),
        ("file_name", "desc", ["m4", "m3", "m2", "m1", "d1"]),
    ],
)
def test_sorting_and_full_walks(
    filled: tuple[Arts, str, str], sort_by: str, order: str, expected: list[str]
) -> None:
    arts, c1, _ = filled
    assert arts.names(collection_ids=c1, sort_by=sort_by, order=order) == expected
    walked = arts.walk(collection_ids=c1, sort_by=sort_by, order=order, limit=2)
    assert walked == [expected[0:2], expected[2:4], expected[4:]]


def test_cursor_format_and_scope(filled: tuple[Arts, str, str]) -> None:
    arts, c1, _ = filled
    r = arts.list(collection_ids=c1, types="model", search="m", limit=2).json()
    values = decode_cursor(r["cursor"])
    assert r["cursor"].endswith("=") or len(r["cursor"]) % 4 == 0
    last_id, value, sort_by, order, scope = values
    assert last_id == r["items"][-1]["id"].replace("-", "")
    assert value == r["items"][-1]["created_at"].replace("Z", "+00:00")
    assert (sort_by, order) == ("created_at", "desc")
    key = (
        "artifact_types=model|collection_ids="
        + c1.replace("-", "")
        + "|excluded_tracks=|orbit_id="
        + arts.orbit.replace("-", "")
        + "|search=m"
    )
    assert scope == uuid.uuid5(SCOPE_NS, key).hex


def test_cursor_is_bound_to_every_filter(
    filled: tuple[Arts, str, str], server: LocalServer
) -> None:
    arts, c1, c2 = filled
    base = {"collection_ids": c1, "types": "model", "search": "m", "limit": 2}
    first = arts.list(**base).json()
    page2 = arts.list(**base, cursor=first["cursor"]).json()
    assert [i["name"] for i in page2["items"]] == ["m2", "m1"]
    page1 = [i["name"] for i in first["items"]]
    track = server.add_track(first["items"][0]["id"])
    changed = [
        {"collection_ids": [c1, c2]},
        {"types": ["model", "dataset"]},
        {"search": "M"},
        {"excluded_tracks": track},
        {"order": "desc", "sort_by": "name"},
        {"order": "asc"},
    ]
    for change in changed:
        query = {**base, **change, "cursor": first["cursor"]}
        fresh = arts.list(**{k: v for k, v in query.items() if k != "cursor"}).json()
        r = arts.list(**query)
        assert r.status_code == 200
        assert r.json()["items"] == fresh["items"], change  # silently page 1 again
    assert [i["name"] for i in arts.list(**base, cursor="garbage!").json()["items"]] == page1
    assert [i["name"] for i in arts.list(**base, cursor="").json()["items"]] == page1


def test_metric_sort_needs_collection_ids_and_a_known_key(filled: tuple[Arts, str, str]) -> None:
    arts, c1, _ = filled
    cid = arts.collection("model", "metrics")
    arts.make(cid, name="a", extra_values={"f1": 0.2})
    r = arts.list(collection_ids=cid, sort_by="nope")
    assert (r.status_code, r.json()) == (400, {"detail": "Invalid sorting column: nope"})
    r = arts.list(collection_ids=cid, sort_by="extra_values")
    assert (r.status_code, r.json()) == (
        400,
        {"detail": "Cannot sort by 'metrics'. Pass a metric key"},
    )
    r = arts.list(collection_ids=c1, sort_by="f1")  # a key of another collection
    assert (r.status_code, r.json()) == (400, {"detail": "Invalid sorting column: f1"})
    assert arts.list(collection_ids=[c1, cid], sort_by="f1").status_code == 200
    assert arts.list(collection_ids=cid, sort_by="updated_at").status_code == 200  # a column


def test_metric_sort_orders_by_float_and_repeats_page_one(arts: Arts) -> None:
    cid = arts.collection()
    values = {"a": 0.5, "b": "0.9", "c": 0.1, "d": None, "e": 7, "f": -1}
    for name, value in values.items():
        extra = {"f1": value} if value is not None else {"other": 1}
        arts.make(cid, name=name, extra_values=extra)
    assert arts.names(collection_ids=cid, sort_by="f1") == ["e", "b", "a", "c", "f", "d"]
    assert arts.names(collection_ids=cid, sort_by="f1", order="asc") == [
        "d",
        "f",
        "c",
        "a",
        "b",
        "e",
    ]
    first = arts.list(collection_ids=cid, sort_by="f1", limit=2).json()
    assert [i["name"] for i in first["items"]] == ["e", "b"]
    assert decode_cursor(first["cursor"])[1:4] == ["0.9", "extra_values", "desc"]
    cursor = first["cursor"]
    for _ in range(3):  # the cursor names 'extra_values', never the requested metric: page 1
        again = arts.list(collection_ids=cid, sort_by="f1", limit=2, cursor=cursor).json()
        assert again == first
        cursor = again["cursor"]
    walked = arts.walk(collection_ids=cid, sort_by="f1", limit=2)
    assert len(walked) == 20 and all(page == ["e", "b"] for page in walked)
    assert arts.walk(collection_ids=cid, sort_by="f1", limit=6) == [["e", "b", "a", "c", "f", "d"]]


def test_non_numeric_metric_is_500(arts: Arts) -> None:
    cid = arts.collection()
    arts.make(cid, name="a", extra_values={"f1": 0.5})
    arts.make(cid, name="b", extra_values={"f1": "high"})
    r = arts.list(collection_ids=cid, sort_by="f1")
    assert (r.status_code, r.text) == (500, "Internal Server Error")


def test_unknown_sort_by_without_collection_ids_truncates(filled: tuple[Arts, str, str]) -> None:
    arts, _, _ = filled
    names = arts.names()
    first = arts.list(sort_by="f1", limit=2).json()
    assert [i["name"] for i in first["items"]] == names[:2]  # created_at order
    assert decode_cursor(first["cursor"])[1:3] == [None, "f1"]
    assert arts.list(sort_by="f1", limit=2, cursor=first["cursor"]).json() == {
        "items": [],
        "cursor": None,
    }
    assert arts.walk(sort_by="whatever", limit=2) == [names[:2], []]
    # ascending, the same null-valued cursor selects every row: page 1 comes back
    asc = arts.walk(sort_by="whatever", order="asc", limit=2)
    assert asc[0] == asc[1] == names[::-1][:2]


@pytest.mark.parametrize("sort_by", ["id", "extra_values", "manifest", "tags"])
def test_sorts_whose_cursor_cannot_be_made_fail_on_page_one_with_more(
    arts: Arts, sort_by: str
) -> None:
    cid = arts.collection()
    for name in "abc":
        arts.make(cid, name=name, tags=[name])
    assert arts.list(sort_by=sort_by, limit=3).status_code == 200  # no next page: fine
    r = arts.list(sort_by=sort_by, limit=2)
    assert (r.status_code, r.text) == (500, "Internal Server Error")


def test_updated_at_page_two_with_a_timestamp_is_500(arts: Arts) -> None:
    cid = arts.collection()
    for name in "abc":
        aid = arts.make(cid, name=name)["id"]
        arts.patch(cid, aid, {"description": "changed"})
    first = arts.list(collection_ids=cid, sort_by="updated_at", limit=2).json()
    r = arts.list(collection_ids=cid, sort_by="updated_at", limit=2, cursor=first["cursor"])
    assert (r.status_code, r.text) == (500, "Internal Server Error")


def test_orm_attribute_sort_is_500(arts: Arts) -> None:
    cid = arts.collection()
    arts.make(cid)
    for sort_by in ("collection", "__tablename__"):
        assert arts.list(sort_by=sort_by).status_code == 500
        assert arts.list(collection_ids=cid, sort_by=sort_by).status_code == 500
