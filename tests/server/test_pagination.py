"""Sections 4.2 and 5: keyset pagination, cursors, search and the types filter."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import requests
from dfserver_helpers import Api

from dataforce_orm.testing import LocalServer

SORT_KEYS = ["created_at", "name", "type", "description", "total_artifacts"]
TYPES = ["model", "dataset", "experiment", "model_dataset", "dataset_experiment",
         "model_experiment", "mixed"]


@pytest.fixture(scope="module")
def big(server: LocalServer, session: requests.Session) -> Api:
    """An orbit with 300 collections: mixed-case names, repeated descriptions, every type."""
    orbit = server.add_orbit(server.organization_id, "pagination")
    bodies = [
        {"name": f"{'Coll' if i % 3 == 0 else 'coll'}-{i % 150:03d}", "description": f"d{i % 13}",
         "type": TYPES[i % 7], "tags": None if i % 5 == 0 else ["prod", f"T{i % 4}"],
         "total_artifacts": i % 4}
        for i in range(300)
    ]
    server.insert_collections(orbit, bodies)
    return Api(server, session, server.organization_id, orbit)


def walk(api: Api, **params: Any) -> tuple[list[dict[str, Any]], list[int]]:
    items: list[dict[str, Any]] = []
    sizes: list[int] = []
    cursor = None
    for _ in range(1000):
        query = dict(params)
        if cursor is not None:
            query["cursor"] = cursor
        r = api.get(params=query)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        sizes.append(len(page["items"]))
        cursor = page["cursor"]
        if cursor is None:
            return items, sizes
    raise AssertionError("pagination did not end")


def expected(api: Api, sort_by: str, order: str) -> list[str]:
    rows = api.server.collection_rows(api.orbit)
    rows.sort(key=lambda r: (r[sort_by], r["id"]), reverse=order == "desc")
    return [r["id"] for r in rows]


@pytest.mark.parametrize("sort_by", SORT_KEYS)
@pytest.mark.parametrize("order", ["asc", "desc"])
@pytest.mark.parametrize("limit", [7, 50, 100])
def test_walk_returns_every_item_once_in_order(big: Api, sort_by: str, order: str,
                                               limit: int) -> None:
    items, sizes = walk(big, sort_by=sort_by, order=order, limit=limit)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == 300
    assert ids == expected(big, sort_by, order)
    full, rest = divmod(300, limit)
    assert sizes == [limit] * full + ([rest] if rest else [])


def test_walk_page_size_one(big: Api) -> None:
    items, _ = walk(big, sort_by="total_artifacts", order="asc", limit=1)
    assert [i["id"] for i in items] == expected(big, "total_artifacts", "asc")


def test_default_is_created_at_desc_limit_50(big: Api) -> None:
    page = big.get().json()
    assert len(page["items"]) == 50
    assert [i["id"] for i in page["items"]] == expected(big, "created_at", "desc")[:50]


def test_observed_page_shapes_on_120(api: Api) -> None:
    api.server.insert_collections(api.orbit, [
        {"name": f"coll-{i:03d}", "description": f"d{i % 10}", "type": TYPES[i % 5]}
        for i in range(120)])
    assert walk(api, limit=50)[1] == [50, 50, 20]
    assert walk(api, limit=100)[1] == [100, 20]
    assert walk(api, limit=7, sort_by="name", order="asc")[1] == [7] * 17 + [1]
    assert len(walk(api, types="model", limit=100)[0]) == 24
    assert len(walk(api, search="coll-0", limit=100)[0]) == 100


def test_cursor_format(big: Api) -> None:
    page = big.get(params={"limit": 3}).json()
    last = page["items"][-1]
    raw = base64.urlsafe_b64decode(page["cursor"])
    assert len(page["cursor"]) % 4 == 0
    decoded = json.loads(raw)
    assert decoded == [last["id"].replace("-", ""), last["created_at"][:-1] + "+00:00",
                       "created_at", "desc", big.orbit.replace("-", "")]
    by_count = big.get(params={"limit": 3, "sort_by": "total_artifacts"}).json()
    assert json.loads(base64.urlsafe_b64decode(by_count["cursor"]))[1] == by_count["items"][-1][
        "total_artifacts"]


def test_last_page_cursor_is_null(big: Api) -> None:
    assert big.get(params={"limit": 100, "search": "coll-000"}).json()["cursor"] is None


def test_mismatched_cursor_restarts_at_page_one(big: Api, server: LocalServer) -> None:
    first = big.get(params={"limit": 5, "sort_by": "name", "order": "asc"}).json()
    cursor = first["cursor"]
    for params in ({"sort_by": "description", "order": "asc"}, {"sort_by": "name",
                                                                "order": "desc"}):
        again = big.get(params={"limit": 5, "cursor": cursor, **params}).json()
        plain = big.get(params={"limit": 5, **params}).json()
        assert again == plain
    other = Api(server, big.session, big.org, server.add_orbit(big.org, "other"))
    other.create(name="only")
    page = other.get(params={"limit": 5, "sort_by": "name", "order": "asc", "cursor": cursor})
    assert [i["name"] for i in page.json()["items"]] == ["only"]


@pytest.mark.parametrize("cursor", ["garbage", "WyJ4Il0=", "bm90IGpzb24=", "%%%", "",
                                    base64.urlsafe_b64encode(b'["zz", 1, "created_at", "desc",'
                                                             b' "zz"]').decode()])
def test_bad_cursor_is_ignored(big: Api, cursor: str) -> None:
    r = big.get(params={"limit": 5, "cursor": cursor})
    assert r.status_code == 200
    assert r.json() == big.get(params={"limit": 5}).json()


def test_name_sort_is_case_sensitive_binary(api: Api) -> None:
    for name in ["coll-001", "Coll-000", "b", "B", "a", "_x", "Zed"]:
        api.create(name=name)
    names = [i["name"] for i in api.get(params={"sort_by": "name", "order": "asc"}).json()[
        "items"]]
    assert names == ["B", "Coll-000", "Zed", "_x", "a", "b", "coll-001"]


# -- search and types -------------------------------------------------------------------------


@pytest.fixture
def searchable(api: Api) -> Api:
    api.create(name="Churn models", tags=["prod", "Churn"], description="needle")
    api.create(name="coll-001", tags=None)
    api.create(name="coll-002", tags=[])
    api.create(name="50% off", tags=["x"])
    api.create(name="500 items", tags=None)
    api.create(name="under_score", tags=None)
    api.create(name="back\\slash", tags=None)
    return api


def names(api: Api, **params: Any) -> set[str]:
    return {i["name"] for i in api.get(params={"limit": 100, **params}).json()["items"]}


def test_search_case_insensitive_over_name_and_tags(searchable: Api) -> None:
    assert names(searchable, search="PROD") == {"Churn models"}
    assert names(searchable, search="churn") == {"Churn models"}
    assert names(searchable, search="COLL-00") == {"coll-001", "coll-002"}


def test_search_matches_tags_json_text(searchable: Api) -> None:
    with_tags = {"Churn models", "coll-002", "50% off"}
    assert names(searchable, search='"') == {"Churn models", "50% off"}
    assert names(searchable, search="[") == with_tags
    assert names(searchable, search='"prod", "Churn"') == {"Churn models"}
    assert names(searchable, search='["x"]') == {"50% off"}


def test_search_wildcards_and_escapes(searchable: Api) -> None:
    everything = names(searchable)
    assert names(searchable, search="_") == everything
    assert names(searchable, search="%") == everything
    assert names(searchable, search="coll-00_") == {"coll-001", "coll-002"}
    assert names(searchable, search="50%") == {"50% off", "500 items"}
    assert names(searchable, search="50\\%") == {"50% off"}
    assert names(searchable, search="under\\_") == {"under_score"}
    assert names(searchable, search="k\\\\s") == {"back\\slash"}
    assert searchable.get(params={"search": "trailing\\"}).status_code == 200


def test_search_ignores_description_and_empty_means_all(searchable: Api) -> None:
    assert names(searchable, search="needle") == set()
    assert names(searchable, search="") == names(searchable)


def test_search_and_types_survive_pagination(big: Api) -> None:
    items, _ = walk(big, search="coll-01", types=["model", "mixed"], limit=3,
                    sort_by="name", order="asc")
    rows = [r for r in big.server.collection_rows(big.orbit)
            if "coll-01" in r["name"].lower() and r["type"] in ("model", "mixed")]
    assert sorted(i["id"] for i in items) == sorted(r["id"] for r in rows)
    assert len(items) == len({i["id"] for i in items}) > 3


def test_types_filter_is_exact_and_ored(api: Api) -> None:
    for t in TYPES:
        api.create(name=t, type=t)
    assert names(api, types="model") == {"model"}
    assert names(api, types=["model", "dataset"]) == {"model", "dataset"}
    assert names(api, types=["experiment", "mixed", "mixed"]) == {"experiment", "mixed"}
