"""A server that lists hostile data, over HTTP on loopback, to both drivers.

Two defences of the listing and model layers: a listing whose pages bring no new id (every
page with a fresh cursor but only ids already seen) stops with an APIError naming the route
instead of looping; and an id a server sends is checked before it becomes part of a request
path, so an object listed with ``"id": "../../../escaped"`` can never send ``save()``,
``delete()`` or ``refresh()`` to another route.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from dataforce_orm import APIError, Collection, DataForceError, RetryPolicy, Session

ORG = "01a21990-0000-7000-8000-000000000001"
ORBIT = "01a21990-0000-7000-8000-000000000002"
CID = "01a21990-0000-7000-8000-000000000003"
COLLECTIONS = f"/v1/organizations/{ORG}/orbits/{ORBIT}/collections"


def row(ident: str, name: str = "c") -> dict[str, Any]:
    return {"id": ident, "orbit_id": ORBIT, "name": name, "description": "", "type": "model",
            "tags": None, "total_artifacts": 0, "created_at": "2026-01-01T00:00:00.000000Z",
            "updated_at": None}


class Scripted:
    """Answers the organization and orbit listings, and ``listing(query)`` for the
    collections listing; any other request is logged and answered 500."""

    def __init__(self, listing: Callable[[dict[str, list[str]]], Any]) -> None:
        self.listing = listing
        self.log: list[tuple[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                url = urlsplit(self.path)
                owner.log.append((self.command, url.path))
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                if self.command == "GET" and url.path == "/v1/users/me/organizations":
                    status, body = 200, [{"id": ORG, "name": "Org"}]
                elif self.command == "GET" and url.path == f"/v1/organizations/{ORG}/orbits":
                    status, body = 200, [{"id": ORBIT, "name": "Orbit"}]
                elif self.command == "GET" and url.path == COLLECTIONS:
                    status, body = 200, owner.listing(parse_qs(url.query))
                else:
                    status, body = 500, {"detail": "not scripted"}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def session(self) -> Session:
        return Session(api_key="dfs_test", base_url=self.url, organization=ORG, orbit=ORBIT,
                       allow_insecure_http=True, retry=RetryPolicy(attempts=1))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.log if m != "GET"]

    def listing_gets(self) -> int:
        return sum(1 for m, p in self.log if (m, p) == ("GET", COLLECTIONS))


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _listed(server: Scripted, mode: str) -> list[Collection]:
    s = server.session()
    if mode == "sync":
        return list(Collection.objects.using(s).all())

    async def run() -> list[Collection]:
        try:
            return [c async for c in Collection.objects.using(s).all()]
        finally:
            await s.aclose()

    return asyncio.run(run())


# -- a listing that brings no new id ----------------------------------------------------------


@pytest.fixture
def same_ids() -> Iterator[Scripted]:
    pages = iter(range(10_000))

    def listing(query: dict[str, list[str]]) -> Any:  # a fresh cursor, the same two rows
        return {"items": [row(CID, "a"), row(ORBIT, "b")], "cursor": f"page-{next(pages)}"}

    server = Scripted(listing)
    yield server
    server.close()


def test_pages_with_only_ids_already_seen_stop_with_an_error_naming_the_route(
        same_ids: Scripted, mode: str) -> None:
    with pytest.raises(APIError, match="no new id") as caught:
        _listed(same_ids, mode)
    assert caught.value.url == COLLECTIONS
    assert COLLECTIONS in str(caught.value)
    # the first page and the few its ids could explain by moving, then the error
    assert same_ids.listing_gets() <= 4


def test_a_repeated_cursor_still_stops_with_an_error_naming_the_route(mode: str) -> None:
    server = Scripted(lambda q: {"items": [row(CID)], "cursor": "same"})
    try:
        with pytest.raises(APIError, match="repeated a pagination cursor") as caught:
            _listed(server, mode)
        assert caught.value.url == COLLECTIONS
        assert server.listing_gets() == 2
    finally:
        server.close()


def test_rows_that_come_round_again_once_are_not_an_error(mode: str) -> None:
    """Rows moved past the cursor (a rename under order_by) come again once: given once."""
    pages = [[row(CID, "a"), row(ORBIT, "b")], [row(CID, "za"), row(ORBIT, "zb")], []]

    def listing(query: dict[str, list[str]]) -> Any:
        n = int(query.get("cursor", ["0"])[0])
        return {"items": pages[n], "cursor": str(n + 1) if n + 1 < len(pages) else None}

    server = Scripted(listing)
    try:
        assert [c.name for c in _listed(server, mode)] == ["a", "b"]
        assert server.listing_gets() == 3
    finally:
        server.close()


# -- ids from the server are checked before they become paths ---------------------------------


@pytest.fixture
def escaping() -> Iterator[Scripted]:
    server = Scripted(lambda q: {"items": [row("../../../escaped", "x")], "cursor": None})
    yield server
    server.close()


def test_an_id_that_is_not_a_uuid_never_reaches_a_request_path(escaping: Scripted,
                                                               mode: str) -> None:
    s = escaping.session()
    listed = Collection.objects.using(s).all()
    if mode == "sync":
        (c,) = list(listed)
        c.name = "renamed"
        for call in (c.save, c.delete, lambda: c.refresh(discard=True)):
            with pytest.raises(DataForceError, match="not a UUID"):
                call()
    else:
        async def run() -> None:
            try:
                (c,) = [x async for x in listed]
                c.name = "renamed"
                for call in (c.asave, c.adelete, lambda: c.arefresh(discard=True)):
                    with pytest.raises(DataForceError, match="not a UUID"):
                        await call()
            finally:
                await s.aclose()

        asyncio.run(run())
    assert escaping.writes() == []
    assert all(p in (COLLECTIONS, "/v1/users/me/organizations",
                     f"/v1/organizations/{ORG}/orbits") for _, p in escaping.log)
