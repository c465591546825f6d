"""QuerySet and Manager: lazy, chainable queries over any model.

Lookups (``_lookups``) are checked when ``filter()``/``exclude()`` is called. When run, a
QuerySet walks the model's listing (``_listing``): narrowed by the server's parameters where
that can only shrink the result without losing a match, every lookup checked on the client.
"""

from __future__ import annotations

import asyncio
import copy
import functools
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from ._errors import DataForceError, ObjectDoesNotExist, ValidationError
from ._ids import as_uuid
from ._listing import PAGE, by_id_op, count_op, exact_id, parents_of, rows_op
from ._lookups import Node, Q, compile_lookup, compile_q
from ._metrics import metric_lookup
from ._protocol import Batch, Op, Stepper
from ._session import Session, current_session

if TYPE_CHECKING:
    from ._resource import Model

M = TypeVar("M", bound="Model")
R = TypeVar("R")

# -- aggregates ------------------------------------------------------------------------------


class Aggregate:
    """An aggregate computed by streaming every match (the server has none).

    Attributes:
        name: The aggregate's name (``Count``, ``Min``, ``Max``).
        field: The field aggregated.
        distinct: Whether equal values count once.
    """

    name = ""

    def __init__(self, field: str, *, distinct: bool = False) -> None:
        if not isinstance(field, str):
            raise ValidationError("aggregate", f"{type(self).__name__}() takes a field name")
        self.field = field
        self.distinct = distinct

    @property
    def default_alias(self) -> str:
        """The result's key when given positionally (``name__count``, as in Django)."""
        return f"{self.field}__{self.name.lower()}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.field!r})"

    def start(self) -> Any:
        """The accumulator before any value."""
        return set() if self.distinct else None

    def add(self, acc: Any, value: Any) -> Any:
        """The accumulator after one more match's value."""
        raise NotImplementedError

    def result(self, acc: Any) -> Any:
        """The aggregate, from the final accumulator."""
        return acc


class Count(Aggregate):
    """How many matches have a non-null ``field`` (``distinct=True``: how many values)."""

    name = "Count"

    def start(self) -> Any:
        return set() if self.distinct else 0

    def add(self, acc: Any, value: Any) -> Any:
        if value is None:
            return acc
        if self.distinct:
            acc.add(tuple(value) if isinstance(value, list) else value)
            return acc
        return acc + 1

    def result(self, acc: Any) -> Any:
        return len(acc) if self.distinct else acc


class Min(Aggregate):
    """The smallest non-null value of ``field`` (None when there is none)."""

    name = "Min"

    def add(self, acc: Any, value: Any) -> Any:
        return acc if value is None or (acc is not None and acc <= value) else value


class Max(Aggregate):
    """The largest non-null value of ``field`` (None when there is none)."""

    name = "Max"

    def add(self, acc: Any, value: Any) -> Any:
        return acc if value is None or (acc is not None and acc >= value) else value


# -- running -----------------------------------------------------------------------------


def relay(op: Op[Any], on_batch: Callable[[list[Any]], bool]) -> Op[None]:
    """Run ``op`` inside another operation, handing its batches to ``on_batch`` (True stops)."""
    steps = Stepper(op)
    while (step := steps.next()) is not None:
        if isinstance(step, Batch):
            if on_batch(step.items):
                op.close()
                return
            continue
        try:
            steps.reply = yield step
        except DataForceError as exc:
            steps.error = exc


def collect(op: Op[Any], limit: int | None = None) -> Op[list[Any]]:
    out: list[Any] = []

    def take(items: list[Any]) -> bool:
        out.extend(items)
        return limit is not None and len(out) >= limit

    yield from relay(op, take)
    return out[:limit] if limit is not None else out


