"""A broken or hostile server cannot make the library write outside a directory, hang,
exhaust memory or raise anything but a DataForceError.

The server here is played on loopback with raw sockets, so it can do what no well-behaved
server does: trickle its headers, send endless bodies, a wrong Content-Range, gzip bombs,
``Retry-After: ²``, echo the key back. Each class of misbehaviour is tried sync and async,
with small caps and short stall windows set on the Session so the suite stays fast.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import hashlib
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from raw_server import answer_each

from dataforce_orm import (
    BucketSecret,
    Collection,
    DataForceError,
    IntegrityError,
    RetryPolicy,
    ServerError,
    Session,
    TimeoutError,
    TransportError,
    ValidationError,
)
from dataforce_orm._artifacts import Artifact
from dataforce_orm.testing import LocalServer

KEY = "dfs_hostile-test-key-0123456789"
ORG = "01a23b37-0000-7000-8000-000000000001"
ORBIT = "01a23b37-0000-7000-8000-000000000002"
CID = "01a23b37-0000-7000-8000-000000000003"
AID = "01a23b37-0000-7000-8000-000000000004"
MODES = ("sync", "async")

Piece = bytes | float  # bytes to send, or seconds to wait
Script = Callable[[str, str, dict[str, str]], Iterable[Piece]]


class Hostile:
    """A loopback HTTP server answering each request by ``script(method, path, headers)``:
    the pieces it yields are sent (bytes) or waited for (seconds); the connection is then
    closed. ``sent`` counts the bytes it managed to send."""

    def __init__(self) -> None:
        self.script: Script = lambda m, p, h: [answer(404, {"detail": "no script"})]
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.sent = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = False
        answer_each(self._sock, self._serve, lambda: self._stop)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, rest = data.partition(b"\r\n\r\n")
            line, *lines = head.decode("latin-1").split("\r\n")
            method, path, _ = line.split(" ", 2)
            headers = {k.strip().lower(): v.strip()
                       for k, _, v in (x.partition(":") for x in lines)}
            length = int(headers.get("content-length", 0))
            while len(rest) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                rest += chunk
            headers["body"] = rest.decode("utf-8", "replace")
            self.requests.append((method, path, headers))
            try:
                for piece in self.script(method, path, headers):
                    if isinstance(piece, float):
                        time.sleep(piece)
                    else:
                        conn.sendall(piece)
                        self.sent += len(piece)
            except OSError:
                pass

    def close(self) -> None:
        self._stop = True
        self._sock.close()


def head(status: int, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X", "Connection: close",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(status: int, data: Any, headers: dict[str, str] | None = None) -> bytes:
    body = json.dumps(data).encode()
    return head(status, {"Content-Type": "application/json",
                         "Content-Length": str(len(body)), **(headers or {})}) + body


def raw(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    return head(status, {"Content-Length": str(len(body)), **(headers or {})}) + body


@pytest.fixture
def srv() -> Iterator[Hostile]:
    server = Hostile()
    yield server
    server.close()


def session(srv: Hostile, **kw: Any) -> Session:
    settings: dict[str, Any] = {
        "timeout": (1.0, 1.0), "stall": (1024, 0.5), "max_answer_size": 64 * 1024,
        "retry": RetryPolicy(attempts=3, deadline=1.5, backoff=0.01, max_backoff=0.02)}
    settings.update(kw)
    return Session(api_key=KEY, base_url=srv.url, organization=ORG, orbit=ORBIT, **settings)


def call(mode: str, s: Session, sync: Callable[[], Any], coro: Callable[[], Any]) -> Any:
    """Run the sync call, or the async one in a fresh loop (closing its clients after)."""
    if mode == "sync":
        try:
            return sync()
        finally:
            s.close()

    async def main() -> Any:
        try:
            return await coro()
        finally:
            await s.aclose()

    return asyncio.run(main())


def get(mode: str, s: Session) -> Any:
    return call(mode, s, lambda: Collection.objects.using(s).get(id=CID),
                lambda: Collection.objects.using(s).aget(id=CID))


def collection() -> dict[str, Any]:
    return {"id": CID, "name": "c", "description": "", "collection_type": "model",
            "orbit_id": ORBIT, "tags": [], "total_artifacts": 0,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}


def artifact(**fields: Any) -> dict[str, Any]:
    data = b"data"
    row = {"id": AID, "collection_id": CID, "name": "m", "description": None, "tags": [],
           "type": "model", "status": "uploaded", "file_name": "m.luml", "size": len(data),
           "file_hash": hashlib.sha256(data).hexdigest(), "bucket_location": "b/m.luml",
           "unique_identifier": "u", "created_by_user": None, "extra_values": {},
           "manifest": {}, "file_index": {}, "created_at": "2026-01-01T00:00:00Z",
           "updated_at": "2026-01-01T00:00:00Z"}
    row.update(fields)
    return row


def platform(srv: Hostile, row: dict[str, Any], storage: Script) -> None:
    """Play the API for one listed artifact, and ``storage`` for its file at /blob."""

    def script(method: str, path: str, headers: dict[str, str]) -> Iterable[Piece]:
        if path.startswith("/blob"):
            return storage(method, path, headers)
        if path.split("?")[0].endswith("/download-url"):
            return [answer(200, {"url": f"{srv.url}/blob/m.luml?sig=SECRETSIG"})]
        if path.split("?")[0].endswith("/artifacts"):
            return [answer(200, {"items": [row], "cursor": None})]
        return [answer(200, row)]

    srv.script = script


def listed(mode: str, s: Session) -> Artifact:
    arts = call(mode, s, lambda: list(Artifact.objects.using(s).all()),
                lambda: _alist(s))
    assert len(arts) == 1
    return arts[0]  # type: ignore[no-any-return]


async def _alist(s: Session) -> list[Artifact]:
    return [a async for a in Artifact.objects.using(s).all()]


def download(mode: str, s: Session, art: Artifact, path: Path, **kw: Any) -> Path:
    return call(mode, s, lambda: art.download(path, using=s, **kw),  # type: ignore[no-any-return]
                lambda: art.adownload(path, using=s, **kw))


def storage_file(data: bytes) -> Script:
    return lambda m, p, h: [raw(200, data)]


# -- 1 and 10: server-supplied names never escape the directory, nor raise raw errors ---------


@pytest.mark.parametrize("mode", MODES)
def test_a_hostile_id_as_fallback_name_stays_inside_the_directory(
        mode: str, srv: Hostile, tmp_path: Path) -> None:
    platform(srv, artifact(id="../../../escaped", file_name=""), storage_file(b"data"))
    s = session(srv)
    inside = tmp_path / "a" / "b" / "c" / "d"
    inside.mkdir(parents=True)
    try:
        art = listed(mode, s)
        done = download(mode, s, art, inside)
    except DataForceError:
        done = None  # refusing the id is as good
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and inside not in p.parents]
    assert outside == []
    if done is not None:
        assert done.parent == inside and done.read_bytes() == b"data"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["a\x00b.luml", "x" * 300 + ".luml", "line\nbreak.luml"])
def test_a_name_no_file_system_takes_is_a_clear_error(mode: str, name: str, srv: Hostile,
                                                       tmp_path: Path) -> None:
    platform(srv, artifact(file_name=name), storage_file(b"data"))
    s = session(srv)
    art = listed(mode, s)
    with pytest.raises(ValidationError, match=r"file_name: .*pass download"):
        download(mode, s, art, tmp_path)
    assert list(tmp_path.iterdir()) == []
    # an explicit file path still works
    assert download(mode, s, art, tmp_path / "m.luml").read_bytes() == b"data"


# -- 2: the first import of httpx, while sync threads hit dropped connections -----------------

_RACE = r"""
import asyncio, socket, sys, threading
import dataforce_orm as dfo
assert "httpx" not in sys.modules
srv = socket.create_server(("127.0.0.1", 0))
def drop():
    while True:
        c, _ = srv.accept()
        c.close()
