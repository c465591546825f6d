"""Section 7: every observed 422 body, plus the other validation rules."""

from __future__ import annotations

import pytest
from dfserver_helpers import Api, detail_422

TYPES_7 = ("'model', 'dataset', 'experiment', 'model_dataset', 'dataset_experiment', "
           "'model_experiment' or 'mixed'")
TYPES_4 = "'model', 'dataset', 'experiment' or 'mixed'"
SORTS = "'created_at', 'name', 'type', 'description' or 'total_artifacts'"


def test_missing_name(api: Api) -> None:
    body = {"description": "d", "type": "model"}
    assert detail_422(api.post(body)) == [
        {"type": "missing", "loc": ["body", "name"], "msg": "Field required", "input": body}]


def test_all_missing_fields_reported_in_order(api: Api) -> None:
    assert [e["loc"] for e in detail_422(api.post({}))] == [
        ["body", "name"], ["body", "description"], ["body", "type"]]


def test_description_is_required_on_create(api: Api) -> None:
    body = {"name": "n", "type": "model"}
    assert detail_422(api.post(body)) == [{"type": "missing", "loc": ["body", "description"],
                                        "msg": "Field required", "input": body}]


def test_type_enum(api: Api) -> None:
    for bad in ("weights", "MODEL", 5, None):
        assert detail_422(api.post({"name": "n", "description": "d", "type": bad})) == [
            {"type": "enum", "loc": ["body", "type"], "msg": f"Input should be {TYPES_7}",
             "input": bad, "ctx": {"expected": TYPES_7}}]


def test_name_too_long(api: Api) -> None:
    name = "n" * 101
    assert detail_422(api.post({"name": name, "description": "", "type": "model"})) == [
        {"type": "string_too_long", "loc": ["body", "name"],
         "msg": "String should have at most 100 characters", "input": name,
         "ctx": {"max_length": 100}}]


def test_description_too_long(api: Api) -> None:
    desc = "d" * 1001
    assert detail_422(api.post({"name": "n", "description": desc, "type": "model"})) == [
        {"type": "string_too_long", "loc": ["body", "description"],
         "msg": "String should have at most 1000 characters", "input": desc,
         "ctx": {"max_length": 1000}}]


def test_too_many_tags(api: Api) -> None:
    tags = ["t"] * 51
    body = {"name": "n", "description": "", "type": "model", "tags": tags}
    assert detail_422(api.post(body)) == [
        {"type": "too_long", "loc": ["body", "tags"],
         "msg": "List should have at most 50 items after validation, not 51", "input": tags,
         "ctx": {"field_type": "List", "max_length": 50, "actual_length": 51}}]


def test_tag_too_long(api: Api) -> None:
    tag = "t" * 65
    r = api.post({"name": "n", "description": "", "type": "model", "tags": [tag, "ok"]})
    assert detail_422(r) == [
        {"type": "string_too_long", "loc": ["body", "tags", 0],
         "msg": "String should have at most 64 characters", "input": tag,
         "ctx": {"max_length": 64}}]


def test_values_are_not_coerced(api: Api) -> None:
    r = api.post({"name": 5, "description": "d", "type": "model", "tags": "prod"})
    assert detail_422(r) == [
        {"type": "string_type", "loc": ["body", "name"], "msg": "Input should be a valid string",
         "input": 5},
        {"type": "list_type", "loc": ["body", "tags"], "msg": "Input should be a valid list",
         "input": "prod"}]
    r = api.post({"name": "n", "description": "d", "type": "model", "tags": ["ok", 3]})
    assert detail_422(r) == [{"type": "string_type", "loc": ["body", "tags", 1],
                           "msg": "Input should be a valid string", "input": 3}]


def test_dataforce_era_collection_type_is_rejected(api: Api) -> None:
    body = {"name": "x", "description": "d", "collection_type": "model"}
    assert detail_422(api.post(body)) == [
        {"type": "missing", "loc": ["body", "type"], "msg": "Field required", "input": body}]


def test_limit_greater_than_zero(api: Api) -> None:
    assert detail_422(api.get(params={"limit": "0"})) == [
        {"type": "greater_than", "loc": ["query", "limit"], "msg": "Input should be greater than 0",
         "input": "0", "ctx": {"gt": 0}}]


def test_limit_at_most_100(api: Api) -> None:
    assert detail_422(api.get(params={"limit": "101"})) == [
        {"type": "less_than_equal", "loc": ["query", "limit"],
         "msg": "Input should be less than or equal to 100", "input": "101", "ctx": {"le": 100}}]