class QuerySet(Generic[M]):
    """A lazy, chainable query over a model; each method returns a new QuerySet.

    Attributes:
        model: The model class queried.
    """

    def __init__(self, model: type[M], session: Session | None = None, where: Node | None = None,
                 order: tuple[str, ...] = (), low: int = 0, high: int | None = None, *,
                 empty: bool = False, reverse: bool = False, chunk: int = PAGE,
                 shape: tuple[str, tuple[str, ...]] | None = None) -> None:
        self.model = model
        self._session = session
        self._where = where
        self._order = order
        self._low, self._high = low, high
        self._empty = empty  # none(): matches nothing, sends nothing
        self._rev = reverse  # the listing's own order, reversed (a model with no order)
        self._chunk = chunk  # the page size
        self._shape = shape  # values() ("dict", fields), values_list ("tuple"/"flat"/"named")
        self._cache: list[M] | None = None

    def _clone(self, **changes: Any) -> QuerySet[M]:
        state = {"session": self._session, "where": self._where, "order": self._order,
                 "low": self._low, "high": self._high, "empty": self._empty,
                 "reverse": self._rev, "chunk": self._chunk, "shape": self._shape, **changes}
        return QuerySet(self.model, **state)

    def __deepcopy__(self, memo: dict[int, Any]) -> QuerySet[M]:
        # (a copy shares the session and the compiled lookups, which are immutable)
        qs = self._clone()
        qs._cache = copy.deepcopy(self._cache, memo)
        return qs

    def _session_for(self) -> Session:
        return self._session or current_session()

    def __repr__(self) -> str:
        shown = self._cache[:5] if self._cache is not None else "..."
        return f"<QuerySet {self.model.__name__} {shown}>"

    # -- building ---------------------------------------------------------------------------

    def using(self, session: Session) -> QuerySet[M]:
        """Run on ``session`` instead of the current one."""
        return self._clone(session=session)

    def all(self) -> QuerySet[M]:
        """A copy of this QuerySet (a fresh start of a chain)."""
        return self._clone()

    def none(self) -> QuerySet[M]:
        """A QuerySet matching nothing; evaluating it sends no request."""
        return self._clone(empty=True)

    def distinct(self, *fields: str) -> QuerySet[M]:
        """Rows are distinct already (one per id); DISTINCT ON fields is not supported."""
        if fields:
            raise ValidationError("distinct", "distinct(*fields) (DISTINCT ON) is not supported; "
                                              "rows are always distinct")
        return self._clone()

    def _check_fields(self, method: str, fields: Iterable[str]) -> tuple[str, ...]:
        public = self.model._public()
        names = tuple("id" if f == "pk" and "pk" not in public else f for f in fields)
        for f in names:
            if not isinstance(f, str) or f not in public:
                raise ValidationError(method, f"unknown field {f!r}; fields: pk, "
                                              f"{', '.join(public)}")
        return names

    def only(self, *fields: str) -> QuerySet[M]:
        """Accepted for Django code; the server always sends every field."""
        self._check_fields("only", fields)
        return self._clone()

    def defer(self, *fields: str) -> QuerySet[M]:
        """Accepted for Django code; the server always sends every field."""
        self._check_fields("defer", fields)
        return self._clone()

    def values(self, *fields: str) -> QuerySet[Any]:
        """Each match as a dict of ``fields`` (default: every field)."""
        names = self._check_fields("values", fields) or self.model._public()
        return cast("QuerySet[Any]", self._clone(shape=("dict", names)))

    def values_list(self, *fields: str, flat: bool = False, named: bool = False) -> QuerySet[Any]:
        """Each match as a tuple of ``fields`` (a bare value with ``flat=True`` and one field;
        a named tuple with ``named=True``)."""
        names = self._check_fields("values_list", fields) or self.model._public()
        if flat and named:
            raise ValidationError("values_list", "flat and named cannot both be True")
        if flat and len(names) != 1:
            raise ValidationError("values_list", "flat=True takes exactly one field")
        how = "flat" if flat else "named" if named else "tuple"
        return cast("QuerySet[Any]", self._clone(shape=(how, names)))

    def _shaped(self, objs: list[M]) -> list[Any]:
        if self._shape is None:
            return objs
        how, names = self._shape
        if how == "flat":
            return [_plain(getattr(o, names[0])) for o in objs]
        if how == "dict":
            return [{n: _plain(getattr(o, n)) for n in names} for o in objs]
        if how == "named":
            row = namedtuple("Row", names)  # type: ignore[misc]
            return [row(*(_plain(getattr(o, n)) for n in names)) for o in objs]
        return [tuple(_plain(getattr(o, n)) for n in names) for o in objs]

    def _shape_op(self, op: Op[Any]) -> Op[Any]:
        """``op``'s batches in the QuerySet's shape (values(), values_list())."""
        if self._shape is None:
            return (yield from op)
        steps = Stepper(op)
        while (step := steps.next()) is not None:
            if isinstance(step, Batch):
                step = Batch(self._shaped(step.items))
            try:
                steps.reply = yield step
            except DataForceError as exc:
                steps.error = exc
        return steps.result

    def _add(self, q: Q) -> QuerySet[M]:
        if self._low or self._high is not None:
            raise ValidationError("filter", "cannot filter a sliced QuerySet")
        metrics = self.model._metrics
        node = compile_q(self.model._filterable, q,
                         functools.partial(metric_lookup, metrics) if metrics else None)
        where = node if self._where is None else Node("AND", False, (self._where, node))
        return self._clone(where=where)

    def filter(self, *args: Q, **lookups: Any) -> QuerySet[M]:
        """Objects matching every lookup (``field__op=value``, ``Q`` objects); a
        ValidationError for an unknown field, lookup or value, before any request."""
        return self._add(Q(*args, **lookups))

    def exclude(self, *args: Q, **lookups: Any) -> QuerySet[M]:
        """Objects matching none of the lookups (``NOT (...)``)."""
        return self._add(~Q(*args, **lookups))

    def order_by(self, *fields: str) -> QuerySet[M]:
        """Ordered by these fields (``-`` for descending; a metric key of a model's
        ``extra_values`` as ``extra_values__<key>``): by the server where it sorts by that
        field, else on the client."""
        metrics = self.model._metrics
        out = []
        for spec in fields:
            name = spec.lstrip("-") if isinstance(spec, str) else spec
            if name == "pk" and "pk" not in self.model._fields:
                name = "id"
            base, _, key = name.partition("__") if isinstance(name, str) else ("", "", "")
            if not isinstance(name, str) or (name not in self.model._fields and not (
                    metrics and base == metrics and key)):
                also = f", {metrics}__<key>" if metrics else ""
                raise ValidationError("order_by", f"unknown field {spec!r}; fields: pk, "
                                                  f"{', '.join(self.model._fields)}{also}")
            out.append("-" + name if spec.startswith("-") else name)
        return self._clone(order=tuple(out), reverse=False)

    def reverse(self) -> QuerySet[M]:
        """The same matches in the opposite order (for a model whose listing has no declared
        order and no order_by(): the listing's own order, reversed)."""
        if self._low or self._high is not None:
            raise ValidationError("reverse", "cannot reverse a sliced QuerySet (nor take last())")
        order = self._order or self.model._default_order
        if not order:
            return self._clone(reverse=not self._rev)
        return self._clone(order=tuple(f[1:] if f.startswith("-") else "-" + f for f in order))

    @overload
    def __getitem__(self, k: int) -> M: ...

    @overload
    def __getitem__(self, k: slice) -> QuerySet[M]: ...

    def __getitem__(self, k: int | slice) -> M | QuerySet[M]:
        if isinstance(k, int):
            if k < 0:
                raise ValidationError("index", "negative indexing is not supported")
            if self._cache is not None:
                return self._cache[k]
            found = list(self[k:k + 1])
            if not found:
                raise IndexError("QuerySet index out of range")
            return found[0]
        if not isinstance(k, slice) or (k.step not in (None, 1)):
            raise ValidationError("index", "only slices without a step are supported")
        for bound in (k.start, k.stop):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                raise ValidationError("index", f"slice bounds must be integers, not "
                                               f"{type(bound).__name__}")
        start, stop = k.start or 0, k.stop
        if start < 0 or (stop is not None and stop < 0):
            raise ValidationError("index", "negative slicing is not supported")
        low = self._low + start
        high = self._low + stop if stop is not None else self._high
        if self._high is not None and high is not None:
            high = min(high, self._high)
        return self._clone(low=low, high=high if high is None else max(high, low))

    # -- the operations (sans-I/O) -------------------------------------------------------

    def _rows_op(self, session: Session) -> Op[None]:
        """Stream the matching objects, in order, sliced, as batches."""
        if self._empty:
            return
        yield from rows_op(self.model, session, self._where, self._order, self._low,
                           self._high, self._rev, self._chunk)

    def _count_op(self, session: Session) -> Op[int]:
        n = 0
        if self._empty:
            return 0
        if self._where is None and not self._low and self._high is None:
            # Nothing to test or slice: count the listing's items without making objects.
            return (yield from count_op(self.model, session))

        def add(items: list[Any]) -> bool:
            nonlocal n
            n += len(items)
            return False

        yield from relay(self._rows_op(session), add)
        return n

    def _parents(self) -> dict[str, str]:
        """Parent ids every match shares (``collection`` from an exact ``collection_id``)."""
        return parents_of(self.model, self._where)

    def _by_id_op(self, session: Session, ident: str) -> Op[M | None]:
        """The object a query with an exact id lookup matches (one GET), or None."""
        obj: M | None = yield from by_id_op(self.model, session, ident, self._parents(),
                                            self._where)
        return obj

    def _get_op(self, session: Session) -> Op[M]:
        ident = exact_id(self._where)
        if ident is not None and self.model._can_get(self._parents()) and not self._low \
                and self._high is None:  # the common get(id=...): no streaming needed
            obj = yield from self._by_id_op(session, ident)
            found: list[M] = [] if obj is None else [obj]
        else:
            found = yield from collect(self._rows_op(session), limit=2)
        if not found:
            raise self.model.DoesNotExist(f"{self.model.__name__} matching query does not exist")
        if len(found) > 1:
            raise self.model.MultipleObjectsReturned(
                f"get() found more than one {self.model.__name__}; narrow the lookup")
        return found[0]

    def _first_op(self, session: Session) -> Op[M | None]:
        found = yield from collect(self[:1]._rows_op(session), limit=1)
        return found[0] if found else None

    def _in_bulk_op(self, session: Session, ids: list[str] | None) -> Op[dict[str, M]]:
        if ids is None:
            objs = yield from collect(self._rows_op(session))
            return {o.pk: o for o in objs}
        out: dict[str, M] = {}
        if not ids or self._empty:
            return out
        if not self.model._gettable_by_id:  # one scan of the listing finds them all
            found = yield from collect(self.filter(id__in=ids)._rows_op(session))
            return {str(o.pk): o for o in found}
        for ident in ids:
            found = yield from collect(self.filter(id=ident)._rows_op(session))
            out.update((str(o.pk), o) for o in found)
        return out

    def _in_bulk_ids(self, id_list: Iterable[Any] | None, field_name: str) -> list[str] | None:
        """The ids, checked (all of them) before any request."""
        if field_name not in ("id", "pk"):
            raise ValidationError("field_name", f"in_bulk() needs a unique field; only the id "
                                                f"is unique on {self.model.__name__}, not "
                                                f"{field_name!r}")
        if self._low or self._high is not None:
            raise ValidationError("in_bulk", "cannot use in_bulk() on a sliced QuerySet")
        if id_list is None:
            return None
        if isinstance(id_list, (str, bytes)) or not isinstance(id_list, Iterable):
            raise ValidationError("id_list", f"must be a list of ids, not "
                                             f"{type(id_list).__name__}")
        ids: list[str] = []
        for i in id_list:
            lk = compile_lookup(self.model._specs, "id", i)
            if lk.op != "exact":
                raise ValidationError("id", "None is not an id")
            ids.append(str(lk.value))
        return list(dict.fromkeys(ids))

    def _aggregate_op(self, session: Session, args: tuple[Aggregate, ...],
                      kwargs: dict[str, Aggregate]) -> Op[dict[str, Any]]:
        wanted = _aggregates(self.model, args, kwargs)
        accs = {alias: agg.start() for alias, (agg, _) in wanted.items()}

        def add(items: list[Any]) -> bool:
            for o in items:
                for alias, (agg, field) in wanted.items():
                    # (as lookups see it: a tags list the server keeps null is null)
                    accs[alias] = agg.add(accs[alias], o._lookup_value(field))
            return False

        yield from relay(self._rows_op(session), add)
        return {alias: agg.result(accs[alias]) for alias, (agg, _) in wanted.items()}

    def _latest_qs(self, fields: tuple[str, ...], latest: bool) -> QuerySet[M]:
        which = "latest" if latest else "earliest"
        if self._low or self._high is not None:
            raise ValidationError(which, f"cannot take {which}() of a sliced QuerySet")
        if not fields:
            if "created_at" not in self.model._fields:
                raise ValidationError(which, f"{which}() needs a field on "
                                             f"{self.model.__name__}")
            fields = ("created_at",)
        flip = {True: lambda f: f[1:] if f.startswith("-") else "-" + f, False: lambda f: f}
        return self.order_by(*(flip[latest](f) for f in fields))

    def _latest_op(self, session: Session, qs: QuerySet[M]) -> Op[M]:
        found = yield from collect(qs[:1]._rows_op(session), limit=1)
        if not found:
            raise self.model.DoesNotExist(f"{self.model.__name__} matching query does not exist")
        return cast(M, found[0])

    # -- evaluation, sync ----------------------------------------------------------------

    def _run(self, op: Op[R]) -> R:
        return self._session_for().driver.run(op)

    def _fetch(self) -> list[M]:
        if self._cache is None:
            self._cache = self._run(collect(self._shape_op(self._rows_op(self._session_for()))))
        return self._cache

    def __iter__(self) -> Iterator[M]:
        return iter(self._fetch())

    def __len__(self) -> int:
        return len(self._fetch())

    def __bool__(self) -> bool:
        return bool(self._fetch())

    def iterator(self, chunk_size: int | None = None) -> Iterator[M]:
        """Stream the results one page (of ``chunk_size``, 1 to 100) at a time, without
        caching them. Each row comes at most once, whatever the loop changes."""
        qs = self._chunked(chunk_size)
        session = qs._session_for()
        return session.driver.stream(qs._shape_op(qs._rows_op(session)))

    def _chunked(self, chunk_size: int | None) -> QuerySet[M]:
        if chunk_size is None:
            return self
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) \
                or not 1 <= chunk_size <= PAGE:
            raise ValidationError("chunk_size", f"must be an integer from 1 to {PAGE} (the "
                                                f"server's largest page), got {chunk_size!r}")
        return self._clone(chunk=chunk_size)

    def count(self) -> int:
        """How many match (pages through the matches; the server has no count)."""
        if self._cache is not None:
            return len(self._cache)
        return self._run(self._count_op(self._session_for()))

    def exists(self) -> bool:
        """Whether anything matches (fetches at most one object)."""
        if self._cache is not None:
            return bool(self._cache)
        return self._empty is False and self._plain().first() is not None

    def _plain(self) -> QuerySet[M]:
        return self._clone(shape=None) if self._shape is not None else self

    def first(self) -> M | None:
        """The first match in this order (default: the listing's own), or None."""
        if self._cache is not None:
            return self._cache[0] if self._cache else None
        return self._one(self._run(self._first_op(self._session_for())))

    def _one(self, obj: R) -> R:
        """A result in the QuerySet's shape (values(), values_list())."""
        if obj is None or self._shape is None:
            return obj
        return cast(R, self._shaped([cast(Any, obj)])[0])

    def last(self) -> M | None:
        """The last match in this order, or None."""
        return self.reverse().first()

    def get(self, *args: Q, **lookups: Any) -> M:
        """The one object matching; ``DoesNotExist`` or ``MultipleObjectsReturned`` otherwise."""
        session = self._session_for()
        return self._one(session.driver.run(self._get_call_op(session, args, lookups)))

    def _get_call_op(self, session: Session, args: tuple[Q, ...],
                     lookups: dict[str, Any]) -> Op[M]:
        """``get(...)``: a bare ``get(id=...)`` (or ``pk=``) on an unfiltered QuerySet reads
        the object by its id without building a query (the most common call)."""
        if not args and len(lookups) == 1 and self._unfiltered():
            (key, value), = lookups.items()
            canon = as_uuid(value) if key in ("id", "pk") and isinstance(value, str) else None
            if canon is not None and self.model._can_get(None):
                try:
                    obj: M = yield from self.model._get_by_id_op(session, canon)
                except ObjectDoesNotExist:
                    raise self.model.DoesNotExist(
                        f"{self.model.__name__} matching query does not exist") from None
                return obj
        qs = self.filter(*args, **lookups) if args or lookups else self
        return (yield from qs._get_op(session))

    def _unfiltered(self) -> bool:
        """No lookups, slicing or emptiness: every object of the model's listing."""
        return self._where is None and not self._low and self._high is None \
            and not self._empty and self._cache is None

    def latest(self, *fields: str) -> M:
        """The match with the greatest ``fields`` (default ``created_at``); DoesNotExist if
        none."""
        qs = self._latest_qs(fields, True)
        return self._one(self._run(self._latest_op(self._session_for(), qs)))

    def earliest(self, *fields: str) -> M:
        """The match with the smallest ``fields`` (default ``created_at``); DoesNotExist if
        none."""
        qs = self._latest_qs(fields, False)
        return self._one(self._run(self._latest_op(self._session_for(), qs)))

    def in_bulk(self, id_list: Iterable[Any] | None = None, *,
                field_name: str = "id") -> dict[str, M]:
        """``{id: object}`` for the given ids (one GET each), or for every match. Every id is
        checked before any request."""
        ids = self._in_bulk_ids(id_list, field_name)
        return self._run(self._in_bulk_op(self._session_for(), ids))

    def aggregate(self, *args: Aggregate, **kwargs: Aggregate) -> dict[str, Any]:
        """``Count``, ``Min`` and ``Max`` over every match, computed while streaming them
        (``Count("id")`` is keyed ``id__count``; name it with ``total=Count("id")``)."""
        _aggregates(self.model, args, kwargs)
        return self._run(self._aggregate_op(self._session_for(), args, kwargs))

    def create(self, **fields: Any) -> M:
        """Build an object from ``fields`` and save it (POST); returns it."""
        return self._run(self._create_op(self._session_for(), fields))

    def get_or_create(self, defaults: dict[str, Any] | None = None,
                      **lookups: Any) -> tuple[M, bool]:
        """``(object, False)`` for the one match, else ``(new object, True)`` made from
        the exact lookups and ``defaults`` (not atomic: the API has no conditional create)."""
        return self._run(self._get_or_create_op(self._session_for(), defaults, lookups, False))

    def update_or_create(self, defaults: dict[str, Any] | None = None,
                         create_defaults: dict[str, Any] | None = None,
                         **lookups: Any) -> tuple[M, bool]:
        """Update the match with ``defaults``, or create one from the lookups and
        ``create_defaults`` (``defaults`` when not given), as Django 5 does."""
        op = self._get_or_create_op(self._session_for(), defaults, lookups, True, create_defaults)
        return self._run(op)

    def update(self, **fields: Any) -> int:
        """Set ``fields`` on every match and save each (merge rules apply); returns the count."""
        _check_update(self.model, fields)
        return self._run(self._update_op(self._session_for(), fields))

    def delete(self) -> int:
        """Delete every match; returns how many were deleted."""
        return self._run(self._delete_op(self._session_for()))

    # -- writing operations (shared by the sync and async methods) ---------------------------

    def _create_op(self, session: Session, fields: dict[str, Any]) -> Op[M]:
        self.model._refuse_writes()
        if "id" in fields:
            raise ValidationError("id", "is given by the server: create() makes a new object; "
                                        "to update one, get() it, or save() a Model(id=...)")
        obj = self.model(**fields)
        yield from obj._save_op(session, False, None)
        return obj

    def _get_or_create_op(self, session: Session, defaults: dict[str, Any] | None,
                          lookups: dict[str, Any], update: bool,
                          create_defaults: dict[str, Any] | None = None) -> Op[tuple[M, bool]]:
        self.model._refuse_writes()
        try:
            obj: M = yield from self.filter(**lookups)._get_op(session)
        except self.model.DoesNotExist:
            made = yield from self._create_op(session, _create_fields(
                lookups, defaults if create_defaults is None else create_defaults))
            return made, True
        if update:
            for k, v in (defaults or {}).items():
                setattr(obj, k, v)
            yield from obj._save_op(session, False, None)
        return obj, False

    def _update_op(self, session: Session, fields: dict[str, Any]) -> Op[int]:
        objs = yield from collect(self._rows_op(session))
        for obj in objs:
            for k, v in fields.items():
                setattr(obj, k, v)
            yield from obj._save_op(session, False, None)
        return len(objs)

    def _delete_op(self, session: Session) -> Op[int]:
        self.model._refuse_writes()
        objs = yield from collect(self._rows_op(session))
        for obj in objs:
            yield from obj._delete_op(session)
        return len(objs)

    # -- evaluation, async ---------------------------------------------------------------

    async def _arun(self, op: Op[R]) -> R:
        return await self._session_for().async_driver.run(op)

    def __aiter__(self) -> AsyncIterator[M]:
        if self._cache is not None:
            return _aiter_list(self._cache)
        session = self._session_for()
        return session.async_driver.stream(self._shape_op(self._rows_op(session)))

    def aiterator(self, chunk_size: int | None = None) -> AsyncIterator[M]:
        """Async ``iterator()``."""
        qs = self._chunked(chunk_size)
        session = qs._session_for()
        return session.async_driver.stream(qs._shape_op(qs._rows_op(session)))

    async def acount(self) -> int:
        """Async ``count()``."""
        if self._cache is not None:
            return len(self._cache)
        return await self._arun(self._count_op(self._session_for()))

    async def aexists(self) -> bool:
        """Async ``exists()``."""
        if self._cache is not None:
            return bool(self._cache)
        return self._empty is False and await self._plain().afirst() is not None

    async def afirst(self) -> M | None:
        """Async ``first()``."""
        if self._cache is not None:
            return self._cache[0] if self._cache else None
        return self._one(await self._arun(self._first_op(self._session_for())))

    async def alast(self) -> M | None:
        """Async ``last()``."""
        return await self.reverse().afirst()

    async def aget(self, *args: Q, **lookups: Any) -> M:
        """Async ``get()``."""
        session = self._session_for()
        return self._one(await session.async_driver.run(
            self._get_call_op(session, args, lookups)))

    async def alatest(self, *fields: str) -> M:
        """Async ``latest()``."""
        qs = self._latest_qs(fields, True)
        return self._one(await self._arun(self._latest_op(self._session_for(), qs)))

    async def aearliest(self, *fields: str) -> M:
        """Async ``earliest()``."""
        qs = self._latest_qs(fields, False)
        return self._one(await self._arun(self._latest_op(self._session_for(), qs)))

    async def ain_bulk(self, id_list: Iterable[Any] | None = None, *,
                       field_name: str = "id") -> dict[str, M]:
        """Async ``in_bulk()``."""
        ids = self._in_bulk_ids(id_list, field_name)
        return await self._arun(self._in_bulk_op(self._session_for(), ids))

    async def aaggregate(self, *args: Aggregate, **kwargs: Aggregate) -> dict[str, Any]:
        """Async ``aggregate()``."""
        _aggregates(self.model, args, kwargs)
        return await self._arun(self._aggregate_op(self._session_for(), args, kwargs))

    async def acreate(self, **fields: Any) -> M:
        """Async ``create()``."""
        return await self._arun(self._create_op(self._session_for(), fields))

    async def aget_or_create(self, defaults: dict[str, Any] | None = None,
                             **lookups: Any) -> tuple[M, bool]:
        """Async ``get_or_create()``."""
        op = self._get_or_create_op(self._session_for(), defaults, lookups, False)
        return await self._arun(op)

    async def aupdate_or_create(self, defaults: dict[str, Any] | None = None,
                                create_defaults: dict[str, Any] | None = None,
                                **lookups: Any) -> tuple[M, bool]:
        """Async ``update_or_create()``."""
        op = self._get_or_create_op(self._session_for(), defaults, lookups, True, create_defaults)
        return await self._arun(op)

    async def aupdate(self, **fields: Any) -> int:
        """Async ``update()``."""
        _check_update(self.model, fields)
        return await self._arun(self._update_op(self._session_for(), fields))

    async def adelete(self) -> int:
        """Async ``delete()``."""
        return await self._arun(self._delete_op(self._session_for()))

    def _check_bulk(self, objs: Iterable[M], creating: bool,
                    fields: Iterable[str] | None = None) -> list[M]:
        """The objects of a bulk call, every one checked before any request."""
        self.model._refuse_writes()
        if isinstance(objs, (str, bytes)) or not isinstance(objs, Iterable):
            raise ValidationError("objs", f"must be a list of {self.model.__name__} objects")
        items = list(objs)
        wanted: list[str] = []
        if not creating:
            if fields is None or isinstance(fields, str):
                raise ValidationError("fields", "bulk_update() takes a list of field names")
            wanted = list(fields)
            if not wanted:
                raise ValidationError("fields", "bulk_update() needs at least one field")
            for f in wanted:
                if f not in self.model._editable:
                    raise ValidationError("fields", f"{f!r} cannot be updated; updatable "
                                                    f"fields: {', '.join(self.model._editable)}")
        seen: set[int] = set()
        for i, obj in enumerate(items):  # bad input fails the call before any request
            where = f"objs[{i}]"
            if not isinstance(obj, self.model):
                raise ValidationError(where, f"must be a {self.model.__name__}")
            if id(obj) in seen:  # two writes would race to fill in one object
                raise ValidationError(where, "the same object is listed twice")
            seen.add(id(obj))
            if creating and obj.pk is not None:
                raise ValidationError(where, f"is already saved (id {obj.pk})")
            if not creating and obj.pk is None:
                raise ValidationError(where, "is not saved yet; bulk_create() it")
            try:
                if creating:
                    obj._validate(creating=True)
                else:
                    for f in wanted:
                        self.model._specs[f].check(getattr(obj, f))
            except ValidationError as exc:
                raise ValidationError(f"{where}.{exc.field}", exc.rule) from None
        return items

    @staticmethod
    def _check_batch(batch_size: int | None) -> None:
        if batch_size is not None and (isinstance(batch_size, bool)
                                       or not isinstance(batch_size, int) or batch_size < 1):
            raise ValidationError("batch_size", "must be a positive integer or None")

    def bulk_create(self, objs: Iterable[M], batch_size: int | None = None
                    ) -> list[M | DataForceError]:
        """Create unsaved objects one after another, in order (the platform has no bulk
        endpoint; ``batch_size`` is accepted and checked). Each slot holds the created object,
        or the library error that item raised: one failure does not abort the rest."""
        self._check_batch(batch_size)
        items = self._check_bulk(objs, creating=True)
        session = self._session_for()
        out: list[M | DataForceError] = []
        for obj in items:
            try:
                obj.save(using=session)
            except DataForceError as exc:
                out.append(exc)
            else:
                out.append(obj)
        return out

    def bulk_update(self, objs: Iterable[M], fields: Iterable[str],
                    batch_size: int | None = None) -> list[M | DataForceError]:
        """Save ``fields`` of saved objects one after another (the usual merge and conflict
        rules of ``save(update_fields=fields)``). Each slot holds the object, or the library
        error that item raised."""
        self._check_batch(batch_size)
        items = self._check_bulk(objs, creating=False, fields=fields)
        wanted = list(fields)
        session = self._session_for()
        out: list[M | DataForceError] = []
        for obj in items:
            try:
                obj.save(update_fields=wanted, using=obj._session or session)
            except DataForceError as exc:
                out.append(exc)
            else:
                out.append(obj)
        return out

    async def abulk_create(self, objs: Iterable[M], batch_size: int | None = None, *,
                           concurrency: int = 8) -> list[M | DataForceError]:
        """Save unsaved objects concurrently (at most ``concurrency`` at once), in order.

        Each slot holds the created object, or the library error that item raised: one
        failure does not abort the rest.
        """
        self._check_batch(batch_size)
        if concurrency < 1:
            raise ValidationError("concurrency", "must be at least 1")
        items = self._check_bulk(objs, creating=True)
        gate = asyncio.Semaphore(concurrency)
        session = self._session_for()

        async def one(obj: M) -> M | DataForceError:
            async with gate:
                try:
                    await obj.asave(using=session)
                except DataForceError as exc:
                    return exc
                return obj

        return list(await asyncio.gather(*(one(o) for o in items)))

    async def abulk_update(self, objs: Iterable[M], fields: Iterable[str],
                           batch_size: int | None = None, *,
                           concurrency: int = 8) -> list[M | DataForceError]:
        """Async ``bulk_update()``, at most ``concurrency`` saves at once."""
        self._check_batch(batch_size)
        if concurrency < 1:
            raise ValidationError("concurrency", "must be at least 1")
        items = self._check_bulk(objs, creating=False, fields=fields)
        wanted = list(fields)
        gate = asyncio.Semaphore(concurrency)
        session = self._session_for()

        async def one(obj: M) -> M | DataForceError:
            async with gate:
                try:
                    await obj.asave(update_fields=wanted, using=obj._session or session)
                except DataForceError as exc:
                    return exc
                return obj

        return list(await asyncio.gather(*(one(o) for o in items)))


