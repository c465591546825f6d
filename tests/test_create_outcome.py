"""A create whose outcome was unknown (timed out, or cancelled) is looked for on the next save()
before a POST is sent again, so saving again never makes a second collection."""

from __future__ import annotations

import asyncio
import time

import pytest
from parity import MakeSession

import dataforce_orm as dfo
from dataforce_orm import Collection, RetryPolicy, Session
from dataforce_orm.testing import Fault, LocalServer


def _wait_for_rows(server: LocalServer, orbit_id: str, n: int) -> None:
    deadline = time.monotonic() + 5
    while len(server.collection_rows(orbit_id)) < n and time.monotonic() < deadline:
        time.sleep(0.02)


def test_save_after_a_timed_out_create(make_session: MakeSession, server: LocalServer,
                                       orbit_id: str) -> None:
    s = make_session(timeout=(2.0, 0.2))
    server.add_fault(Fault(kind="delay", delay=0.5, method="POST", times=1))
    c = Collection(name="slow", collection_type="model")
    try:
        # Issue 13: the timed-out create is watched for within the deadline, and adopted.
        server.reset_request_log()
        c.save(using=s)
        (row,) = server.collection_rows(orbit_id)
        assert c.id == row["id"]
        assert [m for m, _ in server.request_log].count("POST") == 1  # no second POST
        # Past a deadline: the error; the next save() finds it first.
        s.retry = RetryPolicy(sleep=lambda _: None, deadline=0.1)
        s.driver.policy = s.async_driver.policy = s.retry
        server.add_fault(Fault(kind="delay", delay=0.5, method="POST", times=1))
        late = Collection(name="slower", collection_type="model")
        with pytest.raises(dfo.TimeoutError) as err:
            late.save(using=s)
        assert err.value.maybe_sent and late.id is None and err.value.instance is late
        _wait_for_rows(server, orbit_id, 2)  # the stalled POST lands after all
        server.reset_request_log()
        late.save(using=s)
        assert late.id in {r["id"] for r in server.collection_rows(orbit_id)}
        assert [m for m, _ in server.request_log] == ["GET"]  # found it; no second POST
    finally:
        server.clear_faults()
        s.close()


def test_asave_after_a_cancelled_create(server: LocalServer, orbit_id: str,
                                        session: Session) -> None:
    server.add_fault(Fault(kind="delay", delay=0.4, method="POST", times=1))
    c = Collection(name="cancelled", collection_type="dataset")

    async def main() -> None:
        task = asyncio.create_task(c.asave())
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.to_thread(_wait_for_rows, server, orbit_id, 1)
        await c.asave()
        await session.aclose()

    asyncio.run(main())
    (row,) = server.collection_rows(orbit_id)
    assert c.id == row["id"]


def test_a_refused_create_is_simply_sent_again(session: Session, server: LocalServer,
                                               orbit_id: str) -> None:
    server.add_fault(Fault(kind="status", status=400, method="POST", times=1))
    c = Collection(name="refused", collection_type="model")
    with pytest.raises(dfo.APIError):
        c.save()
    server.reset_request_log()
    c.save()
    assert [m for m, _ in server.request_log] == ["POST"]
    assert len(server.collection_rows(orbit_id)) == 1
