"""Issue 12: the Django habits a user types, end to end against LocalServer in sync and async
modes (the ``m`` fixture), on every model the local server serves (Collection, Orbit,
Organization; BucketSecret has no local routes, so its checks run without I/O)."""

from __future__ import annotations

import asyncio
import copy
import json
import pickle
import tracemalloc
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from parity import MakeSession

import dataforce_orm as dfo
from dataforce_orm import (
    BucketSecret,
    Collection,
    CollectionType,
    Count,
    Max,
    Min,
    Orbit,
    Organization,
    Q,
    Session,
)
from dataforce_orm import _session as session_module
from dataforce_orm.testing import Fault, LocalServer


def seed(server: LocalServer, orbit_id: str, n: int, **extra: Any) -> list[str]:
    return server.insert_collections(orbit_id, [
        {"name": f"c{i:04d}", "description": f"d{i % 3}", "type": "model" if i % 2 else "dataset",
         "tags": None if i % 3 == 0 else [f"t{i % 4}"], **extra} for i in range(n)])


def gets(server: LocalServer) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(p).query) for method, p in server.request_log
            if method == "GET" and urlsplit(p).path.endswith("/collections")]


# -- iteration visits each row at most once ----------------------------------------------------


def _rename_all(m: Any, qs: Any, rename: Any, chunk_size: int | None = None) -> list[str]:
    """Iterate ``qs`` streaming (iterator()/async for), saving a rename of every row seen."""
    seen: list[str] = []
    if m.name == "sync":
        for c in qs.iterator(chunk_size=chunk_size):
            seen.append(c.id)
            if rename(c):
                c.save()
        return seen

    async def run() -> None:
        async for c in (qs.aiterator(chunk_size=chunk_size) if chunk_size else qs):
            seen.append(c.id)
            if rename(c):
                await c.asave()

    m.run(run())
    return seen


def test_iteration_renaming_rows_visits_each_once(m: Any, server: LocalServer,
                                                  orbit_id: str) -> None:
    ids = seed(server, orbit_id, 250)

    def forward(c: Collection) -> bool:
        c.name = "z" + c.name  # moves the row past the cursor: keyset pages meet it again
        return True

    seen = _rename_all(m, Collection.objects.order_by("name"), forward)
    assert sorted(seen) == sorted(ids)  # each row once: 250 visits, not 500
    assert all(r["name"].startswith("zc") and not r["name"].startswith("zz")
               for r in server.collection_rows(orbit_id))


def test_iteration_does_not_miss_rows_that_did_not_move(m: Any, server: LocalServer,
                                                        orbit_id: str) -> None:
    ids = seed(server, orbit_id, 120)

    def some(c: Collection) -> bool:  # every third row moves forward, then backward
        n = int(c.name.lstrip("az-c") or 0)
        if n % 3 == 0:
            c.name = ("z" if n % 2 else "a") + c.name
            return True
        return False

    seen = _rename_all(m, Collection.objects.order_by("-name"), some, chunk_size=7)
    assert len(seen) == len(set(seen)) == 120 and set(seen) == set(ids)


def test_iterator_chunk_size_is_the_page_size(m: Any, server: LocalServer,
                                              orbit_id: str) -> None:
    seed(server, orbit_id, 10)
    server.reset_request_log()
    got = _rename_all(m, Collection.objects.all(), lambda c: False, chunk_size=4)
    assert len(got) == 10
    assert [q["limit"] for q in gets(server)] == [["4"]] * 3
    for bad in (0, 101, "5", True, 2.0):
        with pytest.raises(dfo.ValidationError, match="chunk_size"):
            Collection.objects.iterator(chunk_size=bad)  # type: ignore[arg-type]
        with pytest.raises(dfo.ValidationError, match="chunk_size"):
            Collection.objects.aiterator(chunk_size=bad)  # type: ignore[arg-type]


def test_iterator_memory_stays_small_over_20000_rows(m: Any, server: LocalServer,
                                                     orbit_id: str) -> None:
    server.insert_collections(orbit_id, [
        {"name": f"row-{i:05d}", "description": "", "type": "model", "tags": None}
        for i in range(20_000)])
    tracemalloc.start()
    try:
        if m.name == "sync":
            n = sum(1 for _ in Collection.objects.order_by("name").iterator())
        else:
            async def count() -> int:
                return sum([1 async for _ in Collection.objects.order_by("name")])

            n = m.run(count())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 20_000
    assert peak < 5 * 2**20, peak


