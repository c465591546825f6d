"""Validation of the satellite, deployment and satellite-worker requests (pydantic-v2 shaped
errors)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ._artifact_validation import (
    FAIL,
    STR,
    Field,
    Model,
    State,
    Validator,
    enum_of,
    nullable,
    uuid_value,
    validate_body,
)
from ._validation import ErrorList, Loc, check_str, check_tags, error, parse_bool

DEPLOYMENT_STATUSES = (
    "pending", "active", "failed", "deletion_pending", "deletion_failed", "not_responding",
)
TASK_STATUSES = ("pending", "running", "done", "failed")
CAPABILITIES = ("deploy", "monitoring")


def _max_str(limit: int) -> Validator:
    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        return value if check_str(loc, value, limit, errors) else FAIL

    return check


def _dict_of(item: Validator, keys: Validator | None = None) -> Validator:
    """``dict[str, X]`` (keys checked by ``keys`` when given)."""
    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        if not isinstance(value, dict):
            errors.append(error("dict_type", loc, "Input should be a valid dictionary", value))
            return FAIL
        out, failed = {}, False
        for k, v in value.items():
            if keys is not None and keys(k, (*loc, k, "[key]"), errors, st) is FAIL:
                failed = True
                continue
            got = item(v, (*loc, k), errors, st)
            failed = failed or got is FAIL
            out[k] = got
        return FAIL if failed else out

    return check


def _scalar(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
    """``bool | int | str``."""
    if isinstance(value, (bool, int, str)):
        return value
    errors.append(error("union_type", loc, "Input should be a valid boolean, integer or string",
                        value))
    return FAIL


def _any(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
    return value


def _tags(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
    before = len(errors)
    check_tags(value, errors)
    return FAIL if len(errors) > before else value


def _object(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
    return _dict_of(_any)(value, loc, errors, st)


def _http_url(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
    """pydantic's HttpUrl, normalised (a bare host gets a trailing ``/``)."""
    if not isinstance(value, str):
        errors.append(error("url_type", loc, "URL input should be a string or URL", value))
        return FAIL
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        ctx = {"expected_schemes": "'http' or 'https'"}
        if "://" not in value:
            errors.append(error("url_parsing", loc, "Input should be a valid URL, relative URL"
                                " without a base", value, {"error": "relative URL without a base"}))
        else:
            errors.append(error("url_scheme", loc, "URL scheme should be 'http' or 'https'",
                                value, ctx))
        return FAIL
    return value if parts.path else value + "/"


_OPT_OBJECT = nullable(_object)
_UUID_MAP = _dict_of(uuid_value)
_SATELLITE_IN = Model(
    [
        Field("name", nullable(_max_str(100)), required=False),
        Field("description", nullable(_max_str(1000)), required=False),
    ]
)
_DEPLOYMENT_CREATE = Model(
    [
        Field("satellite_id", uuid_value),
        Field("artifact_id", uuid_value),
        Field("name", _max_str(100)),
        Field("satellite_parameters", _dict_of(_scalar), required=False, default={}),
        Field("description", nullable(_max_str(1000)), required=False),
        Field("env_variables", _dict_of(STR), required=False, default={}),
        Field("tags", _tags, required=False),
        Field("dynamic_attributes_secrets", _UUID_MAP, required=False, default={}),
        Field("env_variables_secrets", _UUID_MAP, required=False, default={}),
    ]
)
_DEPLOYMENT_DETAILS = Model(
    [
        Field("name", nullable(_max_str(100)), required=False),
        Field("description", nullable(_max_str(1000)), required=False),
        Field("schemas", _OPT_OBJECT, required=False),
        Field("error_message", _OPT_OBJECT, required=False),
        Field("tags", _tags, required=False),
        Field("dynamic_attributes_secrets", nullable(_UUID_MAP), required=False),
    ]
)
_WORKER_UPDATE = Model(
    [
        Field("inference_url", nullable(_max_str(2048)), required=False),
        Field("status", nullable(enum_of(DEPLOYMENT_STATUSES)), required=False),
        Field("tags", _tags, required=False),
        Field("schemas", _OPT_OBJECT, required=False),
        Field("error_message", _OPT_OBJECT, required=False),
    ]
)
_STATUS_UPDATE = Model([Field("status", enum_of(DEPLOYMENT_STATUSES))])
_PAIR = Model(
    [
        Field("base_url", _http_url),
        Field("capabilities", _dict_of(_OPT_OBJECT, enum_of(CAPABILITIES))),
        Field("slug", nullable(STR), required=False),
    ]
)
_TASK_UPDATE = Model(
    [Field("status", enum_of(TASK_STATUSES)), Field("result", _OPT_OBJECT, required=False)]
)
_INFERENCE_ACCESS = Model([Field("api_key", _max_str(255))])


def validate_satellite(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """SatelliteCreateIn / SatelliteUpdateIn: name? <= 100, description? <= 1000."""
    return validate_body(_SATELLITE_IN, body)


def validate_deployment_create(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """DeploymentCreateIn (secret ids must be UUIDs; they are not looked up)."""
    return validate_body(_DEPLOYMENT_CREATE, body)


def validate_deployment_details(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """DeploymentDetailsUpdateIn: six fields, each absent one null."""
    return validate_body(_DEPLOYMENT_DETAILS, body)


def validate_worker_update(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """DeploymentUpdateIn: five fields, each absent one null."""
    return validate_body(_WORKER_UPDATE, body)


def validate_status_update(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """DeploymentStatusUpdateIn: status."""
    return validate_body(_STATUS_UPDATE, body)


def validate_pair(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """SatellitePairIn: base_url (http/https), capabilities (deploy/monitoring), slug?."""
    return validate_body(_PAIR, body)


def validate_task_update(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """SatelliteTaskUpdateIn: status, result?."""
    return validate_body(_TASK_UPDATE, body)


def validate_inference_access(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """InferenceAccessIn: api_key <= 255."""
    return validate_body(_INFERENCE_ACCESS, body)


def query_flag(params: list[tuple[str, str]], name: str, errors: ErrorList) -> bool | None:
    """An optional lax-bool query parameter (the last one given)."""
    last = dict(params)
    if name not in last:
        return None
    return parse_bool(("query", name), last[name], errors)


def query_choice(
    params: list[tuple[str, str]], name: str, values: tuple[str, ...], errors: ErrorList
) -> str | None:
    """An optional enum query parameter."""
    last = dict(params)
    if name not in last:
        return None
    got = enum_of(values)(last[name], ("query", name), errors, State())
    return None if got is FAIL else str(got)
