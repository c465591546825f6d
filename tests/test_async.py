"""The async twins end to end: httpx optional, one client per loop, every twin, session and
name resolution, abulk_create, many concurrent tasks, cancellation.

The sync/async parity of the core suite lives in test_collection.py and test_queryset.py
(the ``m`` fixture); these tests cover what only the async path has.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from parity import MakeSession

import dataforce_orm as dfo
from dataforce_orm import Collection, CollectionType, Orbit, Organization, Session
from dataforce_orm import _session as session_module
from dataforce_orm.testing import Fault, LocalServer


class Probe:
    """Records every httpx.AsyncClient the library makes, and how many requests overlap."""

    def __init__(self) -> None:
        self.clients: list[httpx.AsyncClient] = []
        self.in_flight = 0
        self.peak = 0
        self.started = 0
        self.method: str | None = None  # count only this method's requests, if set

    def reset(self, method: str | None = None) -> None:
        self.in_flight = self.peak = self.started = 0
        self.method = method


@pytest.fixture
def probe(monkeypatch: pytest.MonkeyPatch) -> Probe:
    p = Probe()

    class Recording(httpx.AsyncClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            p.clients.append(self)

        async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            counted = p.method is None or request.method == p.method
            if counted:
                p.started += 1
                p.in_flight += 1
                p.peak = max(p.peak, p.in_flight)
            try:
                return await super().send(request, **kwargs)
            finally:
                if counted:
                    p.in_flight -= 1

    monkeypatch.setattr(httpx, "AsyncClient", Recording)
    return p


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for prefix in ("DFS", "LUML"):
        for name in ("API_KEY", "BASE_URL", "ORGANIZATION", "ORBIT", "COLLECTION"):
            monkeypatch.delenv(f"{prefix}_{name}", raising=False)
    monkeypatch.setattr(session_module, "_default", None)
    monkeypatch.setattr(session_module, "_from_env", None)
    yield


def new(name: str, **kw: Any) -> Collection:
    return Collection(name=name, collection_type=kw.pop("collection_type", "model"), **kw)


def row_of(server: LocalServer, orbit_id: str, cid: str | None) -> dict[str, Any]:
    (row,) = [r for r in server.collection_rows(orbit_id) if r["id"] == cid]
    return row


def run(coro_fn: Callable[[], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        return await coro_fn()

    return asyncio.run(main())


# -- httpx is optional -------------------------------------------------------------------------

_NO_HTTPX = textwrap.dedent("""
    import asyncio, sys
    BLOCK
    import dataforce_orm as dfo
    from dataforce_orm import Collection, Organization, Session
    from dataforce_orm.testing import LocalServer
    assert "httpx" not in sys.modules or sys.modules["httpx"] is None

    EXTRA = "pip install 'dataforce-orm[async]'"
    with LocalServer() as srv:
        s = Session(api_key=srv.api_key, base_url=srv.url,
                    organization=srv.organization_id, orbit=srv.orbit_id)
        c = Collection.objects.using(s).create(name="sync works", collection_type="model")
        assert Collection.objects.using(s).get(id=c.id).name == "sync works"
        srv.reset_request_log()

        async def rows():
            return [x async for x in Collection.objects.using(s)]

        calls = {
            "acount": lambda: Collection.objects.using(s).acount(),
            "aget": lambda: Collection.objects.using(s).aget(id=c.id),
            "acreate": lambda: Collection.objects.using(s).acreate(
                name="x", collection_type="model"),
            "async for": rows,
            "asave": lambda: Collection(name="y", collection_type="model").asave(using=s),
            "adelete": lambda: c.adelete(),
            "organizations": lambda: Organization.objects.using(s).afirst(),
        }

        async def main():
            async with s:
                for name, call in calls.items():
                    try:
                        await call()
                    except dfo.ConfigurationError as exc:
                        assert EXTRA in str(exc), (name, str(exc))
                    else:
                        raise AssertionError(name + " worked without httpx")
            await s.aclose()

        asyncio.run(main())
        assert srv.request_log == [], srv.request_log
        assert Collection.objects.using(s).count() == 1
    print("ok")