# -- pickle and deepcopy -------------------------------------------------------------------


def test_pickle_and_deepcopy_round_trip_loaded_objects(m: Any, server: LocalServer,
                                                       orbit_id: str, session: Session) -> None:
    c = m.create(Collection.objects, name="p", collection_type="model", tags=["a"])
    plain = m.create(Collection.objects, name="q", collection_type="model")
    for copier in (lambda o: pickle.loads(pickle.dumps(o)), copy.deepcopy):
        back = copier(c)
        assert back == c and back is not c
        assert (back.name, back.tags, back.created_at, back.collection_type) == (
            c.name, c.tags, c.created_at, c.collection_type)
        assert back.changed_fields() == []  # the snapshot travelled: no spurious change
        back.tags.append("b")
        assert back.changed_fields() == ["tags"] and c.tags == ["a"]
        m.save(back)  # finds the current session (pickle) or keeps the same one (deepcopy)
        m.refresh(c)
        assert c.tags == ["a", "b"]
        c.tags = ["a"]
        m.save(c)
        null = copier(plain)
        assert null.tags == [] and null.changed_fields() == []  # the wire's null still null
    assert copy.deepcopy(c)._session is session
    assert pickle.loads(pickle.dumps(c))._session is None  # stays behind; found when used
    orbit = m.get(Orbit.objects, id=orbit_id)
    assert pickle.loads(pickle.dumps(orbit)).name == orbit.name
    org = m.first(Organization.objects)
    assert copy.deepcopy(org).permissions == org.permissions


