"""Everyday configuration mistakes are caught at once, as the library's own errors, and
errors name what was really requested (issue 13): a bad base_url or API key at Session(),
the cause of a transport failure in words, how to supply the key on a 401, an unknown
organization or orbit id listing the ones the key can see, and `serve` with a bad database."""

from __future__ import annotations

import asyncio
import logging
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import requests

from dataforce_orm import (
    AuthenticationError,
    Collection,
    ConfigurationError,
    RetryPolicy,
    Session,
    TimeoutError,
    TransportError,
)
from dataforce_orm._http import _transport_error
from dataforce_orm._protocol import Request
from dataforce_orm.testing import Fault, LocalServer

KEY = "dfs_" + "k" * 43


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("API_KEY", "BASE_URL", "ORGANIZATION", "ORBIT"):
        monkeypatch.delenv(f"DFS_{name}", raising=False)
        monkeypatch.delenv(f"LUML_{name}", raising=False)


def _count(s: Session, mode: str) -> int:
    """Collection.objects.count() through the sync API or its async twin."""
    qs = Collection.objects.using(s)
    if mode == "sync":
        return qs.count()

    async def run() -> int:
        try:
            return await qs.acount()
        finally:
            await s.aclose()

    return asyncio.run(run())


modes = pytest.mark.parametrize("mode", ["sync", "async"])


