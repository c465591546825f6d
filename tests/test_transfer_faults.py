"""Storage transfers under faults: which storage requests are re-sent (by their method),
what errors say (never the presigned query), multipart uploads that stop (a failure, an
interrupt, a cancellation) stop their parts, progress that never goes back by itself, the
storage clients closed with their drivers, and interrupts during a retry backoff reaching the
operation. Against a small stand-in storage server, sync and async."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import wait as real_wait
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from dataforce_orm import APIError, TransportError
from dataforce_orm._errors import TimeoutError as DFTimeoutError
from dataforce_orm._http import AsyncDriver, SyncDriver, Transport
from dataforce_orm._protocol import Op, Request
from dataforce_orm._retry import RetryPolicy
from dataforce_orm._transfer import (
    CHUNK,
    AsyncReader,
    AsyncStorage,
    Call,
    Open,
    Progress,
    Put,
    PutParts,
    transfer_op,
)

SECRET = "X-Amz-Signature=topsecret"
Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Storage:
    """A stand-in storage server: ``answer(method, path)`` gives each answer (after
    ``delay`` seconds); every request is logged as (method, path)."""

    answer: Callable[[str, str], Answer] = lambda m, p: (200, {}, b"")
    delay: float = 0.0
    log: list[tuple[str, str]] = field(default_factory=list)
    url: str = ""

    def puts(self) -> int:
        return sum(1 for m, _ in self.log if m == "PUT")


@pytest.fixture
def storage() -> Iterator[Storage]:
    state = Storage()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def handle_any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            path = self.path.split("?")[0]
            state.log.append((self.command, path))
            if state.delay:
                time.sleep(state.delay)
            status, headers, body = state.answer(self.command, path)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = handle_any

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def refused_url() -> str:
    """A URL nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/bucket/key?{SECRET}"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.append(seconds)


def policy(sleeps: Sleeps, **kw: Any) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, async_sleep=sleeps.asleep, backoff=0.0, **kw)


def run_step(mode: str, step: Any, pol: RetryPolicy, timeout: Any = 5.0) -> Any:
    """Run a storage step as the library does: through a driver's retry engine."""
    where = Transport("http://127.0.0.1:9", auth=lambda: "Bearer k", timeout=timeout,
                      verify=True)
    if mode == "sync":
        return SyncDriver(where, pol).run(transfer_op(step))

    async def go() -> Any:
        driver = AsyncDriver(where, pol)
        try:
            return await driver.run(transfer_op(step))
        finally:
            await driver.aclose()

    return asyncio.run(go())


MODES = pytest.mark.parametrize("mode", ["sync", "async"])


def transport(url: str = "http://127.0.0.1:9", verify: bool | str = True) -> Transport:
    return Transport(url, auth=lambda: "Bearer k", timeout=5.0, verify=verify)


# -- 1. retries by the real method -----------------------------------------------------------


@MODES
def test_a_post_answered_503_is_not_resent(mode: str, storage: Storage) -> None:
    """The POST that starts or completes a multipart upload may have been applied."""
    storage.answer = lambda m, p: (503, {}, b"busy")
    sleeps = Sleeps()
    with pytest.raises(APIError) as info:
        run_step(mode, Call("POST", f"{storage.url}/b/k?uploads&{SECRET}"), policy(sleeps))
    assert storage.log == [("POST", "/b/k")]
    assert info.value.status == 503 and info.value.attempts == 1 and sleeps == []


@MODES
def test_a_post_that_was_never_sent_is_resent(mode: str) -> None:
    sleeps = Sleeps()
    with pytest.raises(TransportError) as info:
        run_step(mode, Call("POST", refused_url()), policy(sleeps, attempts=3))
    err = info.value
    assert not err.maybe_sent and err.attempts == 3 and len(sleeps) == 2
    assert SECRET not in str(err) and "topsecret" not in repr(err.__dict__)


@MODES
def test_slow_down_retry_after_is_honoured(mode: str, storage: Storage) -> None:
    """S3's SlowDown: 503 with Retry-After, on a (idempotent) PUT; and a 429 on a POST."""
    answers = iter([(503, {"Retry-After": "3"}, b"SlowDown"), (429, {"Retry-After": "2"}, b""),
                    (200, {}, b""), (429, {"Retry-After": "4"}, b""), (200, {}, b"")])
    storage.answer = lambda m, p: next(answers)
    sleeps = Sleeps()
    run_step(mode, Call("DELETE", f"{storage.url}/b/k?{SECRET}"), policy(sleeps))
    assert sleeps == [3.0, 2.0]
    sleeps.clear()
    run_step(mode, Call("POST", f"{storage.url}/b/k?{SECRET}"), policy(sleeps))
    assert [m for m, _ in storage.log] == ["DELETE"] * 3 + ["POST"] * 2 and sleeps == [4.0]