def test_pickle_keeps_a_bucket_secrets_held_keys(session: Session) -> None:
    data = {"id": str(uuid.uuid4()), "type": "s3", "endpoint": "s3.example", "bucket_name": "b",
            "region": "r", "secure": True, "cert_check": True, "organization_id": None,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": None}
    loaded = BucketSecret._load(data, session)
    loaded.access_key = "AK"
    for copier in (lambda o: pickle.loads(pickle.dumps(o)), copy.deepcopy):
        back = copier(loaded)
        assert back.changed_fields() == ["access_key"]  # held, unlike the never-returned keys
        assert repr(back.access_key) == "'***'" and back.access_key == "AK"
        assert "access_key" not in back.to_dict()


# -- QuerySet methods ------------------------------------------------------------------------


@pytest.fixture
def rows(server: LocalServer, orbit_id: str, session: Session) -> list[Collection]:
    seed(server, orbit_id, 6)
    return list(Collection.objects.order_by("name"))


def test_values_and_values_list(m: Any, rows: list[Collection]) -> None:
    qs = Collection.objects.order_by("name")
    assert m.list(qs.values("name", "pk"))[:2] == [
        {"name": "c0000", "id": rows[0].id}, {"name": "c0001", "id": rows[1].id}]
    everything = m.first(qs.values())
    assert set(everything) == set(rows[0].to_dict()) and everything["tags"] == []
    assert everything == {**rows[0].to_dict(), "collection_type": rows[0].collection_type}
    assert m.list(qs.values_list("name", flat=True)) == [c.name for c in rows]
    assert m.list(qs.filter(name="c0001").values_list("name", "collection_type")) == [
        ("c0001", CollectionType.MODEL)]
    named = m.get(qs.values_list("name", "description", named=True), name="c0002")
    assert (named.name, named.description) == ("c0002", "d2")
    assert m.list(qs.values_list("id", flat=True)[1:3]) == [rows[1].id, rows[2].id]
    assert m.count(qs.values("name")) == 6 and m.exists(qs.values("name"))
    with pytest.raises(dfo.ValidationError, match="flat"):
        qs.values_list("name", "id", flat=True)
    with pytest.raises(dfo.ValidationError, match="nope"):
        qs.values("nope")


def test_only_defer_distinct_accepted(m: Any, rows: list[Collection]) -> None:
    qs = Collection.objects.order_by("name")
    assert m.list(qs.only("name")) == m.list(qs.defer("description")) == m.list(
        qs.distinct()) == rows
    with pytest.raises(dfo.ValidationError):
        qs.only("nope")
    with pytest.raises(dfo.ValidationError, match="DISTINCT ON"):
        qs.distinct("name")


def test_none_sends_no_request(m: Any, server: LocalServer, rows: list[Collection]) -> None:
    server.reset_request_log()
    qs = Collection.objects.filter(name="c0001").none()
    assert (m.count(qs), m.exists(qs), m.first(qs), m.list(qs)) == (0, False, None, [])
    assert m.list(Collection.objects.none().values("name")) == []
    assert m.in_bulk(qs, [rows[0].id]) == {}
    assert m.aggregate(qs, n=Count("id")) == {"n": 0}
    assert server.request_log == []


def test_latest_and_earliest(m: Any, server: LocalServer, orbit_id: str,
                             session: Session) -> None:
    made = [m.create(Collection.objects, name=f"l{i}", collection_type="model",
                     description=str(3 - i)) for i in range(3)]
    objects = Collection.objects
    assert m.latest(objects) == made[2] and m.earliest(objects) == made[0]
    assert m.latest(objects, "name") == made[2] and m.earliest(objects, "-name") == made[2]
    assert m.latest(objects, "description") == made[0]
    assert m.latest(objects.values_list("name", flat=True)) == "l2"
    with pytest.raises(Collection.DoesNotExist):
        m.latest(objects.filter(name="none"))
    with pytest.raises(dfo.ValidationError):
        objects[:1].latest()
    orbits = m.list(Orbit.objects.order_by("created_at"))
    assert m.latest(Orbit.objects) == orbits[-1] and m.earliest(Orbit.objects) == orbits[0]


def test_in_bulk(m: Any, server: LocalServer, rows: list[Collection]) -> None:
    a, b = rows[0], rows[1]
    got = m.in_bulk(Collection.objects, [a.id, uuid.UUID(b.id), a.id])
    assert got == {a.id: a, b.id: b}
    assert m.in_bulk(Collection.objects, [a.id], field_name="pk") == {a.id: a}
    assert m.in_bulk(Collection.objects, []) == {}
    assert m.in_bulk(Collection.objects.filter(name="c0001"), [a.id, b.id]) == {b.id: b}
    server.reset_request_log()
    for bad in ([a.id, "bad"], [a.id, None]):
        with pytest.raises(dfo.ValidationError, match="id"):
            m.in_bulk(Collection.objects, bad)
    with pytest.raises(dfo.ValidationError, match="unique"):
        m.in_bulk(Collection.objects, ["c0001"], field_name="name")
    assert server.request_log == []  # every id checked before any request


def test_aggregate_count_min_max(m: Any, rows: list[Collection]) -> None:
    qs = Collection.objects.all()
    got = m.aggregate(qs, Count("id"), Min("name"), Max("created_at"),
                      types=Count("collection_type", distinct=True), tagged=Count("tags"),
                      top=Max("total_artifacts"))
    assert got == {"id__count": 6, "name__min": "c0000",
                   "created_at__max": max(c.created_at for c in rows if c.created_at),
                   "types": 2, "tagged": 4, "top": 0}  # (tags kept null are not counted)
    assert m.aggregate(qs.filter(name="none"), Min("name"), n=Count("pk")) == {
        "name__min": None, "n": 0}
    for bad in ((), ("name",), (Min("tags"),), (Count("nope"),)):
        with pytest.raises(dfo.ValidationError, match="aggregate"):
            qs.aggregate(*bad)


def test_update_or_create_create_defaults(m: Any, server: LocalServer,
                                          orbit_id: str) -> None:
    obj, made = m.update_or_create(Collection.objects, name="u", defaults={"description": "upd"},
                                   create_defaults={"description": "new",
                                                    "collection_type": "model"})
    assert made and obj.description == "new"
    obj, made = m.update_or_create(Collection.objects, name="u", defaults={"description": "upd"},
                                   create_defaults={"description": "new",
                                                    "collection_type": "model"})
    assert not made and obj.description == "upd"
    assert [r["description"] for r in server.collection_rows(orbit_id)] == ["upd"]


def test_bulk_create_and_bulk_update_report_per_object_errors(
        m: Any, server: LocalServer, orbit_id: str) -> None:
    objs = [Collection(name=f"b{i}", collection_type="model") for i in range(4)]
    server.add_fault(Fault("status", status=409, method="POST", path=orbit_id, times=1))
    got = m.bulk_create(Collection.objects, objs, batch_size=2) if m.name == "sync" else \
        m.run(Collection.objects.abulk_create(objs, 2, concurrency=1))
    assert isinstance(got[0], dfo.ConflictError) and objs[0].id is None
    assert got[1:] == objs[1:] and all(o.id for o in objs[1:])
    saved = objs[1:]
    for o in saved:
        o.description = "bulk"
        o.tags.append("x")
    server.add_fault(Fault("status", status=409, method="PATCH", path=saved[1].id, times=1))
    done = m.bulk_update(Collection.objects, saved, ["description"])
    assert done[0] is saved[0] and isinstance(done[1], dfo.ConflictError) and done[2] is saved[2]
    rows = {r["id"]: r for r in server.collection_rows(orbit_id)}
    assert [rows[o.id]["description"] for o in saved] == ["bulk", "", "bulk"]
    assert all(rows[o.id]["tags"] is None for o in saved)  # only the fields named
    server.reset_request_log()
    for bad_objs, fields, match in ((saved, ["collection_type"], "fields"),
                                    (saved, [], "fields"), ([objs[0]], ["name"], "not saved"),
                                    ([saved[0], saved[0]], ["name"], "twice")):
        with pytest.raises(dfo.ValidationError, match=match):
            m.bulk_update(Collection.objects, bad_objs, fields)
    with pytest.raises(dfo.ValidationError, match="already saved"):
        Collection.objects.bulk_create(saved)
    with pytest.raises(dfo.ValidationError, match="batch_size"):
        Collection.objects.bulk_create([], batch_size=0)
    assert server.request_log == []


def test_bulk_writes_refused_on_a_read_only_model(session: Session) -> None:
    with pytest.raises(dfo.DataForceError, match="read-only"):
        Organization.objects.bulk_create([])
    with pytest.raises(dfo.DataForceError, match="read-only"):
        Organization.objects.bulk_update([], ["name"])


# -- lookups ---------------------------------------------------------------------------------


def names(objs: Any) -> list[str]:
    return sorted(o.name for o in objs)


def test_pk_alias(m: Any, rows: list[Collection]) -> None:
    a = rows[0]
    assert m.get(Collection.objects, pk=a.id) == a
    assert m.list(Collection.objects.filter(pk__in=[a.id])) == [a]
    assert m.list(Collection.objects.exclude(pk=a.id).order_by("-pk")) == sorted(
        rows[1:], key=lambda c: c.id, reverse=True)
    assert m.get(Orbit.objects, pk=m.first(Orbit.objects).id) == m.first(Orbit.objects)


def test_get_or_create_by_pk_finds_and_cannot_create(m: Any, rows: list[Collection]) -> None:
    assert m.get_or_create(Collection.objects, pk=rows[0].id) == (rows[0], False)
    obj, made = m.update_or_create(Collection.objects, pk=rows[1].id,
                                   defaults={"description": "by pk"})
    assert (obj, made, obj.description) == (rows[1], False, "by pk")
    with pytest.raises(dfo.ValidationError, match="cannot create"):
        m.get_or_create(Collection.objects, pk=str(uuid.UUID(int=1)))


def test_none_means_isnull(m: Any, server: LocalServer, rows: list[Collection]) -> None:
    assert m.list(Collection.objects.filter(id=None)) == []
    assert names(m.list(Collection.objects.filter(updated_at=None))) == names(rows)
    assert names(m.list(Collection.objects.filter(tags=None))) == ["c0000", "c0003"]
    assert m.list(Collection.objects.filter(collection_type=None)) == []
    assert m.list(Collection.objects.filter(collection_type__in=[None])) == []
    assert names(m.list(Collection.objects.filter(collection_type__in=[None, "model"]))) == [
        "c0001", "c0003", "c0005"]
    assert names(m.list(Collection.objects.filter(updated_at__in=[None]))) == names(rows)
    assert names(m.list(Collection.objects.filter(description__in=["d1", None]))) == [
        "c0001", "c0004"]


def test_range_and_date_parts(m: Any, rows: list[Collection]) -> None:
    when = rows[2].created_at
    assert when is not None
    assert names(m.list(Collection.objects.filter(name__range=("c0001", "c0003")))) == [
        "c0001", "c0002", "c0003"]
    assert m.list(Collection.objects.filter(total_artifacts__range=(1, 5))) == []
    around = Collection.objects.filter(created_at__range=(when, when + timedelta(seconds=0)))
    assert rows[2] in m.list(around)
    today = when.astimezone(timezone.utc).date()
    for lookups in ({"created_at__date": today}, {"created_at__year": today.year},
                    {"created_at__month": today.month, "created_at__day": today.day},
                    {"created_at__date__gte": today.isoformat()},
                    {"created_at__year__in": [today.year, 1999]},
                    {"created_at__date__range": (today - timedelta(days=1), today)}):
        assert names(m.list(Collection.objects.filter(**lookups))) == names(rows), lookups
    assert m.list(Collection.objects.filter(created_at__year__lt=2000)) == []
    assert m.list(Collection.objects.filter(created_at__date=today + timedelta(days=1))) == []
    for bad in ({"name__range": ("a",)}, {"name__range": "ab"}, {"created_at__year": "x"},
                {"created_at__date": "2026-13-01"}, {"name__year": 1}):
        with pytest.raises(dfo.ValidationError):
            Collection.objects.filter(**bad)


def test_dates_naive_datetimes_and_uuids_accepted(m: Any, rows: list[Collection]) -> None:
    when = rows[0].created_at
    assert when is not None
    naive = when.astimezone(timezone.utc).replace(tzinfo=None)  # read as UTC
    assert rows[0] in m.list(Collection.objects.filter(created_at=naive))
    day = when.astimezone(timezone.utc).date()
    assert names(m.list(Collection.objects.filter(created_at__gte=day))) == names(rows)
    assert m.list(Collection.objects.filter(created_at__lt=date(2000, 1, 1))) == []
    assert m.list(Collection.objects.filter(created_at__gt=datetime(2999, 1, 1))) == []
    assert m.get(Collection.objects, id=uuid.UUID(rows[1].id)) == rows[1]
    assert m.list(Collection.objects.filter(id__in=[uuid.UUID(rows[1].id)])) == [rows[1]]
    assert m.list(Collection.objects.filter(name=uuid.UUID(int=0))) == []


# -- model ------------------------------------------------------------------------------------


def test_to_dict(m: Any, server: LocalServer, orbit_id: str) -> None:
    c = m.create(Collection.objects, name="d", collection_type="model", tags=["a"])
    d = c.to_dict()
    assert set(d) == {"id", "name", "description", "collection_type", "orbit_id", "tags",
                      "total_artifacts", "created_at", "updated_at", "artifacts_tags",
                      "artifacts_extra_values"}
    assert d["collection_type"] == "model" and d["tags"] == ["a"] and d["id"] == c.id
    d["tags"].append("not shared")
    assert c.tags == ["a"]
    json.loads(json.dumps(d, default=str))
    orbit = m.get(Orbit.objects, id=orbit_id)
    assert orbit.to_dict()["id"] == orbit_id and "_session" not in orbit.to_dict()
    json.dumps(m.first(Organization.objects).to_dict(), default=str)
    secret = BucketSecret(endpoint="e", bucket_name="b", region="r", access_key="AK")
    assert "access_key" not in secret.to_dict() and "AK" not in json.dumps(
        secret.to_dict(), default=str)


def test_tags_always_appendable_and_null_kept(m: Any, server: LocalServer,
                                              orbit_id: str) -> None:
    fresh = Collection(name="n", collection_type="model")
    assert fresh.tags == []
    m.save(fresh)
    assert server.collection_rows(orbit_id)[0]["tags"] is None  # created without tags: null
    (loaded,) = m.list(Collection.objects.all())
    assert loaded.tags == [] and loaded.changed_fields() == []
    loaded.description = "only this"
    m.save(loaded)
    assert server.collection_rows(orbit_id)[0]["tags"] is None  # untouched [] not sent
    assert m.list(Collection.objects.filter(tags__isnull=True)) == [loaded]
    loaded.tags.append("x")
    assert loaded.changed_fields() == ["tags"]
    m.save(loaded)
    assert server.collection_rows(orbit_id)[0]["tags"] == ["x"]
    loaded.tags = []
    m.save(loaded)
    assert server.collection_rows(orbit_id)[0]["tags"] == []  # set by the caller: sent
    loaded.tags = None  # type: ignore[assignment]
    assert loaded.tags == []
    m.save(loaded)
    assert server.collection_rows(orbit_id)[0]["tags"] is None
    empty = Collection(name="e", collection_type="model", tags=[])
    m.save(empty)
    assert {r["name"]: r["tags"] for r in server.collection_rows(orbit_id)}["e"] == []


# -- threads and sessions --------------------------------------------------------------------


def test_objects_keep_their_session_in_other_threads(server: LocalServer, orbit_id: str,
                                                     session: Session) -> None:
    made = [Collection.objects.create(name=f"t{i}", collection_type="model") for i in range(6)]
    loaded = list(Collection.objects.order_by("name"))  # the same rows, loaded

    def work(c: Collection) -> str:  # no 'with session:' in this thread
        c.tags.append("thread")
        c.save()
        c.refresh()
        c.tags.append("task")
        asyncio.run(c.asave())  # and from a new event loop in it
        return str(c.id)

    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(work, [*made[:3], *loaded[3:]]))
    assert sorted(done) == sorted(c.id for c in made)
    assert all(r["tags"] == ["thread", "task"] for r in server.collection_rows(orbit_id))


