"""LocalServer under malformed requests over raw sockets: bad methods, bad paths, bad JSON,
huge or too many headers, broken framing, binary noise, half requests, idle half-open
connections. It must answer each with a 4xx (or close), never a 5xx, and keep answering
correctly, during and after the storm."""

from __future__ import annotations

import json
import random
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from figures import Figures
from parity import MakeSession

from dataforce_orm import Collection, RetryPolicy, Session
from dataforce_orm.testing import LocalServer

CASES = 400


def _send(server: LocalServer, data: bytes, *, linger: float = 0.0) -> bytes:
    """Send ``data``, half-close, read whatever comes back (b"" when closed without one)."""
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        try:
            sock.sendall(data)
            if linger:
                time.sleep(linger)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except OSError:  # reset mid-way (e.g. through a huge request): the server closed it
            return b""
    return b"".join(chunks)


def statuses(answer: bytes) -> list[int]:
    """The status of every HTTP answer in ``answer`` (a keep-alive connection may hold two)."""
    return [int(m) for m in re.findall(rb"(?:^|\r\n)HTTP/1\.1 (\d{3}) ", answer)]


class Storm:
    """Seeded malformed requests by category (each a function of the rng)."""

    def __init__(self, server: LocalServer, orbit_id: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.server = server
        self.path = (f"/v1/organizations/{server.organization_id}/orbits/{orbit_id}"
                     "/collections")
        self.host = f"Host: 127.0.0.1:{server.port}\r\n"
        self.auth = f"Authorization: Bearer {server.api_key}\r\n"

    def _req(self, line: str, headers: str = "", body: bytes = b"", auth: bool = True) -> bytes:
        head = line + "\r\n" + self.host + (self.auth if auth else "") + headers
        if body and "content-length" not in headers.lower():
            head += f"Content-Length: {len(body)}\r\n"
        return head.encode("utf-8", "surrogateescape") + b"\r\n" + body

    def bad_method(self) -> bytes:
        m = self.rng.choice(["PUT", "get", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "BREW",
                             "X" * self.rng.randint(1, 500), "ÄÖÜ", "G\x00T", "GET\tX"])
        return self._req(f"{m} {self.path} HTTP/1.1")

    def bad_path(self) -> bytes:
        p = self.rng.choice([
            self.path + "/../../../etc/passwd", "/v1/%00", "/v1/%zz%", "*", "//", "v1",
            "/v1/organizations/" + "0" * 36 + "/orbits", "/v1/organizations/%2e%2e/orbits",
            self.path + "/" + "é" * 10, self.path + "/not-a-uuid", self.path + "/",
            self.path + "?limit=-1&limit=x&cursor=%ff&types=bogus&sort_by=;drop",
            "/" + "a" * self.rng.randint(70000, 80000), "http://example.com/v1/x",
            self.path + "#frag", "/v1/users/me/organizations/../../auth/api-keys/validate"])
        return self._req(f"GET {p} HTTP/1.1", auth=self.rng.random() < 0.5)

    def bad_version(self) -> bytes:
        v = self.rng.choice(["HTTP/2.0", "HTTP/0.9", "", "HTTP/1.1 extra", "http/1.1", "HTTP/1",
                             "HTTP/1.1\x00"])
        return self._req(f"GET {self.path} {v}".rstrip())

    def bad_json(self) -> bytes:
        body = self.rng.choice([
            b"{", b"[]", b"null", b"42", b'"x"', b'{"name": 5}', b'{"name": "x", "type": "?"}',
            b'{"name": "' + b"x" * 5000 + b'", "description": "", "type": "model"}',
            b'{"tags": [' + b'"t",' * 60 + b'"t"], "name": "n", "description": "",'
            b' "type": "model"}',
            b"\xff\xfe\x00garbage", b"[" * 5000 + b"]" * 5000, b'{"a": ' * 3000 + b"1"])
        method = self.rng.choice(["POST", "PATCH"])
        path = self.path if method == "POST" else f"{self.path}/{'0' * 8}-0000-7000-8000-{'0' * 12}"
        ctype = self.rng.choice(["application/json", "application/vnd.x+json", "text/plain"])
        return self._req(f"{method} {path} HTTP/1.1", f"Content-Type: {ctype}\r\n", body)

    def huge_headers(self) -> bytes:
        if self.rng.random() < 0.5:
            return self._req(f"GET {self.path} HTTP/1.1",
                             "X-Huge: " + "h" * self.rng.randint(66000, 70000) + "\r\n")
        n = self.rng.randint(101, 300)
        return self._req(f"GET {self.path} HTTP/1.1", "".join(f"X-{i}: {i}\r\n" for i in range(n)))

    def bad_framing(self) -> bytes:
        h = self.rng.choice(["Content-Length: -5\r\n", "Content-Length: abc\r\n",
                             "Content-Length: 3\r\nContent-Length: 9\r\n",
                             "Content-Length: 99999999999\r\n", "Transfer-Encoding: chunked\r\n",
                             "no colon here\r\n", ": empty name\r\n", "Expect: 100-continue\r\n",
                             "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n"])
        body = self.rng.choice([b"", b"zz\r\nxx\r\n", b"5\r\nab\r\n0\r\n\r\n", b"{}"])
        return self._req(f"POST {self.path} HTTP/1.1", h + "Content-Type: application/json\r\n",
                         body)

    def noise(self) -> bytes:
        return bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 8192)))

    def half(self) -> bytes:
        whole = self._req(f"POST {self.path} HTTP/1.1", "Content-Type: application/json\r\n",
                          b'{"name": "half", "description": "", "type": "model"}')
        return whole[:self.rng.randint(1, len(whole) - 1)]

    def pipelined(self) -> bytes:
        """A good request, then a bad one on the same connection."""
        good = self._req(f"GET {self.path} HTTP/1.1")
        return good + self.rng.choice([self.noise, self.bad_method, self.bad_version])()

    KINDS = ("bad_method", "bad_path", "bad_version", "bad_json", "huge_headers", "bad_framing",
             "noise", "half", "pipelined")

    def cases(self, n: int) -> list[tuple[str, bytes]]:
        return [(kind, getattr(self, kind)()) for kind in
                (self.KINDS[i % len(self.KINDS)] for i in range(n))]


