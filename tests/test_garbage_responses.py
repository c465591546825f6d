"""A server answering garbage, over real sockets, to both drivers and every kind of call.

A tiny raw-socket server on loopback answers each request with valid data, except for the
endpoint under test, which gets the garbage verbatim (bytes on the wire: HTML error pages,
truncated or odd JSON, wrong shapes, unexpected statuses, broken HTTP). Every call must end in
the library's own error: an ``APIError`` when an HTTP answer came (with its status), a
``TransportError`` when none usable did; never a KeyError, TypeError, AttributeError or a
cattrs error, and never with a raw exception chained as its cause.

(``tests/test_errors_mapping.py`` covers the sync driver's mapping with ``responses`` mocks.)
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from raw_server import answer_each

from dataforce_orm import (
    APIError,
    Collection,
    DataForceClient,
    DataForceError,
    Orbit,
    Organization,
    RetryPolicy,
    Session,
    TransportError,
)

ORG = "01a21990-0000-7000-8000-000000000001"
ORBIT = "01a21990-0000-7000-8000-000000000002"
CID = "01a21990-0000-7000-8000-000000000003"
COLLECTIONS = f"/v1/organizations/{ORG}/orbits/{ORBIT}/collections"
GOOD = {"id": CID, "orbit_id": ORBIT, "name": "c", "description": "", "type": "model",
        "tags": None, "total_artifacts": 0, "created_at": "2026-01-01T00:00:00.000000Z",
        "updated_at": None}
ORGS = [{"id": ORG, "name": "Org", "logo": None, "created_at": "2026-01-01T00:00:00Z",
         "updated_at": None, "role": "owner", "permissions": {}}]
ORBITS = [{"id": ORBIT, "name": "Orbit", "organization_id": ORG, "total_members": 1,
           "total_collections": 0, "total_satellites": 0, "total_artifacts": 0, "role": "admin",
           "created_at": "2026-01-01T00:00:00Z", "updated_at": None}]


def http(status: int, body: bytes | str = b"", ctype: str | None = "application/json",
         headers: str = "", length: int | None = None) -> bytes:
    """An HTTP/1.1 answer, as bytes (``length`` may lie)."""
    data = body.encode() if isinstance(body, str) else body
    head = f"HTTP/1.1 {status} X\r\nconnection: close\r\n{headers}"
    if ctype is not None:
        head += f"content-type: {ctype}\r\n"
    head += f"content-length: {len(data) if length is None else length}\r\n\r\n"
    return head.encode() + data


def js(data: Any, status: int = 200) -> bytes:
    return http(status, json.dumps(data))


# -- the server ---------------------------------------------------------------------------------


class Garbage:
    """Answers valid data everywhere, except ``(method, endpoint)`` of ``self.bad``."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.bad: tuple[str, str, bytes] | None = None
        self.seen: list[tuple[str, str]] = []  # (method, endpoint) of each request
        answer_each(self.sock, self._answer)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    @staticmethod
    def endpoint(path: str) -> str:
        if path == "/v1/users/me/organizations":
            return "orgs"
        if re.fullmatch(r"/v1/organizations/[^/]+/orbits", path):
            return "orbits"
        if path == COLLECTIONS:
            return "list"
        return "item" if path.startswith(COLLECTIONS + "/") else "other"

    def good(self, method: str, endpoint: str) -> bytes:
        if method == "DELETE":
            return http(204, ctype=None)
        return {"orgs": js(ORGS), "orbits": js(ORBITS), "list": js({"items": [], "cursor": None}),
                "item": js(GOOD)}.get(endpoint, js({"detail": "Not Found"}, 404)) if (
            method == "GET") else js(GOOD)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, rest = data.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = next((int(v) for k, _, v in (h.partition(":") for h in lines[1:])
                               if k.strip().lower() == "content-length"), 0)
                while len(rest) < length:
                    rest += conn.recv(65536)
                endpoint = self.endpoint(target.split("?")[0])
                self.seen.append((method, endpoint))
                bad = self.bad
                if bad is not None and (bad[0], bad[1]) == (method, endpoint):
                    conn.sendall(bad[2])
                else:
                    conn.sendall(self.good(method, endpoint))
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def garbage() -> Iterator[Garbage]:
    g = Garbage()
    yield g
    g.close()


