"""The library's ``requests`` sessions prepare every request exactly as ``requests`` would
(they only leave out merges that change nothing), and keep the cookies a server sets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import requests

from dataforce_orm._clients import new_session
from dataforce_orm._http import _BearerAuth

CASES: list[dict[str, Any]] = [
    {"method": "get", "url": "http://h:1/a b/é?x=1",
     "params": [("q", "é &=+/ü"), ("z", "")]},
    {"method": "GET", "url": "http://h:1/p", "params": (("limit", "100"), ("cursor", "c"))},
    {"method": "POST", "url": "http://h:1/p", "json": {"a": "ü", "n": [1, 2]}, "params": ()},
    {"method": "GET", "url": "http://h:1/p", "params": {"a": ["1", "2"], "b": None}},
    {"method": "GET", "url": "http://h:1/p", "params": [("a", None), ("n", 1)]},
    {"method": "PATCH", "url": "http://h:1/p", "json": [], "headers": {"X-A": "1"}},
    {"method": "PUT", "url": "http://h:1/p", "data": b"raw",
     "headers": {"Content-Type": "application/octet-stream"}},
    {"method": "DELETE", "url": "http://user:pw@h:1/p"},
]


def _api_session() -> requests.Session:
    """A session as the sync driver makes one: default headers, the key by auth, a CA
    bundle."""
    http = new_session()
    http.headers.update({"Accept": "application/json", "User-Agent": "dataforce-orm/test"})
    http.auth = _BearerAuth(lambda: "Bearer k")
    http.verify = "/etc/ssl/certs/some-ca.pem"
    return http


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['method']} {sorted(c)}")
def test_a_request_is_prepared_as_requests_prepares_it(case: dict[str, Any]) -> None:
    http = _api_session()
    ours = http.prepare_request(requests.Request(**case))
    theirs = requests.Session.prepare_request(http, requests.Request(**case))
    assert (ours.method, ours.url, ours.body, ours.hooks) == (
        theirs.method, theirs.url, theirs.body, theirs.hooks)
    assert list(ours.headers.items()) == list(theirs.headers.items())


@pytest.mark.parametrize("given", [(None, None, None), (True, False, ("c.pem", "k.pem")),
                                   (False, "/other/ca.pem", None)])
def test_the_send_settings_are_merged_as_requests_merges_them(given: tuple[Any, ...]) -> None:
    http = _api_session()
    url = "https://h:1/p"
    ours = http.merge_environment_settings(url, {}, *given)
    theirs = requests.Session.merge_environment_settings(http, url, {}, *given)
    assert ours == theirs and ours["proxies"] == {}


class _CookieServer(BaseHTTPRequestHandler):
    seen: ClassVar[list[str | None]] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Cookie"))
        self.send_response(200)
        if self.path == "/set":
            self.send_header("Set-Cookie", "lb=node-2; Path=/")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def cookie_server() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _CookieServer)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _CookieServer.seen = []
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_cookie_the_server_sets_is_sent_back(cookie_server: str) -> None:
    with new_session() as http:
        http.get(cookie_server + "/").raise_for_status()
        http.get(cookie_server + "/set").raise_for_status()
        http.get(cookie_server + "/again", params=[("a", "1")]).raise_for_status()
    assert _CookieServer.seen == [None, None, "lb=node-2"]
