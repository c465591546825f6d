"""Security: the API key never shows, TLS is verified, credentials stay with their host, and
LocalServer keeps its doors shut (wrong keys, other users' organizations; malformed requests
are in ``test_server_fuzz.py``).

``benchmarks/reliability.py`` runs :func:`leak_scan` for its figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import random
import ssl
import subprocess
import sys
import threading
import traceback
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from dataforce_orm import (
    AsyncDataForceClient,
    Collection,
    ConfigurationError,
    DataForceClient,
    DataForceError,
    Orbit,
    Organization,
    PermissionDeniedError,
    RetryPolicy,
    Session,
    TransportError,
)
from dataforce_orm.testing import Fault, LocalServer

# -- finding a secret anywhere ------------------------------------------------------------------

_OPAQUE = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
           types.CodeType, types.FrameType, logging.Logger, threading.Thread)


def reachable(*roots: object, limit: int = 20000) -> Iterator[object]:
    """Objects reachable from ``roots`` through attributes, slots and container items (not
    through modules, classes, functions or the Secret holder itself, whose job is to hold it)."""
    seen: set[int] = set()
    todo = list(roots)
    while todo and len(seen) < limit:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        seen.add(id(obj))
        yield obj
        if type(obj).__name__ == "_Secret" or isinstance(obj, (str, bytes, int, float)):
            continue
        if isinstance(obj, dict):
            todo += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo += list(obj)
        elif isinstance(obj, types.MethodType):
            todo.append(obj.__self__)
        else:
            with contextlib.suppress(TypeError):  # no __dict__
                todo += list(vars(obj).values())
            for cls in type(obj).__mro__:
                for name in getattr(cls, "__slots__", ()):
                    if hasattr(obj, name):
                        todo.append(getattr(obj, name))


def renderings(obj: object) -> str:
    """What a user (or a debugger, a log line, an error report) might print of ``obj``."""
    out = []
    for render in (repr, str):
        try:
            out.append(render(obj))
        except Exception as exc:  # a broken repr is not a leak, but say so
            out.append(f"<{render.__name__} failed: {type(exc).__name__}>")
    return " ".join(out)


def exception_text(exc: BaseException) -> str:
    """The error's message, repr, attributes, and its traceback with every frame's locals."""
    tb = traceback.TracebackException(type(exc), exc, exc.__traceback__, capture_locals=True)
    return " ".join([str(exc), repr(exc), repr(vars(exc)), *tb.format()])


@dataclass
class Leaks:
    secrets: list[str]
    found: list[str] = field(default_factory=list)
    checked: int = 0

    def scan(self, what: str, text: str) -> None:
        self.checked += 1
        for secret in self.secrets:
            if secret in text:
                at = text.index(secret)
                self.found.append(f"{what}: ...{text[max(0, at - 60):at]}<KEY>")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter(
            "%(asctime)s %(name)s %(levelname)s %(message)s %(pathname)s:%(lineno)d"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _workload(server: LocalServer, orbit_id: str, wrong_key: str) -> list[BaseException]:
    """A mixed workload, sync and async, with failures of every kind; returns the errors."""
    errors: list[BaseException] = []
    fast = RetryPolicy(attempts=8, backoff=0.001, max_backoff=0.002, max_retry_after=0.001)
    s = Session(api_key=server.api_key, base_url=server.url,
                organization="Default Organization", orbit=orbit_id, timeout=(2.0, 0.3),
                retry=fast)
    bad = Session(api_key=wrong_key, base_url=server.url, organization=server.organization_id,
                  orbit=orbit_id, retry=fast)

    def expect_error(fn: Any) -> None:
        try:
            fn()
        except DataForceError as exc:
            errors.append(exc)
        else:
            raise AssertionError("no error")

    objects = Collection.objects.using(s)
    faults = [Fault(kind="status", status=503, path=orbit_id, times=2),
              Fault(kind="drop", method="GET", path=orbit_id, times=1),
              Fault(kind="drop_after", method="POST", path=orbit_id, times=1),
              Fault(kind="status", status=429, retry_after="0", path=orbit_id, times=1)]
    for f in faults:
        server.add_fault(f)
    c = objects.create(name="secret-scan", description="d", collection_type="dataset",
                       tags=["a"])
    c.tags.append("b")
    c.save()
    list(objects.filter(tags__contains="a"))
    server.clear_faults()
    expect_error(lambda: Collection.objects.using(bad).count())  # 401
    expect_error(lambda: Collection.objects.using(bad).create(name="x", collection_type="model"))
    expect_error(lambda: objects.get(id="00000000-0000-0000-0000-000000000000"))  # 404
    expect_error(lambda: Collection(name=5))  # ValidationError
    other = objects.get(id=c.id)
    other.name = "elsewhere"
    other.save()
    c.name = "here"
    expect_error(c.save)  # ConflictError
    server.add_fault(Fault(kind="status", status=500, path=orbit_id, times=1))
    expect_error(lambda: objects.count())  # ServerError
    server.add_fault(Fault(kind="status", status=422, path=orbit_id, times=1))
    expect_error(lambda: objects.count())
    server.add_fault(Fault(kind="status", status=403, path=orbit_id, times=1))
    expect_error(lambda: objects.count())
    server.add_fault(Fault(kind="delay", delay=0.6, method="PATCH", path=orbit_id, times=1))
    c.refresh(discard=True)
    c.description = "slow"
    # (a stalled PATCH is read back until the deadline: a short one makes it a TimeoutError)
    hasty = Session(api_key=server.api_key, base_url=server.url,
                    organization=server.organization_id, orbit=orbit_id, timeout=(2.0, 0.3),
                    retry=RetryPolicy(attempts=8, deadline=0.2, backoff=0.001))
    expect_error(lambda: c.save(using=hasty))  # TimeoutError
    hasty.close()
    server.clear_faults()
    elsewhere = Session(api_key=server.api_key, base_url="http://127.0.0.1:9",
                        organization=server.organization_id, orbit=orbit_id, retry=fast)
    expect_error(lambda: Collection.objects.using(elsewhere).count())  # connection refused
    no_such = Session(api_key=server.api_key, base_url=server.url, organization="Nope")
    expect_error(lambda: Collection.objects.using(no_such).count())  # ConfigurationError

    async def run_async() -> None:
        got = await objects.aget(id=c.id)
        got.description = "async"
        await got.asave()
        _ = [x async for x in objects.all()]
        try:
            await Collection.objects.using(bad).acount()
        except DataForceError as exc:
            errors.append(exc)
        server.add_fault(Fault(kind="drop", path=orbit_id, times=1))
        await objects.acount()
        await got.adelete()
        await s.aclose()
        await bad.aclose()

    asyncio.run(run_async())
    client = DataForceClient(base_url=server.url, api_key=server.api_key,
                             organization=server.organization_id, orbit=orbit_id)
    made = client.collections.create("d", "via the client", "model", ["t"])
    client.collections.update(description="changed", collection_id=made.id)
    expect_error(lambda: client.collections.update(name="", collection_id=made.id))
    client.collections.delete(made.id)
    for sess in (s, bad, elsewhere, no_such):
        sess.close()
    client.close()
    errors.append(_exception_with_key_in_a_local(s))
    return errors


def _exception_with_key_in_a_local(s: Session) -> BaseException:
    """An error raised deep inside a request, as a user would see it in a crash report."""
    try:
        Collection.objects.using(s).get(id="not an id")
    except DataForceError as exc:
        return exc
    raise AssertionError("no error")


def leak_scan(server: LocalServer) -> Leaks:
    """Run the workload with every logger at DEBUG; scan the records, the errors (with their
    tracebacks' locals), and the rendering of every object reachable from what it used."""
    orbit_id = server.add_orbit(server.organization_id, f"leak-scan-{random.randrange(10**9)}")
    wrong_key = "dfs_" + "w" * 43
    leaks = Leaks([server.api_key, wrong_key])
    capture = _Capture()
    root = logging.getLogger()
    saved = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        errors = _workload(server, orbit_id, wrong_key)
    finally:
        root.removeHandler(capture)
        root.setLevel(saved)
        server.clear_faults()
    for record in capture.records:
        leaks.scan(f"log {record.name}:{record.levelname}",
                   f"{capture.format(record)} {record.__dict__!r}")
    for exc in errors:
        leaks.scan(f"error {type(exc).__name__}", exception_text(exc))
    # Objects as a user holds them after a run, drivers warmed up on both sides.
    s = Session(api_key=server.api_key, base_url=server.url, organization=server.organization_id,
                orbit=orbit_id, retry=RetryPolicy(attempts=2))
    c = Collection.objects.using(s).create(name="held", collection_type="model")
    qs = Collection.objects.using(s).filter(name="held")
    list(qs)
    client = DataForceClient(base_url=server.url, api_key=server.api_key,
                             organization=server.organization_id, orbit=orbit_id)
    aclient = AsyncDataForceClient(base_url=server.url, api_key=server.api_key,
                                   organization=server.organization_id, orbit=orbit_id)
    client.collections.list()

    async def warm() -> list[Any]:
        orgs = [o async for o in Organization.objects.using(s).all()]
        return [*orgs, await aclient.collections.list()]

    held: list[Any] = [s, c, qs, client, aclient, s.retry, s.driver, s.async_driver, errors,
                       *asyncio.run(warm()), *Orbit.objects.using(s).all()]
    for obj in reachable(*held):
        if isinstance(obj, str):  # bare strings are data, not renderings
            continue
        leaks.scan(f"{type(obj).__module__}.{type(obj).__qualname__}", renderings(obj))
    c.delete()
    s.close()
    client.close()
    return leaks


def test_the_key_never_shows(server: LocalServer) -> None:
    leaks = leak_scan(server)
    assert leaks.found == []
    assert leaks.checked > 300  # the scan saw a real workload


def test_session_repr_and_config(server: LocalServer) -> None:
    s = Session(api_key=server.api_key, base_url=server.url)
    for text in (repr(s), str(s), repr(vars(s)), repr(s.driver.transport), repr(s.retry),
                 repr(vars(s.driver)), repr(vars(s.async_driver))):
        assert server.api_key not in text
    assert "api_key=<set>" in repr(s)
    gc.collect()


# -- transport settings ------------------------------------------------------------------------


def test_plain_http_refused_for_the_client_and_from_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="allow_insecure_http"):
        DataForceClient(base_url="http://api.example.com", api_key="dfs_x")
    monkeypatch.setenv("DFS_BASE_URL", "http://api.example.com")
    with pytest.raises(ConfigurationError, match="unencrypted"):
        Session(api_key="dfs_x")
    assert Session(api_key="dfs_x", allow_insecure_http=True).base_url == (
        "http://api.example.com")