@MODES
def test_a_read_timeout_is_the_library_timeout_error(mode: str, storage: Storage) -> None:
    storage.delay = 0.5
    sleeps = Sleeps()
    with pytest.raises(DFTimeoutError) as info:
        run_step(mode, Call("GET", f"{storage.url}/b/k?{SECRET}"), policy(sleeps, attempts=2),
                 timeout=(2.0, 0.2))
    assert info.value.attempts == 2 and info.value.maybe_sent
    assert SECRET not in str(info.value)


@MODES
def test_retry_logs_name_the_real_method(mode: str, storage: Storage,
                                         caplog: pytest.LogCaptureFixture) -> None:
    storage.answer = lambda m, p: (502, {}, b"")
    with caplog.at_level(logging.WARNING, "dataforce_orm"), pytest.raises(APIError):
        run_step(mode, Call("DELETE", f"{storage.url}/b/k?{SECRET}"),
                 policy(Sleeps(), attempts=2))
    assert re.search(r"retrying DELETE \S+/b/k after 502", caplog.text)
    assert "PUT" not in caplog.text


# -- 2, 3. async open: errors wrapped, read() and iteration mixed --------------------------


DATA = random.Random(7).randbytes(3 * CHUNK + 12345)


def test_async_open_failure_is_a_transport_error_without_the_signature() -> None:
    with pytest.raises(TransportError) as info:
        run_step("async", Open(refused_url()), policy(Sleeps(), attempts=2))
    assert "topsecret" not in str(info.value) and info.value.attempts == 2
    assert info.value.__cause__ is None and info.value.__suppress_context__


@pytest.mark.parametrize("how", ["read", "iterate"])
def test_async_reader_cut_off_is_a_transport_error(how: str, storage: Storage) -> None:
    storage.answer = lambda m, p: (200, {"Content-Length": str(len(DATA) + 100),
                                         "Connection": "close"}, DATA)

    async def go() -> None:
        s = AsyncStorage(policy(Sleeps()), 5.0)
        try:
            async with await s.run(Open(f"{storage.url}/b/k?{SECRET}")) as f:
                if how == "read":
                    await f.read()
                else:
                    async for _ in f:
                        pass
        finally:
            await s.aclose()

    with pytest.raises(TransportError) as info:
        asyncio.run(go())
    assert "topsecret" not in str(info.value) and "/b/k" in str(info.value)


def test_async_reader_mixes_read_and_iteration(storage: Storage) -> None:
    storage.answer = lambda m, p: (200, {}, DATA)

    async def go() -> bytes:
        s = AsyncStorage(policy(Sleeps()), 5.0)
        try:
            f: AsyncReader = await s.run(Open(f"{storage.url}/b/k"))
            async with f:
                got = bytearray(await f.read(10))
                for n in (1, 4096, CHUNK + 5, 0):
                    got += await f.read(n)
                async for chunk in f:
                    got += chunk
                assert await f.read() == b"" and await f.read(5) == b""
                return bytes(got)
        finally:
            await s.aclose()

    assert asyncio.run(go()) == DATA


# -- 4, 5. multipart uploads that stop stop their parts --------------------------------------


def parts_step(storage: Storage, tmp_path: Path, n: int = 20, concurrency: int = 2) -> PutParts:
    path = tmp_path / "file"
    path.write_bytes(b"x" * (n * 100))
    return PutParts(tuple(Put(f"{storage.url}/b/k/{i}?{SECRET}", str(path), i * 100, 100)
                          for i in range(n)), concurrency)


@MODES
def test_a_failed_part_stops_the_parts_not_started(mode: str, storage: Storage,
                                                   tmp_path: Path) -> None:
    storage.delay = 0.05
    storage.answer = lambda m, p: (403, {}, b"denied") if p == "/b/k/0" else (200, {}, b"")
    with pytest.raises(APIError):
        run_step(mode, parts_step(storage, tmp_path), policy(Sleeps()))
    sent = storage.puts()
    time.sleep(0.3)
    assert sent == storage.puts() < 6  # none still going on after the call returned


