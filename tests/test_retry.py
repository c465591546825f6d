"""Retries end to end against LocalServer: which failures are retried, backoff, deadline, logs.

Faults are scoped to the test's own orbit (``path=orbit_id``); the ``session`` fixture's
RetryPolicy records its sleeps in ``sleeps`` and never really sleeps.
"""

from __future__ import annotations

import builtins
import logging
import re
import time
from email.utils import formatdate
from typing import Any

import pytest
import tenacity
from parity import MakeSession

from dataforce_orm import (
    APIError,
    Collection,
    DataForceError,
    RetryPolicy,
    ServerError,
    Session,
    TimeoutError,
    TransportError,
)
from dataforce_orm.testing import Fault, LocalServer

RETRIED = [408, 429, 502, 503, 504]
NOT_RETRIED = [400, 401, 403, 404, 409, 422, 500]


def retrying(make_session: MakeSession, sleep: Any, *,
             timeout: float | tuple[float, float] = (5.0, 5.0), **policy: Any) -> Session:
    """A Session on the test's orbit with its own RetryPolicy (sleeps go to ``sleep``)."""
    return make_session(timeout=timeout, retry=RetryPolicy(sleep=sleep, **policy))


def sent(server: LocalServer, orbit_id: str, method: str | None = None) -> list[str]:
    """Paths (with query) of the requests the server received for this orbit."""
    return [p for m, p in server.request_log
            if orbit_id in p and (method is None or m == method)]


def seed(server: LocalServer, orbit_id: str, n: int) -> list[str]:
    return server.insert_collections(
        orbit_id, [{"name": f"c{i:03d}", "type": "model"} for i in range(n)])


# -- which failures are retried ---------------------------------------------------------------


@pytest.mark.parametrize("status", RETRIED)
def test_get_retried_on_transient_status(server: LocalServer, session: Session, orbit_id: str,
                                         sleeps: list[float], status: int) -> None:
    seed(server, orbit_id, 1)
    server.add_fault(Fault(kind="status", status=status, method="GET", path=orbit_id, times=2))
    assert [c.name for c in Collection.objects.all()] == ["c000"]
    assert len(sent(server, orbit_id, "GET")) == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("status", NOT_RETRIED)
def test_get_not_retried_on_other_status(server: LocalServer, session: Session, orbit_id: str,
                                         sleeps: list[float], status: int) -> None:
    server.add_fault(Fault(kind="status", status=status, method="GET", path=orbit_id, times=1))
    with pytest.raises(APIError) as info:
        list(Collection.objects.all())
    assert info.value.status == status
    assert info.value.attempts == 1
    assert len(sent(server, orbit_id, "GET")) == 1
    assert sleeps == []


@pytest.mark.parametrize("kind", ["drop", "drop_after"])
def test_get_retried_after_connection_drop(server: LocalServer, session: Session, orbit_id: str,
                                           sleeps: list[float], kind: str) -> None:
    seed(server, orbit_id, 3)
    server.add_fault(Fault(kind=kind, method="GET", path=orbit_id, times=2))
    assert len(list(Collection.objects.all())) == 3
    assert len(sent(server, orbit_id, "GET")) == 3
    assert len(sleeps) == 2


def test_get_retried_after_read_timeout(make_session: MakeSession, server: LocalServer,
                                        orbit_id: str, sleeps: list[float]) -> None:
    seed(server, orbit_id, 2)
    with retrying(make_session, sleeps, timeout=(2.0, 0.15)) as s:
        server.add_fault(Fault(kind="delay", delay=0.4, method="GET", path=orbit_id, times=1))
        assert len(list(Collection.objects.all())) == 2
    server.clear_faults()
    assert len(sent(server, orbit_id, "GET")) == 2
    assert len(sleeps) == 1
    s.close()


