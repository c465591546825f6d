"""QuerySet and Manager: lazy, chainable queries over any model.

Lookups (``_lookups``) are checked when ``filter()``/``exclude()`` is called. When run, a
QuerySet narrows the listing with the server's parameters where that can only shrink the
result without losing a match, then checks every lookup exactly on the client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from ._errors import DataForceError, ObjectDoesNotExist, ValidationError
from ._lookups import Node, Q, compile_q, exact_id, narrowing, wire_prefilter
from ._protocol import Batch, Op, Stepper
from ._session import Session, current_session

if TYPE_CHECKING:
    from ._resource import Model

M = TypeVar("M", bound="Model")
R = TypeVar("R")

PAGE = 100


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


def _sort_key(field: str) -> Callable[[Any], Any]:
    def key(obj: Any) -> Any:
        v = getattr(obj, field)
        if isinstance(v, list):
            v = tuple(v)
        return (v is None, "" if v is None else v)

    return key


def client_sort(items: list[Any], order: tuple[str, ...]) -> None:
    """Sort in place by ``order`` (``-`` for descending), ties by id in the first key's way."""
    first_desc = order[0].startswith("-")
    items.sort(key=lambda o: o.pk or "", reverse=first_desc)
    for spec in reversed(order):
        field = spec.lstrip("-")
        desc = spec.startswith("-")
        key = _sort_key(field)
        items.sort(key=key, reverse=desc)  # nulls last ascending, first descending


