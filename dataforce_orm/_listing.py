"""Listings: the pager that walks a listing's pages (and stops a server that would make it loop),
the server parameters that narrow it, the checks run on the client, and the walk a QuerySet
streams."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._errors import APIError, ObjectDoesNotExist
from ._lookups import Lookup, Node, positive_lookups, search_escape
from ._model import load_many, load_one, wire_error
from ._protocol import Batch, Op, Request, Response

if TYPE_CHECKING:
    from ._model import ModelBase
    from ._session import Session

PAGE = 100  # the largest page the server gives


def _id_key(pk: Any) -> Any:
    """A compact key for an id already seen (a UUID as an int: ~40 bytes, not ~85)."""
    if isinstance(pk, str) and len(pk) == 36:
        try:
            return int(pk.replace("-", ""), 16)
        except ValueError:
            pass
    return pk


class Pager:
    """One walk through a listing: the next request, and each answer's items.

    A keyset listing gives each id once: a row seen before (one moved past the cursor while
    the walk goes on) is left out. A server that would make the walk loop is stopped with an
    APIError naming the route: a cursor it sent before, or pages that bring no new id for
    longer than the rows already seen could explain by moving (each may come back once).
    """

    def __init__(self, model: type[ModelBase], session: Session, path: str,
                 params: list[tuple[str, str]], paged: bool) -> None:
        self.model, self.session, self.path, self.params, self.paged = (
            model, session, path, params, paged)
        self.cursor: str | None = None
        self.done = False
        self._cursors: set[str] = set()
        self._ids: set[Any] = set()
        self._stale = 0  # items seen again since the last page that brought a new id

    def next_request(self) -> Request | None:
        if self.done:
            return None
        params = [*self.params, ("cursor", self.cursor)] if self.cursor else self.params
        return Request("GET", self.path, tuple(params))

    def load(self, req: Request, item: Any) -> Any:
        """One listed item as a model object (a wrong shape is an APIError)."""
        return load_one(self.model, req, item, self.session)

    def feed(self, req: Request, resp: Response, load: bool = True,
             keep: Callable[[Any], bool] | None = None) -> list[Any]:
        """The page's objects (its raw items if not ``load``; only the items ``keep`` passes,
        if given); the next request is set up."""
        data = resp.data
        if not self.paged:
            self.done = True
            if not isinstance(data, list):
                raise wire_error(req, "expected a JSON array")
            items: list[Any] = data
        else:
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise wire_error(req, "expected {'items': [...], 'cursor': ...}")
            cursor = data.get("cursor")
            if cursor is not None and not isinstance(cursor, str):
                raise wire_error(req, "cursor is not a string")
            if cursor in self._cursors:
                raise _looping(req, "repeated a pagination cursor")
            items = self._fresh(req, data["items"], more=cursor is not None)
            if cursor is None:
                self.done = True
            else:
                self._cursors.add(cursor)
            self.cursor = cursor
        if keep is not None:
            items = [item for item in items if not isinstance(item, dict) or keep(item)]
        return load_many(self.model, req, items, self.session) if load else items

    def _fresh(self, req: Request, items: list[Any], more: bool) -> list[Any]:
        """The items whose ids this walk has not seen; a page with none, while the server
        promises more, counts towards the loop guard."""
        fresh = []
        seen = self._ids
        for item in items:
            key = _id_key(item.get("id")) if isinstance(item, dict) else None
            if key is None:
                fresh.append(item)
            elif key not in seen:
                seen.add(key)
                fresh.append(item)
        if fresh:
            self._stale = 0
        elif more:
            self._stale += max(1, len(items))
            if self._stale > len(self._ids):
                raise _looping(req, "sent pages with no new id")
        return fresh


def _looping(req: Request, what: str) -> APIError:
    return APIError(200, req.method, req.path, f"the server {what}; stopping instead of looping")


# -- narrowing on the server ------------------------------------------------------------------


def _search_term(lk: Lookup) -> str | None:
    """A text every match's searched wire text must contain (case-insensitively), if any."""
    if not lk.spec.search:
        return None
    if lk.spec.kind == "str":
        if lk.op == "in":
            only = next(iter(lk.value)) if len(lk.value) == 1 else None
            return only if isinstance(only, str) else None
        if lk.op in ("isnull", "range") or lk.transform is not None:
            return None
        term: str = lk.value
        # The server folds case for ASCII only on some databases: i-lookups narrow on ASCII.
        return term if (not lk.op.startswith("i") or term.isascii()) else None
    if lk.spec.kind == "tags" and lk.op in ("contains", "overlap") and (
            lk.op == "contains" or len(lk.value) == 1):
        # the tag is searched inside the stored JSON text: only plain printable ASCII is safe
        safe = [t for t in lk.value if t.isascii() and t.isprintable() and not set(t) & {'"', "\\"}]
        return max(safe, key=len, default=None)
    return None