def test_read_timeouts_exhaust_attempts(make_session: MakeSession, server: LocalServer,
                                        orbit_id: str, sleeps: list[float]) -> None:
    s = retrying(make_session, sleeps, timeout=(2.0, 0.1), attempts=2)
    server.add_fault(Fault(kind="delay", delay=0.3, method="GET", path=orbit_id, times=2))
    try:
        with pytest.raises(TimeoutError) as info:
            list(Collection.objects.using(s).all())
    finally:
        server.clear_faults()
        s.close()
    err = info.value
    assert isinstance(err, builtins.TimeoutError)
    assert isinstance(err, TransportError)
    assert err.attempts == 2 and "after 2 attempts" in str(err)
    assert err.method == "GET" and err.url.endswith("/collections")
    assert len(sleeps) == 1


@pytest.mark.parametrize("attempts", [1, 3, 5])
def test_attempt_limit_and_final_error(make_session: MakeSession, server: LocalServer,
                                       orbit_id: str, sleeps: list[float], attempts: int) -> None:
    s = retrying(make_session, sleeps, attempts=attempts)
    server.add_fault(Fault(kind="status", status=503, method="GET", path=orbit_id))
    try:
        with pytest.raises(ServerError) as info:
            Collection.objects.using(s).count()
    finally:
        server.clear_faults()
        s.close()
    assert info.value.status == 503
    assert info.value.attempts == attempts
    assert len(sent(server, orbit_id, "GET")) == attempts
    assert len(sleeps) == attempts - 1


def test_default_policy_gives_up_after_five(server: LocalServer, session: Session,
                                            orbit_id: str, sleeps: list[float]) -> None:
    server.add_fault(Fault(kind="drop", method="GET", path=orbit_id))
    with pytest.raises(TransportError) as info:
        list(Collection.objects.all())
    assert type(info.value) is TransportError
    assert info.value.attempts == 5 and len(sent(server, orbit_id)) == 5 and len(sleeps) == 4


# -- POST: only re-sent by the driver when surely unprocessed -----------------------------------


@pytest.mark.parametrize("status", [408, 429])
def test_create_resent_after_unprocessed_status(server: LocalServer, session: Session,
                                                orbit_id: str, sleeps: list[float],
                                                status: int) -> None:
    server.add_fault(Fault(kind="status", status=status, method="POST", path=orbit_id, times=2))
    c = Collection.objects.create(name="n", collection_type="model")
    rows = server.collection_rows(orbit_id)
    assert [r["id"] for r in rows] == [c.id]
    assert len(sent(server, orbit_id, "POST")) == 3
    assert sent(server, orbit_id, "GET") == []  # surely unprocessed: no lookup needed
    assert len(sleeps) == 2


@pytest.mark.parametrize("status", [502, 503, 504])
def test_create_after_gateway_status_looks_then_resends(server: LocalServer, session: Session,
                                                        orbit_id: str, sleeps: list[float],
                                                        status: int) -> None:
    server.add_fault(Fault(kind="status", status=status, method="POST", path=orbit_id, times=2))
    c = Collection.objects.create(name="n", collection_type="model")
    assert [r["id"] for r in server.collection_rows(orbit_id)] == [c.id]
    assert len(sent(server, orbit_id, "POST")) == 3
    assert len(sent(server, orbit_id, "GET")) == 2  # one lookup per ambiguous failure
    assert len(sleeps) == 2


def test_create_gives_up_after_attempts(server: LocalServer, session: Session, orbit_id: str,
                                        sleeps: list[float]) -> None:
    server.add_fault(Fault(kind="status", status=503, method="POST", path=orbit_id))
    with pytest.raises(ServerError) as info:
        Collection.objects.create(name="n", collection_type="model")
    assert info.value.attempts == 5 and info.value.method == "POST"
    assert len(sent(server, orbit_id, "POST")) == 5
    assert server.collection_rows(orbit_id) == []


@pytest.mark.parametrize("status", [400, 403, 409, 422, 500])
def test_create_not_resent_on_other_status(server: LocalServer, session: Session,
                                           orbit_id: str, sleeps: list[float],
                                           status: int) -> None:
    server.add_fault(Fault(kind="status", status=status, method="POST", path=orbit_id, times=1))
    with pytest.raises(APIError) as info:
        Collection.objects.create(name="n", collection_type="model")
    assert info.value.status == status and info.value.attempts == 1
    assert len(sent(server, orbit_id)) == 1 and sleeps == []