def test_huge_and_non_numeric_limit(api: Api) -> None:
    huge = "9" * 40
    assert detail_422(api.get(params={"limit": huge}))[0]["type"] == "less_than_equal"
    assert detail_422(api.get(params={"limit": "abc"})) == [
        {"type": "int_parsing", "loc": ["query", "limit"],
         "msg": "Input should be a valid integer, unable to parse string as an integer",
         "input": "abc"}]
    assert api.get(params={"limit": "1", "x": "y"}).status_code == 200


def test_types_filter_enum(api: Api) -> None:
    assert detail_422(api.get(params={"types": ["model", "model_dataset"]})) == [
        {"type": "enum", "loc": ["query", "types", 1], "msg": f"Input should be {TYPES_4}",
         "input": "model_dataset", "ctx": {"expected": TYPES_4}}]
    assert detail_422(api.get(params={"types": "model,dataset"}))[0]["input"] == "model,dataset"


def test_sort_by_and_order_enums(api: Api) -> None:
    assert detail_422(api.get(params={"sort_by": "updated_at"})) == [
        {"type": "enum", "loc": ["query", "sort_by"], "msg": f"Input should be {SORTS}",
         "input": "updated_at", "ctx": {"expected": SORTS}}]
    assert detail_422(api.get(params={"order": "up"})) == [
        {"type": "enum", "loc": ["query", "order"], "msg": "Input should be 'asc' or 'desc'",
         "input": "up", "ctx": {"expected": "'asc' or 'desc'"}}]


def test_empty_name_on_patch(api: Api) -> None:
    cid = api.create()["id"]
    assert detail_422(api.patch(cid, {"name": "", "description": ""})) == [
        {"type": "value_error", "loc": ["body", "name"],
         "msg": "Value error, name must not be empty", "input": "", "ctx": {"error": {}}}]


def test_patch_length_limits(api: Api) -> None:
    cid = api.create()["id"]
    r = api.patch(cid, {"name": "n" * 101, "description": "d", "tags": ["t"] * 51})
    assert [e["type"] for e in detail_422(r)] == ["string_too_long", "too_long"]


def test_json_invalid(api: Api) -> None:
    r = api.session.post(api.base, data=b"{bad", headers={"content-type": "application/json"})
    assert detail_422(r) == [
        {"type": "json_invalid", "loc": ["body", 1], "msg": "JSON decode error", "input": {},
         "ctx": {"error": "Expecting property name enclosed in double quotes"}}]


def test_missing_body(api: Api) -> None:
    expected = [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
    assert detail_422(api.session.post(api.base)) == expected
    cid = api.create()["id"]
    assert detail_422(api.session.patch(api.url("/" + cid))) == expected


def test_json_array_where_object_belongs(api: Api) -> None:
    assert detail_422(api.post(["name", "x"])) == [
        {"type": "model_attributes_type", "loc": ["body"],
         "msg": "Input should be a valid dictionary or object to extract fields from",
         "input": ["name", "x"]}]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        ("not-a-uuid", "invalid character: expected an optional prefix of `urn:uuid:` "
                       "followed by [0-9a-fA-F-], found `n` at 1"),
        ("0123456789", "invalid length: expected length 32 for simple format, found 10"),
        ("0123-4567", "invalid group count: expected 5, found 2"),
        ("01a2194c-ef2b-725b-9be9-e8c31c21c7", "invalid group length in group 4: "
                                               "expected 12, found 10"),
        ("01a2194c-ef2b7-25b-9be9-e8c31c21c786", "invalid group length in group 1: "
                                                 "expected 4, found 5"),
    ],
)
def test_uuid_parsing(api: Api, value: str, error: str) -> None:
    assert detail_422(api.get("/" + value)) == [
        {"type": "uuid_parsing", "loc": ["path", "collection_id"],
         "msg": f"Input should be a valid UUID, {error}", "input": value,
         "ctx": {"error": error}}]


def test_path_errors_come_before_body_errors(api: Api) -> None:
    url = f"{api.server.url}/v1/organizations/nope/orbits/{api.orbit}/collections"
    r = api.session.post(url, json={"name": 5, "description": "", "type": "model"})
    assert [e["loc"] for e in detail_422(r)] == [["path", "organization_id"], ["body", "name"]]


def test_rejected_writes_leave_nothing_behind(api: Api) -> None:
    api.post({"name": "n" * 101, "description": "", "type": "model"})
    api.post({"name": "n", "description": "", "type": "weights"})
    assert api.server.collection_rows(api.orbit) == []
