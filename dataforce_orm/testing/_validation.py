"""Request validation with FastAPI/pydantic-v2 shaped 422 error entries."""

from __future__ import annotations

import re
from typing import Any

from ._ids import parse_uuid, uuid_error

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


def query_limit(raw: str, errors: ErrorList, default: int) -> int:
    """A listing's ``limit`` query value (1 to 100), or ``default`` with its 422 error."""
    limit = parse_int(("query", "limit"), raw, errors)
    if limit is not None and limit <= 0:
        msg = "Input should be greater than 0"
        errors.append(error("greater_than", ("query", "limit"), msg, raw, {"gt": 0}))
    elif limit is not None and limit > 100:
        msg = "Input should be less than or equal to 100"
        errors.append(error("less_than_equal", ("query", "limit"), msg, raw, {"le": 100}))
    elif limit is not None:
        return limit
    return default


def validate_list_query(params: list[tuple[str, str]]) -> tuple[dict[str, Any], ErrorList]:
    """Parse the list query (cursor, limit, sort_by, order, search, types)."""
    last = dict(params)  # a repeated scalar parameter: the last value wins
    errors: ErrorList = []
    out: dict[str, Any] = {"cursor": last.get("cursor") or None, "limit": 50}
    if "limit" in last:
        out["limit"] = query_limit(last["limit"], errors, out["limit"])
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


# -- bucket secrets and orbits ----------------------------------------------------------------

BUCKET_TYPES = ("s3", "azure")
ORBIT_ROLES = ("admin", "member")
_TRUE = frozenset(("1", "on", "t", "true", "y", "yes"))
_FALSE = frozenset(("0", "off", "f", "false", "n", "no"))
_EXPECTED_TAGS = "<BucketType.S3: 's3'>, <BucketType.AZURE: 'azure'>"


def check_text(loc: Loc, value: Any, errors: ErrorList) -> bool:
    """Append a string_type error unless value is a string (no length limit)."""
    if isinstance(value, str):
        return True
    errors.append(error("string_type", loc, "Input should be a valid string", value))
    return False


def parse_bool(loc: Loc, value: Any, errors: ErrorList) -> bool | None:
    """pydantic's lax bool: 0/1, 0.0/1.0 and the yes/no words (any case); None when invalid."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, (str, int)):
        word = value.lower() if isinstance(value, str) else ""
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        msg = "Input should be a valid boolean, unable to interpret input"
        errors.append(error("bool_parsing", loc, msg, value))
        return None
    errors.append(error("bool_type", loc, "Input should be a valid boolean", value))
    return None


def parse_body_uuid(loc: Loc, value: Any, errors: ErrorList) -> str | None:
    """A UUID field of a body: canonical text, or None after appending the error."""
    if not isinstance(value, str):
        msg = "UUID input should be a string, bytes or UUID object"
        errors.append(error("uuid_type", loc, msg, value))
        return None
    parsed = parse_uuid(value)
    if parsed is None:
        why = uuid_error(value)
        msg = f"Input should be a valid UUID, {why}"
        errors.append(error("uuid_parsing", loc, msg, value, {"error": why}))
    return parsed


def strip_scheme(endpoint: str) -> str:
    """The S3 endpoint validator: drop one leading ``http://``, then one ``https://``."""
    if endpoint:
        endpoint = endpoint.removeprefix("http://").removeprefix("https://")
    return endpoint


_S3_FIELDS: tuple[tuple[str, str, bool], ...] = (
    # (field, kind, required) in the model's declaration order
    ("endpoint", "str", True),
    ("bucket_name", "str", True),
    ("access_key", "str?", False),
    ("secret_key", "str?", False),
    ("session_token", "str?", False),
    ("secure", "bool?", False),
    ("region", "str", True),
    ("cert_check", "bool?", False),
)
SECRET_FIELDS = tuple(name for name, _, _ in _S3_FIELDS)


def _fields(
    body: dict[str, Any], spec: tuple[tuple[str, str, bool], ...], prefix: Loc
) -> tuple[dict[str, Any], ErrorList]:
    out: dict[str, Any] = {}
    errors: ErrorList = []
    for name, kind, required in spec:
        loc = (*prefix, name)
        if name not in body:
            if required:
                errors.append(error("missing", loc, "Field required", body))
            continue
        value = body[name]
        if value is None and kind.endswith("?"):
            out[name] = None
        elif kind.startswith("str"):
            if check_text(loc, value, errors):
                out[name] = value
        else:
            out[name] = parse_bool(loc, value, errors)
    if "endpoint" in out and out["endpoint"] is not None:
        out["endpoint"] = strip_scheme(out["endpoint"])
    return out, errors


