"""Q objects and lookups: a registry keyed by field kind and operator.

Each lookup is a small function registered under ``(kind, op)`` that takes the normalised
value and returns a test of an attribute value; adding one touches one place. Lookups are
compiled (and their values checked) when ``filter()``/``exclude()`` is called; the listing
narrows on the server with what they allow (``_listing``) and checks them all on the client.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timezone
from typing import Any

import attrs

from ._errors import ValidationError
from ._fields import SURROGATE, Kind, Spec, check_enum, unsendable
from ._ids import as_uuid
from ._wire import parse_time

Test = Callable[[Any], bool]
_REGISTRY: dict[str, dict[str, Callable[[Any], Test]]] = {}


def lookup(kinds: str, *ops: str) -> Callable[[Callable[[Any], Test]], Callable[[Any], Test]]:
    """Register a test factory for ``ops`` on each of the space-separated ``kinds``."""
    def register(factory: Callable[[Any], Test]) -> Callable[[Any], Test]:
        for kind in map(Kind.of, kinds.split()):  # (a misspelt kind fails at import)
            for op in ops:
                _REGISTRY.setdefault(kind, {})[op] = factory
        return factory

    return register


def supported(kind: str) -> tuple[str, ...]:
    """The operators a field of ``kind`` supports."""
    return tuple(_REGISTRY.get(kind, {}))


# -- the lookups ------------------------------------------------------------------------------


@lookup("id str enum num bool date", "exact")
def _exact(x: Any) -> Test:
    return lambda v: v is not None and v == x


@lookup("id str enum num bool date time", "in")
def _in(x: Any) -> Test:
    return lambda v: v in x


@lookup("id str enum num date time", "range")
def _range(x: tuple[Any, Any]) -> Test:
    lo, hi = x
    return lambda v: v is not None and lo <= v <= hi


@lookup("str", "iexact")
def _iexact(x: str) -> Test:
    x = x.lower()
    return lambda v: v is not None and v.lower() == x


@lookup("str", "contains")
def _contains(x: str) -> Test:
    return lambda v: v is not None and x in v


@lookup("str", "icontains")
def _icontains(x: str) -> Test:
    x = x.lower()
    return lambda v: v is not None and x in v.lower()


@lookup("str", "startswith")
def _startswith(x: str) -> Test:
    return lambda v: v is not None and v.startswith(x)


@lookup("str", "istartswith")
def _istartswith(x: str) -> Test:
    x = x.lower()
    return lambda v: v is not None and v.lower().startswith(x)


@lookup("str", "endswith")
def _endswith(x: str) -> Test:
    return lambda v: v is not None and v.endswith(x)


@lookup("str", "iendswith")
def _iendswith(x: str) -> Test:
    x = x.lower()
    return lambda v: v is not None and v.lower().endswith(x)


@lookup("num time date", "gt")
def _gt(x: Any) -> Test:
    return lambda v: v is not None and v > x


@lookup("num time date", "gte")
def _gte(x: Any) -> Test:
    return lambda v: v is not None and v >= x


@lookup("num time date", "lt")
def _lt(x: Any) -> Test:
    return lambda v: v is not None and v < x


@lookup("num time date", "lte")
def _lte(x: Any) -> Test:
    return lambda v: v is not None and v <= x


@lookup("time", "exact")
def _time_exact(x: datetime) -> Test:
    return lambda v: v is not None and v == x


@lookup("id enum tags num time bool str date", "isnull")
def _isnull(x: bool) -> Test:
    return lambda v: (v is None) is x


@lookup("tags", "contains")
def _tags_contains(x: tuple[str, ...]) -> Test:
    return lambda v: v is not None and all(t in v for t in x)


@lookup("tags", "overlap")
def _tags_overlap(x: tuple[str, ...]) -> Test:
    return lambda v: v is not None and any(t in v for t in x)


@lookup("tags", "exact")
def _tags_exact(x: list[str] | None) -> Test:
    return lambda v: v == x


# -- values -----------------------------------------------------------------------------------


def _norm(spec: Spec, key: str, op: str, value: Any) -> Any:
    """Check and normalise a lookup's value; a ValidationError names the lookup."""

    def fail(rule: str) -> ValidationError:
        return ValidationError(key, rule)

    kind = spec.kind
    if op == "isnull":
        if not isinstance(value, bool):
            raise fail("isnull takes True or False")
        return value
    if op == "in" or (kind == "tags" and op in ("contains", "overlap")):
        if kind == "tags" and isinstance(value, str):
            return (value,)
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise fail(f"{op} takes a list, not {type(value).__name__}")
        items = tuple(value)
        if op == "in":  # None in the list matches a null (as Django's __in does)
            return frozenset(None if v is None else _norm(spec, key, "exact", v) for v in items)
        if not all(isinstance(t, str) for t in items):
            raise fail("tags are strings")
        if any(unsendable(t) for t in items):
            raise fail(SURROGATE)
        return items
    if op == "range":
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise fail(f"range takes a (low, high) pair, not {type(value).__name__}")
        pair = tuple(value)
        if len(pair) != 2 or None in pair:
            raise fail("range takes a (low, high) pair of values")
        return tuple(_norm(spec, key, "exact", v) for v in pair)
    if isinstance(value, uuid.UUID) and kind in ("id", "str"):
        value = str(value)
    if kind == "id":
        if hasattr(value, "pk") and not isinstance(value, str):  # a model object: its id
            value = value.pk
        canon = as_uuid(value) if isinstance(value, str) else None
        if canon is None:
            raise fail(f"must be a UUID string, got {value!r}")
        return canon
    if kind == "str":
        if not isinstance(value, str):
            raise fail(f"must be a string, not {type(value).__name__}")
        if unsendable(value):
            raise fail(SURROGATE)
        return value
    if kind == "enum":
        assert spec.enum is not None
        try:
            return check_enum(key, spec.enum, value)
        except ValidationError as exc:
            raise fail(exc.rule) from None
    if kind == "tags":  # exact
        if value is not None and (isinstance(value, str) or not isinstance(value, Iterable)
                                  or not all(isinstance(t, str) for t in value)):
            raise fail("must be a list of strings or None")
        return None if value is None else list(value)
    if kind == "num":
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"must be an integer, not {type(value).__name__}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise fail(f"must be True or False, not {type(value).__name__}")
        return value
    if kind == "date":
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise fail(f"not an ISO-8601 date: {value!r}") from None
        if isinstance(value, datetime):
            return as_utc(value).date()
        if not isinstance(value, date):
            raise fail(f"must be a date, not {type(value).__name__}")
        return value
    # time
    try:
        return as_utc(value)
    except (TypeError, ValueError) as exc:
        raise fail(str(exc)) from None


