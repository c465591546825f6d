"""Bad input, driven by Hypothesis, at every public entry point.

Each case must end in a ValidationError naming the field (or the documented error: a
ConfigurationError for a base URL, a TypeError for an unknown keyword argument), raised before
any request: the server's request log and its rows are unchanged. The number of cases run is
printed at the end (``DFO_BAD_INPUT_EXAMPLES`` sets the examples per test; default 60).

``benchmarks/reliability.py`` runs the same tests through :func:`run_all`.
"""

from __future__ import annotations

import asyncio
import os
import string
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import attrs
import pytest
from figures import Figures
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataforce_orm import (
    AsyncDataForceClient,
    Collection,
    ConfigurationError,
    DataForceClient,
    Q,
    RetryPolicy,
    Session,
    ValidationError,
)
from dataforce_orm.testing import LocalServer

EXAMPLES = int(os.environ.get("DFO_BAD_INPUT_EXAMPLES", "60"))
CASES: Counter[str] = Counter()  # entry point -> cases run

FIELDS = Collection._fields
TYPES = ("model", "dataset", "experiment", "model_dataset", "dataset_experiment",
         "model_experiment", "mixed")
case = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
many = settings(case, max_examples=EXAMPLES * 5)  # for the widest strategies


@dataclass
class Ctx:
    """A server, a session on an orbit of its own, one saved collection, a facade client."""

    server: LocalServer
    session: Session
    orbit_id: str
    saved: Collection
    client: DataForceClient

    @contextmanager
    def refused(self, entry: str, field: str, error: type[Exception] = ValidationError
                ) -> Iterator[None]:
        """The body must raise ``error`` naming ``field``, sending nothing, changing nothing."""
        sent, rows = len(self.server.request_log), self.server.collection_rows(self.orbit_id)
        with pytest.raises(error) as info:
            yield
        err = info.value
        if isinstance(err, ValidationError):
            assert err.field == field or err.field.startswith((f"{field}[", f"{field}.")), (
                err.field, field)
            assert str(err).startswith(f"{err.field}: ")
        else:
            assert field in str(err), (str(err), field)
        assert len(self.server.request_log) == sent, "a request was sent"
        assert self.server.collection_rows(self.orbit_id) == rows
        CASES[entry] += 1


def make_ctx(server: LocalServer) -> Ctx:
    orbit_id = server.add_orbit(server.organization_id, f"bad-input-{uuid.uuid4().hex[:8]}")
    session = Session(api_key=server.api_key, base_url=server.url,
                      organization=server.organization_id, orbit=orbit_id,
                      retry=RetryPolicy(attempts=1))
    saved = Collection.objects.using(session).create(
        name="kept", description="unchanged", collection_type="model", tags=["a"])
    client = DataForceClient(base_url=server.url, api_key=server.api_key,
                             organization=server.organization_id, orbit=orbit_id)
    return Ctx(server, session, orbit_id, saved, client)


@pytest.fixture(scope="module")
def ctx(server: LocalServer, figures: Figures) -> Iterator[Ctx]:
    made = make_ctx(server)
    yield made
    made.session.close()
    made.client.close()
    figures.add(f"bad inputs tried: {sum(CASES.values())} "
                f"({', '.join(f'{k}={v}' for k, v in sorted(CASES.items()))})")


# -- strategies -------------------------------------------------------------------------------

# Values that are not strings (None is not a string either).
not_str = st.one_of(
    st.none(), st.integers(), st.floats(allow_nan=True), st.booleans(), st.binary(max_size=8),
    st.lists(st.integers(), max_size=3), st.tuples(st.text(max_size=3)),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2), st.just(object()),
    st.just(b"bytes"), st.just(["list", "of", "str"]),
)
# Text holding a lone surrogate: a str, but not valid Unicode (it cannot be sent or stored).
surrogated = st.tuples(st.text(max_size=5), st.sampled_from(["\ud800", "\udbff", "\udc80"]),
                       st.text(max_size=5)).map("".join)
not_iterable = st.one_of(st.integers(), st.floats(), st.booleans(), st.just(object()))
non_bool = st.one_of(st.none(), st.integers(), st.text(max_size=4), st.floats())


def oversize(limit: int) -> st.SearchStrategy[str]:
    return st.text(min_size=limit + 1, max_size=limit + 40)