def test_an_interrupt_during_a_sync_multipart_upload_stops_its_parts(
        storage: Storage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage.delay = 0.1

    def interrupted(fs: Any, timeout: Any = None, return_when: Any = None) -> Any:
        real_wait(fs, timeout=0.15)
        raise KeyboardInterrupt

    monkeypatch.setattr("dataforce_orm._http.wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_step("sync", parts_step(storage, tmp_path), policy(Sleeps()))
    sent = storage.puts()
    time.sleep(0.3)
    assert sent == storage.puts() <= 6


def test_a_cancelled_async_multipart_upload_has_stopped_its_parts(
        storage: Storage, tmp_path: Path) -> None:
    storage.delay = 0.3
    storage.answer = lambda m, p: (403, {}, b"denied") if p == "/b/k/0" else (200, {}, b"")
    left: list[asyncio.Task[Any]] = []

    async def go() -> None:
        driver = AsyncDriver(transport(), policy(Sleeps()))
        try:
            with pytest.raises(APIError):
                await driver.run(transfer_op(parts_step(storage, tmp_path, n=6, concurrency=3)))
            left.extend(t for t in asyncio.all_tasks() if t is not asyncio.current_task())
        finally:
            await driver.aclose()

    asyncio.run(go())
    assert left == []


# -- 6. progress ------------------------------------------------------------------------------


def test_progress_reported_from_threads_never_goes_back() -> None:
    seen: list[int] = []

    def report(done: int, total: int) -> None:
        time.sleep(random.random() / 5000)
        seen.append(done)

    progress = Progress(8 * 200, report, "upload")
    def send() -> None:
        for _ in range(200):
            progress.add(1)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for _ in range(8):
            pool.submit(send)
    assert len(seen) == 1600 and seen == sorted(seen) and seen[-1] == 1600


# -- 7. storage clients closed with their drivers, and verify passed on ----------------------


def test_sync_driver_close_closes_the_storage_sessions_and_verify_reaches_them() -> None:
    driver = SyncDriver(transport(verify=False), RetryPolicy())
    closed: list[int] = []
    sessions = []

    def in_thread() -> None:
        http = driver.storage._http()
        http.close = lambda: closed.append(1)  # type: ignore[method-assign]
        sessions.append(http)

    for _ in range(2):
        t = threading.Thread(target=in_thread)
        t.start()
        t.join()
    assert all(h.verify is False for h in sessions)
    driver.close()
    assert closed == [1, 1]


def test_async_driver_closes_the_storage_client(storage: Storage,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    httpx = pytest.importorskip("httpx")
    closed: list[Any] = []
    real = httpx.AsyncClient.aclose

    async def aclose(self: Any) -> None:
        closed.append(self)
        await real(self)

    monkeypatch.setattr(httpx.AsyncClient, "aclose", aclose)
    driver = AsyncDriver(transport(verify=False), RetryPolicy())

    async def explicitly() -> None:
        await driver.storage.run(Call("GET", f"{storage.url}/b/k"))
        await driver.aclose()
        assert len(closed) == 1 and closed[0].is_closed

    async def at_loop_shutdown() -> None:
        await driver.storage.run(Call("GET", f"{storage.url}/b/k"))

    asyncio.run(explicitly())
    asyncio.run(at_loop_shutdown())  # asyncio.run shuts down async generators: the closer
    assert len(closed) == 2 and closed[1].is_closed


def test_async_storage_client_gets_verify(tmp_path: Path) -> None:
    ssl = pytest.importorskip("ssl")
    driver = AsyncDriver(transport(verify=False), RetryPolicy())
    assert driver.storage.verify is False
    ca = Path(ssl.get_default_verify_paths().cafile or "")
    if ca.is_file():
        driver = AsyncDriver(transport(verify=str(ca)), RetryPolicy())
        assert isinstance(driver.storage.verify, ssl.SSLContext)


# -- 8. an interrupt during a retry backoff reaches the operation ---------------------------


def failing_op(seen: list[type[BaseException]]) -> Op[Any]:
    try:
        yield Request("GET", "/thing")
    except BaseException as exc:  # an operation's cleanup (as uploads PATCH upload_failed)
        seen.append(type(exc))
        raise


def test_interrupt_during_sync_backoff_reaches_the_operation(storage: Storage) -> None:
    storage.answer = lambda m, p: (503, {"Content-Type": "application/json"},
                                   b'{"detail": "busy"}')

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    driver = SyncDriver(transport(storage.url), RetryPolicy(sleep=interrupt))
    seen: list[type[BaseException]] = []
    with pytest.raises(KeyboardInterrupt):
        driver.run(failing_op(seen))
    driver.close()
    assert seen == [KeyboardInterrupt]


def test_cancel_during_async_backoff_reaches_the_operation(storage: Storage) -> None:
    storage.answer = lambda m, p: (503, {"Content-Type": "application/json"},
                                   b'{"detail": "busy"}')

    async def cancel(seconds: float) -> None:
        raise asyncio.CancelledError

    driver = AsyncDriver(transport(storage.url), RetryPolicy(async_sleep=cancel))
    seen: list[type[BaseException]] = []

    async def go() -> None:
        try:
            with pytest.raises(asyncio.CancelledError):
                await driver.run(failing_op(seen))
        finally:
            await driver.aclose()

    asyncio.run(go())
    assert seen == [asyncio.CancelledError]