def test_no_session_error_names_the_ways_to_give_one(monkeypatch: pytest.MonkeyPatch,
                                                     session: Session) -> None:
    for prefix in ("DFS", "LUML"):
        for name in ("API_KEY", "BASE_URL", "ORGANIZATION", "ORBIT"):
            monkeypatch.delenv(f"{prefix}_{name}", raising=False)
    monkeypatch.setattr(session_module, "_default", None)
    monkeypatch.setattr(session_module, "_from_env", None)

    def in_thread() -> None:
        Collection.objects.count()

    with ThreadPoolExecutor(1) as pool, pytest.raises(dfo.ConfigurationError) as err:
        pool.submit(in_thread).result()
    text = str(err.value)
    assert "with session:" in text and "thread or asyncio task" in text
    assert ".using(" in text and "dfo.configure(" in text

    async def in_task() -> None:
        await Collection.objects.acount()

    with ThreadPoolExecutor(1) as pool, pytest.raises(dfo.ConfigurationError,
                                                     match="thread or asyncio task"):
        pool.submit(asyncio.run, in_task()).result()


# -- issue 13's QuerySet bugs ------------------------------------------------------------------


def test_evaluated_queryset_cache_is_used_by_afirst_and_async_for(
        server: LocalServer, rows: list[Collection]) -> None:
    qs = Collection.objects.order_by("name")
    assert list(qs) == rows
    server.reset_request_log()

    async def run() -> tuple[Any, list[Collection], bool, int]:
        return (await qs.afirst(), [c async for c in qs], await qs.aexists(),
                await qs.acount())

    first, again, exists, n = asyncio.run(run())
    assert (first, again, exists, n) == (rows[0], rows, True, 6)
    assert server.request_log == []


