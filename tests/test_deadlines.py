"""Deadlines: with the server stalling, every call gives up within RetryPolicy.deadline plus one
timeout, with a TimeoutError (also a builtins.TimeoutError). Real clocks, small numbers."""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from raw_server import answer_each

from dataforce_orm import Collection, RetryPolicy, Session, TimeoutError
from dataforce_orm.testing import Fault, LocalServer

DEADLINE = 1.0
READ = 0.3
CONNECT = 0.3
SLACK = 0.5  # scheduling on a busy 2-core machine
STALL = 2.5  # longer than any deadline here


def _session(server_url: str, server: LocalServer, orbit_id: str) -> Session:
    return Session(api_key=server.api_key, base_url=server_url,
                   organization=server.organization_id, orbit=orbit_id,
                   timeout=(CONNECT, READ),
                   retry=RetryPolicy(attempts=1000, deadline=DEADLINE, backoff=0.05,
                                     max_backoff=0.1))


@pytest.fixture
def s(server: LocalServer, orbit_id: str) -> Iterator[Session]:
    sess = _session(server.url, server, orbit_id)
    yield sess
    server.clear_faults()
    sess.close()


def _stall(server: LocalServer, orbit_id: str, method: str | None = None) -> None:
    server.add_fault(Fault(kind="delay", delay=STALL, method=method, path=orbit_id))


def _timed(call: Callable[[], Any]) -> tuple[float, TimeoutError]:
    start = time.monotonic()
    with pytest.raises(TimeoutError) as info:
        call()
    elapsed = time.monotonic() - start
    assert isinstance(info.value, builtins.TimeoutError)
    return elapsed, info.value


def _within(elapsed: float, *, at_least: float = DEADLINE) -> None:
    assert at_least - 0.05 <= elapsed <= DEADLINE + READ + SLACK, elapsed


def _arun(coro_fn: Callable[[], Any], s: Session) -> Callable[[], Any]:
    async def main() -> Any:
        try:
            return await coro_fn()
        finally:
            await s.aclose()

    return lambda: asyncio.run(main())


# -- reads retry until the deadline, then stop -----------------------------------------------


READS: dict[str, Callable[[Session, str], Any]] = {
    "get": lambda s, cid: Collection.objects.using(s).get(id=cid),
    "count": lambda s, cid: Collection.objects.using(s).count(),
    "list": lambda s, cid: list(Collection.objects.using(s).filter(name__startswith="c")),
    "first": lambda s, cid: Collection.objects.using(s).first(),
    "exists": lambda s, cid: Collection.objects.using(s).exists(),
    "refresh": lambda s, cid: Collection(id=cid).refresh(discard=True, using=s),
}
AREADS: dict[str, Callable[[Session, str], Any]] = {
    "aget": lambda s, cid: Collection.objects.using(s).aget(id=cid),
    "acount": lambda s, cid: Collection.objects.using(s).acount(),
    "async for": lambda s, cid: _alist(s),
    "afirst": lambda s, cid: Collection.objects.using(s).afirst(),
}


async def _alist(s: Session) -> list[Collection]:
    return [c async for c in Collection.objects.using(s).all()]


@pytest.mark.parametrize("call", sorted(READS))
def test_stalled_read_gives_up_at_the_deadline(s: Session, server: LocalServer, orbit_id: str,
                                               call: str) -> None:
    (cid,) = server.insert_collections(orbit_id, [{"name": "c"}])
    _stall(server, orbit_id)
    elapsed, err = _timed(lambda: READS[call](s, cid))
    _within(elapsed)
    assert err.attempts >= 2 and err.maybe_sent


@pytest.mark.parametrize("call", sorted(AREADS))
def test_stalled_async_read_gives_up_at_the_deadline(s: Session, server: LocalServer,
                                                     orbit_id: str, call: str) -> None:
    (cid,) = server.insert_collections(orbit_id, [{"name": "c"}])
    _stall(server, orbit_id)
    elapsed, err = _timed(_arun(lambda: AREADS[call](s, cid), s))
    _within(elapsed)
    assert err.attempts >= 2


