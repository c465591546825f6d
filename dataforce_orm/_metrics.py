"""Metrics (an artifact's ``extra_values``): the check of what a caller sets at create, and
the lookups on one metric (``extra_values__<key>__<op>=value``), tested on the client since
the platform has no metric filter."""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Mapping
from typing import Any

from ._errors import ValidationError
from ._fields import Kind, Spec
from ._lookups import Lookup, Test

METRIC_OPS = ("exact", "gt", "gte", "lt", "lte", "in", "range", "isnull")


def check_metrics(value: Any, field: str = "extra_values") -> dict[str, Any]:
    """A caller's metrics: a mapping of text keys to JSON values (finite numbers)."""
    if not isinstance(value, Mapping):
        raise ValidationError(field, f"must be a dict of metric name to value, not "
                                     f"{type(value).__name__}")
    for key, v in value.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(field, f"metric names must be non-empty text, not {key!r}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ValidationError(f"{field}[{key!r}]", f"must be a finite number, not {v}")
        try:
            json.dumps(v, allow_nan=False)
        except (TypeError, ValueError):
            raise ValidationError(f"{field}[{key!r}]", "must be a JSON value (a number, "
                                  f"text, bool, list or dict), not {type(v).__name__}") from None
    return dict(value)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _same(v: Any, x: Any) -> bool:
    """Equal, with a bool never equal to a number (``True`` is not ``1``)."""
    return v is not None and isinstance(v, bool) == isinstance(x, bool) and v == x


def _test(key: str, op: str, x: Any) -> Test:
    def get(d: Any) -> Any:
        return d.get(key) if isinstance(d, dict) else None

    if op == "isnull":
        return lambda d: (get(d) is None) == x
    if op == "exact":
        return lambda d: _same(get(d), x)
    if op == "in":
        return lambda d: any(_same(get(d), item) for item in x)
    if op == "range":
        lo, hi = x
        return lambda d: _number(v := get(d)) and lo <= v <= hi
    compare = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}[op]
    return lambda d: _number(v := get(d)) and bool(compare(v, x))


def metric_lookup(metrics: str, key: str, value: Any) -> Lookup | None:
    """``<metrics>__<name>[__<op>]=value`` as a checked lookup (None when ``key`` is not on
    the ``metrics`` field). A metric that is missing, or not a number for a comparison, does
    not match; ``isnull=True`` matches a missing one."""
    field, _, rest = key.partition("__")
    if field != metrics:
        return None
    name, _, op = rest.rpartition("__")
    if op not in METRIC_OPS:
        name, op = rest, "exact"
    if not name:
        raise ValidationError(key, f"name the metric: {metrics}__<name>__<op>, op one of "
                                   f"{', '.join(METRIC_OPS)}")

    def fail(rule: str) -> ValidationError:
        return ValidationError(key, rule)

    if op == "isnull":
        if not isinstance(value, bool):
            raise fail(f"must be True or False, not {type(value).__name__}")
    elif op in ("gt", "gte", "lt", "lte"):
        if not _number(value):
            raise fail(f"must be a number, not {type(value).__name__}")
    elif op == "range":
        if not (isinstance(value, (tuple, list)) and len(value) == 2
                and all(map(_number, value))):
            raise fail("must be a (low, high) pair of numbers")
        value = tuple(value)
    elif op == "in":
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise fail("must be a list of values")
        value = tuple(value)
    elif value is None:
        op, value = "isnull", True  # as in Django
    spec = Spec(Kind.JSON, name=metrics)
    return Lookup(metrics, f"{name}__{op}", value, spec, _test(name, op, value))
