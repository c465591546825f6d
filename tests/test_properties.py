"""Property tests: the wire converter round-trips, and a random QuerySet (or a random chain of
the Django habits: pk, None, ranges, date parts, none(), values(), latest(), aggregate(),
in_bulk(), iterator(chunk_size)...) returns exactly what plain Python over all the
collections returns, in the same order."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataforce_orm import Collection, CollectionType, Count, Max, Min, Q, Session
from dataforce_orm._wire import converter
from dataforce_orm.testing import LocalServer

TYPES = [t.value for t in CollectionType]
text = st.text(alphabet="aAbB_%\\ é", max_size=6)
tag_lists = st.none() | st.lists(st.sampled_from(["prod", "Prod", "a_b", "x", "é"]), max_size=3)
times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                     timezones=st.just(timezone.utc))


@st.composite
def wire_collections(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "id": str(draw(st.uuids())), "orbit_id": str(draw(st.uuids())),
        "name": draw(st.text(max_size=100)), "description": draw(st.text(max_size=50)),
        "type": draw(st.sampled_from(TYPES)), "tags": draw(tag_lists),
        "total_artifacts": draw(st.integers(0, 10**6)),
        "created_at": draw(times).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "updated_at": draw(st.none() | times.map(
            lambda t: t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))),
    }


@given(wire_collections(), st.dictionaries(st.sampled_from(["bogus", "x"]), st.integers()))
def test_converter_round_trips(data: dict[str, Any], extra: dict[str, int]) -> None:
    obj = converter.structure({**data, **extra}, Collection)
    assert obj.collection_type is CollectionType(data["type"])
    assert obj.created_at is not None and obj.created_at.tzinfo is not None
    back = converter.unstructure(obj)
    # tags the wire has as null load as an appendable [] (and stay null unless changed)
    assert {k: back[k] for k in data} == {**data, "tags": data["tags"] or []}
    assert obj._lookup_value("tags") == data["tags"]


# -- QuerySet against a reference -----------------------------------------------------------

LOOKUP_FIELDS = {
    "name": ["exact", "iexact", "contains", "icontains", "startswith", "istartswith",
             "endswith", "iendswith"],
    "description": ["exact", "icontains"],
}


def _ref_str(op: str, value: str, want: str) -> bool:
    if op.startswith("i"):
        value, want, op = value.lower(), want.lower(), op[1:]
    return {"exact": value == want, "contains": want in value,
            "startswith": value.startswith(want), "endswith": value.endswith(want)}[op]


@st.composite
def leaves(draw: st.DrawFn) -> tuple[dict[str, Any], Any]:
    kind = draw(st.sampled_from(["str", "str", "str", "type", "types", "tag", "tags_any",
                                 "isnull"]))
    if kind == "str":
        field = draw(st.sampled_from(sorted(LOOKUP_FIELDS)))
        op = draw(st.sampled_from(LOOKUP_FIELDS[field]))
        want = draw(st.text(alphabet="aAb_%\\é", max_size=2))
        return {f"{field}__{op}": want}, lambda c: _ref_str(op, getattr(c, field), want)
    if kind == "type":
        t = draw(st.sampled_from(TYPES))
        return {"collection_type": t}, lambda c: c.collection_type.value == t
    if kind == "types":
        ts = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3))
        return {"collection_type__in": ts}, lambda c: c.collection_type.value in ts
    if kind == "tag":
        tag = draw(st.sampled_from(["prod", "Prod", "a_b", "x", "é"]))
        return {"tags__contains": tag}, lambda c: tag in c.tags
    if kind == "tags_any":
        tags = draw(st.lists(st.sampled_from(["prod", "a_b", "é"]), min_size=1, max_size=2))
        return {"tags__overlap": tags}, lambda c: any(t in c.tags for t in tags)
    flag = draw(st.booleans())
    return {"tags__isnull": flag}, lambda c: (c._lookup_value("tags") is None) is flag


@st.composite
def queries(draw: st.DrawFn) -> tuple[list[tuple[str, Q]], Any, Any]:
    steps: list[tuple[str, Q]] = []
    preds: list[tuple[str, Any]] = []
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["filter", "exclude", "or"]))
        (lk1, p1), (lk2, p2) = draw(leaves()), draw(leaves())
        if how == "or":
            steps.append(("filter", Q(**lk1) | Q(**lk2)))
            preds.append(("or", (p1, p2)))
        else:
            steps.append((how, Q(**lk1)))
            preds.append((how, p1))
    order = draw(st.sampled_from([None, "name", "-name", "created_at", "-total_artifacts",
                                  "collection_type", "-description", ("collection_type", "-name")]))

    def ref(c: Collection) -> bool:
        for how, p in preds:
            ok = p[0](c) or p[1](c) if how == "or" else p(c)
            if ok != (how != "exclude"):
                return False
        return True

    return steps, ref, order


def _ref_order(items: list[Collection], order: Any) -> list[Collection]:
    keys = {"collection_type": lambda c: c.collection_type.value}
    spec = ("-created_at",) if order is None else (order if isinstance(order, tuple) else (
        order,))
    out = sorted(items, key=lambda c: c.id, reverse=spec[0].startswith("-"))
    for s in reversed(spec):
        field = s.lstrip("-")
        out.sort(key=keys.get(field, lambda c, f=field: getattr(c, f)),
                 reverse=s.startswith("-"))
    return out


_orbits = itertools.count()


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(text, st.sampled_from(["", "abc", "B_%"]), st.sampled_from(TYPES),
                            tag_lists, st.integers(0, 3)), min_size=8, max_size=30),
    query=queries(),
)
def test_queryset_matches_plain_python(server: LocalServer, rows: list[Any],
                                       query: tuple[list[tuple[str, Q]], Any, Any]) -> None:
    orbit = server.add_orbit(server.organization_id, f"prop-{next(_orbits)}")
    ids = server.insert_collections(orbit, [
        {"name": n, "description": d, "type": t, "tags": tags} for n, d, t, tags, _ in rows])
    for cid, row in zip(ids, rows, strict=False):
        if row[4]:
            server.set_artifact_count(cid, row[4])
    s = Session(api_key=server.api_key, base_url=server.url,
                organization=server.organization_id, orbit=orbit)
    everything = list(Collection.objects.using(s).all())
    assert len(everything) == len(rows)
    steps, ref, order = query
    qs = Collection.objects.using(s).all()
    for how, q in steps:
        qs = getattr(qs, how)(q)
    if order is not None:
        qs = qs.order_by(*(order if isinstance(order, tuple) else (order,)))
    expected = _ref_order([c for c in everything if ref(c)], order)
    assert [c.id for c in qs] == [c.id for c in expected]
    assert qs.count() == len(expected)
    s.close()


# -- chains of the Django habits (issue 12) against a reference -------------------------------


@st.composite
def habit_leaves(draw: st.DrawFn, ids: list[str]) -> tuple[dict[str, Any], Any]:
    """A lookup of the newer kinds (pk, None, range, date parts, __in with None) and its
    reference predicate on a loaded collection."""
    kind = draw(st.sampled_from(["pk", "pk_in", "none", "in_none", "range", "num_range",
                                 "year", "date", "plain"]))
    if kind == "pk":
        pk = draw(st.sampled_from(ids))
        return {"pk": pk}, lambda c: c.id == pk
    if kind == "pk_in":
        some = draw(st.lists(st.sampled_from(ids), max_size=3))
        return {"pk__in": some}, lambda c: c.id in some
    if kind == "none":
        field = draw(st.sampled_from(["tags", "updated_at", "collection_type"]))
        return {field: None}, lambda c: c._lookup_value(field) is None
    if kind == "in_none":
        want = draw(st.lists(st.sampled_from(["", "abc", "B_%"]), max_size=2))
        return {"description__in": [*want, None]}, lambda c: c.description in want
    if kind == "range":
        lo, hi = sorted(draw(st.lists(text, min_size=2, max_size=2)))
        return {"name__range": (lo, hi)}, lambda c: lo <= c.name <= hi
    if kind == "num_range":
        lo, hi = sorted(draw(st.lists(st.integers(0, 3), min_size=2, max_size=2)))
        return {"total_artifacts__range": (lo, hi)}, lambda c: lo <= c.total_artifacts <= hi
    if kind == "year":
        year = draw(st.sampled_from([2020, datetime.now(timezone.utc).year]))
        op = draw(st.sampled_from(["", "__gte", "__lt"]))
        ref = {"": lambda y: y == year, "__gte": lambda y: y >= year,
               "__lt": lambda y: y < year}[op]
        return {f"created_at__year{op}": year}, lambda c: ref(c.created_at.year)
    if kind == "date":
        today = datetime.now(timezone.utc).date()
        return {"created_at__date__lte": today}, lambda c: c.created_at.date() <= today
    return draw(leaves())


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.tuples(text, st.sampled_from(["", "abc", "B_%"]), st.sampled_from(TYPES),
                            tag_lists, st.integers(0, 3)), min_size=3, max_size=15),
    data=st.data(),
)
def test_django_habit_chains_match_plain_python(server: LocalServer, rows: list[Any],
                                                data: st.DataObject) -> None:
    orbit = server.add_orbit(server.organization_id, f"habit-{next(_orbits)}")
    ids = server.insert_collections(orbit, [
        {"name": n, "description": d, "type": t, "tags": tags} for n, d, t, tags, _ in rows])
    for cid, row in zip(ids, rows, strict=False):
        if row[4]:
            server.set_artifact_count(cid, row[4])
    s = Session(api_key=server.api_key, base_url=server.url,
                organization=server.organization_id, orbit=orbit)
    everything = list(Collection.objects.using(s).all())
    qs = Collection.objects.using(s).all()
    preds: list[tuple[bool, Any]] = []
    for _ in range(data.draw(st.integers(0, 3))):
        lookup, pred = data.draw(habit_leaves(ids))
        keep = data.draw(st.booleans())
        qs = qs.filter(**lookup) if keep else qs.exclude(**lookup)
        preds.append((keep, pred))
    if data.draw(st.booleans()):
        qs = qs.none()
        preds.append((True, lambda c: False))
    if data.draw(st.booleans()):
        qs = qs.distinct().only("name").defer("description")
    order = data.draw(st.sampled_from([None, "name", "-name", "pk", "-total_artifacts"]))
    if order is not None:
        qs = qs.order_by(order)
    expected = _ref_order([c for c in everything if all(p(c) is k for k, p in preds)],
                          None if order is None else order.replace("pk", "id"))
    ending = data.draw(st.sampled_from(["list", "values", "flat", "count", "exists", "first",
                                        "last", "latest", "aggregate", "in_bulk", "iterator"]))
    if ending == "list":
        assert [c.id for c in qs] == [c.id for c in expected]
    elif ending == "values":
        assert list(qs.values("pk", "name")) == [{"id": c.id, "name": c.name} for c in expected]
    elif ending == "flat":
        assert list(qs.values_list("name", flat=True)) == [c.name for c in expected]
    elif ending == "count":
        assert qs.count() == len(expected)
    elif ending == "exists":
        assert qs.exists() is bool(expected)
    elif ending == "first":
        got = qs.first()
        assert (got.id if got else None) == (expected[0].id if expected else None)
    elif ending == "last":
        got = qs.last()
        assert (got.id if got else None) == (expected[-1].id if expected else None)
    elif ending == "latest":
        field = data.draw(st.sampled_from(["created_at", "name", "-total_artifacts"]))
        ref = _ref_order(expected, "-" + field if not field.startswith("-") else field[1:])
        if ref:
            assert qs.latest(field) == ref[0]
        else:
            with pytest.raises(Collection.DoesNotExist):
                qs.latest(field)
    elif ending == "aggregate":
        names = [c.name for c in expected]
        assert qs.aggregate(Count("id"), Min("name"), top=Max("total_artifacts"),
                            tagged=Count("tags")) == {
            "id__count": len(expected), "name__min": min(names, default=None),
            "top": max((c.total_artifacts for c in expected), default=None),
            "tagged": sum(1 for c in expected if c._lookup_value("tags") is not None)}
    elif ending == "in_bulk":
        wanted = data.draw(st.lists(st.sampled_from(ids), max_size=4))
        assert qs.in_bulk(wanted) == {c.id: c for c in expected if c.id in wanted}
    else:
        size = data.draw(st.integers(1, 3))
        assert [c.id for c in qs.iterator(chunk_size=size)] == [c.id for c in expected]
    s.close()
