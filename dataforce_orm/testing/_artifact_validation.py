"""Validation of the artifact request bodies and list query, with pydantic-v2 shaped errors.

A small model of what FastAPI + pydantic do with ``ArtifactIn``, ``ArtifactUpdateIn``, the
orbit-wide list query and ``BucketMultipartUpload``: lax coercions (``"12"`` -> 12 for
integers, ``[1, 2]`` for a tuple), the manifest as a smart union of two models (errors of both
members, tagged with the model name), nested unions, aliases. Validators return the
normalised value (as the server would store and echo it) or ``FAIL`` after appending errors.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from ._validation import (
    ORDERS,
    ErrorList,
    Loc,
    check_enum,
    error,
    parse_body_uuid,
    parse_int,
    query_limit,
)

MAX_SIZE = 5_497_558_138_880  # 5 TiB
ARTIFACT_TYPES = ("model", "experiment", "dataset")  # the enum's declaration order
STATUSES = ("pending_upload", "uploaded", "pending_deletion", "upload_failed", "deletion_failed")
PATCH_STATUSES = ("uploaded", "upload_failed", "deletion_failed")
FILE_NAME_PATTERN = "^[^:\\\"*\\`~#%;'^]+\\.[^\\s:\\\"*\\`~#%;'^]+$"
_FILE_NAME_RE = re.compile(r"""^[^:"*`~#%;'^]+\.[^\s:"*`~#%;'^]+$""")
_NDJSON_DTYPE_PATTERN = "^(Array\\[.+\\]|NDContainer\\[.+\\])$"
_NDJSON_DTYPE_RE = re.compile(r"^(Array\[.+\]|NDContainer\[.+\])$")
_I64 = 2**63


class _Fail:
    def __repr__(self) -> str:
        return "FAIL"


FAIL: Any = _Fail()


@dataclass
class State:
    """Per-validation bookkeeping: lax is set when a value was coerced (smart unions use it)."""

    lax: bool = False
    fields_set: int | None = None


Validator = Callable[[Any, Loc, ErrorList, State], Any]


def _string(pattern: re.Pattern[str] | None = None, pattern_text: str = "") -> Validator:
    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        if not isinstance(value, str):
            errors.append(error("string_type", loc, "Input should be a valid string", value))
            return FAIL
        if pattern is not None and not pattern.search(value):
            msg = f"String should match pattern '{pattern_text}'"
            errors.append(
                error("string_pattern_mismatch", loc, msg, value, {"pattern": pattern_text})
            )
            return FAIL
        return value

    return check


def _integer(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
    if isinstance(value, bool):
        st.lax = True
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        st.lax = True
        if math.isnan(value) or math.isinf(value):
            errors.append(error("finite_number", loc, "Input should be a finite number", value))
            return FAIL
        if value > _I64 or value < -_I64:
            msg = "Unable to parse input string as an integer, exceeded maximum size"
            errors.append(error("int_parsing_size", loc, msg, value))
            return FAIL
        if not value.is_integer():
            msg = "Input should be a valid integer, got a number with a fractional part"
            errors.append(error("int_from_float", loc, msg, value))
            return FAIL
        return int(value)
    if isinstance(value, str):
        st.lax = True
        parsed = parse_int(loc, value, errors)
        return FAIL if parsed is None else parsed
    errors.append(error("int_type", loc, "Input should be a valid integer", value))
    return FAIL


def _any(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
    return value


def nullable(inner: Validator) -> Validator:
    """``X | None``."""
    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        return None if value is None else inner(value, loc, errors, st)

    return check


def list_of(item: Validator) -> Validator:
    """``list[X]``."""
    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        if not isinstance(value, list):
            errors.append(error("list_type", loc, "Input should be a valid list", value))
            return FAIL
        out, failed = [], False
        for i, v in enumerate(value):
            got = item(v, (*loc, i), errors, st)
            failed = failed or got is FAIL
            out.append(got)
        return FAIL if failed else out

    return check


def _dict(item: Validator) -> Validator:
    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        if not isinstance(value, dict):
            errors.append(error("dict_type", loc, "Input should be a valid dictionary", value))
            return FAIL
        out, failed = {}, False
        for k, v in value.items():
            got = item(v, (*loc, k), errors, st)
            failed = failed or got is FAIL
            out[k] = got
        return FAIL if failed else out

    return check


def _pair(item: Validator) -> Validator:
    """tuple[X, X]: a list of exactly two items."""

    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        if not isinstance(value, list):
            errors.append(error("tuple_type", loc, "Input should be a valid tuple", value))
            return FAIL
        if len(value) > 2:
            msg = f"Tuple should have at most 2 items after validation, not {len(value)}"
            ctx = {"field_type": "Tuple", "max_length": 2, "actual_length": len(value)}
            errors.append(error("too_long", loc, msg, value, ctx))
            return FAIL
        out, failed = [], False
        for i in range(2):
            if i < len(value):
                got = item(value[i], (*loc, i), errors, st)
            else:
                errors.append(error("missing", (*loc, i), "Field required", value))
                got = FAIL
            failed = failed or got is FAIL
            out.append(got)
        return FAIL if failed else out

    return check


def _expected(values: Sequence[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1] if len(quoted) > 1 else quoted[0]


def _literal(values: Sequence[str], shown: str | None = None) -> Validator:
    expected = shown or _expected(values)

    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        if isinstance(value, str) and value in values:
            return value
        msg = f"Input should be {expected}"
        errors.append(error("literal_error", loc, msg, value, {"expected": expected}))
        return FAIL

    return check


def enum_of(values: tuple[str, ...]) -> Validator:
    """A str enum of these values."""
    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        before = len(errors)
        check_enum(values, loc, value, errors)
        return FAIL if len(errors) > before else value

    return check


@dataclass
class Field:
    """A model field: wire name (the alias, if any), validator, default when absent."""

    name: str
    check: Validator
    required: bool = True
    default: Any = None
    by_name: str | None = None  # populate_by_name: this key is accepted too


@dataclass
class Model:
    """A pydantic model (FastAPI validates with from_attributes=True: dicts only here)."""

    fields: list[Field] = field(default_factory=list)

    def __call__(self, value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        if not isinstance(value, dict):
            msg = "Input should be a valid dictionary or object to extract fields from"
            errors.append(error("model_attributes_type", loc, msg, value))
            return FAIL
        out: dict[str, Any] = {}
        failed, count = False, 0
        for f in self.fields:
            key = f.name
            if f.name in value:
                raw = value[f.name]
            elif f.by_name is not None and f.by_name in value:
                key = f.by_name
                raw = value[key]
            elif f.required:
                errors.append(error("missing", (*loc, f.name), "Field required", value))
                failed = True
                continue
            else:
                out[f.name] = f.default
                continue
            count += 1
            got = f.check(raw, (*loc, key), errors, st)
            failed = failed or got is FAIL
            out[f.name] = got
        st.fields_set = count
        return FAIL if failed else out


def _union(choices: list[tuple[str, Validator]]) -> Validator:
    """pydantic's smart union: the best success (fields set, then exactness), else all errors."""

    def check(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
        best: tuple[Any, bool, int | None] | None = None
        collected: ErrorList = []
        for tag, choice in choices:
            sub, sub_errors = State(), cast(ErrorList, [])
            got = choice(value, (*loc, tag), sub_errors, sub)
            if got is FAIL:
                collected.extend(sub_errors)
                continue
            if not sub.lax and sub.fields_set is None:
                return got
            if best is None:
                best = (got, sub.lax, sub.fields_set)
                continue
            _, best_lax, best_fields = best
            if best_fields is not None and sub.fields_set is not None:
                better = (
                    best_fields < sub.fields_set
                    if best_fields != sub.fields_set
                    else best_lax and not sub.lax
                )
            else:
                better = best_lax and not sub.lax
            if better:
                best = (got, sub.lax, sub.fields_set)
        if best is None:
            errors.extend(collected)
            return FAIL
        st.lax = st.lax or best[1]
        return best[0]

    return check


STR = _string()
_OPT_STR = nullable(STR)
_STR_LIST = list_of(STR)
_OPT_STR_LIST = nullable(_STR_LIST)


def _io(content_type: str, ndjson: bool) -> Model:
    dtype = _string(_NDJSON_DTYPE_RE, _NDJSON_DTYPE_PATTERN) if ndjson else STR
    fields = [
        Field("name", STR),
        Field("content_type", _literal((content_type,))),
        Field("dtype", dtype),
        Field("tags", _OPT_STR_LIST, required=False),
    ]
    if ndjson:
        fields.append(Field("shape", list_of(_union([("str", STR), ("int", _integer)]))))
    return Model(fields)


_IO_LIST = list_of(_union([("NDJSON", _io("NDJSON", True)), ("JSON", _io("JSON", False))]))
_VAR_LIST = list_of(
    Model([Field("name", STR), Field("description", STR), Field("tags", _OPT_STR_LIST, False)])
)
_OPTIONAL_TEXT = [Field(n, _OPT_STR, required=False) for n in ("name", "description", "version")]

LUML_MANIFEST = Model(
    [
        Field("artifact_type", STR, by_name="type"),
        Field("variant", STR),
        *_OPTIONAL_TEXT,
        Field("producer_name", STR),
        Field("producer_version", STR),
        Field("producer_tags", _STR_LIST),
        Field("payload", _dict(_any)),
    ]
)
LEGACY_MANIFEST = Model(
    [
        Field("variant", STR),
        Field("name", _OPT_STR, required=False),
        Field("version", _OPT_STR, required=False),
        Field("description", _OPT_STR, required=False),
        Field("producer_name", STR),
        Field("producer_version", STR),
        Field("producer_tags", _STR_LIST),
        Field("inputs", _IO_LIST),
        Field("outputs", _IO_LIST),
        Field("dynamic_attributes", _VAR_LIST),
        Field("env_vars", _VAR_LIST),
    ]
)
_MANIFEST = _union([("LumlArtifactManifest", LUML_MANIFEST), ("Manifest", LEGACY_MANIFEST)])


def _size(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
    got = _integer(value, loc, errors, st)
    if got is not FAIL and got > MAX_SIZE:
        msg = "Value error, Artifact cant be bigger than 5TB"
        errors.append(error("value_error", loc, msg, value, {"error": {}}))
        return FAIL
    return got


_ARTIFACT_IN = Model(
    [
        Field("file_name", _string(_FILE_NAME_RE, FILE_NAME_PATTERN)),
        Field("name", _OPT_STR, required=False),
        Field("description", _OPT_STR, required=False),
        Field("extra_values", _dict(_any)),
        Field("manifest", _MANIFEST),
        Field("file_hash", STR),
        Field("file_index", _dict(_pair(_integer))),
        Field("size", _size),
        Field("tags", _OPT_STR_LIST, required=False),
        Field("type", nullable(enum_of(ARTIFACT_TYPES)), required=False),
    ]
)
_STATUS_SHOWN = ", ".join(
    f"<ArtifactStatus.{s.upper()}: '{s}'>" for s in PATCH_STATUSES[:-1]
) + f" or <ArtifactStatus.{PATCH_STATUSES[-1].upper()}: '{PATCH_STATUSES[-1]}'>"
_ARTIFACT_UPDATE_IN = Model(
    [
        Field("name", _OPT_STR, required=False),
        Field("description", _OPT_STR, required=False),
        Field("tags", _OPT_STR_LIST, required=False),
        Field("status", nullable(_literal(PATCH_STATUSES, _STATUS_SHOWN)), required=False),
    ]
)


def uuid_value(value: Any, loc: Loc, errors: ErrorList, st: State) -> Any:
    """A UUID field (canonical text)."""
    parsed = parse_body_uuid(loc, value, errors)
    return FAIL if parsed is None else parsed


_MULTIPART_IN = Model(
    [
        Field("bucket_id", uuid_value),
        Field("bucket_location", STR),
        Field("size", _integer),
        Field("upload_id", _OPT_STR, required=False),
    ]
)


def validate_body(model: Model, body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """(the validated body, errors): a missing body is one ``missing`` error."""
    if body is None:
        return None, [error("missing", ("body",), "Field required", None)]
    errors: ErrorList = []
    got = model(body, ("body",), errors, State())
    return (None if got is FAIL else got), errors


def validate_artifact_create(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """(normalised ArtifactIn, errors); the manifest keeps only known keys (LUML: artifact_type)."""
    return validate_body(_ARTIFACT_IN, body)


def validate_artifact_update(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """(the keys that were sent, normalised; errors)."""
    out, errors = validate_body(_ARTIFACT_UPDATE_IN, body)
    if out is None:
        return None, errors
    return {k: v for k, v in out.items() if k in body}, errors


def validate_multipart(body: Any) -> tuple[dict[str, Any] | None, ErrorList]:
    """(normalised BucketMultipartUpload, errors)."""
    return validate_body(_MULTIPART_IN, body)


def is_luml_manifest(manifest: dict[str, Any]) -> bool:
    """A normalised manifest is the LUML shape (else the legacy FNNX one)."""
    return "artifact_type" in manifest


def validate_artifact_list_query(
    params: list[tuple[str, str]],
) -> tuple[dict[str, Any], ErrorList]:
    """The orbit-wide list query, errors in FastAPI's parameter order."""
    last = dict(params)
    errors: ErrorList = []
    out: dict[str, Any] = {}
    types = [v for k, v in params if k == "types"]
    for i, value in enumerate(types):
        check_enum(ARTIFACT_TYPES, ("query", "types", i), value, errors)
    out["types"] = types or None
    out["cursor"] = last.get("cursor")
    out["limit"] = 50
    if "limit" in last:
        out["limit"] = query_limit(last["limit"], errors, out["limit"])
    out["sort_by"] = last.get("sort_by", "created_at")
    out["order"] = last.get("order", "desc")
    check_enum(ORDERS, ("query", "order"), out["order"], errors)
    for key in ("collection_ids", "excluded_tracks"):
        ids: list[str] = []
        for i, value in enumerate(v for k, v in params if k == key):
            got = uuid_value(value, ("query", key, i), errors, State())
            if got is not FAIL:
                ids.append(got)
        out[key] = ids or None
        if key == "collection_ids":
            out["search"] = last.get("search")
    return out, errors