# -- backoff ----------------------------------------------------------------------------------


def test_backoff_is_exponential_with_full_jitter(make_session: MakeSession, server: LocalServer,
                                                 orbit_id: str, sleeps: list[float]) -> None:
    backoff, cap, n = 0.5, 3.0, 40
    s = retrying(make_session, sleeps, attempts=n + 1, backoff=backoff, max_backoff=cap)
    server.add_fault(Fault(kind="status", status=503, method="GET", path=orbit_id, times=n))
    try:
        assert Collection.objects.using(s).count() == 0
    finally:
        server.clear_faults()
        s.close()
    assert len(sleeps) == n
    for attempt, slept in enumerate(sleeps, start=1):
        assert 0.0 <= slept <= min(cap, backoff * 2 ** (attempt - 1))
    capped = sleeps[3:]  # from the 4th retry on the bound is the cap
    assert min(capped) < cap / 2 < max(capped)  # jittered over the whole range, not fixed


def test_create_backoff_is_within_bounds(server: LocalServer, session: Session, orbit_id: str,
                                         sleeps: list[float]) -> None:
    policy = session.retry
    for i in range(12):
        server.add_fault(Fault(kind="status", status=503, method="POST", path=orbit_id, times=1))
        Collection.objects.create(name=f"n{i}", collection_type="model")
    assert len(sleeps) == 12
    assert all(0.0 <= s <= min(policy.max_backoff, policy.backoff) for s in sleeps)
    assert len(server.collection_rows(orbit_id)) == 12


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_retry_after_seconds(server: LocalServer, session: Session, orbit_id: str,
                             sleeps: list[float], method: str) -> None:
    server.add_fault(Fault(kind="status", status=503, retry_after="7", method=method,
                           path=orbit_id, times=1))
    if method == "GET":
        Collection.objects.count()
    else:
        Collection.objects.create(name="n", collection_type="model")
        assert len(server.collection_rows(orbit_id)) == 1
    assert sleeps == [7.0]


def test_retry_after_http_date(server: LocalServer, session: Session, orbit_id: str,
                               sleeps: list[float]) -> None:
    when = formatdate(time.time() + 20, usegmt=True)
    server.add_fault(Fault(kind="status", status=429, retry_after=when, method="GET",
                           path=orbit_id, times=1))
    Collection.objects.count()
    assert len(sleeps) == 1 and 18.0 <= sleeps[0] <= 20.0


def test_retry_after_in_the_past_means_now(server: LocalServer, session: Session,
                                           orbit_id: str, sleeps: list[float]) -> None:
    when = formatdate(time.time() - 3600, usegmt=True)
    server.add_fault(Fault(kind="status", status=503, retry_after=when, method="GET",
                           path=orbit_id, times=1))
    Collection.objects.count()
    assert sleeps == [0.0]


@pytest.mark.parametrize("value", ["3600", "date"])
def test_retry_after_is_capped(make_session: MakeSession, server: LocalServer, orbit_id: str,
                               sleeps: list[float], value: str) -> None:
    header = formatdate(time.time() + 86400, usegmt=True) if value == "date" else value
    s = retrying(make_session, sleeps, max_retry_after=4.0)
    server.add_fault(Fault(kind="status", status=429, retry_after=header, method="POST",
                           path=orbit_id, times=2))
    try:
        Collection.objects.using(s).create(name="n", collection_type="model")
    finally:
        server.clear_faults()
        s.close()
    assert sleeps == [4.0, 4.0]
    assert len(server.collection_rows(orbit_id)) == 1


def test_unparseable_retry_after_falls_back_to_backoff(server: LocalServer, session: Session,
                                                      orbit_id: str,
                                                      sleeps: list[float]) -> None:
    server.add_fault(Fault(kind="status", status=503, retry_after="soon", method="GET",
                           path=orbit_id, times=1))
    Collection.objects.count()
    assert len(sleeps) == 1 and 0.0 <= sleeps[0] <= session.retry.backoff


