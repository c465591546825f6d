"""The HTTP clients the drivers send with: ``requests`` sessions, one per thread, whose every
socket read is bounded by a read watch (``_limits``); and httpx, imported once.

A pooled session is closed when its thread ends (so threads that come and go leave no
connections behind) or by ``close()``, which closes the sockets at once. In the child of an
``os.fork`` every pool starts empty (see ``reset_in_child()``): a connection is never
shared between processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import io
import itertools
import os
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlencode

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.exceptions
from requests.cookies import RequestsCookieJar
from requests.sessions import merge_hooks

from . import _log_urls  # noqa: F401  (hides presigned queries in the clients' logs)
from ._errors import ConfigurationError
from ._limits import Deadline, Stall

Watch = Deadline | Stall

# -- httpx, imported once --------------------------------------------------------------------

_httpx: Any = None
_httpx_lock = threading.Lock()


def import_httpx() -> Any:
    """httpx, or a ConfigurationError saying which extra brings it. Imported under a lock,
    and only handed out once its import is complete (another thread must never see a
    partially initialised module)."""
    global _httpx
    if _httpx is not None:
        return _httpx
    with _httpx_lock:
        if _httpx is None:
            try:
                import httpx
            except ImportError:  # pragma: no cover - depends on the install
                raise ConfigurationError(
                    "async calls need httpx: pip install 'dataforce-orm[async]'") from None
            _httpx = httpx
    return _httpx


def loaded_httpx() -> Any:
    """httpx if ``import_httpx()`` has brought it (else None), without importing it."""
    return _httpx


# What the clients raise for a failed request or a broken answer (a bad Location header is a
# ValueError); the drivers re-raise the library's own errors before mapping these.
SYNC_FAILURES = (requests.RequestException, urllib3.exceptions.HTTPError,
                 http.client.HTTPException, OSError, ValueError)


def async_failures() -> tuple[type[BaseException], ...]:
    """The same for httpx (and a read watch running out: asyncio.TimeoutError, which is not
    an OSError before Python 3.11)."""
    httpx = import_httpx()
    return (httpx.HTTPError, httpx.StreamError, httpx.InvalidURL, OSError, ValueError,
            asyncio.TimeoutError)


# -- read watches on requests' sockets -------------------------------------------------------

_current = threading.local()  # the watch for the responses this thread reads next


@contextlib.contextmanager
def watching(watch: Watch | None) -> Iterator[None]:
    """Bound the reads of the responses the calling thread gets meanwhile by ``watch``."""
    before = getattr(_current, "watch", None)
    _current.watch = watch
    try:
        yield
    finally:
        _current.watch = before


class _WatchedIO(io.RawIOBase):
    """A socket's reads, each waiting no longer than its watch allows."""

    def __init__(self, sock: socket.socket, watch: Watch) -> None:
        self._sock, self._watch = sock, watch
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._watch.wait()
        if left <= 0:
            raise TimeoutError("the read watch ran out")
        before = self._sock.gettimeout()
        narrow = before is None or left < before  # (else the socket's own timeout is the bound)
        if narrow:
            self._sock.settimeout(left)
        start = time.monotonic()
        try:
            n: int = self._raw.readinto(buffer)  # type: ignore[assignment]
        except TimeoutError:
            self._watch.got(0, time.monotonic() - start)
            self._watch.wait()  # (which trips it, if its time ran out)
            raise
        finally:
            if narrow:
                self._sock.settimeout(before)
        self._watch.got(n or 0, time.monotonic() - start)
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