class QuerySet(Generic[M]):
    """A lazy, chainable query over a model; each method returns a new QuerySet."""

    def __init__(self, model: type[M], session: Session | None = None, where: Node | None = None,
                 order: tuple[str, ...] = (), low: int = 0, high: int | None = None) -> None:
        self.model = model
        self._session = session
        self._where = where
        self._order = order
        self._low, self._high = low, high
        self._cache: list[M] | None = None

    def _clone(self, **changes: Any) -> QuerySet[M]:
        state = {"session": self._session, "where": self._where, "order": self._order,
                 "low": self._low, "high": self._high, **changes}
        return QuerySet(self.model, **state)

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
        return self._clone()

    def _add(self, q: Q) -> QuerySet[M]:
        if self._low or self._high is not None:
            raise ValidationError("filter", "cannot filter a sliced QuerySet")
        node = compile_q(self.model._specs, q)
        where = node if self._where is None else Node("AND", False, (self._where, node))
        return self._clone(where=where)

    def filter(self, *args: Q, **lookups: Any) -> QuerySet[M]:
        return self._add(Q(*args, **lookups))

    def exclude(self, *args: Q, **lookups: Any) -> QuerySet[M]:
        return self._add(~Q(*args, **lookups))

    def order_by(self, *fields: str) -> QuerySet[M]:
        for spec in fields:
            if not isinstance(spec, str) or spec.lstrip("-") not in self.model._fields:
                raise ValidationError("order_by", f"unknown field {spec!r}; "
                                                  f"fields: {', '.join(self.model._fields)}")
        return self._clone(order=tuple(fields))

    def reverse(self) -> QuerySet[M]:
        if self._low or self._high is not None:
            raise ValidationError("reverse", "cannot reverse a sliced QuerySet (nor take last())")
        order = self._order or self.model._default_order
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

    def _server_order(self) -> tuple[list[tuple[str, str]], bool]:
        """Sort parameters, and whether the client must sort instead."""
        order = self._order
        if not order:
            return [], False
        keys = self.model._sort_keys
        if len(order) == 1 and order[0].lstrip("-") in keys:
            field = order[0].lstrip("-")
            return [("sort_by", keys[field]),
                    ("order", "desc" if order[0].startswith("-") else "asc")], False
        return [], True

    def _rows_op(self, session: Session) -> Op[None]:
        """Stream the matching objects, in order, sliced, as batches."""
        test = self._where.test if self._where is not None else None
        high = self._high
        if high is not None and high <= self._low:
            return
        ident = exact_id(self._where)
        if ident is not None and self.model._gettable_by_id:
            obj = yield from self._by_id_op(session, ident)
            if obj is not None and self._low == 0:
                yield Batch([obj])
            return
        sort_params, sort_here = self._server_order()
        limit = PAGE
        if test is None and high is not None and not sort_here:
            limit = max(1, min(PAGE, high))
        pager = yield from self.model._pager_op(
            session, [*sort_params, *narrowing(self._where)], limit)
        skip, left = self._low, (None if high is None else high - self._low)
        matched: list[M] = []
        keep = wire_prefilter(self._where)
        while (req := pager.next_request()) is not None:
            page = pager.feed(req, (yield req), keep=keep)
            items = [o for o in page if test(o)] if test is not None else page
            if sort_here:
                matched.extend(items)
                continue
            if skip:
                dropped = min(skip, len(items))
                items, skip = items[dropped:], skip - dropped
            if left is not None:
                items = items[:left]
                left -= len(items)
            if items:
                yield Batch(items)
            if left == 0:
                return
        if sort_here:
            client_sort(matched, self._order)
            yield Batch(matched[self._low:high])

    def _count_op(self, session: Session) -> Op[int]:
        n = 0
        if self._where is None and not self._low and self._high is None:
            # Nothing to test or slice: count the listing's items without making objects.
            pager = yield from self.model._pager_op(session, [], PAGE)
            while (req := pager.next_request()) is not None:
                n += len(pager.feed(req, (yield req), load=False))
            return n

        def add(items: list[Any]) -> bool:
            nonlocal n
            n += len(items)
            return False

        yield from relay(self._rows_op(session), add)
        return n

    def _by_id_op(self, session: Session, ident: str) -> Op[M | None]:
        """The object a query with an exact id lookup matches (one GET), or None."""
        try:
            obj = yield from self.model._get_by_id_op(session, ident)
        except ObjectDoesNotExist:
            return None
        return obj if self._where is None or self._where.test(obj) else None

    def _get_op(self, session: Session) -> Op[M]:
        ident = exact_id(self._where)
        if ident is not None and self.model._gettable_by_id and not self._low \
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

    def _in_bulk_op(self, session: Session, ids: Iterable[str] | None) -> Op[dict[str, M]]:
        if ids is None:
            objs = yield from collect(self._rows_op(session))
            return {o.pk: o for o in objs}
        out: dict[str, M] = {}
        for ident in ids:
            found = yield from collect(self.filter(id=ident)._rows_op(session))
            out.update((str(o.pk), o) for o in found)
        return out

    # -- evaluation, sync ----------------------------------------------------------------

    def _run(self, op: Op[R]) -> R:
        return self._session_for().driver.run(op)

    def _fetch(self) -> list[M]:
        if self._cache is None:
            self._cache = self._run(collect(self._rows_op(self._session_for())))
        return self._cache

    def __iter__(self) -> Iterator[M]:
        return iter(self._fetch())

    def __len__(self) -> int:
        return len(self._fetch())

    def __bool__(self) -> bool:
        return bool(self._fetch())

    def iterator(self) -> Iterator[M]:
        """Stream the results one page at a time, without caching them."""
        session = self._session_for()
        return session.driver.stream(self._rows_op(session))

    def count(self) -> int:
        """How many match (pages through the matches; the server has no count)."""
        if self._cache is not None:
            return len(self._cache)
        return self._run(self._count_op(self._session_for()))

    def exists(self) -> bool:
        return self.first() is not None

    def first(self) -> M | None:
        if self._cache is not None:
            return self._cache[0] if self._cache else None
        return self._run(self._first_op(self._session_for()))

    def last(self) -> M | None:
        return self.reverse().first()

    def get(self, *args: Q, **lookups: Any) -> M:
        """The one object matching; ``DoesNotExist`` or ``MultipleObjectsReturned`` otherwise."""
        qs = self.filter(*args, **lookups) if args or lookups else self
        return self._run(qs._get_op(self._session_for()))

    def in_bulk(self, id_list: Iterable[str] | None = None) -> dict[str, M]:
        """``{id: object}`` for the given ids (one GET each), or for every match."""
        return self._run(self._in_bulk_op(self._session_for(), id_list))

    def create(self, **fields: Any) -> M:
        return self._run(self._create_op(self._session_for(), fields))

    def get_or_create(self, defaults: dict[str, Any] | None = None,
                      **lookups: Any) -> tuple[M, bool]:
        return self._run(self._get_or_create_op(self._session_for(), defaults, lookups, False))

    def update_or_create(self, defaults: dict[str, Any] | None = None,
                         **lookups: Any) -> tuple[M, bool]:
        return self._run(self._get_or_create_op(self._session_for(), defaults, lookups, True))

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
                          lookups: dict[str, Any], update: bool) -> Op[tuple[M, bool]]:
        self.model._refuse_writes()
        try:
            obj: M = yield from self.filter(**lookups)._get_op(session)
        except self.model.DoesNotExist:
            made = yield from self._create_op(session, _create_fields(lookups, defaults))
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
        session = self._session_for()
        return session.async_driver.stream(self._rows_op(session))

    async def acount(self) -> int:
        if self._cache is not None:
            return len(self._cache)
        return await self._arun(self._count_op(self._session_for()))

    async def aexists(self) -> bool:
        return await self.afirst() is not None

    async def afirst(self) -> M | None:
        return await self._arun(self._first_op(self._session_for()))

    async def alast(self) -> M | None:
        return await self.reverse().afirst()

    async def aget(self, *args: Q, **lookups: Any) -> M:
        qs = self.filter(*args, **lookups) if args or lookups else self
        return await self._arun(qs._get_op(self._session_for()))

    async def ain_bulk(self, id_list: Iterable[str] | None = None) -> dict[str, M]:
        return await self._arun(self._in_bulk_op(self._session_for(), id_list))

    async def acreate(self, **fields: Any) -> M:
        return await self._arun(self._create_op(self._session_for(), fields))

    async def aget_or_create(self, defaults: dict[str, Any] | None = None,
                             **lookups: Any) -> tuple[M, bool]:
        op = self._get_or_create_op(self._session_for(), defaults, lookups, False)
        return await self._arun(op)

    async def aupdate_or_create(self, defaults: dict[str, Any] | None = None,
                                **lookups: Any) -> tuple[M, bool]:
        op = self._get_or_create_op(self._session_for(), defaults, lookups, True)
        return await self._arun(op)

    async def aupdate(self, **fields: Any) -> int:
        _check_update(self.model, fields)
        return await self._arun(self._update_op(self._session_for(), fields))

    async def adelete(self) -> int:
        return await self._arun(self._delete_op(self._session_for()))

    async def abulk_create(self, objs: Iterable[M], *, concurrency: int = 8
                           ) -> list[M | DataForceError]:
        """Save unsaved objects concurrently (at most ``concurrency`` at once), in order.

        Each slot holds the created object, or the library error that item raised: one
        failure does not abort the rest.
        """
        self.model._refuse_writes()
        if concurrency < 1:
            raise ValidationError("concurrency", "must be at least 1")
        items = list(objs)
        seen: set[int] = set()
        for i, obj in enumerate(items):  # bad input fails the call before any request
            where = f"objs[{i}]"
            if not isinstance(obj, self.model):
                raise ValidationError(where, f"must be a {self.model.__name__}")
            if id(obj) in seen:  # two creates would race to fill in one object
                raise ValidationError(where, "the same object is listed twice")
            seen.add(id(obj))
            if obj.pk is not None:
                raise ValidationError(where, f"is already saved (id {obj.pk})")
            try:
                obj._validate(creating=True)
            except ValidationError as exc:
                raise ValidationError(f"{where}.{exc.field}", exc.rule) from None
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


def _create_fields(lookups: dict[str, Any], defaults: dict[str, Any] | None) -> dict[str, Any]:
    plain = {k: v for k, v in lookups.items() if "__" not in k or k.endswith("__exact")}
    if "id" in plain or "id__exact" in plain:
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