# -- the garbage ------------------------------------------------------------------------------

HTML = "<!doctype html><html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>"

# name -> (the bytes, the error: "api" for an APIError, "transport" for a TransportError,
#          "shape" for an APIError that only a 2xx body can cause, "either": reads follow
#          redirects (and find no answer), writes do not (an APIError with the status))
KINDS: dict[str, tuple[bytes, str]] = {
    "html 502 page": (http(502, HTML.format("502 Bad Gateway"), "text/html"), "api"),
    "html 503 page, no type": (http(503, HTML.format("Service Unavailable"), None), "api"),
    "html 403 page": (http(403, HTML.format("Forbidden"), "text/html"), "api"),
    "html 200 page": (http(200, HTML.format("Welcome to nginx!"), "text/html"), "api"),
    "truncated json": (http(200, '{"items": [{"id": "01a2'), "api"),
    "json with trailing junk": (http(200, '{"items": [], "cursor": null}}}'), "api"),
    "binary garbage": (http(200, bytes(range(256))), "api"),
    "empty 200": (http(200, b""), "shape"),
    "json null": (js(None), "shape"),
    "json number": (js(42), "shape"),
    "json string": (js("ok"), "shape"),
    "json list": (js([GOOD]), "shape"),
    "json object": (js({"unexpected": True}), "shape"),
    "items not a list": (js({"items": {"a": 1}, "cursor": None}), "shape"),
    "items of scalars": (js({"items": [1, "two", None], "cursor": None}), "shape"),
    "id not a string": (js({**GOOD, "id": 5}), "shape"),
    "fields of wrong types": (js({**GOOD, "name": 7, "tags": "x", "total_artifacts": "many"}),
                              "shape"),
    "unreadable time": (js({**GOOD, "created_at": "yesterday"}), "shape"),
    "NaN and Infinity": (http(200, f'{{"id": "{CID}", "name": NaN, "total_artifacts": '
                                   'Infinity}'), "shape"),
    "list rows of wrong shape": (js({"items": [{**GOOD, "created_at": 12}], "cursor": None}),
                                 "shape"),
    "cursor not a string": (js({"items": [GOOD], "cursor": 5}), "shape"),
    "orgs rows without ids": (js([{"name": "Org"}]), "shape"),
    "418 json": (js({"detail": "I'm a teapot"}, 418), "api"),
    "418 without body": (http(418, b"", None), "api"),
    "302 without location": (http(302, b"", None), "api"),
    "status 999": (js({"detail": "?"}, 999), "api"),
    "422 detail of odd shapes": (js({"detail": [1, {"loc": 5}, {"msg": None}, "x"]}, 422),
                                 "api"),
    "204 with no body": (http(204, b"", None), "shape"),
    "redirect loop": (http(302, b"", None, f"location: {COLLECTIONS}\r\n"), "either"),
    "redirect to ftp": (http(302, b"", None, "location: ftp://example.com/x\r\n"), "either"),
    "redirect to a broken url": (http(302, b"", None, "location: http://[::1\r\n"), "either"),
    "cut short": (http(200, '{"items": [', length=500), "transport"),
    "bad gzip": (http(200, b"not gzip at all", headers="content-encoding: gzip\r\n"),
                 "transport"),
    "not http at all": (b"SSH-2.0-OpenSSH_9.6\r\n", "transport"),
    "bad status line": (b"HTTP/1.1 OK\r\ncontent-length: 0\r\n\r\n", "transport"),
    "nothing": (b"", "transport"),
}

# call name -> (the endpoint it hits, its method there, sync call, async call)
Call = Callable[[Session], Any]
ACall = Callable[[Session], Awaitable[Any]]