threading.Thread(target=drop, daemon=True).start()
url = f"http://127.0.0.1:{srv.getsockname()[1]}"
s = dfo.Session(api_key="k" * 10, base_url=url, organization="o", orbit="b",
                retry=dfo.RetryPolicy(attempts=1))
stop = threading.Event()
bad = []
def hammer():
    while not stop.is_set():
        try:
            dfo.Collection.objects.using(s).count()
        except dfo.DataForceError:
            pass
        except BaseException as exc:
            bad.append(repr(exc))
threads = [threading.Thread(target=hammer) for _ in range(4)]
for t in threads:
    t.start()
async def first():
    try:
        await dfo.Collection.objects.using(s).acount()
    except dfo.DataForceError:
        pass
    await s.aclose()
try:
    asyncio.run(first())
except BaseException as exc:
    bad.append(repr(exc))
stop.set()
for t in threads:
    t.join()
print("BAD", bad)
sys.exit(1 if bad else 0)
"""


def test_first_use_of_httpx_from_a_loop_while_threads_fail_never_raises() -> None:
    for _ in range(4):  # each a new process: the import there is really the first
        done = subprocess.run([sys.executable, "-c", _RACE], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr


# -- 3: every API read is bounded by the deadline, headers included --------------------------


def trickle_headers(method: str, path: str, headers: dict[str, str]) -> Iterable[Piece]:
    yield b"HTTP/1.1 200 OK\r\n"
    for _ in range(80):  # a header byte every 0.1 s, for 8 s
        yield 0.1
        yield b"X"


@pytest.mark.parametrize("mode", MODES)
def test_trickled_headers_stop_at_the_deadline(mode: str, srv: Hostile) -> None:
    srv.script = trickle_headers
    s = session(srv, retry=RetryPolicy(attempts=1, deadline=1.0))
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="deadline"):
        get(mode, s)
    assert time.monotonic() - start < 4.0  # deadline 1 s + read timeout 1 s, and slack


def trickle_body(method: str, path: str, headers: dict[str, str]) -> Iterable[Piece]:
    yield head(200, {"Content-Type": "application/json", "Content-Length": "100"})
    for _ in range(80):
        yield 0.1
        yield b" "


@pytest.mark.parametrize("mode", MODES)
def test_a_trickled_api_body_stops_at_the_deadline(mode: str, srv: Hostile) -> None:
    srv.script = trickle_body
    s = session(srv, retry=RetryPolicy(attempts=1, deadline=1.0))
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        get(mode, s)
    assert time.monotonic() - start < 4.0


# -- 5: a download is capped at its declared size --------------------------------------------


def endless(method: str, path: str, headers: dict[str, str]) -> Iterable[Piece]:
    yield head(200)  # no Content-Length: the body ends when the connection does
    for _ in range(1024):  # 64 MiB at most
        yield b"\0" * 65536


@pytest.mark.parametrize("mode", MODES)
def test_an_endless_body_stops_at_the_declared_size(mode: str, srv: Hostile,
                                                     tmp_path: Path) -> None:
    platform(srv, artifact(size=1024, file_hash=None), endless)
    s = session(srv)
    art = listed(mode, s)
    with pytest.raises(IntegrityError, match="more than the artifact's size of 1024"):
        download(mode, s, art, tmp_path)
    time.sleep(0.2)
    assert srv.sent < 8 * 2**20  # the library stopped reading; nothing kept
    assert list(tmp_path.iterdir()) == []


# -- 6: a resume checks that the 206 starts where it was asked to ----------------------------

FILE = os.urandom(4096)


def wrong_resume() -> Script:
    tries = []

    def storage(method: str, path: str, headers: dict[str, str]) -> Iterable[Piece]:
        tries.append(headers.get("range"))
        if len(tries) == 1:  # half the file, then the connection drops
            return [head(200, {"Content-Length": "4096"}) + FILE[:2048]]
        if headers.get("range"):  # the wrong half: from byte 0, not 2048
            return [raw(206, FILE[:2048], {"Content-Range": "bytes 0-2047/4096"})]
        return [raw(200, FILE)]

    return storage


@pytest.mark.parametrize("mode", MODES)
def test_a_206_from_the_wrong_byte_is_not_appended(mode: str, srv: Hostile,
                                                   tmp_path: Path) -> None:
    platform(srv, artifact(size=4096, file_hash=None), wrong_resume())
    s = session(srv, retry=RetryPolicy(attempts=4, deadline=5, backoff=0.01))
    art = listed(mode, s)
    done = download(mode, s, art, tmp_path, verify=False)
    assert done.read_bytes() == FILE  # started over instead of keeping a corrupt file
    ranges = [h.get("range") for m, p, h in srv.requests if p.startswith("/blob")]
    assert ranges == [None, "bytes=2048-", None]


# -- 7: API answers are capped, decompressed size included -----------------------------------

BIG = b'{"id": "' + b"x" * (200 * 1024) + b'"}'
BOMB = gzip.compress(b" " * (20 * 2**20))  # 20 MiB of spaces in about 20 KiB


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("body", ["declared", "chunked", "gzip bomb"])
def test_an_answer_over_the_cap_is_refused_and_not_retried(mode: str, body: str,
                                                           srv: Hostile) -> None:
    json_type = {"Content-Type": "application/json"}
    pieces = {
        "declared": [raw(200, BIG, json_type)],
        "chunked": [head(200, {**json_type, "Transfer-Encoding": "chunked"})]
        + [b"10000\r\n" + b" " * 65536 + b"\r\n"] * 8 + [b"0\r\n\r\n"],
        "gzip bomb": [raw(200, BOMB, {**json_type, "Content-Encoding": "gzip"})],
    }[body]
    srv.script = lambda m, p, h: pieces
    s = session(srv)
    with pytest.raises(TransportError, match="larger than the 64 KiB cap") as info:
        get(mode, s)
    assert not isinstance(info.value, TimeoutError)
    assert len(srv.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_gzip_answer_within_the_cap_is_read(mode: str, srv: Hostile) -> None:
    body = gzip.compress(json.dumps(collection()).encode())
    srv.script = lambda m, p, h: [raw(200, body, {"Content-Type": "application/json",
                                                  "Content-Encoding": "gzip"})]
    assert get(mode, session(srv)).name == "c"


# -- 8: storage bodies follow the stall rule -------------------------------------------------


def trickle_file(method: str, path: str, headers: dict[str, str]) -> Iterable[Piece]:
    yield head(200, {"Content-Length": str(len(FILE))})
    for i in range(80):  # a byte every 0.1 s, for 8 s
        yield 0.1
        yield FILE[i:i + 1]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("how", ["download", "open"])
def test_a_trickling_storage_body_fails_by_the_stall_rule(mode: str, how: str, srv: Hostile,
                                                          tmp_path: Path) -> None:
    platform(srv, artifact(size=len(FILE), file_hash=None), trickle_file)
    s = session(srv, retry=RetryPolicy(attempts=2, deadline=5, backoff=0.01))
    art = listed(mode, s)
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"fewer than 1 KiB in 0.5 s \(the stall limit"):
        if how == "download":
            download(mode, s, art, tmp_path)
        else:
            call(mode, s, lambda: art.open(using=s).read(), lambda: _aread(art, s))
    assert time.monotonic() - start < 4.0  # two tries of about 0.5 s each
    assert list(tmp_path.iterdir()) == []


async def _aread(art: Artifact, s: Session) -> bytes:
    async with await art.aopen(using=s) as f:
        return await f.read()  # type: ignore[no-any-return]


def test_the_stall_rule_counts_only_time_spent_waiting(srv: Hostile) -> None:
    platform(srv, artifact(size=len(FILE), file_hash=None), storage_file(FILE))
    s = session(srv)
    art = listed("sync", s)
    with art.open(using=s) as f:
        first = f.read(10)
        time.sleep(1.0)  # the caller pauses longer than the stall window
        rest = f.read()
    assert first + rest == FILE


def test_stall_and_cap_are_checked_when_the_session_is_made() -> None:
    with pytest.raises(ValidationError, match="stall"):
        Session(api_key=KEY, stall=(0, 1.0))
    with pytest.raises(ValidationError, match="stall"):
        Session(api_key=KEY, stall=(1024, 0))
    with pytest.raises(ValidationError, match="max_answer_size"):
        Session(api_key=KEY, max_answer_size=0)


# -- 9: Retry-After values float() refuses ---------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("value", ["²", "-1", "Mon, 99 Foo 99999 99:99:99 GMT", "1e999"])
def test_a_strange_retry_after_is_ignored(mode: str, value: str, srv: Hostile,
                                          tmp_path: Path) -> None:
    srv.script = lambda m, p, h: [answer(503, {"detail": "busy"}, {"Retry-After": value})]
    with pytest.raises(ServerError):
        get(mode, session(srv))
    platform(srv, artifact(), lambda m, p, h: [raw(503, b"slow down",
                                                   {"Retry-After": value})])
    s = session(srv)
    art = listed(mode, s)
    with pytest.raises(ServerError, match="storage refused"):
        download(mode, s, art, tmp_path)


# -- 11: connections of ended threads, and after close() -------------------------------------


def _client_sockets(port: int) -> int:
    """This process's open sockets connected to ``port`` (from /proc: no garbage collection
    is needed to count them)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                remote_port = int(cols[2].rsplit(":", 1)[1], 16)
                if remote_port == port and cols[9] in inodes:
                    count += 1
    return count