def test_last_on_a_model_without_default_order(make_session: MakeSession, m: Any,
                                               server: LocalServer, session: Session) -> None:
    user = server.add_user(f"last-{uuid.uuid4().hex[:6]}")
    org = server.add_organization(f"Last Org {uuid.uuid4().hex[:6]}", owner=user.id)
    orbits = [server.add_orbit(org, f"o{i}") for i in range(3)]
    s = make_session(api_key=user.api_key, organization=org, orbit=None)
    listing = [o.id for o in Orbit.objects.using(s)]
    assert sorted(listing) == sorted(orbits)
    assert m.first(Orbit.objects.using(s)).id == listing[0]
    assert m.last(Orbit.objects.using(s)).id == listing[-1] != listing[0]
    assert [o.id for o in m.list(Orbit.objects.using(s).reverse())] == listing[::-1]
    assert m.last(Orbit.objects.using(s).reverse()).id == listing[0]
    assert m.last(Orbit.objects.using(s).order_by("name")).id == orbits[2]
    s.close()


def test_complex_chain_with_q(m: Any, rows: list[Collection]) -> None:
    qs = (Collection.objects.filter(Q(pk__in=[r.id for r in rows[:4]]) | Q(tags=None))
          .exclude(name__range=("c0001", "c0001")).order_by("-name"))
    assert m.list(qs.values_list("name", flat=True)) == ["c0003", "c0002", "c0000"]