def as_utc(value: Any) -> datetime:
    """A time given as an aware or naive (read as UTC) datetime, a date (its midnight, UTC) or
    ISO-8601 text, as an aware UTC datetime; TypeError/ValueError otherwise."""
    if isinstance(value, str):
        try:
            value = parse_time(value)
        except ValueError:
            raise ValueError(f"not an ISO-8601 time: {value!r}") from None
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime.combine(value, time(0), timezone.utc)
    if not isinstance(value, datetime):
        raise TypeError(f"must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


# Transforms of a time field: ``created_at__year=2024``, ``created_at__date__gte=date(...)``
# (taken in UTC), each followed by a lookup on the part (exact when none is given).
TRANSFORMS: dict[str, tuple[str, Callable[[datetime], Any]]] = {
    "date": ("date", lambda t: t.astimezone(timezone.utc).date()),
    "year": ("num", lambda t: t.astimezone(timezone.utc).year),
    "month": ("num", lambda t: t.astimezone(timezone.utc).month),
    "day": ("num", lambda t: t.astimezone(timezone.utc).day),
}


# -- Q and the compiled tree ------------------------------------------------------------------


class Q:
    """Lookups combined with ``&`` (and), ``|`` (or) and ``~`` (not).

    Attributes:
        children: The combined Q objects and (lookup, value) pairs.
        connector: How the children combine: ``"AND"`` or ``"OR"``.
        negated: Whether the whole is negated (``~q``).
    """

    def __init__(self, *children: Q, **lookups: Any) -> None:
        for child in children:
            if not isinstance(child, Q):
                raise ValidationError("args", "positional arguments must be Q objects, not "
                                              f"{type(child).__name__}; use field=value")
        self.children: list[Q | tuple[str, Any]] = [*children, *sorted(lookups.items())]
        self.connector = "AND"
        self.negated = False

    def _combine(self, other: Q, connector: str) -> Q:
        if not isinstance(other, Q):
            return NotImplemented
        q = Q(self, other)
        q.connector = connector
        return q

    def __and__(self, other: Q) -> Q:
        return self._combine(other, "AND")

    def __or__(self, other: Q) -> Q:
        return self._combine(other, "OR")

    def __invert__(self) -> Q:
        q = Q(self)
        q.negated = True
        return q

    def __repr__(self) -> str:
        inner = f" {self.connector} ".join(repr(c) for c in self.children)
        return f"{'NOT ' if self.negated else ''}({inner})"


@attrs.frozen
class Lookup:
    """One checked ``field__op=value``."""

    field: str
    op: str
    value: Any
    spec: Spec = attrs.field(eq=False, repr=False)
    test_value: Test = attrs.field(eq=False, repr=False)
    transform: str | None = None  # a part of a time (date, year, month, day) tested instead

    def test(self, obj: Any) -> bool:
        # (a tags list is tested as the server has it: a list kept null is null)
        v = obj._lookup_value(self.field) if self.spec.kind == "tags" else getattr(
            obj, self.field)
        if self.transform is not None and v is not None:
            v = TRANSFORMS[self.transform][1](v)
        return self.test_value(v)


@attrs.frozen
class Node:
    """Lookups and nodes joined by AND or OR, possibly negated."""

    connector: str
    negated: bool
    children: tuple[Node | Lookup, ...]

    def test(self, obj: Any) -> bool:
        if self.connector == "AND":
            result = all(c.test(obj) for c in self.children)
        else:
            result = any(c.test(obj) for c in self.children)
        return not result if self.negated else result


def compile_lookup(fields: dict[str, Spec], key: str, value: Any,
                   extra: Callable[[str, Any], Lookup | None] | None = None) -> Lookup:
    """``field__op=value`` checked against the model's fields and the registry (``pk`` is
    ``id``; ``field=None`` is ``field__isnull=True``; a time field takes ``__date``,
    ``__year``, ``__month`` or ``__day`` before the operator)."""
    name, _, op = key.partition("__")
    if name == "pk" and "pk" not in fields:
        name = "id"
    op = op or "exact"
    spec = fields.get(name)
    if spec is None and extra is not None and (found := extra(key, value)) is not None:
        return found  # (a model's own lookups: an artifact's metrics)
    if spec is None:
        raise ValidationError(key, f"unknown field {name!r}; fields: pk, {', '.join(fields)}")
    kind, transform = spec.kind, None
    part, _, rest = op.partition("__")
    if kind == "time" and part in TRANSFORMS:
        transform, op = part, rest or "exact"
        kind = Kind.of(TRANSFORMS[part][0])
    tests = _REGISTRY[kind]
    if op not in tests:
        raise ValidationError(key, f"unsupported lookup {op!r} on {name}; "
                                   f"supported: {', '.join(tests)}")
    if value is None and op == "exact" and kind != "tags":
        op, value = "isnull", True  # as in Django
    norm = _norm(attrs.evolve(spec, kind=kind) if kind != spec.kind else spec, key, op, value)
    return Lookup(spec.name, op, norm, spec, tests[op](norm), transform)


def compile_q(fields: dict[str, Spec], q: Q,
              extra: Callable[[str, Any], Lookup | None] | None = None) -> Node:
    children: list[Node | Lookup] = []
    for child in q.children:
        if isinstance(child, Q):
            children.append(compile_q(fields, child, extra))
        else:
            children.append(compile_lookup(fields, *child, extra))
    return Node(q.connector, q.negated, tuple(children))


def positive_lookups(node: Node | None) -> Iterator[Lookup]:
    """Lookups every match must satisfy (the top-level AND, through nested ANDs)."""
    if node is None or node.negated or (node.connector == "OR" and len(node.children) > 1):
        return
    for child in node.children:
        if isinstance(child, Lookup):
            yield child
        else:
            yield from positive_lookups(child)


def search_escape(text: str) -> str:
    """``text`` for the server's ``search``, where ``%``, ``_`` and ``\\`` are live."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
