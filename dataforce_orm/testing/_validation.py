"""Request validation with FastAPI/pydantic-v2 shaped 422 error entries."""

from __future__ import annotations

import re
from typing import Any

ErrorList = list[dict[str, Any]]
Loc = tuple[str | int, ...]

COLLECTION_TYPES = (
    "model",
    "dataset",
    "experiment",
    "model_dataset",
    "dataset_experiment",
    "model_experiment",
    "mixed",
)
FILTER_TYPES = ("model", "dataset", "experiment", "mixed")
SORT_KEYS = ("created_at", "name", "type", "description", "total_artifacts")
ORDERS = ("asc", "desc")


def error(
    kind: str, loc: Loc, msg: str, value: Any, ctx: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One pydantic error entry."""
    entry: dict[str, Any] = {"type": kind, "loc": list(loc), "msg": msg, "input": value}
    if ctx is not None:
        entry["ctx"] = ctx
    return entry


def _expected(values: tuple[str, ...]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]


def check_enum(values: tuple[str, ...], loc: Loc, value: Any, errors: ErrorList) -> None:
    """Append an ``enum`` error unless value is one of values."""
    if not (isinstance(value, str) and value in values):
        exp = _expected(values)
        errors.append(error("enum", loc, f"Input should be {exp}", value, {"expected": exp}))


def check_str(loc: Loc, value: Any, max_length: int, errors: ErrorList) -> bool:
    """Append string_type / string_too_long errors; True when value is a valid string."""
    if not isinstance(value, str):
        errors.append(error("string_type", loc, "Input should be a valid string", value))
        return False
    if len(value) > max_length:
        msg = f"String should have at most {max_length} characters"
        errors.append(error("string_too_long", loc, msg, value, {"max_length": max_length}))
        return False
    return True


def check_tags(value: Any, errors: ErrorList) -> None:
    """tags: null or a list of at most 50 strings of at most 64 characters."""
    if value is None:
        return
    loc: Loc = ("body", "tags")
    if not isinstance(value, list):
        errors.append(error("list_type", loc, "Input should be a valid list", value))
        return
    item_errors: ErrorList = []
    for i, item in enumerate(value):
        check_str((*loc, i), item, 64, item_errors)
        if i + 1 > 50:  # pydantic stops at the first item past the limit
            msg = f"List should have at most 50 items after validation, not {len(value)}"
            ctx = {"field_type": "List", "max_length": 50, "actual_length": len(value)}
            errors.append(error("too_long", loc, msg, value, ctx))
            return
    errors.extend(item_errors)


def _not_object(body: Any) -> ErrorList | None:
    if body is None:
        return [error("missing", ("body",), "Field required", None)]
    if not isinstance(body, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        return [error("model_attributes_type", ("body",), msg, body)]
    return None


def validate_create(body: Any) -> ErrorList:
    """Errors for a create body (name, description, type, tags)."""
    bad = _not_object(body)
    if bad is not None:
        return bad
    errors: ErrorList = []
    for field, max_length in (("name", 100), ("description", 1000)):
        if field not in body:
            errors.append(error("missing", ("body", field), "Field required", body))
        else:
            check_str(("body", field), body[field], max_length, errors)
    if "type" not in body:
        errors.append(error("missing", ("body", "type"), "Field required", body))
    else:
        check_enum(COLLECTION_TYPES, ("body", "type"), body["type"], errors)
    check_tags(body.get("tags"), errors)
    return errors


def validate_update(body: Any) -> ErrorList:
    """Errors for an update body: every field optional, name must not be empty."""
    bad = _not_object(body)
    if bad is not None:
        return bad
    errors: ErrorList = []
    name = body.get("name")
    if name is not None and check_str(("body", "name"), name, 100, errors) and name == "":
        msg = "Value error, name must not be empty"
        errors.append(error("value_error", ("body", "name"), msg, name, {"error": {}}))
    if body.get("description") is not None:
        check_str(("body", "description"), body["description"], 1000, errors)
    check_tags(body.get("tags"), errors)
    return errors


_INT = re.compile(r"[+-]?\d+")
_INT_ZEROS = re.compile(r"([+-]?\d+)\.0*")


def parse_int(loc: Loc, raw: str, errors: ErrorList) -> int | None:
    """pydantic's lax str -> int (whitespace trimmed, trailing ``.000`` allowed)."""
    text = raw.strip()
    if len(text) > 4300:
        msg = "Unable to parse input string as an integer, exceeded maximum size"
        errors.append(error("int_parsing_size", loc, msg, raw))
        return None
    if _INT.fullmatch(text):
        return int(text)
    zeros = _INT_ZEROS.fullmatch(text)
    if zeros:
        return int(zeros.group(1))
    msg = "Input should be a valid integer, unable to parse string as an integer"
    errors.append(error("int_parsing", loc, msg, raw))
    return None


def validate_list_query(params: list[tuple[str, str]]) -> tuple[dict[str, Any], ErrorList]:
    """Parse the list query (cursor, limit, sort_by, order, search, types)."""
    last = dict(params)  # a repeated scalar parameter: the last value wins
    errors: ErrorList = []
    out: dict[str, Any] = {"cursor": last.get("cursor") or None, "limit": 50}
    if "limit" in last:
        limit = parse_int(("query", "limit"), last["limit"], errors)
        if limit is not None and limit <= 0:
            msg = "Input should be greater than 0"
            errors.append(error("greater_than", ("query", "limit"), msg, last["limit"], {"gt": 0}))
        elif limit is not None and limit > 100:
            msg = "Input should be less than or equal to 100"
            ctx = {"le": 100}
            errors.append(error("less_than_equal", ("query", "limit"), msg, last["limit"], ctx))
        elif limit is not None:
            out["limit"] = limit
    out["sort_by"] = last.get("sort_by", "created_at")
    check_enum(SORT_KEYS, ("query", "sort_by"), out["sort_by"], errors)
    out["order"] = last.get("order", "desc")
    check_enum(ORDERS, ("query", "order"), out["order"], errors)
    out["search"] = last.get("search") or None
    types = [v for k, v in params if k == "types"]
    for i, value in enumerate(types):
        check_enum(FILTER_TYPES, ("query", "types", i), value, errors)
    out["types"] = types
    return out, errors