def bad_tags() -> st.SearchStrategy[Any]:
    ok_tag = st.text(max_size=8)
    return st.one_of(
        st.lists(ok_tag, min_size=51, max_size=60),  # too many
        st.tuples(st.lists(ok_tag, max_size=5), not_str, st.lists(ok_tag, max_size=5)).map(
            lambda t: [*t[0], t[1], *t[2]]),  # a non-string tag
        st.tuples(st.lists(ok_tag, max_size=5), oversize(64) | surrogated).map(
            lambda t: [*t[0], t[1]]),  # an oversize tag, or not valid Unicode
        st.text(max_size=10), st.binary(max_size=10),  # a string is not a list of strings
        not_iterable,
    )


bad_enum = st.one_of(
    st.text(max_size=20).filter(lambda s: s not in TYPES), st.integers(), st.floats(),
    st.just("MODEL"), st.just(" model"), st.lists(st.just("model"), min_size=1, max_size=2),
)
not_uuid = st.one_of(st.text(max_size=40).filter(lambda s: _as_uuid(s) is None), not_str)
ident = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=20)


def _as_uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text))
    except (ValueError, AttributeError, TypeError):
        return None


def bad_field(name: str) -> st.SearchStrategy[Any]:
    """Bad values for one editable field (``None`` is fine for tags, nothing else is)."""
    return {
        "name": st.one_of(not_str, oversize(100), surrogated),
        "description": st.one_of(not_str, oversize(1000), surrogated),
        "tags": bad_tags(),
        "collection_type": bad_enum,
    }[name]


bad_edit = st.sampled_from(["name", "description", "tags", "collection_type"]).flatmap(
    lambda f: st.tuples(st.just(f), bad_field(f)))
# Creating also needs a collection type.
bad_create = st.one_of(bad_edit, st.just(("collection_type", None)))


# -- the model: constructor, setters, save -----------------------------------------------------


@case
@given(edit=bad_edit)
def test_constructor(ctx: Ctx, edit: tuple[str, Any]) -> None:
    field, value = edit
    with ctx.refused("Collection()", field):
        Collection(**{field: value})


@case
@given(edit=bad_edit)
def test_setters_leave_the_object_unchanged(ctx: Ctx, edit: tuple[str, Any]) -> None:
    field, value = edit
    obj = Collection.objects.using(ctx.session).model(name="n", collection_type="dataset")
    before = repr(obj)
    with ctx.refused("setattr", field):
        setattr(obj, field, value)
    assert repr(obj) == before


@case
@given(tags=bad_tags().filter(lambda t: isinstance(t, list)), new=st.booleans())
def test_save_catches_in_place_edits(ctx: Ctx, tags: list[Any], new: bool) -> None:
    """Setters cannot see ``obj.tags.append(...)``; save() checks again before sending."""
    if new:
        obj = Collection(name="n", collection_type="model", tags=[])
    else:
        obj = Collection.objects.using(ctx.session).get(id=ctx.saved.id)
    assert obj.tags is not None
    obj.tags.extend(tags)
    with ctx.refused("save", "tags"):
        obj.save(using=ctx.session)


@case
@given(value=st.sampled_from(TYPES[1:]), field=st.sampled_from(["collection_type", "name"]))
def test_save_refuses_what_cannot_change(ctx: Ctx, value: str, field: str) -> None:
    obj = Collection.objects.using(ctx.session).get(id=ctx.saved.id)
    setattr(obj, field, value if field == "collection_type" else "")
    with ctx.refused("save", field):
        obj.save()


@case
@given(fields=st.lists(st.one_of(ident, not_str), min_size=1, max_size=3).filter(
    lambda fs: any(f not in ("name", "description", "tags") for f in fs)))
def test_save_update_fields(ctx: Ctx, fields: list[Any]) -> None:
    obj = Collection.objects.using(ctx.session).get(id=ctx.saved.id)
    obj.description = "changed"
    with ctx.refused("save(update_fields)", "update_fields"):
        obj.save(update_fields=fields)


def test_unsaved_refresh_and_delete(ctx: Ctx) -> None:
    for call in ("refresh", "delete"):
        with ctx.refused(call, "id"):
            getattr(Collection(name="never saved"), call)(using=ctx.session)


# -- the manager and the queryset ------------------------------------------------------------


@case
@given(edit=bad_create, async_=st.booleans())
def test_manager_create(ctx: Ctx, edit: tuple[str, Any], async_: bool) -> None:
    field, value = edit
    fields = {"name": "n", "collection_type": "model", field: value}
    objects = Collection.objects.using(ctx.session)
    with ctx.refused("Manager.create", field):
        if async_:
            asyncio.run(objects.acreate(**fields))
        else:
            objects.create(**fields)


