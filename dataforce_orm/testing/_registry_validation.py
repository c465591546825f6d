"""Validation of the track, entry and orbit-secret requests, with pydantic-v2 shaped errors."""

from __future__ import annotations

from typing import Any

from ._artifact_validation import (
    ARTIFACT_TYPES,
    FAIL,
    STR,
    Field,
    Model,
    State,
    Validator,
    enum_of,
    list_of,
    nullable,
    uuid_value,
    validate_body,
)
from ._validation import (
    ORDERS,
    ErrorList,
    Loc,
    check_enum,
    check_str,
    check_tags,
    error,
    parse_bool,
    query_limit,
)

TRACK_SORT_KEYS = ("name", "description", "total_entries", "created_at")
ENTRY_SORT_KEYS = ("artifact_name", "description", "stage", "version", "created_at")


def _max_str(limit: int) -> Validator:
    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        return value if check_str(loc, value, limit, errors) else FAIL

    return check


def _tags(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
    """At most 50 tags of at most 64 characters (or null)."""
    before = len(errors)
    check_tags(value, errors)
    return FAIL if len(errors) > before else value


def _at_least_one(item: Validator) -> Validator:
    inner = list_of(item)

    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        got = inner(value, loc, errors, st)
        if got is not FAIL and not got:
            msg = "List should have at least 1 item after validation, not 0"
            ctx = {"field_type": "List", "min_length": 1, "actual_length": 0}
            errors.append(error("too_short", loc, msg, value, ctx))
            return FAIL
        return got

    return check


_OPT_STR = nullable(STR)
_OPT_STR_LIST = nullable(list_of(STR))
_OPT_UUID = nullable(uuid_value)

_TRACK_CREATE = Model(
    [
        Field("name", STR),
        Field("artifact_type", enum_of(ARTIFACT_TYPES)),
        Field("description", _OPT_STR, required=False),
        Field("tags", _OPT_STR_LIST, required=False),
        Field("stages", list_of(STR), required=False, default=[]),
    ]
)
_STAGE_UPSERT = Model([Field("id", _OPT_UUID, required=False), Field("name", STR)])
_TRACK_UPDATE = Model(
    [
        Field("name", _OPT_STR, required=False),
        Field("description", _OPT_STR, required=False),
        Field("tags", _OPT_STR_LIST, required=False),
        Field("stages", nullable(list_of(_STAGE_UPSERT)), required=False),
    ]
)
_ENTRY_CREATE = Model(
    [Field("artifact_id", uuid_value), Field("stage_id", _OPT_UUID, required=False)]
)
_ENTRY_UPDATE = Model([Field("stage_id", _OPT_UUID, required=False)])
_ENTRIES_DELETE = Model([Field("entry_ids", _at_least_one(uuid_value))])
_SECRET_CREATE = Model(
    [
        Field("name", _max_str(255)),
        Field("value", _max_str(8192)),
        Field("tags", _tags, required=False),
    ]
)
_SECRET_UPDATE = Model(
    [
        Field("name", nullable(_max_str(255)), required=False),
        Field("value", nullable(_max_str(8192)), required=False),
        Field("tags", _tags, required=False),
    ]
)


def _sent(model: Model, body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """Only the fields present in the body (pydantic's exclude_unset)."""
    out, errors = validate_body(model, body)
    if out is None:
        return None, errors
    return {k: v for k, v in out.items() if k in body}, errors


def validate_track_create(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """TrackCreateIn: name, artifact_type, description?, tags?, stages (names, default [])."""
    return validate_body(_TRACK_CREATE, body)


def validate_track_update(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """TrackUpdateIn, the fields sent: name, description, tags, stages [{id?, name}]."""
    return _sent(_TRACK_UPDATE, body)


def validate_entry_create(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """TrackEntryCreateIn: artifact_id, stage_id?."""
    return validate_body(_ENTRY_CREATE, body)


def validate_entry_update(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """TrackEntryUpdateIn: stage_id (absent is null)."""
    return validate_body(_ENTRY_UPDATE, body)


def validate_entries_delete(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """TrackEntriesDeleteIn: entry_ids, at least one."""
    return validate_body(_ENTRIES_DELETE, body)


def validate_orbit_secret_create(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """OrbitSecretCreateIn: name <= 255, value <= 8192, tags (<= 50 x <= 64)."""
    return validate_body(_SECRET_CREATE, body)


def validate_orbit_secret_update(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """OrbitSecretUpdate, the fields sent."""
    return _sent(_SECRET_UPDATE, body)


def _page_query(
    params: list[tuple[str, str]], sort_keys: tuple[str, ...], errors: ErrorList
) -> dict[str, Any]:
    last = dict(params)
    out: dict[str, Any] = {"cursor": last.get("cursor") or None, "limit": 50}
    if "limit" in last:
        out["limit"] = query_limit(last["limit"], errors, 50)
    out["sort_by"] = last.get("sort_by", "created_at")
    check_enum(sort_keys, ("query", "sort_by"), out["sort_by"], errors)
    out["order"] = last.get("order", "desc")
    check_enum(ORDERS, ("query", "order"), out["order"], errors)
    return out


def validate_tracks_query(params: list[tuple[str, str]]) -> tuple[dict[str, Any], ErrorList]:
    """cursor, limit (1..100), sort_by, order, search, types (any strings)."""
    errors: ErrorList = []
    out = _page_query(params, TRACK_SORT_KEYS, errors)
    out["search"] = dict(params).get("search") or None
    out["types"] = [v for k, v in params if k == "types"]
    return out, errors


def _query_uuid(name: str, params: list[tuple[str, str]], errors: ErrorList) -> str | None:
    last = dict(params)
    if name not in last:
        return None
    got = uuid_value(last[name], ("query", name), errors, State())
    return None if got is FAIL else str(got)


def validate_entries_query(params: list[tuple[str, str]]) -> tuple[dict[str, Any], ErrorList]:
    """cursor, limit (1..100), sort_by, order, stage (a stage id)."""
    errors: ErrorList = []
    out = _page_query(params, ENTRY_SORT_KEYS, errors)
    out["stage"] = _query_uuid("stage", params, errors)
    return out, errors


def validate_by_stage_query(params: list[tuple[str, str]]) -> tuple[str | None, ErrorList]:
    """The required ``stage_id``."""
    errors: ErrorList = []
    if "stage_id" not in dict(params):
        errors.append(error("missing", ("query", "stage_id"), "Field required", None))
        return None, errors
    return _query_uuid("stage_id", params, errors), errors


def validate_force_query(params: list[tuple[str, str]]) -> tuple[bool, ErrorList]:
    """``force`` (a lax bool, default false)."""
    errors: ErrorList = []
    last = dict(params)
    if "force" not in last:
        return False, errors
    return bool(parse_bool(("query", "force"), last["force"], errors)), errors
