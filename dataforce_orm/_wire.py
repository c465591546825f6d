"""The one cattrs converter that maps wire JSON to models and back."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timezone
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

converter = cattrs.Converter(detailed_validation=False)

# While set, model validators stand aside: data from the server is taken as the server has it
# (older rows may predate today's length limits).
loading: ContextVar[bool] = ContextVar("dataforce_orm_loading", default=False)


def parse_time(value: Any, _: object = None) -> datetime:
    """An aware datetime from the wire's ISO-8601 text (``Z`` or an offset)."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string, got {type(value).__name__}")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


if sys.version_info >= (3, 11):
    utc_time = datetime.fromisoformat  # (a "Z" suffix reads as UTC)
else:  # pragma: no cover - Python 3.10
    def utc_time(text: str) -> datetime:
        """An aware datetime from ISO-8601 text ending in ``Z``."""
        return datetime.fromisoformat(text[:-1] + "+00:00")


def format_time(value: datetime) -> str:
    """The wire form: UTC, microseconds, ``Z`` suffix."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


converter.register_structure_hook(datetime, parse_time)


def _strict(kind: type[Any], name: str, optional: bool = False) -> Callable[[Any, object], Any]:
    """A hook taking a ``kind`` as it is (a bool is no int), or also None if ``optional``."""
    def check(value: Any, _: object) -> Any:
        if isinstance(value, kind) and (kind is bool or value.__class__ is not bool):
            return value
        if value is None and optional:
            return None
        raise TypeError(f"expected {name}, got {type(value).__name__}")

    return check


# The server's data is taken as it is, never coerced: a wrong type is an error, not a guess.
# (bool is registered itself: as a subclass of int it would otherwise get int's hook, which
# refuses bools, so a bucket secret's ``secure: true`` could not load)
_STRICT = {str: "a string", int: "an integer", bool: "true or false"}
for _kind, _name in _STRICT.items():
    converter.register_structure_hook(_kind, _strict(_kind, _name))


def _str_list(value: Any, _: object) -> list[str]:
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                break
        else:
            return list(value)
    raise TypeError("expected a list of strings")


converter.register_structure_hook_func(lambda t: t == list[str], _str_list)


def _is_optional(t: Any) -> bool:
    return get_origin(t) in (Union, UnionType) and len(get_args(t)) == 2 and NoneType in get_args(t)


def _optional(t: Any) -> Callable[[Any, object], Any]:
    """``X | None`` with X's hook looked up once (cattrs' own looks it up on every value)."""
    inner = next(a for a in get_args(t) if a is not NoneType)
    if inner in _STRICT:  # one call per value instead of two
        return _strict(inner, _STRICT[inner], optional=True)
    hook = converter.get_structure_hook(inner)
    return lambda value, _: None if value is None else hook(value, inner)


converter.register_structure_hook_factory(_is_optional, _optional)
converter.register_unstructure_hook(datetime, format_time)


def model_hooks(is_model: Callable[[Any], bool],
                fields: Callable[[Any], tuple[tuple[str, ...], dict[str, str]]]) -> None:
    """Teach the converter every model class ``is_model`` accepts, on first use (when its
    annotations resolve): ``fields(cls)`` gives its private fields (left out) and its wire
    renames; extra wire keys are ignored, and model validators stand aside while loading."""

    def structure_factory(cls: Any) -> Callable[[Any, Any], Any]:
        renames = fields(cls)[1]
        overrides: dict[str, Any] = {n: override(rename=w) for n, w in renames.items()}
        structure = make_dict_structure_fn(cls, converter, **overrides)

        def structure_loading(data: Any, cl: Any) -> Any:
            token = loading.set(True)
            try:
                return structure(data, cl)
            finally:
                loading.reset(token)

        return structure_loading

    def unstructure_factory(cls: Any) -> Callable[[Any], Any]:
        private, renames = fields(cls)
        overrides: dict[str, Any] = {n: override(rename=w) for n, w in renames.items()}
        overrides.update((n, override(omit=True)) for n in private)
        return make_dict_unstructure_fn(cls, converter, **overrides)

    converter.register_structure_hook_factory(is_model, structure_factory)
    converter.register_unstructure_hook_factory(is_model, unstructure_factory)