async def _aiter_list(items: list[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


def _plain(value: Any) -> Any:
    """A field's value as values()/values_list() give it (lists and dicts copied)."""
    if isinstance(value, (list, dict)):
        return copy.deepcopy(value)
    return value


def _aggregates(model: type[Model], args: tuple[Aggregate, ...],
                kwargs: dict[str, Aggregate]) -> dict[str, tuple[Aggregate, str]]:
    """Alias -> (aggregate, field), all checked before any request."""
    out: dict[str, tuple[Aggregate, str]] = {}
    for alias, agg in [*((getattr(a, "default_alias", None), a) for a in args),
                       *kwargs.items()]:
        if not isinstance(agg, Aggregate):
            raise ValidationError("aggregate", f"takes Count, Min or Max, not "
                                               f"{type(agg).__name__}")
        field = "id" if agg.field == "pk" and "pk" not in model._fields else agg.field
        if field not in model._fields:
            raise ValidationError("aggregate", f"unknown field {agg.field!r}; fields: pk, "
                                               f"{', '.join(model._fields)}")
        if not isinstance(agg, Count) and model._fields[field] == "tags":
            raise ValidationError("aggregate", f"{agg.name} of a list field is not supported")
        assert alias is not None
        out[alias] = (agg, field)
    if not out:
        raise ValidationError("aggregate", "takes at least one of Count, Min, Max")
    return out


def _create_fields(lookups: dict[str, Any], defaults: dict[str, Any] | None) -> dict[str, Any]:
    plain = {k: v for k, v in lookups.items() if "__" not in k or k.endswith("__exact")}
    if {"id", "id__exact", "pk", "pk__exact"} & set(plain):
        raise ValidationError("id", "is given by the server; a get_or_create/update_or_create "
                                    "lookup by id cannot create")
    return {**{k.removesuffix("__exact"): v for k, v in plain.items()}, **(defaults or {})}


def _check_update(model: type[Model], fields: dict[str, Any]) -> None:
    model._refuse_writes()
    editable = model._editable
    for k in fields:
        if k not in editable:
            raise ValidationError(k, f"cannot be updated; updatable fields: {', '.join(editable)}")
    model(**fields)  # runs the field checks before any request


class Manager(QuerySet[M]):
    """``Model.objects``: the starting point of every query."""


class ManagerDescriptor:
    """Gives each model class (not instances) a fresh Manager."""

    def __get__(self, instance: object, owner: type[M]) -> Manager[M]:
        if instance is not None:
            raise AttributeError("Manager isn't accessible via model instances")
        return Manager(owner)
