"""Edge cases found in review: each names the behaviour it pins down."""

from __future__ import annotations

import pickle
import threading
from typing import Any

import pytest
from parity import MakeSession

import dataforce_orm as dfo
from dataforce_orm import Collection, Session
from dataforce_orm.testing import Fault, LocalServer


def test_a_create_refused_with_429_is_not_retried_twice_over(
        session: Session, server: LocalServer) -> None:
    server.add_fault(Fault(kind="status", status=429, method="POST"))
    server.reset_request_log()
    with pytest.raises(dfo.RateLimitError) as err:
        Collection.objects.create(name="busy", collection_type="model")
    methods = [m for m, _ in server.request_log]
    assert methods == ["POST"] * session.retry.attempts  # the driver's retries, no lookups
    assert err.value.attempts == session.retry.attempts


@pytest.mark.parametrize("bad", ["..", "x/y", "", 5, "01a2194c"])
def test_an_id_must_be_a_uuid(bad: Any) -> None:
    with pytest.raises(dfo.ValidationError, match="id"):
        Collection(id=bad)


def test_an_id_is_kept_canonical(session: Session) -> None:
    c = Collection.objects.create(name="x", collection_type="model")
    assert c.id is not None
    twin = Collection(id=c.id.upper().replace("-", ""))
    twin.refresh()  # a never-loaded object has no unsaved changes to protect
    assert twin.id == c.id and twin == c and twin.name == "x"


def test_client_side_order_puts_nulls_last_ascending_first_descending(
        session: Session) -> None:
    a = Collection.objects.create(name="a", collection_type="model")
    b = Collection.objects.create(name="b", collection_type="model")
    b.description = "touched"
    b.save()  # only b has updated_at
    asc = [c.name for c in Collection.objects.order_by("updated_at", "name")]
    desc = [c.name for c in Collection.objects.order_by("-updated_at", "name")]
    assert asc == ["b", "a"] and desc == ["a", "b"]
    assert a.updated_at is None


def test_reverse_and_last_refuse_a_sliced_queryset(session: Session) -> None:
    with pytest.raises(dfo.ValidationError, match="sliced"):
        Collection.objects.order_by("name")[:2].last()


def test_get_or_create_by_id_cannot_create(session: Session, server: LocalServer) -> None:
    server.reset_request_log()
    with pytest.raises(dfo.ValidationError, match="id"):
        Collection.objects.get_or_create(id="01a2194c-ef2b-725b-9be9-e8c31c21c786",
                                         defaults={"collection_type": "model"})
    assert [m for m, _ in server.request_log] == ["GET"]


@pytest.mark.parametrize("error", [
    dfo.NotFoundError(404, "GET", "/x", "Collection not found"),
    dfo.ConflictError(409, "PATCH", "/x", "changed", fields=["name"]),
    dfo.ValidationError("name", "too long"),
    dfo.TimeoutError("timed out", "GET", "/x", 3),
])
def test_errors_survive_pickling(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and str(copy) == str(error)
    assert copy.__dict__ == error.__dict__


def test_leaving_with_in_one_thread_keeps_other_threads_connections(
        session: Session) -> None:
    Collection.objects.count()
    mine = session.driver._http()
    done = threading.Event()

    def other() -> None:
        with session:
            Collection.objects.using(session).count()
        done.set()

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert done.is_set() and session.driver._http() is mine


def test_leaving_async_with_does_not_cut_another_tasks_request(make_session: MakeSession,
                                                               server: LocalServer,
                                                               orbit_id: str) -> None:
    import asyncio

    s = make_session(retry=dfo.RetryPolicy(attempts=1))
    Collection.objects.using(s).create(name="x", collection_type="model")
    server.add_fault(Fault(kind="delay", delay=0.3, method="GET", path=r"/collections$",
                           times=1))

    async def main() -> int:
        slow = asyncio.create_task(Collection.objects.using(s).acount())
        await asyncio.sleep(0.1)  # the slow count is in flight
        async with s:
            pass
        n = await slow
        await s.aclose()
        return n

    try:
        assert asyncio.run(main()) == 1
    finally:
        server.clear_faults()
        s.close()
