"""Property tests: the wire converter round-trips, and a random QuerySet returns exactly what a
plain Python filter over all the collections returns, in the same order."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataforce_orm import Collection, CollectionType, Q, Session
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
    assert {k: back[k] for k in data} == data


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
        return {"tags__contains": tag}, lambda c: c.tags is not None and tag in c.tags
    if kind == "tags_any":
        tags = draw(st.lists(st.sampled_from(["prod", "a_b", "é"]), min_size=1, max_size=2))
        return {"tags__overlap": tags}, lambda c: c.tags is not None and any(
            t in c.tags for t in tags)
    flag = draw(st.booleans())
    return {"tags__isnull": flag}, lambda c: (c.tags is None) is flag


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