def test_threads_that_end_leave_no_connections_and_close_closes_all() -> None:
    with LocalServer() as server:  # its own port: other tests' connections do not count
        port = int(server.url.rsplit(":", 1)[1])
        s = Session(api_key=server.api_key, base_url=server.url,
                    organization=server.organization_id, orbit=server.orbit_id)
        _threads_then_close(s, port)


def _threads_then_close(s: Session, port: int) -> None:
    gc.disable()
    try:
        Collection.objects.using(s).count()  # the main thread's connection
        for _ in range(100):
            t = threading.Thread(target=Collection.objects.using(s).count)
            t.start()
            t.join()
        assert _client_sockets(port) <= threading.active_count()
        assert len(s.driver._pool) <= threading.active_count()
        s.close()
        assert _client_sockets(port) == 0
    finally:
        gc.enable()


# -- 12: the secrets the library knows never show --------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_key_echoed_by_the_server_is_masked(mode: str, srv: Hostile,
                                              caplog: pytest.LogCaptureFixture) -> None:
    srv.script = lambda m, p, h: [answer(400, {"detail": f"bad key {h['authorization']}"})]
    with pytest.raises(DataForceError) as info:
        get(mode, session(srv))
    err: Any = info.value
    for text in (str(err), repr(err), err.detail, str(err.args)):
        assert KEY not in text and "***" in text
    with caplog.at_level(logging.DEBUG, logger="dataforce_orm"):
        logging.getLogger("dataforce_orm").warning("the server said %s", err.args[0] + KEY)
    assert KEY not in caplog.text