def narrowing(node: Node | None) -> list[tuple[str, str]]:
    """Server-side parameters (``search``, list filters) that cannot drop a match of ``node``."""
    params: list[tuple[str, str]] = []
    lookups = list(positive_lookups(node))
    terms = [t for t in map(_search_term, lookups) if t]
    if terms:
        params.append(("search", search_escape(max(terms, key=len))))
    used: set[str] = set()
    for lk in lookups:
        param = lk.spec.server_filter
        if param is None or param in used or lk.op not in ("exact", "in") \
                or (lk.op == "in" and None in lk.value):
            continue
        values = {_wire_value(lk.value)} if lk.op == "exact" else set(map(_wire_value, lk.value))
        allowed = lk.spec.server_values
        if values and (allowed is None or values <= allowed):
            params.extend((param, v) for v in sorted(values))
            used.add(param)
    return params


def _wire_value(value: Any) -> str:
    return str(getattr(value, "value", value))


def server_order(model: type[ModelBase], order: tuple[str, ...]
                 ) -> tuple[list[tuple[str, str]], bool]:
    """Sort parameters for ``order``, and whether the client must sort instead."""
    if not order:
        return [], False
    keys = model._sort_keys
    if len(order) == 1 and order[0].lstrip("-") in keys:
        field = order[0].lstrip("-")
        return [("sort_by", keys[field]),
                ("order", "desc" if order[0].startswith("-") else "asc")], False
    return [], True


# -- checks on the client ---------------------------------------------------------------------


def wire_prefilter(node: Node | None) -> Callable[[Any], bool] | None:
    """A check of raw page items against the lookups every match must pass on fields whose wire
    value is the attribute value (strings and tags under their own name), so most
    non-matches are dropped before an object is built for them. Objects are still checked."""
    lookups = [lk for lk in positive_lookups(node)
               if lk.spec.kind in ("str", "tags") and lk.spec.key == lk.field]
    if not lookups:
        return None

    def keep(item: Any) -> bool:
        try:
            return all(lk.test_value(item.get(lk.field)) for lk in lookups)
        except (TypeError, AttributeError):  # a malformed item: loading it reports the error
            return True

    return keep


def exact_id(node: Node | None) -> str | None:
    """The id an ``id=...`` lookup every match must have, if there is one."""
    for lk in positive_lookups(node):
        if lk.field == "id" and lk.op == "exact":
            return str(lk.value)
    return None


def parents_of(model: type[ModelBase], node: Node | None) -> dict[str, str]:
    """Parent ids every match shares (``collection`` from an exact ``collection_id``)."""
    fields = {f: name for name, f in model._parent_fields.items() if name in model._needs}
    if not fields:
        return {}
    return {fields[lk.field]: str(lk.value) for lk in positive_lookups(node)
            if lk.op == "exact" and lk.field in fields}


def _sort_key(field: str) -> Callable[[Any], Any]:
    base, _, metric = field.partition("__")
    if metric:  # a key of a dict field: numbers only, others count as missing
        def by_metric(obj: Any) -> Any:
            v = (getattr(obj, base) or {}).get(metric)
            number = isinstance(v, (int, float)) and not isinstance(v, bool)
            return (not number, v if number else 0)

        return by_metric

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


# -- the walk ---------------------------------------------------------------------------------


def rows_op(model: Any, session: Session, where: Node | None, order: tuple[str, ...],
            low: int, high: int | None, reverse: bool, chunk: int) -> Op[None]:
    """Stream the objects of ``model``'s listing matching ``where``, in ``order`` (or the
    listing's own, ``reverse``d), sliced ``[low:high]``, as batches of pages of ``chunk``."""
    test = where.test if where is not None else None
    if high is not None and high <= low:
        return
    ident = exact_id(where)
    parents = parents_of(model, where)
    if ident is not None and model._can_get(parents):
        obj = yield from by_id_op(model, session, ident, parents, where)
        if obj is not None and low == 0:
            yield Batch([obj])
        return
    sort_params, sort_here = server_order(model, order)
    sort_here = sort_here or reverse
    limit = chunk
    if test is None and high is not None and not sort_here:
        limit = max(1, min(limit, high))
    pager = yield from model._pager_op(session, [*sort_params, *narrowing(where)], limit)
    skip, left = low, (None if high is None else high - low)
    matched: list[Any] = []
    keep = wire_prefilter(where)
    # Keyset pages follow the sort key's values: a row the caller changes while iterating (a
    # rename under order_by("name")) can come round again on a later page. The pager gives
    # each row once; rows that do not move keep their place after the cursor, so none is
    # missed.
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
        if reverse:
            matched.reverse()
        else:
            client_sort(matched, order)
        yield Batch(matched[low:high])


def by_id_op(model: Any, session: Session, ident: str, parents: dict[str, str],
             where: Node | None) -> Op[Any]:
    """The object with this id if it matches ``where`` (one GET), or None."""
    try:
        obj = yield from model._get_by_id_op(session, ident, parents)
    except ObjectDoesNotExist:
        return None
    return obj if where is None or where.test(obj) else None


def count_op(model: Any, session: Session) -> Op[int]:
    """How many objects the whole listing holds (items counted, no objects made)."""
    n = 0
    pager = yield from model._pager_op(session, [], PAGE)
    while (req := pager.next_request()) is not None:
        n += len(pager.feed(req, (yield req), load=False))
    return n
