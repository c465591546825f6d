"""The async retry path under injected faults, end to end against LocalServer.

Faults are scoped to the test's orbit or object (``path=``). The sessions here record their
backoff through ``RetryPolicy.async_sleep`` and fail the test if the sync ``sleep`` is used;
nothing really sleeps except the server's small delays for the timeout tests.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from email.utils import formatdate
from typing import Any

import pytest
from parity import MakeSession

from dataforce_orm import (
    APIError,
    Collection,
    QuerySet,
    RateLimitError,
    RetryPolicy,
    ServerError,
    TimeoutError,
)
from dataforce_orm.testing import Fault, LocalServer

RETRIED = [429, 502, 503, 504]
N = 40


def _no_sync_sleep(seconds: float) -> None:
    raise AssertionError(f"the async path slept with the sync sleep ({seconds})")


class Async:
    """A session on the test's orbit whose async sleeps are recorded, plus helpers."""

    def __init__(self, server: LocalServer, orbit_id: str, sleeps: Any,
                 make_session: MakeSession, **kw: Any) -> None:
        timeout = kw.pop("timeout", (5.0, 5.0))
        self.server, self.orbit_id, self.sleeps = server, orbit_id, sleeps
        self.session = make_session(timeout=timeout, retry=RetryPolicy(
            sleep=_no_sync_sleep, async_sleep=sleeps.asleep, **kw))

    def run(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            async with self.session:
                return await fn()

        return asyncio.run(main())

    @property
    def objects(self) -> QuerySet[Collection]:
        return Collection.objects.using(self.session)

    def sent(self, method: str, where: str | None = None) -> list[str]:
        where = where or self.orbit_id
        return [p for m, p in self.server.request_log if m == method and where in p]

    def seed(self, n: int, **body: Any) -> list[str]:
        return self.server.insert_collections(
            self.orbit_id, [{"name": f"c{i:03d}", "type": "model", **body} for i in range(n)])


@pytest.fixture
def a(server: LocalServer, orbit_id: str, sleeps: Any, make_session: MakeSession
      ) -> Iterator[Async]:
    yield Async(server, orbit_id, sleeps, make_session)
    server.clear_faults()


@pytest.fixture
def make(server: LocalServer, orbit_id: str, sleeps: Any, make_session: MakeSession
         ) -> Iterator[Callable[..., Async]]:
    yield lambda **kw: Async(server, orbit_id, sleeps, make_session, **kw)
    server.clear_faults()


def assert_exactly(a: Async, made: list[Any]) -> None:
    """One row per object, each object holding its own row's values."""
    assert all(isinstance(c, Collection) for c in made), made
    rows = {r["id"]: r for r in a.server.collection_rows(a.orbit_id)}
    assert len(rows) == len(made)
    assert sorted(str(c.id) for c in made) == sorted(rows)
    for c in made:
        row = rows[str(c.id)]
        assert (row["name"], row["description"], row["tags"]) == (
            c.name, c.description, c._lookup_value("tags"))  # (a null shows as [])


# -- reads -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", RETRIED)
def test_aget_retried_on_transient_status(a: Async, status: int) -> None:
    (cid,) = a.seed(1)
    a.server.add_fault(Fault("status", status=status, method="GET", path=cid, times=2))
    got = a.run(lambda: a.objects.aget(id=cid))
    assert got.id == cid
    assert len(a.sent("GET", cid)) == 3 and len(a.sleeps) == 2


def test_retry_after_seconds(a: Async) -> None:
    (cid,) = a.seed(1)
    a.server.add_fault(Fault("status", status=429, retry_after="7", method="GET", path=cid,
                             times=1))
    a.server.add_fault(Fault("status", status=503, retry_after="3", method="GET", path=cid,
                             times=1))
    assert a.run(lambda: a.objects.aget(id=cid)).id == cid
    assert a.sleeps == [7.0, 3.0]


def test_retry_after_http_date(a: Async) -> None:
    (cid,) = a.seed(1)
    when = formatdate(time.time() + 20, usegmt=True)
    a.server.add_fault(Fault("status", status=429, retry_after=when, method="GET", path=cid,
                             times=1))
    assert a.run(lambda: a.objects.aget(id=cid)).id == cid
    (slept,) = a.sleeps
    assert 18.0 <= slept <= 20.5


def test_retry_after_is_capped(make: Callable[..., Async]) -> None:
    a = make(max_retry_after=4.0)
    (cid,) = a.seed(1)
    a.server.add_fault(Fault("status", status=503, retry_after="600", method="GET", path=cid,
                             times=1))
    assert a.run(lambda: a.objects.aget(id=cid)).id == cid
    assert a.sleeps == [4.0]


def test_backoff_grows_with_full_jitter(make: Callable[..., Async]) -> None:
    a = make(attempts=6, backoff=1.0, max_backoff=4.0)
    (cid,) = a.seed(1)
    a.server.add_fault(Fault("status", status=502, method="GET", path=cid, times=5))
    assert a.run(lambda: a.objects.aget(id=cid)).id == cid
    caps = [1.0, 2.0, 4.0, 4.0, 4.0]
    assert len(a.sleeps) == 5 and all(0.0 <= s <= c for s, c in zip(a.sleeps, caps, strict=True))


@pytest.mark.parametrize("kind", ["drop", "drop_after"])
def test_dropped_reads_are_retried(a: Async, kind: str) -> None:
    (cid,) = a.seed(1)
    a.server.add_fault(Fault(kind, method="GET", path=cid, times=2))
    assert a.run(lambda: a.objects.aget(id=cid)).name == "c000"
    assert len(a.sent("GET", cid)) == 3 and len(a.sleeps) == 2


def test_read_timeouts_are_retried(make: Callable[..., Async]) -> None:
    a = make(timeout=(2.0, 0.15))
    (cid,) = a.seed(1)
    a.server.add_fault(Fault("delay", delay=0.4, method="GET", path=cid, times=2))
    assert a.run(lambda: a.objects.aget(id=cid)).id == cid
    assert len(a.sent("GET", cid)) == 3 and len(a.sleeps) == 2


def test_read_timeouts_exhaust_attempts(make: Callable[..., Async]) -> None:
    a = make(timeout=(2.0, 0.1), attempts=2)
    (cid,) = a.seed(1)
    a.server.add_fault(Fault("delay", delay=0.3, method="GET", path=cid, times=2))
    with pytest.raises(TimeoutError) as err:
        a.run(lambda: a.objects.aget(id=cid))
    assert isinstance(err.value, builtins.TimeoutError)
    assert err.value.attempts == 2 and "after 2 attempts" in str(err.value)
    assert err.value.method == "GET" and cid in err.value.url
    assert len(a.sent("GET", cid)) == 2 and len(a.sleeps) == 1


def test_final_error_carries_the_attempts(make: Callable[..., Async]) -> None:
    a = make(attempts=4)
    (cid,) = a.seed(1)
    a.server.add_fault(Fault("status", status=503, method="GET", path=cid))
    with pytest.raises(ServerError) as err:
        a.run(lambda: a.objects.aget(id=cid))
    assert err.value.status == 503 and err.value.attempts == 4
    assert "after 4 attempts" in str(err.value)
    assert len(a.sent("GET", cid)) == 4 and len(a.sleeps) == 3


def test_rate_limit_exhausted_is_a_rate_limit_error(make: Callable[..., Async]) -> None:
    a = make(attempts=3)
    (cid,) = a.seed(1)
    a.server.add_fault(Fault("status", status=429, retry_after="1", method="GET", path=cid))
    with pytest.raises(RateLimitError) as err:
        a.run(lambda: a.objects.aget(id=cid))
    assert err.value.attempts == 3 and err.value.retry_after == 1.0
    assert a.sleeps == [1.0, 1.0]


@pytest.mark.parametrize("status", [400, 401, 403, 409, 500])
def test_other_statuses_are_not_retried(a: Async, status: int) -> None:
    (cid,) = a.seed(1)
    a.server.add_fault(Fault("status", status=status, method="GET", path=cid, times=1))
    with pytest.raises(APIError) as err:
        a.run(lambda: a.objects.aget(id=cid))
    assert err.value.status == status and err.value.attempts == 1
    assert len(a.sent("GET", cid)) == 1 and a.sleeps == []


def test_page_retry_does_not_restart_iteration(a: Async) -> None:
    a.seed(250)

    async def names() -> list[str]:
        out = []
        async for c in a.objects.order_by("name"):
            out.append(c.name)
            if len(out) == 100:  # the first page is in: fail the second page's request twice
                a.server.add_fault(Fault("status", status=502, method="GET", path=a.orbit_id,
                                         times=2))
        return out

    got = a.run(names)
    assert got == [f"c{i:03d}" for i in range(250)]
    gets = a.sent("GET")
    assert len(gets) == 1 + 3 + 1 and len(a.sleeps) == 2
    assert "cursor" not in gets[0] and gets[1] == gets[2] == gets[3] and "cursor" in gets[1]


def test_many_concurrent_reads_under_faults(make: Callable[..., Async]) -> None:
    a = make(attempts=10)
    ids = a.seed(60)
    a.server.add_fault(Fault("status", status=503, method="GET", path=a.orbit_id, rate=0.3,
                             seed=11))
    a.server.add_fault(Fault("drop", method="GET", path=a.orbit_id, rate=0.1, seed=12))

    async def all_of_them() -> list[Collection]:
        return list(await asyncio.gather(*(a.objects.aget(id=i) for i in ids)))

    got = a.run(all_of_them)
    assert [c.id for c in got] == ids and len(a.sleeps) > 0


def test_each_async_retry_logs_a_warning(a: Async, caplog: pytest.LogCaptureFixture) -> None:
    (cid,) = a.seed(1)
    a.server.add_fault(Fault("status", status=503, method="GET", path=cid, times=2))
    with caplog.at_level(logging.WARNING, logger="dataforce_orm"):
        a.run(lambda: a.objects.aget(id=cid))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert all("503" in w and "GET" in w and cid in w for w in warnings)
    assert a.server.api_key not in caplog.text


# -- creates: exactly once ---------------------------------------------------------------------


def test_dropped_after_commit_create_is_not_resent(a: Async) -> None:
    a.server.add_fault(Fault("drop_after", method="POST", path=a.orbit_id, times=1))
    c = a.run(lambda: a.objects.acreate(name="once", collection_type="model", tags=["t"]))
    assert_exactly(a, [c])
    assert len(a.sent("POST")) == 1  # the lookup found the committed row: no re-send
    assert a.sleeps == []


def test_create_dropped_before_commit_is_resent_once(a: Async) -> None:
    a.server.add_fault(Fault("drop", method="POST", path=a.orbit_id, times=1))
    c = a.run(lambda: a.objects.acreate(name="twice sent", collection_type="model"))
    assert_exactly(a, [c])
    assert len(a.sent("POST")) == 2 and len(a.sleeps) == 1


@pytest.mark.parametrize("status", [502, 503, 504])
def test_create_after_gateway_error_looks_before_resending(a: Async, status: int) -> None:
    a.server.add_fault(Fault("status", status=status, method="POST", path=a.orbit_id, times=1))
    c = a.run(lambda: a.objects.acreate(name="gw", collection_type="model"))
    assert_exactly(a, [c])
    log = [(m, p.split("?")[0]) for m, p in a.server.request_log if a.orbit_id in p]
    path = f"/v1/organizations/{a.server.organization_id}/orbits/{a.orbit_id}/collections"
    assert log == [("POST", path), ("GET", path), ("POST", path)]


def test_create_after_429_is_resent_without_a_lookup(a: Async) -> None:
    a.server.add_fault(Fault("status", status=429, retry_after="2", method="POST",
                             path=a.orbit_id, times=1))
    c = a.run(lambda: a.objects.acreate(name="limited", collection_type="model"))
    assert_exactly(a, [c])
    assert [m for m, p in a.server.request_log if a.orbit_id in p] == ["POST", "POST"]
    assert a.sleeps == [2.0]


def test_create_gives_up_with_attempts(make: Callable[..., Async]) -> None:
    a = make(attempts=3)
    a.server.add_fault(Fault("status", status=503, method="POST", path=a.orbit_id))
    c = Collection(name="never", collection_type="model")
    with pytest.raises(ServerError) as err:
        a.run(lambda: c.asave(using=a.session))
    assert err.value.attempts == 3 and c.id is None
    assert len(a.sent("POST")) == 3 and len(a.sleeps) == 2
    assert a.server.collection_rows(a.orbit_id) == []


def _bodies(same: bool, prefix: str) -> list[dict[str, Any]]:
    """N create bodies: all different, or all the same (a lookup cannot tell them apart)."""
    if same:
        return [{"name": "same", "description": "d", "tags": ["t"]}] * N
    return [{"name": f"{prefix}-{i:02d}", "description": f"#{i}", "tags": [str(i)]}
            for i in range(N)]


@pytest.mark.parametrize("same", [False, True], ids=["distinct", "identical"])
@pytest.mark.parametrize("kind", ["drop_after", "drop"])
def test_n_concurrent_creates_make_n_rows(make: Callable[..., Async], kind: str,
                                          same: bool) -> None:
    a = make(attempts=10)
    made: list[Collection] = []
    for seed in range(3):
        a.server.add_fault(Fault(kind, method="POST", path=a.orbit_id, rate=0.3, seed=seed))
        objs = [Collection(collection_type="model", **b) for b in _bodies(same, f"r{seed}")]
        a.server.reset_request_log()
        got = a.run(lambda: a.objects.abulk_create(objs, concurrency=8))  # noqa: B023
        a.server.clear_faults()
        assert got == objs
        made += objs
        assert_exactly(a, made)  # distinct ids, one row each, even for identical bodies
        posts = len(a.sent("POST"))
        assert (posts == N) if kind == "drop_after" else (posts > N)


def test_threads_creating_identical_collections_make_n_rows(make_session: MakeSession,
                                                            server: LocalServer, orbit_id: str,
                                                            sleeps: Any) -> None:
    """The same claim rules hold on the sync driver, for threads sharing one session."""
    s = make_session(retry=RetryPolicy(attempts=10, sleep=sleeps))
    server.add_fault(Fault("drop_after", method="POST", path=orbit_id, rate=0.3, seed=1))
    objs = [Collection(name="same", collection_type="model") for _ in range(N)]

    def work(k: int) -> None:
        for c in objs[k::8]:
            c.save(using=s)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.clear_faults()
        s.close()
    ids = {c.id for c in objs}
    assert len(ids) == N and ids == {r["id"] for r in server.collection_rows(orbit_id)}


def test_n_concurrent_creates_under_gateway_errors(make: Callable[..., Async]) -> None:
    a = make(attempts=10)
    a.server.add_fault(Fault("status", status=502, method="POST", path=a.orbit_id, rate=0.2,
                             seed=8))
    a.server.add_fault(Fault("drop_after", method="POST", path=a.orbit_id, rate=0.2, seed=9))
    a.server.add_fault(Fault("status", status=503, method="GET", path=a.orbit_id, rate=0.2,
                             seed=10))
    objs = [Collection(name=f"g-{i:02d}", collection_type="dataset") for i in range(N)]
    got = a.run(lambda: a.objects.abulk_create(objs, concurrency=8))
    assert got == objs
    assert_exactly(a, objs)


# -- updates and deletes -----------------------------------------------------------------------


@pytest.mark.parametrize("fault", [Fault("status", status=503, method="PATCH", times=1),
                                   Fault("drop", method="PATCH", times=1),
                                   Fault("drop_after", method="PATCH", times=1)],
                         ids=["503", "drop", "drop_after"])
def test_asave_retried_after_a_failed_patch(a: Async, fault: Fault) -> None:
    (cid,) = a.seed(1, tags=["a"])

    async def edit() -> Collection:
        c = await a.objects.aget(id=cid)
        c.name, c.tags = "renamed", ["a", "b"]
        a.server.add_fault(Fault(fault.kind, status=fault.status, method="PATCH", path=cid,
                                 times=1))
        await c.asave()
        return c

    c = a.run(edit)
    (row,) = a.server.collection_rows(a.orbit_id)
    assert (row["name"], row["tags"]) == ("renamed", ["a", "b"]) == (c.name, c.tags)
    assert not c.changed_fields()
    # a 503 is re-sent by the retry engine; a dropped connection is read back first, and only
    # a PATCH that did not land (drop) is sent again (drop_after: it landed, once)
    assert len(a.sent("PATCH", cid)) == (1 if fault.kind == "drop_after" else 2)
    assert len(a.sleeps) == 1


def test_adelete_after_a_dropped_answer_is_success(a: Async) -> None:
    (cid,) = a.seed(1)

    async def delete() -> Collection:
        c = await a.objects.aget(id=cid)
        a.server.add_fault(Fault("drop_after", method="DELETE", path=cid, times=1))
        await c.adelete()
        return c

    c = a.run(delete)
    assert c.id is None and a.server.collection_rows(a.orbit_id) == []
    assert len(a.sent("DELETE", cid)) == 2  # the re-send's 404 means the first one worked


def test_adelete_retried_after_gateway_error(a: Async) -> None:
    (cid,) = a.seed(1)
    a.server.add_fault(Fault("status", status=504, method="DELETE", path=cid, times=2))

    async def delete() -> None:
        await (await a.objects.aget(id=cid)).adelete()

    a.run(delete)
    assert a.server.collection_rows(a.orbit_id) == []
    assert len(a.sent("DELETE", cid)) == 3


def test_adelete_404_on_the_first_attempt_is_does_not_exist(a: Async) -> None:
    (cid,) = a.seed(1)

    async def delete() -> None:
        c = await a.objects.aget(id=cid)
        Collection.objects.using(a.session).filter(id=cid).delete()  # gone elsewhere
        await c.adelete()

    with pytest.raises(Collection.DoesNotExist):
        a.run(delete)


def test_aqueryset_delete_under_faults(make: Callable[..., Async]) -> None:
    a = make(attempts=10)
    a.seed(30)
    a.server.add_fault(Fault("drop_after", method="DELETE", path=a.orbit_id, rate=0.3, seed=2))
    a.server.add_fault(Fault("status", status=503, method="DELETE", path=a.orbit_id, rate=0.2,
                             seed=5))
    assert a.run(lambda: a.objects.adelete()) == 30
    assert a.server.collection_rows(a.orbit_id) == []
