"""Session transport settings and safety: the API key, plain http, redirects, raw exceptions.

Real sockets where possible (LocalServer, a closed port, two tiny stdlib servers for redirects);
``responses`` only to raise every kind of ``requests`` exception.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses

from dataforce_orm import (
    Collection,
    ConfigurationError,
    DataForceError,
    RetryPolicy,
    Session,
    TimeoutError,
    TransportError,
)
from dataforce_orm.testing import Fault, LocalServer

KEY_VARS = ("DFS_API_KEY", "LUML_API_KEY")


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_KEY", "BASE_URL", "ORGANIZATION", "ORBIT", "COLLECTION"):
        monkeypatch.delenv(f"DFS_{name}", raising=False)
        monkeypatch.delenv(f"LUML_{name}", raising=False)


# -- the API key ------------------------------------------------------------------------------


def test_missing_key_fails_at_first_request_not_construction(
        server: LocalServer, orbit_id: str, sleeps: Any, no_env: None) -> None:
    s = Session(base_url=server.url, organization=server.organization_id, orbit=orbit_id,
                retry=RetryPolicy(sleep=sleeps, async_sleep=sleeps.asleep))
    assert "api_key=<missing>" in repr(s)
    before = len(server.request_log)
    with pytest.raises(ConfigurationError) as info:
        Collection.objects.using(s).count()
    msg = str(info.value)
    assert "api_key" in msg and "DFS_API_KEY" in msg  # says how to provide one
    with pytest.raises(ConfigurationError):
        Collection.objects.using(s).create(name="n", collection_type="model")

    async def acount() -> int:
        try:
            return await Collection.objects.using(s).acount()
        finally:
            await s.aclose()

    with pytest.raises(ConfigurationError):
        asyncio.run(acount())
    assert len(server.request_log) == before  # nothing was sent
    assert sleeps == []  # and nothing retried
    s.close()


@pytest.mark.parametrize("var", KEY_VARS)
def test_key_from_the_environment(server: LocalServer, orbit_id: str, no_env: None,
                                  monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    monkeypatch.setenv(var, server.api_key)
    s = Session(base_url=server.url, organization=server.organization_id, orbit=orbit_id)
    assert Collection.objects.using(s).count() == 0
    assert server.api_key not in repr(s)
    s.close()


# -- plain http -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", [
    "http://api.luml.ai", "http://10.0.0.5:8000", "http://localhost.evil.test",
    "http://127.0.0.1.nip.io", "http://[2001:db8::1]:8080", "HTTP://example.com/",
])
def test_plain_http_to_a_remote_host_is_refused(url: str, no_env: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError) as info:
        Session(api_key="dfs_x", base_url=url)
    assert "allow_insecure_http" in str(info.value) and "dfs_x" not in str(info.value)
    monkeypatch.setenv("DFS_BASE_URL", url)
    with pytest.raises(ConfigurationError):
        Session(api_key="dfs_x")
    s = Session(api_key="dfs_x", base_url=url, allow_insecure_http=True)
    assert s.base_url == url.rstrip("/")


@pytest.mark.parametrize("url", [
    "http://localhost:8000", "http://127.0.0.1", "http://127.8.9.10:1", "http://[::1]:9",
    "https://api.luml.ai", "https://10.0.0.5:8443/",
])
def test_loopback_http_and_any_https_are_fine(url: str, no_env: None) -> None:
    assert Session(api_key="dfs_x", base_url=url).base_url == url.rstrip("/")


@pytest.mark.parametrize("url", ["ftp://example.com", "api.luml.ai", "https://", "file:///x"])
def test_base_url_must_be_http(url: str, no_env: None) -> None:
    with pytest.raises(ConfigurationError):
        Session(api_key="dfs_x", base_url=url)


# -- redirects --------------------------------------------------------------------------------


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, redirect_to: str | None) -> None:
        self.redirect_to = redirect_to
        self.seen: list[dict[str, str]] = []
        super().__init__(("127.0.0.1", 0), _RecorderHandler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _RecorderHandler(BaseHTTPRequestHandler):
    server: _Recorder

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.server.seen.append({k.lower(): v for k, v in self.headers.items()})
        if self.server.redirect_to is not None:
            self.send_response(307)
            self.send_header("Location", self.server.redirect_to + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"items": [], "cursor": None}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def redirect_pair() -> Iterator[tuple[_Recorder, _Recorder]]:
    """``first`` (on 127.0.0.1) redirects every GET to ``second`` (on "localhost")."""
    second = _Recorder(None)
    first = _Recorder(f"http://localhost:{second.port}")
    yield first, second
    for srv in (first, second):
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_redirect_to_another_host_drops_the_key(redirect_pair: tuple[_Recorder, _Recorder],
                                                sleeps: list[float], driver: str) -> None:
    first, second = redirect_pair
    key = "dfs_secret_" + uuid.uuid4().hex
    s = Session(api_key=key, base_url=f"http://127.0.0.1:{first.port}",
                organization=str(uuid.uuid4()), orbit=str(uuid.uuid4()),
                retry=RetryPolicy(sleep=sleeps))
    if driver == "sync":
        assert Collection.objects.using(s).count() == 0
    else:
        async def acount() -> int:
            try:
                return await Collection.objects.using(s).acount()
            finally:
                await s.aclose()

        assert asyncio.run(acount()) == 0
    s.close()
    assert first.seen[0]["authorization"] == f"Bearer {key}"  # the configured host gets it
    assert len(second.seen) == 1
    assert "authorization" not in second.seen[0]  # the other host never does
    assert key not in json.dumps(second.seen)


# -- no raw transport exception ever leaks ----------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused(orbit_id: str, sleeps: list[float]) -> None:
    s = Session(api_key="dfs_x", base_url=f"http://127.0.0.1:{_closed_port()}",
                organization=str(uuid.uuid4()), orbit=orbit_id, retry=RetryPolicy(sleep=sleeps))
    with pytest.raises(TransportError) as info:
        Collection.objects.using(s).count()
    assert type(info.value) is TransportError and info.value.attempts == 5
    assert info.value.method == "GET" and info.value.url.endswith("/collections")
    sleeps.clear()
    # Nothing was sent, so even a create is simply re-sent (no lookup in between).
    with pytest.raises(TransportError) as info:
        Collection.objects.using(s).create(name="n", collection_type="model")
    assert info.value.method == "POST" and info.value.attempts == 5 and len(sleeps) == 4
    assert info.value.__cause__ is None and info.value.__suppress_context__
    s.close()


def test_float_timeout_applies_to_reads(server: LocalServer, orbit_id: str,
                                        sleeps: list[float]) -> None:
    s = Session(api_key=server.api_key, base_url=server.url,
                organization=server.organization_id, orbit=orbit_id, timeout=0.1,
                retry=RetryPolicy(attempts=1, sleep=sleeps))
    server.add_fault(Fault(kind="delay", delay=0.3, method="GET", path=orbit_id, times=1))
    try:
        with pytest.raises(TimeoutError) as info:
            Collection.objects.using(s).count()
    finally:
        server.clear_faults()
        s.close()
    assert isinstance(info.value, builtins.TimeoutError) and info.value.attempts == 1


@pytest.mark.parametrize("kind", ["drop", "drop_after", "delay", "refused"])
def test_async_driver_maps_transport_failures(server: LocalServer, orbit_id: str,
                                              sleeps: Any, kind: str) -> None:
    base = f"http://127.0.0.1:{_closed_port()}" if kind == "refused" else server.url
    s = Session(api_key=server.api_key, base_url=base, organization=server.organization_id,
                orbit=orbit_id, timeout=(2.0, 0.1),
                retry=RetryPolicy(attempts=2, sleep=sleeps, async_sleep=sleeps.asleep))
    if kind != "refused":
        server.add_fault(Fault(kind=kind, delay=0.3, method="GET", path=orbit_id, times=2))

    async def acount() -> int:
        try:
            return await Collection.objects.using(s).acount()
        finally:
            await s.aclose()

    try:
        with pytest.raises(TransportError) as info:
            asyncio.run(acount())
    finally:
        server.clear_faults()
        s.close()
    err = info.value
    assert (type(err) is TimeoutError) == (kind == "delay")
    assert err.attempts == 2 and len(sleeps) == 1
    assert err.__cause__ is None and type(err).__module__.startswith("dataforce_orm")


REQUESTS_ERRORS: list[tuple[type[requests.RequestException], type[TransportError]]] = [
    (requests.exceptions.ConnectionError, TransportError),
    (requests.exceptions.ConnectTimeout, TimeoutError),
    (requests.exceptions.ReadTimeout, TimeoutError),
    (requests.exceptions.ChunkedEncodingError, TransportError),
    (requests.exceptions.ContentDecodingError, TransportError),
    (requests.exceptions.SSLError, TransportError),
    (requests.exceptions.ProxyError, TransportError),
    (requests.exceptions.TooManyRedirects, TransportError),
    (requests.exceptions.InvalidHeader, TransportError),
    (requests.exceptions.RequestException, TransportError),
]


@pytest.mark.parametrize(("raised", "expected"), REQUESTS_ERRORS,
                         ids=[r.__name__ for r, _ in REQUESTS_ERRORS])
def test_requests_exceptions_never_leak(sleeps: list[float], raised: type[Exception],
                                        expected: type[TransportError]) -> None:
    base = "https://api.dataforce.test"
    org, orbit = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    url = f"{base}/v1/organizations/{org}/orbits/{orbit}/collections"
    s = Session(api_key="dfs_x", base_url=base, organization=org, orbit=orbit,
                retry=RetryPolicy(attempts=3, sleep=sleeps))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(url, body=raised("boom"))
        with pytest.raises(DataForceError) as info:
            Collection.objects.using(s).count()
        assert len(rsps.calls) == 3  # transient: retried up to the limit
    s.close()
    err = info.value
    assert type(err) is expected and isinstance(err, TransportError)
    assert not isinstance(err, requests.RequestException)
    assert (err.method, err.url, err.attempts) == ("GET", url.removeprefix(base), 3)
    assert err.__cause__ is None and err.__suppress_context__
    assert "dfs_x" not in str(err)
