"""Manager and QuerySet end to end: lookups, narrowing, ordering, slicing, bulk operations."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import dataforce_orm as dfo
from dataforce_orm import Collection, CollectionType, Q, Session
from dataforce_orm.testing import LocalServer


@pytest.fixture
def seeded(session: Session) -> list[Collection]:
    specs = [
        ("Churn models", "model", ["prod", "Churn"], "customer churn"),
        ("churn MODELS", "model", None, ""),
        ("Raw datasets", "dataset", ["iris"], "raw"),
        ("tmp-1", "model_dataset", ["prod"], "scratch"),
        ("100%_real", "mixed", ["a_b"], "wild"),
        ("Experiments", "experiment", [], "exp"),
    ]
    return [Collection.objects.create(name=n, collection_type=t, tags=tags, description=d)
            for n, t, tags, d in specs]


def names(objs: Any) -> list[str]:
    return sorted(o.name for o in objs)


def queries(server: LocalServer) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(path).query) for method, path in server.request_log
            if method == "GET" and urlsplit(path).path.endswith("/collections")]


@pytest.mark.parametrize(
    ("lookups", "expected"),
    [
        ({"name": "Churn models"}, ["Churn models"]),
        ({"name__iexact": "CHURN models"}, ["Churn models", "churn MODELS"]),
        ({"name__contains": "hurn"}, ["Churn models", "churn MODELS"]),
        ({"name__icontains": "RAW"}, ["Raw datasets"]),
        ({"name__startswith": "tmp"}, ["tmp-1"]),
        ({"name__istartswith": "CHURN"}, ["Churn models", "churn MODELS"]),
        ({"name__endswith": "MODELS"}, ["churn MODELS"]),
        ({"name__iendswith": "models"}, ["Churn models", "churn MODELS"]),
        ({"name__in": ["tmp-1", "Experiments", "nope"]}, ["Experiments", "tmp-1"]),
        ({"name__contains": "%_"}, ["100%_real"]),
        ({"name__contains": "_"}, ["100%_real"]),
        ({"description": ""}, ["churn MODELS"]),
        ({"description__icontains": "CHURN"}, ["Churn models"]),
        ({"collection_type": CollectionType.MODEL}, ["Churn models", "churn MODELS"]),
        ({"collection_type": "model_dataset"}, ["tmp-1"]),
        ({"collection_type__in": ["dataset", "mixed"]}, ["100%_real", "Raw datasets"]),
        ({"tags__contains": "prod"}, ["Churn models", "tmp-1"]),
        ({"tags__contains": ["prod", "Churn"]}, ["Churn models"]),
        ({"tags__contains": "PROD"}, []),
        ({"tags__overlap": ["iris", "a_b"]}, ["100%_real", "Raw datasets"]),
        ({"tags__isnull": True}, ["churn MODELS"]),
        ({"tags": []}, ["Experiments"]),
        ({"total_artifacts__gte": 0, "total_artifacts__lt": 1, "name__startswith": "E"},
         ["Experiments"]),
        ({"updated_at__isnull": False}, []),
    ],
)
def test_lookups(m: Any, seeded: list[Collection], lookups: dict[str, Any],
                 expected: list[str]) -> None:
    assert names(m.list(Collection.objects.filter(**lookups))) == expected


def test_time_and_id_lookups(m: Any, seeded: list[Collection]) -> None:
    first = seeded[0]
    assert first.created_at is not None
    later = Collection.objects.filter(created_at__gt=first.created_at)
    assert names(m.list(later)) == names(seeded[1:])
    assert m.list(Collection.objects.filter(created_at=first.created_at)) == [first]
    assert m.list(Collection.objects.filter(id__in=[first.id, seeded[1].id])) == [
        seeded[1], first]
    future = datetime.now(timezone.utc) + timedelta(days=1)
    assert m.list(Collection.objects.filter(created_at__gte=future)) == []


def test_q_objects_or_and_not(m: Any, seeded: list[Collection]) -> None:
    qs = Collection.objects.filter(Q(name__startswith="tmp") | Q(tags__contains="iris"))
    assert names(m.list(qs)) == ["Raw datasets", "tmp-1"]
    qs = Collection.objects.filter(~Q(collection_type="model") & ~Q(tags__isnull=False))
    assert names(m.list(qs)) == []
    qs = Collection.objects.exclude(name__icontains="churn").exclude(tags__contains="prod")
    assert names(m.list(qs)) == ["100%_real", "Experiments", "Raw datasets"]


def test_narrowing_uses_search_and_types(m: Any, server: LocalServer,
                                         seeded: list[Collection]) -> None:
    server.reset_request_log()
    m.list(Collection.objects.filter(name__contains="100%_", collection_type="mixed"))
    (query,) = queries(server)
    assert query["search"] == ["100\\%\\_"] and query["types"] == ["mixed"]
    server.reset_request_log()
    m.list(Collection.objects.filter(collection_type__in=["model", "model_dataset"]))
    m.list(Collection.objects.filter(Q(name="a") | Q(name="b")))
    m.list(Collection.objects.exclude(name="tmp-1"))
    assert [("search" in q, "types" in q) for q in queries(server)] == [(False, False)] * 3
    server.reset_request_log()
    m.list(Collection.objects.filter(tags__contains=["prod", "Churn"]))
    assert queries(server)[0]["search"] == ["Churn"]


@pytest.mark.parametrize(
    "bad",
    [{"nope": 1}, {"name__regex": "x"}, {"tags__icontains": "x"}, {"name": 5},
     {"collection_type": "weights"}, {"created_at__gt": "yesterday"},
     {"created_at__gt": 5}, {"id": "not-a-uuid"}, {"tags__isnull": "yes"},
     {"total_artifacts__gt": "3"}, {"name__in": "abc"}, {"name__contains": None}],
)
def test_bad_lookups_raise_at_filter_time(session: Session, server: LocalServer,
                                          bad: dict[str, Any]) -> None:
    server.reset_request_log()
    with pytest.raises(dfo.ValidationError) as err:
        Collection.objects.filter(**bad)
    assert next(iter(bad)) in str(err.value)
    assert server.request_log == []


@pytest.mark.parametrize(
    ("order", "key", "reverse"),
    [("name", "name", False), ("-name", "name", True), ("collection_type", "type", False),
     ("-total_artifacts", None, True), ("description", "description", False),
     ("created_at", "created_at", False)],
)
def test_server_side_ordering(m: Any, server: LocalServer, seeded: list[Collection],
                              order: str, key: str | None, reverse: bool) -> None:
    server.reset_request_log()
    got = m.list(Collection.objects.order_by(order))
    field = order.lstrip("-")
    values = [(getattr(c, field), c.id) for c in got]
    assert values == sorted(values, reverse=reverse)
    assert len(got) == len(seeded)
    assert queries(server)[0]["sort_by"] == [key or "total_artifacts"]


def test_client_side_ordering_and_default(m: Any, server: LocalServer,
                                          seeded: list[Collection]) -> None:
    got = m.list(Collection.objects.order_by("collection_type", "-name"))
    assert [(c.collection_type.value, c.name) for c in got] == sorted(
        [(c.collection_type.value, c.name) for c in seeded], key=lambda t: (t[0], _neg(t[1])))
    assert m.list(Collection.objects.all()) == seeded[::-1]  # newest first, as the server
    assert m.first(Collection.objects.all()) == seeded[-1]
    assert m.last(Collection.objects.all()) == seeded[0]
    assert m.last(Collection.objects.order_by("name")) == max(seeded, key=lambda c: c.name)


def _neg(s: str) -> tuple[int, ...]:
    return tuple(-ord(ch) for ch in s)


def test_slicing(m: Any, server: LocalServer, seeded: list[Collection]) -> None:
    newest_first = seeded[::-1]
    server.reset_request_log()
    assert m.list(Collection.objects.all()[:2]) == newest_first[:2]
    assert queries(server)[0]["limit"] == ["2"]
    assert m.list(Collection.objects.all()[2:4]) == newest_first[2:4]
    assert m.list(Collection.objects.order_by("name")[1:3][1:]) == sorted(
        seeded, key=lambda c: c.name)[2:3]
    assert Collection.objects.all()[1] == newest_first[1]
    with pytest.raises(IndexError):
        Collection.objects.all()[100]
    with pytest.raises(dfo.ValidationError):
        Collection.objects.all()[-1]


def test_count_exists_first(m: Any, seeded: list[Collection]) -> None:
    assert m.count(Collection.objects.all()) == 6
    assert m.count(Collection.objects.filter(name__icontains="churn")) == 2
    assert m.exists(Collection.objects.filter(name="tmp-1"))
    assert not m.exists(Collection.objects.filter(name="tmp-2"))
    assert m.first(Collection.objects.filter(name="tmp-2")) is None


def test_get(m: Any, server: LocalServer, seeded: list[Collection]) -> None:
    server.reset_request_log()
    assert m.get(Collection.objects, id=seeded[2].id) == seeded[2]
    assert len(server.request_log) == 1
    server.reset_request_log()
    got = m.get(Collection.objects, name="Churn models")
    assert got == seeded[0] and len(server.request_log) == 1
    with pytest.raises(Collection.DoesNotExist):
        m.get(Collection.objects, name="churn models ")
    with pytest.raises(dfo.ObjectDoesNotExist):
        m.get(Collection.objects, id="01a2194c-ef2b-725b-9be9-e8c31c21c786")
    with pytest.raises(Collection.MultipleObjectsReturned):
        m.get(Collection.objects, name__iexact="churn models")
    with pytest.raises(dfo.MultipleResourcesFoundError):
        m.get(Collection.objects.all())
    assert m.get(Collection.objects, id=seeded[2].id.upper()) == seeded[2]
    assert m.get(Collection.objects.filter(collection_type="dataset")) == seeded[2]
    with pytest.raises(Collection.DoesNotExist):  # id found but another lookup fails
        m.get(Collection.objects, id=seeded[2].id, name="other")


def test_get_stops_after_two_exact_matches(session: Session, server: LocalServer,
                                           orbit_id: str) -> None:
    server.insert_collections(orbit_id, [
        {"name": "dup" if i % 50 == 0 else f"dup-{i}", "description": "", "type": "model",
         "tags": None} for i in range(450)])
    server.reset_request_log()
    with pytest.raises(Collection.MultipleObjectsReturned):
        Collection.objects.get(name="dup")
    assert len(server.request_log) < 5  # 450 rows would be 5 pages


def test_get_or_create_and_update_or_create(m: Any, server: LocalServer,
                                            orbit_id: str) -> None:
    c, created = m.get_or_create(Collection.objects, name="x",
                                 defaults={"collection_type": "model", "tags": ["a"]})
    assert created and c.tags == ["a"]
    again, created = m.get_or_create(Collection.objects, name="x",
                                     defaults={"collection_type": "model"})
    assert not created and again == c
    upd, created = m.update_or_create(Collection.objects, name="x",
                                      defaults={"description": "updated"})
    assert not created and upd == c
    assert [r["description"] for r in server.collection_rows(orbit_id)] == ["updated"]
    new, created = m.update_or_create(Collection.objects, name="y",
                                      defaults={"collection_type": "dataset"})
    assert created and new.collection_type is CollectionType.DATASET


def test_in_bulk(m: Any, server: LocalServer, seeded: list[Collection]) -> None:
    ids = [seeded[0].id, seeded[3].id, "01a2194c-ef2b-725b-9be9-e8c31c21c786"]
    server.reset_request_log()
    found = m.in_bulk(Collection.objects, ids)
    assert found == {seeded[0].id: seeded[0], seeded[3].id: seeded[3]}
    assert len(server.request_log) == 3
    assert set(m.in_bulk(Collection.objects)) == {c.id for c in seeded}


def test_bulk_update_and_delete(m: Any, server: LocalServer, orbit_id: str,
                                seeded: list[Collection]) -> None:
    assert m.update(Collection.objects.filter(name__icontains="churn"), tags=["bulk"]) == 2
    rows = {r["name"]: r for r in server.collection_rows(orbit_id)}
    assert rows["Churn models"]["tags"] == ["bulk"] and rows["churn MODELS"]["tags"] == ["bulk"]
    assert rows["Churn models"]["description"] == "customer churn"
    server.reset_request_log()
    with pytest.raises(dfo.ValidationError):
        m.update(Collection.objects.all(), collection_type="model")
    with pytest.raises(dfo.ValidationError):
        m.update(Collection.objects.all(), name="n" * 101)
    assert server.request_log == []
    assert m.delete_all(Collection.objects.filter(tags__contains="bulk")) == 2
    assert len(server.collection_rows(orbit_id)) == 4


def test_results_are_cached_and_iterator_is_not(session: Session, server: LocalServer,
                                                seeded: list[Collection]) -> None:
    qs = Collection.objects.all()
    server.reset_request_log()
    assert list(qs) == list(qs) and len(qs) == 6 and qs.count() == 6 and bool(qs)
    assert len(server.request_log) == 1
    server.reset_request_log()
    it = Collection.objects.all()
    assert list(it.iterator()) == list(it.iterator())
    assert len(server.request_log) == 2


def test_querysets_are_lazy_clones(session: Session, server: LocalServer,
                                   seeded: list[Collection]) -> None:
    server.reset_request_log()
    base = Collection.objects.filter(collection_type="model")
    narrowed = base.filter(name__startswith="C")
    assert server.request_log == []
    assert names(narrowed) == ["Churn models"] and len(base) == 2


def test_iteration_pages_everything_once(m: Any, session: Session, server: LocalServer,
                                         orbit_id: str) -> None:
    ids = server.insert_collections(orbit_id, [
        {"name": f"c{i:03}", "description": "", "type": "model", "tags": None}
        for i in range(250)])
    server.reset_request_log()
    got = [c.id for c in m.iterator(Collection.objects.all())]
    assert sorted(got) == sorted(ids) and len(got) == 250
    assert [q["limit"] for q in queries(server)] == [["100"]] * 3


def test_repeated_cursor_is_an_error_not_a_loop(session: Session, server: LocalServer,
                                                orbit_id: str) -> None:
    import responses

    path = server.url + Collection._path.format(organization=server.organization_id,
                                                orbit=orbit_id)
    item = {"id": "01a2194c-ef2b-725b-9be9-e8c31c21c786", "orbit_id": orbit_id,
            "description": "", "name": "x", "type": "model", "tags": None,
            "total_artifacts": 0, "created_at": "2026-11-26T19:20:02.091180Z",
            "updated_at": None}
    with responses.RequestsMock() as mock:
        mock.get(path, json={"items": [item], "cursor": "same"})
        with pytest.raises(dfo.APIError, match="repeated"):
            list(Collection.objects.all())
        assert len(mock.calls) == 2


def test_organizations_and_orbits(m: Any, server: LocalServer, orbit_id: str) -> None:
    orgs = m.list(dfo.Organization.objects.all())
    assert server.organization_id in [o.id for o in orgs]
    orbit = m.get(dfo.Orbit.objects, name="Default Orbit")
    assert orbit.id == server.orbit_id and orbit.organization_id == server.organization_id
    assert orbit_id in [o.id for o in m.list(dfo.Orbit.objects.all())]
    assert server.api_key not in repr(orbit)