@case
@given(name=ident.filter(lambda n: n not in {a.alias for a in attrs.fields(Collection)}))
def test_manager_create_unknown_argument(ctx: Ctx, name: str) -> None:
    with ctx.refused("Manager.create", name, TypeError):
        Collection.objects.using(ctx.session).create(**{name: "x"})


# A lookup takes None (field=None is field__isnull=True, None in __in matches a null) and,
# where a string or a time is taken, uuid.UUID, date and naive (UTC) datetime values.
lookup_not_str = not_str.filter(lambda v: v is not None)
lookup_not_uuid = not_uuid.filter(lambda v: v is not None)


def _bad_value(kind: str, op: str) -> st.SearchStrategy[Any]:
    """Values a lookup of this kind and op must refuse."""
    if op == "isnull":
        return non_bool
    if op == "in":
        inner = {"id": lookup_not_uuid, "str": st.one_of(lookup_not_str, surrogated),
                 "enum": bad_enum,
                 "num": st.one_of(st.floats(), st.text(max_size=3), st.booleans())}[kind]
        return st.one_of(not_iterable, st.text(min_size=1, max_size=3),
                         st.lists(inner, min_size=1, max_size=3))
    if kind == "tags":
        if op == "exact":
            return st.one_of(not_iterable, st.text(min_size=1, max_size=3),
                             st.lists(st.integers(), min_size=1, max_size=3))
        return st.one_of(not_iterable, st.lists(st.integers(), min_size=1, max_size=3),
                         st.lists(surrogated, min_size=1, max_size=3))
    return {
        "id": lookup_not_uuid,
        "str": st.one_of(lookup_not_str, surrogated),
        "enum": bad_enum,
        "num": st.one_of(st.floats(), st.text(max_size=5), st.booleans()),
        "time": st.one_of(st.integers(), st.floats(),
                          st.text(max_size=12).filter(lambda s: not _is_time(s))),
    }[kind]


def _is_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        return False
    return True


LOOKUPS = [(f, op) for f, kind in FIELDS.items()
           for op in {"id": ("exact", "in"), "str": ("exact", "icontains", "startswith", "in"),
                      "enum": ("exact", "in"), "tags": ("contains", "overlap", "isnull", "exact"),
                      "num": ("exact", "gt", "lte", "in"), "time": ("gt", "lte", "isnull")}[kind]]


bad_lookup = st.one_of(
    # a known lookup with a value it cannot take
    st.sampled_from(LOOKUPS).flatmap(lambda fo: st.tuples(
        st.just(fo[0] if fo[1] == "exact" else f"{fo[0]}__{fo[1]}"),
        _bad_value(FIELDS[fo[0]], fo[1]))),
    # an unknown field
    st.tuples(ident.filter(lambda f: f.split("__")[0] not in FIELDS), st.text(max_size=3)),
    # an unknown operator on a known field
    st.tuples(st.tuples(st.sampled_from(sorted(FIELDS)), ident).map(lambda t: f"{t[0]}__{t[1]}")
              .filter(lambda k: k.split("__", 1)[1] not in (
                  "exact", "iexact", "contains", "icontains", "startswith", "istartswith",
                  "endswith", "iendswith", "in", "overlap", "isnull", "gt", "gte", "lt", "lte")),
              st.just("x")),
)


@many
@given(lookup=bad_lookup, how=st.sampled_from(["filter", "exclude", "Q", "~Q|Q", "get",
                                                "aget", "get_or_create", "in_bulk"]))
def test_lookups(ctx: Ctx, lookup: tuple[str, Any], how: str) -> None:
    key, value = lookup
    objects = Collection.objects.using(ctx.session)
    calls: dict[str, Callable[[], Any]] = {
        "filter": lambda: objects.filter(**{key: value}),
        "exclude": lambda: objects.exclude(**{key: value}),
        "Q": lambda: objects.filter(Q(name="n") & Q(**{key: value})),
        "~Q|Q": lambda: objects.filter(~Q(name="n") | Q(**{key: value})),
        "get": lambda: objects.get(**{key: value}),
        "aget": lambda: asyncio.run(objects.aget(**{key: value})),
        "get_or_create": lambda: objects.get_or_create(**{key: value}),
        "in_bulk": lambda: objects.filter(**{key: value}).in_bulk(),
    }
    with ctx.refused(f"lookup via {how}", key):
        calls[how]()