def validate_secret_create(body: Any) -> tuple[dict[str, Any], ErrorList]:
    """A create body, a union discriminated by ``type``: (clean fields with type, errors)."""
    bad = _not_object(body)
    if bad is not None:
        return {}, bad
    if "type" not in body:
        msg = "Unable to extract tag using discriminator 'type'"
        ctx = {"discriminator": "'type'"}
        return {}, [error("union_tag_not_found", ("body",), msg, body, ctx)]
    tag = body["type"]
    if not (isinstance(tag, str) and tag in BUCKET_TYPES):
        shown = str(tag)  # pydantic shows the tag's Python str(): 'None', 'True', '5'
        msg = (
            f"Input tag '{shown}' found using 'type' does not match any of the expected tags:"
            f" {_EXPECTED_TAGS}"
        )
        ctx = {"discriminator": "'type'", "tag": shown, "expected_tags": _EXPECTED_TAGS}
        return {}, [error("union_tag_invalid", ("body",), msg, body, ctx)]
    spec = _S3_FIELDS if tag == "s3" else _S3_FIELDS[:2]
    out, errors = _fields(body, spec, ("body", tag))
    if tag == "azure" and "endpoint" in out:
        out["endpoint"] = body["endpoint"]  # only the S3 model strips the scheme
    out["type"] = tag
    return out, errors


def validate_secret_update(body: Any) -> tuple[dict[str, Any], ErrorList]:
    """An update body (every field optional and nullable): (the fields sent, errors)."""
    bad = _not_object(body)
    if bad is not None:
        return {}, bad
    errors: ErrorList = []
    if body.get("type") is not None:
        check_enum(BUCKET_TYPES, ("body", "type"), body["type"], errors)
    spec = tuple((name, "str?" if kind == "str" else kind, False) for name, kind, _ in _S3_FIELDS)
    out, field_errors = _fields(body, spec, ("body",))
    return out, errors + field_errors


def validate_orbit_create(body: Any) -> tuple[dict[str, Any], ErrorList]:
    """name (<= 100), bucket_secret_id, members [{user_id, role}] | null, notify."""
    bad = _not_object(body)
    if bad is not None:
        return {}, bad
    errors: ErrorList = []
    out: dict[str, Any] = {"members": None, "notify": False}
    if "name" not in body:
        errors.append(error("missing", ("body", "name"), "Field required", body))
    elif check_str(("body", "name"), body["name"], 100, errors):
        out["name"] = body["name"]
    if "bucket_secret_id" not in body:
        errors.append(error("missing", ("body", "bucket_secret_id"), "Field required", body))
    else:
        out["bucket_secret_id"] = parse_body_uuid(
            ("body", "bucket_secret_id"), body["bucket_secret_id"], errors
        )
    members = body.get("members")
    if isinstance(members, list):
        out["members"] = [_member(i, item, errors) for i, item in enumerate(members)]
    elif members is not None:
        errors.append(error("list_type", ("body", "members"), "Input should be a valid list",
                            members))
    if "notify" in body:
        out["notify"] = parse_bool(("body", "notify"), body["notify"], errors)
    return out, errors


def _member(index: int, item: Any, errors: ErrorList) -> tuple[str | None, str]:
    loc: Loc = ("body", "members", index)
    if not isinstance(item, dict):
        msg = "Input should be a valid dictionary or object to extract fields from"
        errors.append(error("model_attributes_type", loc, msg, item))
        return None, ""
    user_id = None
    if "user_id" not in item:
        errors.append(error("missing", (*loc, "user_id"), "Field required", item))
    else:
        user_id = parse_body_uuid((*loc, "user_id"), item["user_id"], errors)
    if "role" not in item:
        errors.append(error("missing", (*loc, "role"), "Field required", item))
    else:
        check_enum(ORBIT_ROLES, (*loc, "role"), item["role"], errors)
    return user_id, str(item.get("role"))


def validate_orbit_update(body: Any) -> tuple[dict[str, Any], ErrorList]:
    """id (ignored), name (<= 100), bucket_secret_id; every field optional and nullable."""
    bad = _not_object(body)
    if bad is not None:
        return {}, bad
    errors: ErrorList = []
    out: dict[str, Any] = {}
    if body.get("id") is not None:
        parse_body_uuid(("body", "id"), body["id"], errors)
    if "name" in body:
        name = body["name"]
        if name is None or check_str(("body", "name"), name, 100, errors):
            out["name"] = name
    if "bucket_secret_id" in body:
        value = body["bucket_secret_id"]
        out["bucket_secret_id"] = (
            None if value is None else parse_body_uuid(("body", "bucket_secret_id"), value, errors)
        )
    return out, errors