""")

_BLOCKERS = {
    "meta_path": textwrap.dedent("""
        import importlib.abc
        class NoHttpx(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name == "httpx" or name.startswith("httpx."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)
                return None
        sys.meta_path.insert(0, NoHttpx())
        for mod in [m for m in sys.modules if m == "httpx" or m.startswith("httpx.")]:
            del sys.modules[mod]
    """),
    "sys_modules_none": 'sys.modules["httpx"] = None\n',
}


@pytest.mark.parametrize("how", sorted(_BLOCKERS))
def test_package_works_without_httpx_until_an_async_call(how: str) -> None:
    script = _NO_HTTPX.replace("BLOCK\n", _BLOCKERS[how])
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_importing_the_package_does_not_import_httpx() -> None:
    code = "import sys, dataforce_orm, dataforce_orm.testing; print('httpx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "False", done.stderr


# -- one client per event loop ------------------------------------------------------------------


def test_client_made_lazily_and_closed_by_aclose(session: Session, probe: Probe) -> None:
    async def main() -> None:
        assert probe.clients == []  # nothing is made before the first request
        c = await Collection.objects.acreate(name="a", collection_type="model")
        await Collection.objects.aget(id=c.id)
        assert len(probe.clients) == 1  # one client serves every call on this loop
        first = probe.clients[0]
        assert not first.is_closed
        await session.aclose()
        assert first.is_closed
        await session.aclose()  # closing twice is harmless
        assert (await Collection.objects.aget(id=c.id)).name == "a"  # a new client
        assert len(probe.clients) == 2 and not probe.clients[1].is_closed
        async with session:
            await Collection.objects.acount()
        assert probe.clients[1].is_closed and len(probe.clients) == 2

    asyncio.run(main())


def test_each_loop_gets_its_own_client(session: Session, probe: Probe) -> None:
    async def use() -> int:
        await Collection.objects.acreate(name="x", collection_type="model")
        return await Collection.objects.acount()

    assert asyncio.run(use()) == 1
    assert len(probe.clients) == 1
    # asyncio.run closes the loop's client on the way out, with no aclose() needed.
    assert probe.clients[0].is_closed
    assert asyncio.run(use()) == 2  # the same session on a second loop
    assert len(probe.clients) == 2 and probe.clients[1].is_closed

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(use()) == 3
        third = probe.clients[2]
        assert not third.is_closed  # a bare loop keeps its client until aclose()
        loop.run_until_complete(session.aclose())
        assert third.is_closed
    finally:
        loop.close()


@pytest.mark.filterwarnings("ignore::ResourceWarning")  # the forgotten client's sockets
def test_loops_closed_without_aclose_are_not_kept(session: Session) -> None:
    async def use() -> None:
        await Collection.objects.acount()

    loop = asyncio.new_event_loop()
    loop.run_until_complete(use())
    loop.close()  # no aclose(), no shutdown_asyncgens(): the client is never closed
    dead = weakref.ref(loop)
    del loop
    asyncio.run(use())  # the next loop's client replaces the closed loop's
    gc.collect()
    assert dead() is None


def test_threads_with_their_own_loops_share_a_session(session: Session, server: LocalServer,
                                                      orbit_id: str, probe: Probe) -> None:
    errors: list[BaseException] = []

    async def work(n: int) -> None:
        for i in range(5):
            c = await Collection.objects.using(session).acreate(
                name=f"t{n}-{i}", collection_type="model")
            assert (await Collection.objects.using(session).aget(id=c.id)).name == c.name

    def thread(n: int) -> None:
        try:
            asyncio.run(work(n))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=thread, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(server.collection_rows(orbit_id)) == 30
    assert len(probe.clients) == 6 and all(c.is_closed for c in probe.clients)


# -- every twin --------------------------------------------------------------------------------

QUERYSET_TWINS = ["get", "first", "last", "count", "exists", "create", "get_or_create",
                  "update_or_create", "in_bulk", "update", "delete"]
MODEL_TWINS = ["save", "refresh", "delete"]


def _params(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", QUERYSET_TWINS)
def test_queryset_twin_has_the_sync_signature(name: str) -> None:
    sync, twin = getattr(dfo.QuerySet, name), getattr(dfo.QuerySet, "a" + name)
    assert inspect.iscoroutinefunction(twin)
    assert _params(twin) == _params(sync)
    for model in (Collection, Organization, Orbit):
        assert inspect.iscoroutinefunction(getattr(model.objects, "a" + name))


@pytest.mark.parametrize("name", MODEL_TWINS)
def test_model_twin_has_the_sync_signature(name: str) -> None:
    sync, twin = getattr(Collection, name), getattr(Collection, "a" + name)
    assert inspect.iscoroutinefunction(twin)
    assert _params(twin) == _params(sync)


def test_every_twin_end_to_end(session: Session, server: LocalServer, orbit_id: str) -> None:
    objects = Collection.objects

    async def main() -> None:
        a = await objects.acreate(name="alpha", collection_type="model", tags=["x"])
        b, made = await objects.aget_or_create(name="beta", defaults={"collection_type": "dataset"})
        assert made and b.collection_type is CollectionType.DATASET
        again, made = await objects.aget_or_create(name="beta",
                                                   defaults={"collection_type": "dataset"})
        assert not made and again == b
        g, made = await objects.aupdate_or_create(
            name="gamma", defaults={"collection_type": "mixed", "description": "g"})
        assert made and g.description == "g"
        g2, made = await objects.aupdate_or_create(name="gamma", defaults={"description": "G"})
        assert not made and g2 == g and row_of(server, orbit_id, g.id)["description"] == "G"

        assert await objects.acount() == 3
        assert await objects.filter(name="alpha").aexists()
        assert not await objects.filter(name="nope").aexists()
        assert (await objects.aget(name="alpha")) == a
        assert (await objects.aget(id=a.id)).tags == ["x"]
        with pytest.raises(Collection.DoesNotExist):
            await objects.aget(name="nope")
        await objects.acreate(name="alpha", collection_type="model")
        with pytest.raises(Collection.MultipleObjectsReturned):
            await objects.aget(name="alpha")
        ordered = objects.order_by("name")
        assert (await ordered.afirst()) is not None
        assert [(await ordered.afirst()).name, (await ordered.alast()).name] == [  # type: ignore[union-attr]
            "alpha", "gamma"]
        assert await objects.filter(name="nope").afirst() is None
        bulk = await objects.ain_bulk([a.id, b.id])  # type: ignore[list-item]
        assert set(bulk) == {a.id, b.id} and bulk[b.id] == b  # type: ignore[index]
        assert len(await objects.ain_bulk()) == 4
        assert sorted([c.name async for c in objects.all()]) == [
            "alpha", "alpha", "beta", "gamma"]
        assert [c.name async for c in objects.order_by("name")[1:3]] == ["alpha", "beta"]

        assert await objects.filter(name="alpha").aupdate(description="first letter") == 2
        assert {r["description"] for r in server.collection_rows(orbit_id)
                if r["name"] == "alpha"} == {"first letter"}

        a.name = "ALPHA"
        await a.asave()
        assert row_of(server, orbit_id, a.id)["name"] == "ALPHA"
        server.insert_collections(orbit_id, [{"name": "later", "type": "model"}])
        Collection.objects.filter(id=a.id).update(tags=["changed", "elsewhere"])
        await a.arefresh()
        assert a.tags == ["changed", "elsewhere"] and a.description == "first letter"

        b_id = b.id
        await b.adelete()
        assert b.id is None and b_id not in {r["id"] for r in server.collection_rows(orbit_id)}
        assert await objects.filter(name__startswith="alpha").adelete() == 1
        assert sorted(r["name"] for r in server.collection_rows(orbit_id)) == [
            "ALPHA", "gamma", "later"]

    asyncio.run(main())


def test_organization_and_orbit_reads(session: Session, server: LocalServer,
                                      orbit_id: str) -> None:
    user = server.add_user("async-reader")
    org = server.add_organization("Async Org", owner=user.id)
    other = server.add_organization("Async Org 2", owner=user.id)
    orbits = [server.add_orbit(org, f"async-orbit-{i}") for i in range(3)]
    s = Session(api_key=user.api_key, base_url=server.url, organization="Async Org")

    async def main() -> None:
        async with s:
            orgs = [o async for o in Organization.objects.all()]
            assert sorted(o.name for o in orgs) == ["Async Org", "Async Org 2"]
            assert await Organization.objects.acount() == 2
            assert (await Organization.objects.aget(name="Async Org 2")).id == other
            assert (await Organization.objects.aget(id=org)).name == "Async Org"
            assert await Organization.objects.filter(name="Nope").afirst() is None
            assert set(await Organization.objects.ain_bulk([org, other])) == {org, other}
            assert [o.id async for o in Orbit.objects.order_by("name")] == orbits
            assert await Orbit.objects.acount() == 3
            o = await Orbit.objects.aget(name="async-orbit-1")
            assert (o.id, o.organization_id) == (orbits[1], org)
            assert (await Orbit.objects.order_by("name").alast()).id == orbits[2]  # type: ignore[union-attr]
            assert await Orbit.objects.filter(name__startswith="async-orbit").aexists()
            with pytest.raises(Orbit.DoesNotExist):
                await Orbit.objects.aget(name="missing")

    asyncio.run(main())
    # The same reads, sync, see the same objects.
    assert sorted(o.name for o in Organization.objects.using(s)) == ["Async Org", "Async Org 2"]
    assert [o.id for o in Orbit.objects.using(s).order_by("name")] == orbits


# -- which session, and name resolution --------------------------------------------------------


def test_which_session_an_async_call_uses(make_session: MakeSession, server: LocalServer,
                                          clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    orbits = [server.add_orbit(server.organization_id, f"async-which-{i}") for i in range(4)]
    monkeypatch.setenv("DFS_API_KEY", server.api_key)
    monkeypatch.setenv("DFS_BASE_URL", server.url)
    monkeypatch.setenv("DFS_ORGANIZATION", server.organization_id)
    monkeypatch.setenv("DFS_ORBIT", orbits[0])
    outer, inner = make_session(orbit=orbits[2]), make_session(orbit=orbits[3])

    async def main() -> None:
        await Collection.objects.acreate(name="env", collection_type="model")
        dfo.configure(api_key=server.api_key, base_url=server.url,
                      organization=server.organization_id, orbit=orbits[1])
        await Collection.objects.acreate(name="default", collection_type="model")
        async with outer:
            await Collection.objects.acreate(name="outer", collection_type="model")
            async with inner:
                await Collection.objects.acreate(name="inner", collection_type="model")
                await Collection.objects.using(outer).acreate(name="using", collection_type="model")
                await Collection(name="asave using", collection_type="model").asave(using=outer)
            await Collection.objects.acreate(name="outer again", collection_type="model")
            found = await Collection.objects.aget(name="outer")
        found.name = "outer renamed"
        await found.asave()  # an object keeps the session that loaded it

    asyncio.run(main())
    got = [sorted(r["name"] for r in server.collection_rows(o)) for o in orbits]
    assert got == [["env"], ["default"], ["asave using", "outer again", "outer renamed", "using"],
                   ["inner"]]


def test_sessions_are_per_task(make_session: MakeSession, server: LocalServer,
                               session: Session) -> None:
    orbits = [server.add_orbit(server.organization_id, f"per-task-{i}") for i in range(8)]

    async def task(orbit: str, n: int) -> list[str]:
        async with make_session(orbit=orbit):
            names = []
            for i in range(3):
                await asyncio.sleep(0.001 * ((n + i) % 3))  # interleave the tasks
                c = await Collection.objects.acreate(name=f"{n}-{i}", collection_type="model")
                names.append(c.name)
                assert session_module.current_session().orbit == orbit
            return names

    async def main() -> None:
        await asyncio.gather(*(task(o, n) for n, o in enumerate(orbits)))
        assert session_module.current_session() is session  # the tasks' `async with` stayed theirs

    asyncio.run(main())
    for n, o in enumerate(orbits):
        names = sorted(r["name"] for r in server.collection_rows(o))
        assert names == [f"{n}-{i}" for i in range(3)]


def _named_account(server: LocalServer, tag: str) -> tuple[Any, str, str]:
    user = server.add_user(tag)
    org = server.add_organization(f"{tag} org", owner=user.id)
    server.add_organization(f"{tag} other org", owner=user.id)
    orbit = server.add_orbit(org, f"{tag} orbit")
    server.add_orbit(org, f"{tag} other orbit")
    return user, org, orbit


def test_name_resolution_matches_sync(server: LocalServer, clean_env: None) -> None:
    user, org, orbit = _named_account(server, "resolve")
    server.insert_collections(orbit, [{"name": f"r{i}", "type": "model"} for i in range(3)])

    def fresh() -> Session:
        return Session(api_key=user.api_key, base_url=server.url,
                       organization="resolve org", orbit="resolve orbit")

    server.reset_request_log()
    s = fresh()
    sync_counts = [Collection.objects.using(s).count() for _ in range(2)]
    sync_log = server.request_log
    server.reset_request_log()
    a = fresh()

    async def counts() -> list[int]:
        async with a:
            return [await Collection.objects.acount() for _ in range(2)]

    assert asyncio.run(counts()) == sync_counts == [3, 3]
    assert server.request_log == sync_log
    assert [p.split("?")[0] for _, p in sync_log][:2] == [
        "/v1/users/me/organizations", f"/v1/organizations/{org}/orbits"]
    assert len(sync_log) == 4  # resolved once, then one listing per count

    # Misses and ambiguity raise the same errors with the same messages.
    cases: list[dict[str, Any]] = [{"organization": "nope"}, {}, {"organization": org},
                                   {"organization": "resolve org", "orbit": "nope"}]
    for kw in cases:
        bad = Session(api_key=user.api_key, base_url=server.url, **kw)
        with pytest.raises(dfo.DataForceError) as sync_err:
            Collection.objects.using(bad).count()
        bad = Session(api_key=user.api_key, base_url=server.url, **kw)
        with pytest.raises(dfo.DataForceError) as async_err:
            asyncio.run(Collection.objects.using(bad).acount())
        assert type(async_err.value) is type(sync_err.value)
        assert str(async_err.value) == str(sync_err.value)


def test_concurrent_first_calls_resolve_names(server: LocalServer, clean_env: None) -> None:
    user, _, orbit = _named_account(server, "race")
    s = Session(api_key=user.api_key, base_url=server.url,
                organization="race org", orbit="race orbit")

    async def main() -> list[Collection]:
        async with s:
            return list(await asyncio.gather(*(
                Collection.objects.acreate(name=f"c{i}", collection_type="model")
                for i in range(20))))

    made = asyncio.run(main())
    assert {c.orbit_id for c in made} == {orbit}
    assert len(server.collection_rows(orbit)) == 20


# -- abulk_create ------------------------------------------------------------------------------


def test_abulk_create_returns_created_objects_in_order(session: Session, server: LocalServer,
                                                       orbit_id: str) -> None:
    objs = [new(f"bulk-{i:02d}", tags=[str(i)]) for i in range(30)]
    # A small delay makes the answers come back out of order.
    server.add_fault(Fault("delay", delay=0.02, method="POST", path=orbit_id, rate=0.5, seed=4))
    got = asyncio.run(Collection.objects.abulk_create(objs, concurrency=16))
    assert got == objs and all(a is b for a, b in zip(got, objs, strict=True))
    assert [c.name for c in objs] == [f"bulk-{i:02d}" for i in range(30)]
    rows = {r["id"]: r for r in server.collection_rows(orbit_id)}
    assert len(rows) == 30
    for c in objs:
        assert c.id in rows and rows[c.id]["name"] == c.name and rows[c.id]["tags"] == c.tags
        assert c.orbit_id == orbit_id and c.created_at is not None and not c.changed_fields()


@pytest.mark.parametrize(("status", "error"), [(409, dfo.ConflictError),
                                               (422, dfo.UnprocessableEntityError)])
def test_abulk_create_collects_per_item_errors(session: Session, server: LocalServer,
                                               orbit_id: str, status: int,
                                               error: type[Exception]) -> None:
    objs = [new(f"item-{i}") for i in range(6)]
    # concurrency=1 sends the POSTs in order, so the rejected request is item 0's.
    server.add_fault(Fault("status", status=status, method="POST", path=orbit_id, times=1))
    got = asyncio.run(Collection.objects.abulk_create(objs, concurrency=1))
    assert isinstance(got[0], error) and got[0].status == status  # type: ignore[attr-defined]
    assert objs[0].id is None
    assert got[1:] == objs[1:] and all(c.id is not None for c in objs[1:])
    assert sorted(r["name"] for r in server.collection_rows(orbit_id)) == [
        f"item-{i}" for i in range(1, 6)]


def test_abulk_create_failures_do_not_stop_the_others(session: Session, server: LocalServer,
                                                      orbit_id: str) -> None:
    objs = [new(f"many-{i}") for i in range(24)]
    server.add_fault(Fault("status", status=400, method="POST", path=orbit_id, rate=0.25, seed=7))
    got = asyncio.run(Collection.objects.abulk_create(objs, concurrency=6))
    failed = [i for i, g in enumerate(got) if isinstance(g, dfo.APIError)]
    assert 0 < len(failed) < 24 and server.fault_counts.get("status:400", 0) >= len(failed)
    made = [i for i, g in enumerate(got) if isinstance(g, Collection)]
    assert sorted(failed + made) == list(range(24))
    assert all(got[i] is objs[i] and objs[i].id for i in made)
    assert all(objs[i].id is None for i in failed)
    assert sorted(r["id"] for r in server.collection_rows(orbit_id)) == sorted(
        str(objs[i].id) for i in made)


@pytest.mark.parametrize("concurrency", [1, 4, 16])
def test_abulk_create_concurrency_is_bounded(session: Session, server: LocalServer,
                                             orbit_id: str, probe: Probe,
                                             concurrency: int) -> None:
    objs = [new(f"bounded-{i}") for i in range(32)]
    server.add_fault(Fault("delay", delay=0.03, method="POST", path=orbit_id))

    async def main() -> list[Any]:
        await Collection.objects.acount()  # resolve before counting
        probe.reset("POST")
        return await Collection.objects.abulk_create(objs, concurrency=concurrency)

    started = time.perf_counter()
    got = asyncio.run(main())
    elapsed = time.perf_counter() - started
    assert got == objs and len(server.collection_rows(orbit_id)) == 32
    assert probe.peak == concurrency  # reached, never exceeded
    # Each wave of `concurrency` POSTs takes the server's delay: they really overlap.
    assert elapsed >= 0.03 * (32 // concurrency) * 0.9


def test_abulk_create_refuses_bad_input_before_any_request(session: Session,
                                                           server: LocalServer) -> None:
    saved = Collection.objects.create(name="saved", collection_type="model")
    twice = new("twice")
    server.reset_request_log()
    cases: list[tuple[list[Collection], str]] = [
        ([new("ok"), Collection(name="no type")], "objs[1].collection_type"),
        ([new("ok"), saved], "objs[1]"),
        ([twice, new("ok"), twice], "objs[2]"),
    ]
    for objs, field in cases:
        with pytest.raises(dfo.ValidationError) as err:
            asyncio.run(Collection.objects.abulk_create(objs))
        assert err.value.field == field
    with pytest.raises(dfo.ValidationError, match="concurrency"):
        asyncio.run(Collection.objects.abulk_create([new("x")], concurrency=0))
    assert server.request_log == []
    assert asyncio.run(Collection.objects.abulk_create([])) == []


# -- many tasks on one session -----------------------------------------------------------------


def test_two_hundred_concurrent_agets(session: Session, server: LocalServer, orbit_id: str,
                                      probe: Probe) -> None:
    ids = server.insert_collections(
        orbit_id, [{"name": f"g{i:03d}", "type": "model"} for i in range(200)])

    async def main() -> list[Collection]:
        probe.reset("GET")
        return list(await asyncio.gather(*(Collection.objects.aget(id=i) for i in ids)))

    got = asyncio.run(main())
    assert [c.id for c in got] == ids
    assert [c.name for c in got] == [f"g{i:03d}" for i in range(200)]
    assert probe.peak > 1 and len(probe.clients) == 1  # concurrent, on one pooled client
    assert len([m for m, p in server.request_log if m == "GET" and orbit_id in p]) >= 200


def test_concurrent_saves_of_different_objects(session: Session, server: LocalServer,
                                               orbit_id: str) -> None:
    ids = server.insert_collections(
        orbit_id, [{"name": f"s{i}", "type": "model", "tags": []} for i in range(40)])

    async def edit(cid: str) -> None:
        c = await Collection.objects.aget(id=cid)
        c.tags = [*(c.tags or []), "edited"]
        c.description = f"for {c.name}"
        await c.asave()
        await c.arefresh()
        assert c.tags == ["edited"]

    async def main() -> None:
        await asyncio.gather(*(edit(i) for i in ids))

    asyncio.run(main())
    rows = server.collection_rows(orbit_id)
    assert all(r["tags"] == ["edited"] and r["description"] == f"for {r['name']}" for r in rows)


# -- cancellation ------------------------------------------------------------------------------


async def _until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.005)


def _sent(server: LocalServer, method: str, cid: str | None) -> int:
    return sum(1 for m, p in server.request_log if m == method and str(cid) in p)


def _pool_connections(client: httpx.AsyncClient) -> list[Any]:
    return list(client._transport._pool.connections)  # type: ignore[attr-defined]


@pytest.mark.parametrize("during", ["GET", "PATCH"])
def test_cancelled_save_is_all_or_nothing(session: Session, server: LocalServer,
                                          orbit_id: str, probe: Probe, during: str) -> None:
    c = Collection.objects.create(name="before", description="old", collection_type="model",
                                  tags=["old"])
    old = ("before", "old", ["old"])
    new_state = ("after", "new", ["new", "tags"])
    server.add_fault(Fault("delay", delay=0.3, method=during, path=str(c.id), times=1))

    async def main() -> None:
        c.name, c.description, c.tags = new_state[0], new_state[1], list(new_state[2])
        task = asyncio.create_task(c.asave())
        await _until(lambda: _sent(server, during, c.id) == 1)  # the request is at the server
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert task.cancelled()
        # The cancelled request's connection was dropped, not left busy in the pool.
        (client,) = probe.clients
        assert all(conn.is_closed() or conn.is_idle() for conn in _pool_connections(client))
        def state() -> tuple[Any, ...]:
            row = row_of(server, orbit_id, c.id)
            now = (row["name"], row["description"], row["tags"])
            assert now in (old, new_state)  # never a mix
            return now

        if during == "PATCH":  # the PATCH the server had received lands, whole
            await _until(lambda: state() == new_state)
        else:  # no PATCH was sent
            await asyncio.sleep(0.35)
            assert state() == old
        assert c.changed_fields() == ["name", "description", "tags"]  # still pending here
        await c.asave()  # the session still works; the edit lands (or is already there)
        row = row_of(server, orbit_id, c.id)
        assert (row["name"], row["description"], row["tags"]) == new_state
        assert not c.changed_fields()
        await session.aclose()
        assert client.is_closed and _pool_connections(client) == []

    asyncio.run(main())


def test_many_cancellations_leak_no_connections(session: Session, server: LocalServer,
                                                orbit_id: str, probe: Probe) -> None:
    ids = server.insert_collections(
        orbit_id, [{"name": f"x{i}", "type": "model"} for i in range(30)])
    server.add_fault(Fault("delay", delay=0.2, method="GET", path=orbit_id, times=30))

    async def main() -> None:
        tasks = [asyncio.create_task(Collection.objects.aget(id=i)) for i in ids]
        await _until(lambda: server.fault_counts.get("delay", 0) >= before + 30)
        for t in tasks:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results)
        (client,) = probe.clients
        assert all(conn.is_closed() or conn.is_idle() for conn in _pool_connections(client))
        got = await asyncio.gather(*(Collection.objects.aget(id=i) for i in ids))
        assert [g.id for g in got] == ids
        await session.aclose()
        assert client.is_closed

    before = server.fault_counts.get("delay", 0)
    asyncio.run(main())


def test_cancelled_bulk_create_sends_nothing_more(session: Session, server: LocalServer,
                                                  orbit_id: str, probe: Probe) -> None:
    objs = [new(f"cancel-{i}") for i in range(40)]
    server.add_fault(Fault("delay", delay=0.1, method="POST", path=orbit_id))

    async def main() -> int:
        probe.reset("POST")
        task = asyncio.create_task(Collection.objects.abulk_create(objs, concurrency=4))
        await _until(lambda: _sent(server, "POST", orbit_id) >= 6)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        started = probe.started
        await asyncio.sleep(0.3)
        assert probe.started == started  # no task kept going
        return started

    started = asyncio.run(main())
    assert 6 <= started < len(objs)
    assert _sent(server, "POST", orbit_id) <= started
    assert len(server.collection_rows(orbit_id)) <= started