# -- base_url ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "says"), [
    ("https://api.luml.ai\n", "a newline at position 19"),
    ("https://api.luml.ai\t", "a tab"),
    ("https://api.luml.ai/ ", "a space"),
    ("https://api.luml.ai:80a", "port '80a'"),
    ("https://api.luml.ai:99999", "port '99999'"),
    ("https://api.luml.ai:0", "from 1 to 65535"),
    ("http://[::1", "malformed"),
    ("http://[fe80::zz]:8000", "IPv6"),
    ("http://::1:8000", "IPv6 host must be in brackets"),
    ("api.luml.ai", "has no scheme; write it as https://api.luml.ai"),
    ("localhost:8000", "has no scheme"),
    ("https://user:pw@api.luml.ai", "credentials"),
    ("https://api.luml.ai/?x=1", "query"),
])
def test_a_bad_base_url_is_a_configuration_error_naming_the_problem(url: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Session(api_key=KEY, base_url=url)
    assert says in str(info.value)
    assert "pw" not in str(info.value) or "user:password" in str(info.value)


@modes
def test_a_base_url_ending_in_v1_is_stripped_with_a_warning(
        mode: str, server: LocalServer, orbit_id: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dataforce_orm"):
        s = Session(api_key=server.api_key, base_url=server.url + "/v1/",
                    organization=server.organization_id, orbit=orbit_id)
    assert s.base_url == server.url
    assert any("ends in /v1" in r.getMessage() for r in caplog.records)
    assert _count(s, mode) == 0  # the requests go to /v1/..., not /v1/v1/...
    s.close()


# -- the API key ------------------------------------------------------------------------------


@modes
def test_a_key_read_from_a_file_with_its_newline_works(
        mode: str, server: LocalServer, orbit_id: str, tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "key").write_text(server.api_key + "\n")
    s = Session(api_key=(tmp_path / "key").read_text(), base_url=server.url,
                organization=server.organization_id, orbit=orbit_id)
    assert _count(s, mode) == 0
    monkeypatch.setenv("DFS_API_KEY", f"  {server.api_key}\r\n")
    assert _count(Session(base_url=server.url, organization=server.organization_id,
                          orbit=orbit_id), mode) == 0


@pytest.mark.parametrize(("key", "says"), [
    ("dfs_ab\x00cd", "a control character at position 6"),
    ("dfs_ab\ncd", "whitespace at position 6"),
    ("dfs_ab cd", "whitespace"),
    ("dfs_abécd", "a non-ASCII character"),
    (" \n", "empty"),
])
def test_a_key_a_header_cannot_carry_is_refused_at_construction(key: str, says: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Session(api_key=key, base_url="https://api.luml.ai")
    assert says in str(info.value) and "cd" not in str(info.value)


# -- what a transport error says --------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@modes
def test_connection_refused_names_the_cause_and_the_full_url(mode: str) -> None:
    base = f"http://127.0.0.1:{_closed_port()}"
    org, orbit = str(uuid.uuid4()), str(uuid.uuid4())
    s = Session(api_key=KEY, base_url=base, organization=org, orbit=orbit,
                retry=RetryPolicy(attempts=1))
    with pytest.raises(TransportError) as info:
        _count(s, mode)
    err = info.value
    path = f"/v1/organizations/{org}/orbits/{orbit}/collections"
    assert err.url == path and err.full_url == base + path
    assert type(err) is TransportError  # not a timeout
    assert "connection refused" in str(err) and base + path in str(err)
    assert not err.maybe_sent and KEY not in str(err)


@modes
def test_a_name_that_does_not_resolve_says_so(mode: str) -> None:
    s = Session(api_key=KEY, base_url="https://no-such-host.invalid",
                organization=str(uuid.uuid4()), orbit=str(uuid.uuid4()),
                retry=RetryPolicy(attempts=1), timeout=5.0)
    with pytest.raises(TransportError) as info:
        _count(s, mode)
    assert "name not resolved" in str(info.value)
    assert "https://no-such-host.invalid/v1/organizations/" in str(info.value)


@modes
def test_a_read_timeout_says_timed_out(mode: str, server: LocalServer, orbit_id: str) -> None:
    s = Session(api_key=server.api_key, base_url=server.url, organization=server.organization_id,
                orbit=orbit_id, timeout=(2.0, 0.1), retry=RetryPolicy(attempts=1))
    server.add_fault(Fault(kind="delay", delay=0.4, path=orbit_id, times=1))
    try:
        with pytest.raises(TimeoutError) as info:
            _count(s, mode)
    finally:
        server.clear_faults()
        s.close()
    assert "timed out waiting for the answer" in str(info.value)
    assert server.url in str(info.value)


class ConnectTimeout(Exception):  # a look-alike name: not a timeout, not a connect failure
    pass


class Wrapped(requests.exceptions.ConnectTimeout):  # a real one under another name
    pass


@pytest.mark.parametrize(("exc", "kind", "maybe_sent", "says"), [
    (ConnectTimeout("x"), TransportError, True, "closed before the answer"),
    (Wrapped("x"), TimeoutError, False, "timed out connecting"),
    (requests.exceptions.ConnectionError(ConnectionRefusedError(111, "refused")),
     TransportError, True, "connection refused"),
    (requests.exceptions.ReadTimeout("x"), TimeoutError, True, "timed out waiting"),
    (requests.exceptions.SSLError(__import__("ssl").SSLCertVerificationError("bad cert")),
     TransportError, True, "TLS verification failed"),
])
def test_network_errors_are_classified_by_type_and_cause_not_by_name(
        exc: BaseException, kind: type[Exception], maybe_sent: bool, says: str) -> None:
    err = _transport_error(Request("GET", "/v1/x"), exc)
    assert type(err) is kind and err.maybe_sent is maybe_sent and says in str(err)


def test_a_cause_chain_is_followed() -> None:
    try:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except OSError as inner:
            raise requests.exceptions.ConnectionError("wrapped") from inner
    except requests.exceptions.ConnectionError as exc:
        err = _transport_error(Request("GET", "/v1/x"), exc)
    assert "name not resolved" in str(err)


# -- 401, unknown organization / orbit ids -----------------------------------------------------


@modes
def test_a_401_says_which_settings_supply_the_key(mode: str, server: LocalServer,
                                                  orbit_id: str) -> None:
    s = Session(api_key="dfs_wrong", base_url=server.url, organization=server.organization_id,
                orbit=orbit_id)
    with pytest.raises(AuthenticationError) as info:
        _count(s, mode)
    text = str(info.value)
    assert all(w in text for w in ("api_key=", "DFS_API_KEY", "LUML_API_KEY", server.url))
    assert "dfs_wrong" not in text


@modes
@pytest.mark.parametrize("which", ["organization", "orbit"])
def test_an_unknown_organization_or_orbit_id_lists_the_visible_ones(
        mode: str, which: str, server: LocalServer, orbit_id: str) -> None:
    unknown = str(uuid.uuid4())
    scope = {"organization": server.organization_id, "orbit": orbit_id, which: unknown}
    s = Session(api_key=server.api_key, base_url=server.url, **scope)
    with pytest.raises(ConfigurationError) as info:
        _count(s, mode)
    text = str(info.value)
    assert f"no {which} with id {unknown!r} is visible to this API key" in text
    listed = "Default Organization" if which == "organization" else "Default Orbit"
    assert listed in text
    s.close()


def test_a_visible_scope_with_a_missing_object_keeps_its_own_error(
        session: Session, server: LocalServer) -> None:
    with pytest.raises(Collection.DoesNotExist):
        Collection.objects.get(id=str(uuid.uuid4()))


# -- serve ------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda tmp: str(tmp / "no" / "such" / "dir" / "db.sqlite3"),
    lambda tmp: str(tmp),  # a directory
    lambda tmp: (tmp / "x.sqlite3").write_text("not a database" * 100) and str(tmp / "x.sqlite3"),
])
def test_serve_with_a_database_it_cannot_open(make: Callable[[Any], str], tmp_path: Any) -> None:
    path = make(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "dataforce_orm", "serve", "--port", "0",
                           "--db", path], capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "cannot open the database" in lines[0] and path in lines[0]