def test_iteration_stalling_midway(s: Session, server: LocalServer, orbit_id: str) -> None:
    server.insert_collections(orbit_id, [{"name": f"c{i}"} for i in range(150)])
    it = Collection.objects.using(s).iterator()
    first = [next(it) for _ in range(100)]  # the whole first page
    _stall(server, orbit_id)
    elapsed, _ = _timed(lambda: list(it))
    _within(elapsed)
    assert len(first) == 100


# -- writes: a stalled write is not re-sent but watched for until the deadline (issue 13) ------


def test_stalled_create_gives_up_at_the_deadline(s: Session, server: LocalServer,
                                                 orbit_id: str) -> None:
    _stall(server, orbit_id, "POST")
    elapsed, err = _timed(lambda: Collection.objects.using(s).create(name="x",
                                                                     collection_type="model"))
    _within(elapsed)  # it looked for what the POST made until the deadline
    assert err.maybe_sent and err.attempts == 1  # the POST itself was sent once
    assert isinstance(err.instance, Collection) and err.instance.name == "x"


def test_stalled_async_create_gives_up_at_the_deadline(s: Session, server: LocalServer,
                                                       orbit_id: str) -> None:
    _stall(server, orbit_id, "POST")
    elapsed, err = _timed(_arun(lambda: Collection.objects.using(s).acreate(
        name="x", collection_type="model"), s))
    _within(elapsed)
    assert err.maybe_sent and isinstance(err.instance, Collection)


@pytest.mark.parametrize("method", [None, "PATCH"])
def test_stalled_update(s: Session, server: LocalServer, orbit_id: str,
                        method: str | None) -> None:
    c = Collection.objects.using(s).create(name="x", collection_type="model")
    c.name = "y"
    _stall(server, orbit_id, method)
    elapsed, err = _timed(c.save)
    _within(elapsed)  # the read before it, or the read-back after it: until the deadline
    if method == "PATCH":  # the write itself: sent once, then only read back
        assert err.attempts == 1 and err.instance is c
    assert err.maybe_sent


def test_stalled_delete(s: Session, server: LocalServer, orbit_id: str) -> None:
    c = Collection.objects.using(s).create(name="x", collection_type="model")
    _stall(server, orbit_id, "DELETE")
    elapsed, err = _timed(c.delete)
    _within(elapsed)
    assert err.attempts >= 2 and c.id is not None  # not known to be deleted


# -- other ways of stalling ------------------------------------------------------------------


@pytest.fixture
def not_accepting() -> Iterator[str]:
    """A listening socket whose backlog is full: connects hang until their timeout."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    port = sock.getsockname()[1]
    fillers = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect(("127.0.0.1", port))
        fillers.append(c)
    time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    for c in [*fillers, sock]:
        c.close()


def test_server_not_accepting_connections(not_accepting: str, server: LocalServer,
                                          orbit_id: str) -> None:
    s = _session(not_accepting, server, orbit_id)
    try:
        elapsed, err = _timed(lambda: Collection.objects.using(s).count())
        _within(elapsed)
        assert not err.maybe_sent
        # nothing was sent, so even a create may be re-sent until the deadline
        elapsed, err = _timed(lambda: Collection.objects.using(s).create(
            name="x", collection_type="model"))
        _within(elapsed)
        assert err.attempts >= 2 and not err.maybe_sent
    finally:
        s.close()


class _Trickle:
    """Answers 200 at once, then sends its body one byte every 50 ms: every read is quick,
    the answer never ends in time."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.stop = threading.Event()
        answer_each(self.sock, self._answer, self.stop.is_set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                             b"content-length: 80\r\n\r\n")
                for _ in range(80):
                    if self.stop.is_set():
                        return
                    conn.sendall(b" ")
                    time.sleep(0.05)
            except OSError:
                return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_trickling_answer_is_cut_at_the_deadline(server: LocalServer, orbit_id: str,
                                                 driver: str) -> None:
    trickle = _Trickle()
    s = _session(trickle.url, server, orbit_id)
    try:
        if driver == "sync":
            elapsed, err = _timed(lambda: Collection.objects.using(s).count())
        else:
            elapsed, err = _timed(_arun(lambda: Collection.objects.using(s).acount(), s))
    finally:
        trickle.close()
        s.close()
    assert elapsed <= DEADLINE + READ + SLACK, elapsed
    assert err.maybe_sent