def _saved(s: Session) -> Collection:
    obj = Collection(id=CID)
    obj.refresh(discard=True, using=s)
    obj.name = "renamed"
    return obj


async def _asaved(s: Session) -> Collection:
    obj = Collection(id=CID)
    await obj.arefresh(discard=True, using=s)
    obj.name = "renamed"
    return obj


async def _alist(qs: Any) -> list[Any]:
    return [x async for x in qs]


def _by_name(s: Session) -> Session:
    return Session(api_key="dfs_garbage", base_url=s.base_url, organization="Org",
                   orbit="Orbit", retry=s.retry)


CALLS: dict[str, tuple[str, str, Call, ACall]] = {
    "list": ("list", "GET", lambda s: list(Collection.objects.using(s).all()),
             lambda s: _alist(Collection.objects.using(s).all())),
    "get": ("item", "GET", lambda s: Collection.objects.using(s).get(id=CID),
            lambda s: Collection.objects.using(s).aget(id=CID)),
    "create": ("list", "POST",
               lambda s: Collection.objects.using(s).create(name="n", collection_type="model"),
               lambda s: Collection.objects.using(s).acreate(name="n", collection_type="model")),
    "update": ("item", "PATCH", lambda s: _saved(s).save(),
               lambda s: _aupdate(s)),
    "delete": ("item", "DELETE", lambda s: Collection(id=CID).delete(using=s),
               lambda s: Collection(id=CID).adelete(using=s)),
    "organizations": ("orgs", "GET", lambda s: list(Organization.objects.using(s).all()),
                      lambda s: _alist(Organization.objects.using(s).all())),
    "orbits": ("orbits", "GET", lambda s: list(Orbit.objects.using(s).all()),
               lambda s: _alist(Orbit.objects.using(s).all())),
    "names resolved": ("orgs", "GET", lambda s: Collection.objects.using(_by_name(s)).count(),
                       lambda s: Collection.objects.using(_by_name(s)).acount()),
}


async def _aupdate(s: Session) -> None:
    obj = await _asaved(s)
    await obj.asave()


def _session(url: str) -> Session:
    return Session(api_key="dfs_garbage", base_url=url, organization=ORG, orbit=ORBIT,
                   timeout=(2.0, 2.0), retry=RetryPolicy(attempts=2, backoff=0.0,
                                                          deadline=0.5))


@dataclass
class Outcome:
    call: str
    error: BaseException | None


def _check(kind: str, outcome: Outcome) -> None:
    expected = KINDS[kind][1]
    err = outcome.error
    where = f"{outcome.call} <- {kind}"
    assert err is not None, f"{where}: no error"
    assert isinstance(err, DataForceError), f"{where}: raw {type(err).__name__}: {err}"
    assert err.__cause__ is None, f"{where}: chained {type(err.__cause__).__name__}"
    if expected == "transport":
        assert isinstance(err, TransportError), f"{where}: {type(err).__name__}: {err}"
    elif expected == "either":
        assert isinstance(err, (TransportError, APIError)), f"{where}: {type(err).__name__}"
    else:
        assert isinstance(err, APIError), f"{where}: {type(err).__name__}: {err}"
        assert str(err.status) in str(err) and err.url in str(err), str(err)
    assert str(err).strip()