# -- overall deadline -------------------------------------------------------------------------


class FakeClock:
    """tenacity's monotonic clock, advanced only by the injected sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(tenacity, "time", fake)
    return fake


def test_deadline_stops_retrying(make_session: MakeSession, server: LocalServer, orbit_id: str,
                                 clock: FakeClock) -> None:
    s = retrying(make_session, clock.sleep, attempts=1000, deadline=10.0,
                     backoff=2.0, max_backoff=3.0)
    server.add_fault(Fault(kind="status", status=503, method="GET", path=orbit_id))
    try:
        with pytest.raises(ServerError) as info:
            Collection.objects.using(s).count()
    finally:
        server.clear_faults()
        s.close()
    assert sum(clock.sleeps) == pytest.approx(10.0)  # never past the deadline
    assert info.value.attempts == len(clock.sleeps) + 1 == len(sent(server, orbit_id))
    assert info.value.attempts < 1000


def test_retry_after_beyond_deadline_is_cut_to_it(make_session: MakeSession, server: LocalServer,
                                                  orbit_id: str, clock: FakeClock) -> None:
    s = retrying(make_session, clock.sleep, deadline=5.0, max_retry_after=60.0)
    server.add_fault(Fault(kind="status", status=503, retry_after="30", method="GET",
                           path=orbit_id))
    try:
        with pytest.raises(ServerError) as info:
            Collection.objects.using(s).count()
    finally:
        server.clear_faults()
        s.close()
    assert clock.sleeps == [5.0]
    assert info.value.attempts == 2


def test_tiny_real_deadline(make_session: MakeSession, server: LocalServer, orbit_id: str,
                            sleeps: list[float]) -> None:
    s = retrying(make_session, sleeps, timeout=(2.0, 0.1), attempts=100, deadline=0.25)
    server.add_fault(Fault(kind="delay", delay=0.4, method="GET", path=orbit_id))
    start = time.monotonic()
    try:
        with pytest.raises(TimeoutError) as info:
            Collection.objects.using(s).count()
    finally:
        server.clear_faults()
        s.close()
    assert time.monotonic() - start < 1.0
    assert 2 <= info.value.attempts <= 5


# -- other methods, and iteration -------------------------------------------------------------


def test_patch_settled_after_drop_after(server: LocalServer, session: Session, orbit_id: str,
                                        sleeps: list[float]) -> None:
    """A PATCH applied but unanswered is read back, not re-sent (a re-sent copy that stalled
    could land after a newer write)."""
    c = Collection.objects.create(name="n", description="d", collection_type="model",
                                  tags=["a"])
    other = Collection.objects.create(name="other", collection_type="dataset")
    c.description = "new"
    c.tags.append("b")
    server.add_fault(Fault(kind="drop_after", method="PATCH", path=orbit_id, times=1))
    c.save()
    assert len(sent(server, orbit_id, "PATCH")) == 1
    assert c.changed_fields() == [] and c.updated_at is not None
    rows = {r["id"]: r for r in server.collection_rows(orbit_id)}
    assert set(rows) == {c.id, other.id}
    assert (rows[c.id]["name"], rows[c.id]["description"], rows[c.id]["tags"]) == (
        "n", "new", ["a", "b"])
    assert rows[other.id]["name"] == "other" and rows[other.id]["updated_at"] is None
    fresh = Collection.objects.get(id=c.id)
    assert (fresh.name, fresh.description, fresh.tags) == ("n", "new", ["a", "b"])


@pytest.mark.parametrize("status", [502, 503])
def test_patch_retried_on_gateway_status(server: LocalServer, session: Session, orbit_id: str,
                                         sleeps: list[float], status: int) -> None:
    c = Collection.objects.create(name="n", collection_type="model")
    c.name = "renamed"
    server.add_fault(Fault(kind="status", status=status, method="PATCH", path=orbit_id,
                           times=2))
    c.save()
    assert len(sent(server, orbit_id, "PATCH")) == 3
    assert [r["name"] for r in server.collection_rows(orbit_id)] == ["renamed"]


def test_delete_dropped_after_commit_counts_as_done(server: LocalServer, session: Session,
                                                    orbit_id: str,
                                                    sleeps: list[float]) -> None:
    c = Collection.objects.create(name="n", collection_type="model")
    keep = Collection.objects.create(name="keep", collection_type="model")
    server.add_fault(Fault(kind="drop_after", method="DELETE", path=orbit_id, times=1))
    c.delete()  # the retry answers 404: it was deleted by the first attempt
    assert c.id is None and not c.is_saved
    assert len(sent(server, orbit_id, "DELETE")) == 2
    assert [r["id"] for r in server.collection_rows(orbit_id)] == [keep.id]


def test_delete_retried_after_drop(server: LocalServer, session: Session, orbit_id: str,
                                   sleeps: list[float]) -> None:
    c = Collection.objects.create(name="n", collection_type="model")
    server.add_fault(Fault(kind="drop", method="DELETE", path=orbit_id, times=1))
    c.delete()
    assert c.id is None and server.collection_rows(orbit_id) == []


def test_delete_404_on_first_attempt_is_does_not_exist(server: LocalServer, session: Session,
                                                       orbit_id: str,
                                                       sleeps: list[float]) -> None:
    c = Collection.objects.create(name="n", collection_type="model")
    Collection.objects.get(id=c.id).delete()
    with pytest.raises(Collection.DoesNotExist):
        c.delete()
    assert len(sent(server, orbit_id, "DELETE")) == 2 and sleeps == []


@pytest.mark.parametrize("fault", [
    Fault(kind="drop", method="GET", times=1),
    Fault(kind="drop_after", method="GET", times=2),
    Fault(kind="status", status=503, method="GET", times=1),
])
def test_page_retry_does_not_restart_iteration(server: LocalServer, session: Session,
                                               orbit_id: str, sleeps: list[float],
                                               fault: Fault) -> None:
    ids = seed(server, orbit_id, 250)
    it = Collection.objects.iterator()
    got = [next(it).id]
    first_page = sent(server, orbit_id, "GET")
    assert len(first_page) == 1 and "cursor" not in first_page[0]
    # The next request is the 2nd page: fail it.
    server.add_fault(Fault(kind=fault.kind, status=fault.status, method="GET", path=orbit_id,
                           times=fault.times))
    got += [c.id for c in it]
    assert len(got) == 250 and set(got) == set(ids)
    gets = sent(server, orbit_id, "GET")
    assert gets[0] == first_page[0] and all("cursor=" in g for g in gets[1:])
    assert len(gets) == 3 + (fault.times or 0)
    second = gets[1:-1]
    assert len(set(second)) == 1  # the same page, asked again


# -- logging ----------------------------------------------------------------------------------


def _ours(caplog: pytest.LogCaptureFixture, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("dataforce_orm") and r.levelno == level]


def test_each_retry_logs_a_warning(server: LocalServer, session: Session, orbit_id: str,
                                   sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    server.add_fault(Fault(kind="status", status=503, method="GET", path=orbit_id, times=2))
    Collection.objects.count()
    warnings = [r.getMessage() for r in _ours(caplog, logging.WARNING)]
    path = Collection._path.format(organization=server.organization_id, orbit=orbit_id)
    assert len(warnings) == 2
    for n, msg in enumerate(warnings, start=1):
        assert "GET" in msg and path in msg and "503" in msg
        assert re.search(rf"\battempt {n}\b", msg)


def test_transport_retry_logs_a_warning(server: LocalServer, session: Session, orbit_id: str,
                                        sleeps: list[float],
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dataforce_orm")
    c = Collection.objects.create(name="n", collection_type="model")
    path = f"/collections/{c.id}"
    server.add_fault(Fault(kind="drop", method="DELETE", path=orbit_id, times=1))
    c.delete()
    (msg,) = [r.getMessage() for r in _ours(caplog, logging.WARNING)]
    assert "DELETE" in msg and path in msg and "TransportError" in msg
    assert re.search(r"\battempt 1\b", msg)


@pytest.mark.parametrize("status", [502, 503])
def test_create_resend_logs_a_warning(server: LocalServer, session: Session, orbit_id: str,
                                      sleeps: list[float], caplog: pytest.LogCaptureFixture,
                                      status: int) -> None:
    caplog.set_level(logging.WARNING, logger="dataforce_orm")
    server.add_fault(Fault(kind="status", status=status, method="POST", path=orbit_id, times=2))
    Collection.objects.create(name="n", collection_type="model")
    warnings = [r.getMessage() for r in _ours(caplog, logging.WARNING)]
    path = Collection._path.format(organization=server.organization_id, orbit=orbit_id)
    assert len(warnings) == 2
    for n, msg in enumerate(warnings, start=1):
        assert "POST" in msg and path in msg and str(status) in msg
        assert re.search(rf"\battempt {n}\b", msg)


def test_debug_log_per_request_with_elapsed(server: LocalServer, session: Session,
                                            orbit_id: str, sleeps: list[float],
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dataforce_orm")
    server.add_fault(Fault(kind="status", status=503, method="GET", path=orbit_id, times=1))
    c = Collection.objects.create(name="n", collection_type="model")
    Collection.objects.count()
    debug = [r.getMessage() for r in _ours(caplog, logging.DEBUG)]
    assert len(debug) == 3  # POST, GET (503), GET (200)
    assert re.fullmatch(r"POST /\S+/collections -> 200 in \d+\.\d ms", debug[0])
    assert re.fullmatch(r"GET /\S+/collections -> 503 in \d+\.\d ms", debug[1])
    assert re.fullmatch(r"GET /\S+/collections -> 200 in \d+\.\d ms", debug[2])
    assert c.id is not None


def test_api_key_never_logged(make_session: MakeSession, server: LocalServer, session: Session,
                              orbit_id: str, sleeps: list[float],
                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, urllib3 included
    key = server.api_key
    errors: list[DataForceError] = []
    server.add_fault(Fault(kind="drop_after", method="POST", path=orbit_id, times=1))
    server.add_fault(Fault(kind="status", status=503, method="GET", path=orbit_id, times=1))
    c = Collection.objects.create(name="n", collection_type="model", tags=["x"])
    c.tags = ["y"]
    server.add_fault(Fault(kind="drop", method="PATCH", path=orbit_id, times=1))
    c.save()
    server.add_fault(Fault(kind="status", status=500, method="GET", path=orbit_id, times=1))
    with pytest.raises(ServerError) as info:
        list(Collection.objects.all())
    errors.append(info.value)
    bad = make_session(api_key="dfs_wrong_" + key[::-1], retry=RetryPolicy(sleep=sleeps))
    with pytest.raises(APIError) as info:
        Collection.objects.using(bad).count()
    errors.append(info.value)
    c.delete()
    assert caplog.records
    for record in caplog.records:
        text = f"{record.getMessage()} {record.__dict__!r}"
        assert key not in text and key[::-1] not in text
    for err in errors:
        assert key not in f"{err} {err!r} {err.__dict__!r}"
    assert key not in repr(session) and key[::-1] not in repr(bad)
    bad.close()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_spent_deadline_means_a_single_attempt(make_session: MakeSession, server: LocalServer,
                                               orbit_id: str, sleeps: list[float],
                                               method: str) -> None:
    s = retrying(make_session, sleeps, attempts=10, deadline=0.0)
    server.add_fault(Fault(kind="status", status=503, method=method, path=orbit_id))
    try:
        with pytest.raises(ServerError) as info:
            if method == "GET":
                Collection.objects.using(s).count()
            else:
                Collection.objects.using(s).create(name="n", collection_type="model")
    finally:
        server.clear_faults()
        s.close()
    assert info.value.attempts == 1 and len(sent(server, orbit_id)) == 1 and sleeps == []