class _WatchedResponse(http.client.HTTPResponse):
    """http.client's response, reading its status line, headers and body through the
    thread's current watch."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        watch = getattr(_current, "watch", None)
        if watch is not None:
            self.fp.close()
            self.fp = io.BufferedReader(_WatchedIO(sock, watch))


class _HTTPConnection(urllib3.connection.HTTPConnection):
    response_class = _WatchedResponse


class _HTTPSConnection(urllib3.connection.HTTPSConnection):
    response_class = _WatchedResponse


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _WatchedAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


@runtime_checkable
class PluggableTransport(Protocol):
    """What ``Session(transport=...)`` takes: the transport every request of the session goes
    through, API and storage calls alike (the retry engine, caps and checks stay the
    library's).

    ``requests_adapter()`` gives the ``requests`` adapter sync calls send with (mounted for
    ``http://`` and ``https://`` on each of the session's ``requests`` sessions);
    ``httpx_transport()`` gives the ``httpx.AsyncBaseTransport`` async calls send with (one
    per client). ``dataforce_orm.testing.InProcessTransport`` is one.
    """

    def requests_adapter(self) -> requests.adapters.BaseAdapter:
        """A new adapter for one ``requests`` session."""

    def httpx_transport(self) -> Any:
        """A new ``httpx.AsyncBaseTransport`` for one ``httpx.AsyncClient``."""


class _Session(requests.Session):
    """requests' session, preparing each request without the merges and checks that change
    nothing.

    requests merges a request's settings with the session's on every call, through checks
    that cost about 100 us of CPU a request on Python 3.11 (``isinstance`` against its
    runtime protocols, a cookie header looked for in an empty jar); here they run only where
    there is something to merge (API requests carry no cookies, headers, auth or proxies of
    their own, and the library's sessions trust no environment; storage requests carry
    headers, so they are prepared by requests in full). What is sent is the same.
    """

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if self.trust_env or request.cookies or request.auth or request.headers \
                or self.params or self.cookies:
            return super().prepare_request(request)
        p = requests.PreparedRequest()  # (the steps of PreparedRequest.prepare, in its order)
        p.prepare_method(request.method)
        p.prepare_url(request.url, _encoded(request.params))
        p.prepare_headers(self.headers)
        p._cookies = RequestsCookieJar()  # type: ignore[attr-defined]  # (empty: no header)
        p.prepare_body(request.data, request.files, request.json)
        p.prepare_auth(self.auth, request.url)
        p.prepare_hooks(merge_hooks(request.hooks, self.hooks))  # type: ignore[no-untyped-call]
        return p

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:
        if self.trust_env or proxies or self.proxies:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        return {"proxies": {}, "stream": self.stream if stream is None else stream,
                "verify": self.verify if verify is None else verify,
                "cert": self.cert if cert is None else cert}


def _encoded(params: Any) -> Any:
    """Query parameters as requests would encode them: pairs of strings urlencoded here
    (what requests does with them, without its checks of their type); anything else as it
    is, for requests to encode."""
    if isinstance(params, (list, tuple)) and all(
            isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
            and isinstance(p[1], str) for p in params):
        return urlencode(params) or None
    return params or None


def new_session(plug: PluggableTransport | None = None) -> requests.Session:
    """A ``requests.Session`` whose reads follow ``watching()``, ignoring the environment's
    proxies and netrc (``trust_env=False``); with ``plug``, sending through its adapter."""
    http = _Session()
    http.trust_env = False
    for prefix in ("http://", "https://"):
        http.mount(prefix, _WatchedAdapter() if plug is None else plug.requests_adapter())
    return http


# -- after a fork -----------------------------------------------------------------------------

_forked: weakref.WeakSet[Any] = weakref.WeakSet()


def reset_in_child(holder: Any) -> None:
    """Have ``holder.after_fork()`` called in the child of every later ``os.fork``: it drops
    the parent's connections (without closing them for the parent) and its locks."""
    _forked.add(holder)


def _after_fork_in_child() -> None:
    for holder in list(_forked):
        holder.after_fork()


if hasattr(os, "register_at_fork"):  # (not on Windows, which has no fork)
    os.register_at_fork(after_in_child=_after_fork_in_child)


# -- one session per thread ------------------------------------------------------------------


class _Held:
    """A thread's session, as its thread-local slot holds it: freed when the thread ends."""

    __slots__ = ("__weakref__", "closer", "http")

    def __init__(self, http: requests.Session) -> None:
        self.http = http
        self.closer: Callable[[], Any] = lambda: None


class ThreadSessions:
    """One ``requests.Session`` per thread, made by ``make`` on first use, and closed when its
    thread ends; ``close()`` closes every thread's, or only the calling thread's."""

    def __init__(self, make: Callable[[], requests.Session]) -> None:
        self._make = make
        self._local = threading.local()
        self._lock = threading.Lock()
        self._closers: dict[int, weakref.finalize[Any, Any]] = {}
        self._keys = itertools.count()
        reset_in_child(self)

    def after_fork(self) -> None:
        """In a forked child: no session of the parent's is used again. Their sockets are
        copies of the parent's; dropping them closes only the child's copies."""
        for closer in self._closers.values():
            closer.detach()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._closers = {}

    def get(self) -> requests.Session:
        held: _Held | None = getattr(self._local, "held", None)
        if held is None:
            held = _Held(self._make())
            key = next(self._keys)
            closer = weakref.finalize(held, self._closed, key, held.http)
            closer.atexit = False
            held.closer = closer
            with self._lock:
                self._closers[key] = closer
            self._local.held = held
        return held.http

    def _closed(self, key: int, http: requests.Session) -> None:
        with self._lock:
            self._closers.pop(key, None)
        http.close()

    def __len__(self) -> int:
        """How many sessions are open."""
        return len(self._closers)

    def close(self, current_thread_only: bool = False) -> None:
        if current_thread_only:
            held = self._local.__dict__.pop("held", None)
            closers = [held.closer] if held is not None else []
        else:
            with self._lock:
                closers = list(self._closers.values())
            self._local = threading.local()
        for closer in closers:
            closer()