@case
@given(ids=st.lists(not_uuid, min_size=1, max_size=3))
def test_in_bulk_ids(ctx: Ctx, ids: list[Any]) -> None:
    with ctx.refused("in_bulk", "id"):
        Collection.objects.using(ctx.session).in_bulk(ids)


@case
@given(arg=st.one_of(not_str.filter(lambda v: not isinstance(v, Q)), st.text(max_size=5)))
def test_positional_filter_arguments(ctx: Ctx, arg: Any) -> None:
    with ctx.refused("filter(positional)", "args"):
        Collection.objects.using(ctx.session).filter(arg)


@case
@given(spec=st.one_of(not_str, st.text(max_size=12).filter(
    lambda s: s.lstrip("-") not in (*FIELDS, "pk"))))
def test_order_by(ctx: Ctx, spec: Any) -> None:
    with ctx.refused("order_by", "order_by"):
        Collection.objects.using(ctx.session).order_by("name", spec)


@case
@given(key=st.one_of(
    st.integers(max_value=-1),
    st.builds(slice, st.integers(max_value=-1), st.none() | st.integers(min_value=0)),
    st.builds(slice, st.none() | st.integers(min_value=0), st.integers(max_value=-1)),
    st.builds(slice, st.none(), st.none(), st.integers().filter(lambda n: n != 1)),
    st.builds(slice, st.floats() | st.text(max_size=3), st.none() | st.integers(0, 5)),
    st.builds(slice, st.none() | st.integers(0, 5), st.floats() | st.text(max_size=3)),
    st.floats(), st.text(max_size=3), st.none(), st.tuples(st.integers()),
))
def test_slicing(ctx: Ctx, key: Any) -> None:
    with ctx.refused("slicing", "index"):
        Collection.objects.using(ctx.session).all()[key]


@case
@given(edit=bad_edit.filter(lambda e: e[0] != "collection_type"), async_=st.booleans())
def test_queryset_update(ctx: Ctx, edit: tuple[str, Any], async_: bool) -> None:
    field, value = edit
    qs = Collection.objects.using(ctx.session).filter(name="kept")
    with ctx.refused("QuerySet.update", field):
        if async_:
            asyncio.run(qs.aupdate(**{field: value}))
        else:
            qs.update(**{field: value})


@case
@given(field=st.one_of(ident.filter(lambda f: f not in ("name", "description", "tags")),
                       st.sampled_from(["id", "collection_type", "created_at", "orbit_id"])))
def test_queryset_update_of_fields_that_cannot_change(ctx: Ctx, field: str) -> None:
    with ctx.refused("QuerySet.update", field):
        Collection.objects.using(ctx.session).all().update(**{field: "x"})


# -- configuration: RetryPolicy and Session --------------------------------------------------


@case
@given(arg=st.one_of(
    st.tuples(st.just("attempts"), st.one_of(st.integers(max_value=0), st.floats(),
                                             st.text(max_size=3), st.booleans(), st.none())),
    st.tuples(st.sampled_from(["deadline", "backoff", "max_backoff", "max_retry_after"]),
              st.one_of(st.floats(max_value=-1e-9), st.integers(max_value=-1),
                        st.just(float("nan")), st.text(max_size=3), st.booleans())),
    st.tuples(st.sampled_from(["backoff", "max_backoff", "max_retry_after"]), st.none()),
    st.tuples(st.just("statuses"), st.one_of(st.text(max_size=3), not_iterable,
                                             st.lists(st.text(max_size=3), min_size=1))),
))
def test_retry_policy(ctx: Ctx, arg: tuple[str, Any]) -> None:
    field, value = arg
    with ctx.refused("RetryPolicy", field):
        RetryPolicy(**{field: value})


session_arg = st.one_of(
    st.tuples(st.sampled_from(["api_key", "organization", "orbit", "collection"]),
              not_str.filter(lambda v: v is not None and v != b"")),
    st.tuples(st.just("timeout"), st.one_of(
        st.text(max_size=3), st.none(), st.booleans(), st.floats(max_value=0),
        st.integers(max_value=0), st.tuples(st.floats(min_value=1, max_value=2)),
        st.just(float("inf")), st.just((1.0, float("inf"))), st.just(float("nan")),
        st.tuples(st.floats(0.1, 1), st.floats(0.1, 1), st.floats(0.1, 1)),
        st.tuples(st.floats(0.1, 1), st.text(max_size=2)))),
    st.tuples(st.just("retry"), st.one_of(st.integers(), st.text(max_size=3),
                                          st.dictionaries(st.just("attempts"), st.integers()))),
)