def test_tls_verification_defaults_on_and_takes_a_ca_bundle(tmp_path: Path) -> None:
    default = Session(api_key="dfs_x", base_url="https://api.example.com")
    assert default.driver._http().verify is True
    bundle = requests.certs.where()
    custom = Session(api_key="dfs_x", base_url="https://api.example.com", verify=bundle)
    assert custom.driver._http().verify == bundle
    default.close()
    custom.close()
    (tmp_path / "empty.pem").write_text("")
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\njunk\n")
    for bad in (str(tmp_path / "missing.pem"), str(tmp_path / "empty.pem"),
                str(tmp_path / "junk.pem"), 5, None, b"ca.pem"):
        with pytest.raises(ConfigurationError, match="verify"):
            Session(api_key="dfs_x", base_url="https://api.example.com", verify=bad)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """An https server on loopback with a self-signed certificate; (url, its CA bundle)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_GET(self) -> None:
            body = json.dumps([{"id": "01a21990-0000-7000-8000-000000000001",
                                "name": "TLS Org", "role": "owner"}]).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    yield f"https://localhost:{httpd.server_address[1]}", str(cert)
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("driver", ["sync", "async"])
def test_tls_for_real(tls_server: tuple[str, str], driver: str) -> None:
    url, bundle = tls_server

    def orgs(s: Session) -> list[str]:
        if driver == "sync":
            return [o.name for o in Organization.objects.using(s).all()]

        async def run() -> list[str]:
            try:
                return [o.name async for o in Organization.objects.using(s).all()]
            finally:
                await s.aclose()

        return asyncio.run(run())

    untrusted = Session(api_key="dfs_x", base_url=url, retry=RetryPolicy(attempts=1))
    with pytest.raises(TransportError) as info:  # self-signed: refused, as the library's error
        orgs(untrusted)
    assert "TLS verification failed" in str(info.value)  # the cause, in words
    trusted = Session(api_key="dfs_x", base_url=url, verify=bundle)
    assert orgs(trusted) == ["TLS Org"]
    untrusted.close()
    trusted.close()


# -- redirects (tests/test_transport.py covers 127.0.0.1 -> localhost) -----------------------


class _Hop(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, to: str | None) -> None:
        self.to = to
        self.auth: list[str | None] = []
        super().__init__((host, 0), _HopHandler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.server_address[1]}"


class _HopHandler(BaseHTTPRequestHandler):
    server: _Hop

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.server.auth.append(self.headers.get("authorization"))
        if self.server.to is not None:
            self.send_response(302)
            self.send_header("location", self.server.to + self.path)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        body = b'{"items": [], "cursor": null}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("target", ["127.0.0.1", "127.0.0.2"], ids=["other port", "other ip"])
@pytest.mark.parametrize("driver", ["sync", "async"])
def test_redirect_to_another_origin_drops_the_key(target: str, driver: str) -> None:
    last = _Hop(target, None)
    first = _Hop("127.0.0.1", last.url)
    s = Session(api_key="dfs_" + "k" * 43, base_url=first.url,
                organization="01a21990-0000-7000-8000-000000000001",
                orbit="01a21990-0000-7000-8000-000000000002")
    try:
        if driver == "sync":
            assert Collection.objects.using(s).count() == 0
        else:
            async def run() -> int:
                try:
                    return await Collection.objects.using(s).acount()
                finally:
                    await s.aclose()

            assert asyncio.run(run()) == 0
    finally:
        s.close()
        for hop in (first, last):
            hop.shutdown()
            hop.server_close()
    assert first.auth == ["Bearer dfs_" + "k" * 43]
    assert last.auth == [None]


# -- the command line ----------------------------------------------------------------------


def test_serve_does_not_echo_the_environments_key() -> None:
    secret = "dfs_" + "s" * 43
    env = {**os.environ, "DFS_API_KEY": secret, "LUML_API_KEY": secret}
    proc = subprocess.Popen([sys.executable, "-m", "dataforce_orm", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    text = "".join(lines) + out + err
    assert secret not in text
    assert any(line.startswith("export DFS_API_KEY=dfs_") for line in lines)  # its own key


# -- LocalServer: keys, organizations, malformed requests -------------------------------------


def _routes(org: str, orbit: str, cid: str) -> list[tuple[str, str]]:
    base = f"/v1/organizations/{org}/orbits/{orbit}"
    return [("GET", "/v1/users/me/organizations"), ("GET", "/v1/auth/api-keys/validate"),
            ("GET", f"/v1/organizations/{org}/orbits"), ("GET", base),
            ("GET", f"{base}/collections"), ("POST", f"{base}/collections"),
            ("HEAD", f"{base}/collections"), ("GET", f"{base}/collections/{cid}"),
            ("PATCH", f"{base}/collections/{cid}"), ("DELETE", f"{base}/collections/{cid}")]


def test_every_route_refuses_a_wrong_key(server: LocalServer, orbit_id: str) -> None:
    (cid,) = server.insert_collections(orbit_id, [{"name": "guarded"}])
    revoked = server.add_user("gone")
    key = server.api_key
    wrong: list[dict[str, str]] = [
        {}, {"Authorization": "Bearer dfs_" + "x" * 43},
        {"Authorization": f"Bearer {key[:-1]}"}, {"Authorization": f"Bearer {key}x"},
        {"Authorization": f"Bearer {key.upper()}"}, {"Authorization": f"Basic {key}"},
        {"Authorization": f"Bearer  {key}"}, {"Authorization": "Bearer "},
        {"Authorization": f"Bearer {revoked.api_key[:20]}"}, {"Cookie": "access_token=dfs_nope"},
        {"Authorization": "Bearer dfs_' OR '1'='1"}, {"Authorization": "Bearer dfs_%00"},
    ]
    rows = server.collection_rows(orbit_id)
    with requests.Session() as http:
        for method, path in _routes(server.organization_id, orbit_id, cid):
            for headers in wrong:
                body = {"name": "n", "description": "", "type": "model"} if method in (
                    "POST", "PATCH") else None
                r = http.request(method, server.url + path, headers=headers, json=body)
                assert r.status_code == 401, (method, path, headers, r.status_code)
                if method != "HEAD":
                    assert r.json() == {"detail": "Not authenticated"}
    assert server.collection_rows(orbit_id) == rows


def test_another_users_organization_is_never_served(server: LocalServer, orbit_id: str) -> None:
    owner = server.add_user("stranger")
    org = server.add_organization("Stranger's Org", owner=owner.id)
    orbit = server.add_orbit(org, "Stranger's Orbit")
    (cid,) = server.insert_collections(orbit, [{"name": "private"}])
    (mine,) = server.insert_collections(orbit_id, [{"name": "mine"}])
    before = server.collection_rows(orbit)
    key = {"Authorization": f"Bearer {server.api_key}"}
    with requests.Session() as http:
        for method, path in _routes(org, orbit, cid)[2:]:
            body = {"name": "taken", "description": "", "type": "model"} if method in (
                "POST", "PATCH") else None
            r = http.request(method, server.url + path, headers=key, json=body)
            assert r.status_code == 403, (method, path, r.status_code)
        # mixing ids: my organization with their orbit, my orbit with their collection
        mixed = [f"/v1/organizations/{server.organization_id}/orbits/{orbit}/collections",
                 f"/v1/organizations/{server.organization_id}/orbits/{orbit_id}/collections/{cid}",
                 f"/v1/organizations/{org}/orbits/{orbit_id}/collections/{mine}"]
        for path in mixed:
            for method in ("GET", "PATCH", "DELETE"):
                if method != "GET" and path == mixed[0]:
                    continue
                body = {"name": "taken", "description": "", "type": "model"} if (
                    method == "PATCH") else None
                r = http.request(method, server.url + path, headers=key, json=body)
                assert r.status_code in (403, 404), (method, path, r.status_code)
                assert "private" not in r.text
    assert server.collection_rows(orbit) == before
    s = Session(api_key=server.api_key, base_url=server.url, organization=org, orbit=orbit,
                retry=RetryPolicy(attempts=1))
    with pytest.raises(ConfigurationError, match="is visible to this API key") as info:
        Collection.objects.using(s).get(id=cid)  # by id: the 403 becomes what it means
    assert isinstance(info.value.__context__, PermissionDeniedError)
    assert "private" not in str(info.value) and "Stranger" not in str(info.value)
    by_name = Session(api_key=server.api_key, base_url=server.url,
                      organization="Stranger's Org")
    with pytest.raises(ConfigurationError, match="no organization named"):
        Collection.objects.using(by_name).count()
    s.close()
    by_name.close()