def test_a_secret_field_echoed_by_the_server_is_masked(srv: Hostile) -> None:
    secret_key = "s3-secret-" + os.urandom(8).hex()

    def script(method: str, path: str, headers: dict[str, str]) -> Iterable[Piece]:
        sent = json.loads(headers["body"] or "{}")
        return [answer(422, {"detail": [{"loc": ["body", "secret_key"],
                                         "msg": f"rejected {sent.get('secret_key')}"}]})]

    srv.script = script
    s = session(srv)
    with s, pytest.raises(DataForceError) as info:
        BucketSecret(type="s3", endpoint="s3.example.com", bucket_name="b",
                     region="us-east-1", access_key="AKIAEXAMPLE0001",
                     secret_key=secret_key).save()
    err: Any = info.value
    assert secret_key in srv.requests[0][2]["body"]  # it was sent, and echoed
    for text in (str(err), repr(err), str(err.errors)):
        assert secret_key not in text


# -- 13: storage errors show the storage URL alone -------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_storage_error_names_the_storage_url_alone(mode: str, srv: Hostile,
                                                     tmp_path: Path) -> None:
    platform(srv, artifact(), lambda m, p, h: [raw(403, b"<Error>AccessDenied</Error>")])
    s = session(srv)
    art = listed(mode, s)
    with pytest.raises(DataForceError) as info:
        download(mode, s, art, tmp_path)
    text = str(info.value)
    assert f"{srv.url}/blob/m.luml" in text and text.count("http://") == 1
    assert "SECRETSIG" not in text


