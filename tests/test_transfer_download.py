"""Downloads hash the bytes as they arrive: the SHA-256 check stays right across a resumed
transfer, a restart (a server ignoring Range), and catches a mismatch, sync and async."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dataforce_orm import IntegrityError
from dataforce_orm._http import AsyncDriver, SyncDriver, Transport
from dataforce_orm._retry import RetryPolicy
from dataforce_orm._transfer import CHUNK, Fetch, transfer_op

DATA = os.urandom(3 * CHUNK + 12345)


class Files:
    """A storage stand-in: the first GET breaks off after ``cut`` bytes; Range is honoured
    unless ``ranges`` is False."""

    def __init__(self) -> None:
        self.cut: int | None = None
        self.ranges = True
        self.gets: list[str | None] = []


@pytest.fixture
def files() -> Iterator[tuple[Files, str]]:
    state = Files()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            asked = self.headers.get("Range")
            state.gets.append(asked)
            start = int(asked[6:-1]) if asked and state.ranges else 0
            body = DATA[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(body)))
            if state.cut is not None:
                cut, state.cut = state.cut, None
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body[:cut])
                self.wfile.flush()
                self.close_connection = True
                return
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/object"
    finally:
        server.shutdown()
        server.server_close()


def fetch(mode: str, url: str, target: Path, sha256: str) -> None:
    policy = RetryPolicy(sleep=lambda _: None, backoff=0.0)
    step = Fetch(url, str(target), len(DATA), sha256)
    where = Transport("http://127.0.0.1:9", auth=lambda: "Bearer k", timeout=10, verify=True)
    if mode == "sync":
        SyncDriver(where, policy).run(transfer_op(step))
        return

    async def run() -> None:
        driver = AsyncDriver(where, policy)
        try:
            await driver.run(transfer_op(step))
        finally:
            await driver.aclose()

    asyncio.run(run())


GOOD = hashlib.sha256(DATA).hexdigest()


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("ranges", [True, False])
def test_broken_transfer_resumes_and_checks(mode: str, ranges: bool, tmp_path: Path,
                                            files: tuple[Files, str]) -> None:
    state, url = files
    state.cut, state.ranges = CHUNK + 777, ranges
    fetch(mode, url, tmp_path / "out", GOOD)
    assert (tmp_path / "out").read_bytes() == DATA
    assert state.gets[0] is None and state.gets[1] is not None  # the second asked a Range
    assert not (tmp_path / "out.part").exists()


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_mismatch_keeps_nothing(mode: str, tmp_path: Path, files: tuple[Files, str]) -> None:
    _, url = files
    with pytest.raises(IntegrityError):
        fetch(mode, url, tmp_path / "out", "0" * 64)
    assert list(tmp_path.iterdir()) == []