@case
@given(arg=session_arg)
def test_session(ctx: Ctx, arg: tuple[str, Any]) -> None:
    field, value = arg
    kwargs: dict[str, Any] = {"api_key": "dfs_x", "base_url": ctx.server.url}
    with ctx.refused("Session", field):
        Session(**{**kwargs, field: value})


@case
@given(url=st.one_of(
    # (not a false value: that means "not given", so the default URL)
    st.integers(min_value=1), st.floats(min_value=0.5), st.just(True), st.just(object()),
    st.just(b"https://example.com"), st.just(["https://example.com"]),
    st.sampled_from(["ftp://example.com", "example.com", "https://", "file:///etc/passwd",
                     "http://example.com", "http://10.0.0.1:8000", "http://localhost.evil.com",
                     "http://127.0.0.1.nip.io", "javascript:alert(1)", "//example.com"]),
))
def test_session_base_url(ctx: Ctx, url: Any) -> None:
    with ctx.refused("Session", "base_url", ConfigurationError):
        Session(api_key="dfs_x", base_url=url)


# -- the seed facade -------------------------------------------------------------------------


@case
@given(edit=bad_create, async_=st.booleans())
def test_facade_create(ctx: Ctx, edit: tuple[str, Any], async_: bool) -> None:
    field, value = edit
    args = {"description": "d", "name": "n", "collection_type": "model", "tags": None,
            field: value}
    with ctx.refused("client.collections.create", field):
        if async_:
            asyncio.run(_async_client(ctx).collections.create(**args))
        else:
            ctx.client.collections.create(**args)


@case
@given(edit=bad_edit.filter(lambda e: e[0] != "collection_type" and e[1] is not None))
def test_facade_update(ctx: Ctx, edit: tuple[str, Any]) -> None:
    field, value = edit
    with ctx.refused("client.collections.update", field):
        ctx.client.collections.update(**{field: value}, collection_id=str(ctx.saved.id))


@case
@given(value=not_str.filter(lambda v: v is not None),
       call=st.sampled_from(["get", "delete", "update", "aget", "adelete"]))
def test_facade_ids_and_names(ctx: Ctx, value: Any, call: str) -> None:
    field = "collection_value" if call.endswith("get") else "collection_id"
    with ctx.refused(f"client.collections.{call.lstrip('a')}", field):
        if call == "get":
            ctx.client.collections.get(value)
        elif call == "delete":
            ctx.client.collections.delete(value)
        elif call == "update":
            ctx.client.collections.update(description="d", collection_id=value)
        elif call == "aget":
            asyncio.run(_async_client(ctx).collections.get(value))
        else:
            asyncio.run(_async_client(ctx).collections.delete(value))


@case
@given(field=st.sampled_from(["organization", "orbit", "collection"]),
       value=not_str.filter(lambda v: v is not None))
def test_facade_settings(ctx: Ctx, field: str, value: Any) -> None:
    with ctx.refused("DataForceClient", field):
        DataForceClient(base_url=ctx.server.url, api_key="dfs_x", **{field: value})
    with ctx.refused("client setters", field):
        setattr(ctx.client, field, value)


def test_facade_update_of_the_empty_name(ctx: Ctx) -> None:
    with ctx.refused("client.collections.update", "name"):
        ctx.client.collections.update(name="", collection_id=str(ctx.saved.id))


def _async_client(ctx: Ctx) -> AsyncDataForceClient:
    return AsyncDataForceClient(base_url=ctx.server.url, api_key=ctx.server.api_key,
                                organization=ctx.server.organization_id, orbit=ctx.orbit_id)


def test_the_saved_collection_survived(ctx: Ctx) -> None:
    (row,) = ctx.server.collection_rows(ctx.orbit_id)
    assert (row["id"], row["name"], row["description"], row["tags"]) == (
        ctx.saved.id, "kept", "unchanged", ["a"])


# -- for benchmarks/reliability.py -------------------------------------------------------------

TESTS = [v for k, v in sorted(globals().items()) if k.startswith("test_") and callable(v)]


def run_all(server: LocalServer) -> Counter[str]:
    """Run every test above against ``server``; returns the cases run per entry point."""
    CASES.clear()
    made = make_ctx(server)
    try:
        for test in TESTS:
            test(ctx=made)
    finally:
        made.session.close()
        made.client.close()
    return Counter(CASES)