# -- only DataForceErrors: answers no HTTP library takes -------------------------------------

GARBAGE: dict[str, list[Piece]] = {
    "bad status line": [b"HTTP/1.1 abc\r\n\r\n"],
    "not http": [b"SSH-2.0-OpenSSH\r\n\r\n"],
    "header line too long": [b"HTTP/1.1 200 OK\r\nX: " + b"a" * 100_000 + b"\r\n\r\n"],
    "bad chunk": [head(200, {"Transfer-Encoding": "chunked",
                             "Content-Type": "application/json"}) + b"zz\r\nxx\r\n"],
    "bad gzip": [raw(200, b"not gzip at all", {"Content-Encoding": "gzip",
                                                "Content-Type": "application/json"})],
    "unasked encoding": [raw(200, b"{}", {"Content-Encoding": "br",
                                           "Content-Type": "application/json"})],
    "bad redirect": [raw(302, b"", {"Location": "http://[::1"})],
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("what", sorted(GARBAGE))
def test_garbage_is_a_dataforce_error(mode: str, what: str, srv: Hostile,
                                      tmp_path: Path) -> None:
    srv.script = lambda m, p, h: GARBAGE[what]
    with pytest.raises(DataForceError):
        get(mode, session(srv))
    platform(srv, artifact(), lambda m, p, h: GARBAGE[what])
    s = session(srv)
    art = listed(mode, s)
    with pytest.raises(DataForceError):
        download(mode, s, art, tmp_path)
    assert list(tmp_path.iterdir()) == []