def _applies(kind: str, call: str) -> bool:
    """Shapes only matter where the library reads the body: not a DELETE's, and a wrong
    collection shape is not wrong for a listing of organizations (and the reverse)."""
    expected = KINDS[kind][1]
    endpoint, method = CALLS[call][:2]
    if expected == "shape" and method == "DELETE":
        return False
    if kind == "204 with no body" and method == "DELETE":
        return False
    if kind in ("json list", "orgs rows without ids") and endpoint in ("orgs", "orbits"):
        return kind == "orgs rows without ids"
    return not (kind == "orgs rows without ids" and endpoint not in ("orgs", "orbits"))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sync_calls_over_garbage(garbage: Garbage, kind: str) -> None:
    s = _session(garbage.url)
    try:
        for call, (endpoint, method, fn, _) in CALLS.items():
            if not _applies(kind, call):
                continue
            garbage.bad = (method, endpoint, KINDS[kind][0])
            try:
                fn(s)
            except Exception as exc:
                _check(kind, Outcome(call, exc))
            else:
                _check(kind, Outcome(call, None))
            finally:
                garbage.bad = None
    finally:
        s.close()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_async_calls_over_garbage(garbage: Garbage, kind: str) -> None:
    s = _session(garbage.url)

    async def run() -> list[Outcome]:
        outcomes = []
        for call, (endpoint, method, _, afn) in CALLS.items():
            if not _applies(kind, call):
                continue
            garbage.bad = (method, endpoint, KINDS[kind][0])
            try:
                await afn(s)
            except Exception as exc:
                outcomes.append(Outcome(call, exc))
            else:
                outcomes.append(Outcome(call, None))
            finally:
                garbage.bad = None
        await s.aclose()
        return outcomes

    for outcome in asyncio.run(run()):
        _check(kind, outcome)


# (kinds that are not retried: the facade's session has the default, patient, RetryPolicy)
@pytest.mark.parametrize("kind", ["html 403 page", "truncated json", "json list",
                                  "fields of wrong types", "418 json", "302 without location"])
def test_facade_over_garbage(garbage: Garbage, kind: str) -> None:
    client = DataForceClient(base_url=garbage.url, api_key="dfs_garbage", organization=ORG,
                             orbit=ORBIT)
    calls: dict[str, tuple[str, str, Callable[[], Any]]] = {
        "list": ("list", "GET", client.collections.list),
        "get": ("item", "GET", lambda: client.collections.get(CID)),
        "create": ("list", "POST", lambda: client.collections.create("d", "n", "model")),
        "update": ("item", "PATCH", lambda: client.collections.update(
            name="x", collection_id=CID)),
    }
    try:
        for call, (endpoint, method, fn) in calls.items():
            garbage.bad = (method, endpoint, KINDS[kind][0])
            try:
                fn()
            except Exception as exc:
                _check(kind, Outcome(f"client.collections.{call}", exc))
            else:
                _check(kind, Outcome(f"client.collections.{call}", None))
            finally:
                garbage.bad = None
    finally:
        client.close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("driver", ["sync", "async"])
def test_writes_do_not_follow_redirects(garbage: Garbage, status: int, driver: str) -> None:
    """A followed 301/302/303 turns a write into a GET: the library would see 200 and report
    an update or a delete that never happened. Writes get the redirect as an error instead."""
    s = _session(garbage.url)
    item = f"{COLLECTIONS}/{CID}"
    writes: dict[str, tuple[str, str, Call, ACall]] = {
        k: CALLS[k] for k in ("create", "update", "delete")}
    try:
        for call, (endpoint, method, fn, afn) in writes.items():
            garbage.bad = (method, endpoint,
                           http(status, b"", None, f"location: {garbage.url}{item}\r\n"))
            obj = _saved(s) if call == "update" else None
            garbage.seen.clear()
            with pytest.raises(APIError) as info:
                if obj is not None:
                    obj.save() if driver == "sync" else asyncio.run(obj.asave())
                elif driver == "sync":
                    fn(s)
                else:
                    asyncio.run(afn(s))
            garbage.bad = None
            assert info.value.status == status and "redirected to" in str(info.value)
            assert (method, endpoint) in garbage.seen
            assert ("GET", "item") not in garbage.seen[garbage.seen.index((method, endpoint)):]
            if obj is not None:
                assert obj.changed_fields() == ["name"]  # still not saved
    finally:
        garbage.bad = None
        s.close()


def test_the_server_answers_well_when_asked_nothing_odd(garbage: Garbage) -> None:
    """The harness itself: without garbage every call above succeeds."""
    s = _session(garbage.url)
    try:
        for _, _, fn, _ in CALLS.values():
            fn(s)
    finally:
        s.close()
