"""Writes that time out (issue 13), end to end through LocalServer's "stall" fault (a request
held longer than the client's read timeout, then applied and never answered), sync and async:
within the session's retry deadline the library settles the outcome itself (a create adopts
what it made, an update waits for its PATCH to land, a delete's 404 means done); past the
deadline the error carries the object, whose save() finishes without a duplicate."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from parity import AsyncMode, MakeSession, SyncMode

import dataforce_orm as dfo
from dataforce_orm import Collection, RetryPolicy, Session
from dataforce_orm.testing import Fault, LocalServer

READ = 0.2  # the client's read timeout


@pytest.fixture(params=["sync", "async"])
def tm(make_session: MakeSession, request: pytest.FixtureRequest, server: LocalServer,
       orbit_id: str) -> Iterator[tuple[SyncMode | AsyncMode, Session]]:
    """A mode and a session with a short read timeout and real (short) sleeps."""
    s = make_session(timeout=(2.0, READ),
                     retry=RetryPolicy(deadline=5.0, backoff=0.02, max_backoff=0.1))
    mode: SyncMode | AsyncMode = SyncMode() if request.param == "sync" else AsyncMode(s)
    with s:
        yield mode, s
    if isinstance(mode, AsyncMode):
        mode.close()
    s.close()
    server.clear_faults()


def _sent(server: LocalServer, method: str) -> int:
    return sum(1 for m, _ in server.request_log if m == method)


def test_a_stalled_create_is_adopted(tm: tuple[SyncMode | AsyncMode, Session],
                                     server: LocalServer, orbit_id: str) -> None:
    m, _ = tm
    server.add_fault(Fault(kind="stall", delay=3 * READ, method="POST", times=1))
    server.reset_request_log()
    c = m.create(Collection.objects, name="stalled", collection_type="model", tags=["t"])
    (row,) = server.collection_rows(orbit_id)
    assert c.id == row["id"] and c.name == "stalled"
    assert _sent(server, "POST") == 1  # watched for, never sent twice
    assert server.fault_counts["stall"] >= 1


def test_a_stalled_update_lands_and_is_not_resent(tm: tuple[SyncMode | AsyncMode, Session],
                                                  server: LocalServer, orbit_id: str) -> None:
    m, _ = tm
    c = m.create(Collection.objects, name="before", description="d", collection_type="model")
    server.add_fault(Fault(kind="stall", delay=3 * READ, method="PATCH", times=1))
    server.reset_request_log()
    c.name = "after"
    m.save(c)
    (row,) = server.collection_rows(orbit_id)
    assert (row["name"], row["description"]) == ("after", "d")
    assert c.changed_fields() == []
    assert _sent(server, "PATCH") == 1


def test_a_stalled_delete_is_done(tm: tuple[SyncMode | AsyncMode, Session],
                                  server: LocalServer, orbit_id: str) -> None:
    m, _ = tm
    c = m.create(Collection.objects, name="gone", collection_type="model")
    server.add_fault(Fault(kind="stall", delay=3 * READ, method="DELETE", times=1))
    m.delete(c)  # re-sent, answered 404: that means done
    assert c.id is None and server.collection_rows(orbit_id) == []


def _wait_until(check: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.02)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_past_the_deadline_the_error_carries_the_object(make_session: MakeSession, mode: str,
                                                        server: LocalServer, orbit_id: str) -> None:
    s = make_session(timeout=(2.0, READ),
                     retry=RetryPolicy(deadline=0.5, backoff=0.02, max_backoff=0.1))
    m: SyncMode | AsyncMode = SyncMode() if mode == "sync" else AsyncMode(s)
    try:
        server.add_fault(Fault(kind="stall", delay=1.5, method="POST", times=1))
        with pytest.raises(dfo.TimeoutError) as info:
            m.create(Collection.objects.using(s), name="late", collection_type="dataset")
        err = info.value
        assert err.maybe_sent and isinstance(err.instance, Collection)
        assert err.instance.id is None and err.instance.name == "late"
        _wait_until(lambda: len(server.collection_rows(orbit_id)) == 1)
        server.reset_request_log()
        m.save(err.instance, using=s)  # finishes the job: finds it, sends no second POST
        (row,) = server.collection_rows(orbit_id)
        assert err.instance.id == row["id"] and _sent(server, "POST") == 0

        c = err.instance
        server.add_fault(Fault(kind="stall", delay=1.5, method="PATCH", times=1))
        c.description = "new"
        with pytest.raises(dfo.TimeoutError) as info:
            m.save(c, using=s)
        assert info.value.instance is c
        _wait_until(lambda: server.collection_rows(orbit_id)[0]["description"] == "new")
        server.reset_request_log()
        m.save(info.value.instance, using=s)  # it landed: read back, nothing re-sent
        assert _sent(server, "PATCH") == 0 and c.changed_fields() == []
        assert len(server.collection_rows(orbit_id)) == 1
    finally:
        server.clear_faults()
        if isinstance(m, AsyncMode):
            m.close()
        s.close()