def fuzz(server: LocalServer, orbit_id: str, cases: int = CASES, seed: int = 11,
         threads: int = 4) -> dict[str, Counter[int]]:
    """Send ``cases`` malformed requests from ``threads`` threads; answers by kind and status
    (status 0: closed without an answer)."""
    storm = Storm(server, orbit_id, seed)
    work = storm.cases(cases)
    out: dict[str, Counter[int]] = {k: Counter() for k in Storm.KINDS}
    lock = threading.Lock()

    def run(part: list[tuple[str, bytes]]) -> None:
        for kind, data in part:
            got = statuses(_send(server, data)) or [0]
            with lock:
                out[kind].update(got)

    pool = [threading.Thread(target=run, args=(work[i::threads],)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return out


@pytest.fixture
def s(make_session: MakeSession) -> Session:
    return make_session(retry=RetryPolicy(attempts=1))


def _workload(s: Session, tag: str) -> None:
    objects = Collection.objects.using(s)
    c = objects.create(name=f"legit {tag}", collection_type="model", tags=[tag])
    c.description = "edited"
    c.save()
    assert objects.get(id=c.id).description == "edited"
    assert [x.id for x in objects.filter(tags__contains=tag)] == [c.id]
    c.delete()


def test_fuzzing_gets_4xx_or_a_close_never_a_5xx(server: LocalServer, orbit_id: str, s: Session,
                                                 figures: Figures) -> None:
    rows = server.collection_rows(orbit_id)
    out = fuzz(server, orbit_id)
    figures.add(f"fuzz: {CASES} malformed requests; answers by kind (0 = closed): "
                + "; ".join(f"{k} {dict(sorted(v.items()))}" for k, v in out.items()))
    every = Counter[int]()
    for counts in out.values():
        every.update(counts)
    assert not [st for st in every if st >= 500], every
    assert set(out["huge_headers"]) <= {400, 431, 0} and 431 in out["huge_headers"]
    assert set(out["bad_method"]) <= {400, 405, 0} and 405 in out["bad_method"]
    assert set(out["bad_json"]) <= {400, 404, 413, 422, 0} and 422 in out["bad_json"]
    assert 414 in out["bad_path"] and 404 in out["bad_path"]
    assert 200 in out["pipelined"]  # the good request before the bad one was answered
    # Nothing malformed created anything (every bad body was refused or cut short).
    assert server.collection_rows(orbit_id) == rows
    _workload(s, "after")


def test_serving_goes_on_during_the_storm(server: LocalServer, orbit_id: str,
                                          s: Session) -> None:
    failures: list[BaseException] = []
    stop = threading.Event()

    def legit() -> None:
        n = 0
        while not stop.is_set():
            try:
                _workload(s, f"during{n}")
            except BaseException as exc:  # any failure of a good client is the finding
                failures.append(exc)
                return
            n += 1

    t = threading.Thread(target=legit)
    t.start()
    fuzz(server, orbit_id, cases=CASES // 2, seed=12)
    stop.set()
    t.join()
    assert failures == []


def test_idle_half_requests_do_not_block_anyone(server: LocalServer, orbit_id: str,
                                                s: Session) -> None:
    """Connections that sent half a request and then nothing hold a thread each, not the
    server."""
    storm = Storm(server, orbit_id, 13)
    socks: list[socket.socket] = []
    try:
        for _ in range(32):
            sock = socket.create_connection((server.host, server.port), timeout=5)
            sock.sendall(storm.half())
            socks.append(sock)
        start = time.monotonic()
        _workload(s, "beside")
        assert time.monotonic() - start < 2.0
    finally:
        for sock in socks:
            sock.close()
    before = threading.active_count()
    _wait(lambda: threading.active_count() <= before)
    _workload(s, "after")


@pytest.mark.parametrize("name", [b"NaN", json.dumps("\ud800").encode()], ids=["NaN", "surrogate"])
def test_bodies_the_real_server_fails_on_are_500s(server: LocalServer, orbit_id: str,
                                                  s: Session, name: bytes) -> None:
    """Two bodies the real service answers with a plain 500, and so does LocalServer: NaN
    parses in Python, but the 422 quoting it cannot be rendered (Starlette renders with
    allow_nan=False); a lone surrogate passes validation but cannot be stored as UTF-8. The
    library sends neither (it refuses such values first); the server just goes on."""
    rows = server.collection_rows(orbit_id)
    storm = Storm(server, orbit_id, 14)
    data = storm._req(f"POST {storm.path} HTTP/1.1", "Content-Type: application/json\r\n",
                      b'{"name": ' + name + b', "description": "", "type": "model"}')
    assert statuses(_send(server, data)) == [500]
    assert server.collection_rows(orbit_id) == rows
    _workload(s, "after")


def _wait(done: Callable[[], bool], seconds: float = 3.0) -> None:
    end = time.monotonic() + seconds
    while not done() and time.monotonic() < end:
        time.sleep(0.02)
