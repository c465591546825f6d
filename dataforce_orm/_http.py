"""The sync and async drivers that run operations, and the checks of a session's connection
settings (base URL, API key, TLS verification).

Operations elsewhere are sans-I/O generators: they yield ``Request`` objects (or
``Batch`` results when they stream) and receive ``Response`` objects. A driver runs
them: ``SyncDriver`` on ``requests`` (one ``requests.Session`` per thread),
``AsyncDriver`` on ``httpx.AsyncClient``. Both send every request, API and storage alike,
under the same ``RetryPolicy`` (one retry engine) and map every failure into the error
tree; a storage request's tries go to the driver's storage runner (``_transfer``).

Every answer is read whole by the attempt's end (status line, headers and body: no read
waits past it) and at most the session's cap on answers (``Limits.max_answer``, counted after
decompression, which the drivers do themselves so that no more is ever inflated).
"""

from __future__ import annotations

import asyncio
import builtins
import ipaddress
import os
import re
import socket
import ssl
import threading
import time
import unicodedata
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
)
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import attrs
import requests
import requests.auth
import urllib3.exceptions

from ._clients import (
    SYNC_FAILURES,
    PluggableTransport,
    ThreadSessions,
    async_failures,
    import_httpx,
    loaded_httpx,
    new_session,
    reset_in_child,
    watching,
)
from ._errors import (
    APIError,
    ConfigurationError,
    DataForceError,
    TimeoutError,
    TransportError,
)
from ._limits import ACCEPT_ENCODING, CappedBody, Deadline, Limits, within
from ._protocol import (
    REQUEST_LOG,
    Attempt,
    Batch,
    Local,
    Op,
    Parallel,
    Request,
    Response,
    Sleep,
    Stepper,
    log,
    read_response,
)
from ._retry import RetryPolicy
from ._secrets import register_sent
from ._transfer import AsyncStorage, SyncStorage

__all__ = ["AsyncDriver", "RetryPolicy", "SyncDriver", "Timeout", "Transport"]

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
Timeout = float | tuple[float, float]


def check_verify(verify: object) -> bool | str:
    """``verify``: True/False, or the path of a CA bundle file (or directory) that exists."""
    if isinstance(verify, bool):
        return verify
    if not isinstance(verify, str) or not os.path.exists(verify):
        raise ConfigurationError(
            f"verify: must be True, False or the path of a CA bundle; {verify!r} is not")
    try:
        _ssl_verify(verify)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigurationError(f"verify: cannot load a CA bundle from {verify!r}: {exc}"
                                 ) from None
    return verify


def _ssl_verify(verify: bool | str) -> bool | ssl.SSLContext:
    """httpx's form of ``verify`` (it takes a CA bundle as an SSL context, not a path)."""
    if isinstance(verify, bool):
        return verify
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    return ssl.create_default_context(cafile=verify)


def _follows(req: Request) -> bool:
    """Only reads follow redirects: a 301/302/303 turns a write into a GET, so a followed one
    would answer 200 without writing anything (and a 307 would send the body elsewhere)."""
    return req.method == "GET"


def check_base_url(base_url: str, allow_insecure_http: bool) -> str:
    """Check and normalise the base URL (every problem is a ConfigurationError naming it).

    Refused: whitespace or control characters anywhere (a trailing newline from a file, a
    tab), a missing or non-http(s) scheme, credentials, a query or fragment, a port that is
    not a number in 1-65535, a bracketed host that is not an IPv6 address, and plain http to
    anything but loopback unless ``allow_insecure_http``. A path ending in ``/v1`` (the API
    version the library adds itself) is stripped, with a WARNING saying so. Trailing slashes
    are dropped.
    """
    if not isinstance(base_url, str):
        raise ConfigurationError(
            f"base_url: must be an http(s) URL string, not {type(base_url).__name__}")
    bad = next((i for i, ch in enumerate(base_url)
                if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf")), None)
    if bad is not None:
        raise ConfigurationError(
            f"base_url: contains {_char_name(base_url[bad])} at position {bad} of "
            f"{base_url!r}; remove it (a value read from a file keeps its newline)")
    if "://" not in base_url:
        raise ConfigurationError(
            f"base_url: {base_url!r} has no scheme; write it as https://{base_url.lstrip('/')}")
    try:
        parts = urlsplit(base_url)
    except ValueError as exc:  # e.g. "Invalid IPv6 URL"
        raise ConfigurationError(f"base_url: {base_url!r} is malformed: {exc}") from None
    host_part = parts.netloc.rpartition("@")[2]
    if not host_part.startswith("[") and host_part.count(":") > 1:
        raise ConfigurationError(
            f"base_url: an IPv6 host must be in brackets (http://[::1]:8000), got {base_url!r}")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"base_url: must be an http(s) URL with a host, got "
                                 f"{base_url!r}")
    if "@" in parts.netloc:
        raise ConfigurationError(
            "base_url: must not hold credentials (user:password@); pass the key as api_key=")
    if parts.query or parts.fragment or base_url.endswith(("?", "#")):
        raise ConfigurationError(f"base_url: must not have a query or fragment: {base_url!r}")
    if host_part.startswith("[") or "]" in host_part:
        inside = host_part[1:].partition("]")[0] if host_part.startswith("[") else host_part
        try:
            ipaddress.IPv6Address(inside.partition("%")[0])
        except ValueError:
            raise ConfigurationError(
                f"base_url: {inside!r} in {base_url!r} is not a valid IPv6 address") from None
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raw = host_part.rpartition(":")[2]
        raise ConfigurationError(
            f"base_url: port {raw!r} in {base_url!r} must be a number from 1 to 65535")
    if parts.scheme.lower() == "http" and not allow_insecure_http \
            and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"base_url: plain http to {parts.hostname} would send the API key unencrypted; "
            "use https, or pass allow_insecure_http=True"
        )
    url = base_url.rstrip("/")
    if re.search(r"/v1$", urlsplit(url).path, re.IGNORECASE):
        stripped = url[:-3].rstrip("/")
        log.warning("base_url %r ends in /v1, which the library adds itself; using %r",
                    base_url, stripped)
        url = stripped
    return url


def _char_name(ch: str) -> str:
    names = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", " ": "a space"}
    return names.get(ch, f"the character {ch!r} ({unicodedata.name(ch, 'control')})")


def check_api_key(key: str) -> str:
    """The key with surrounding whitespace stripped (a key read from a file keeps its
    newline); a key that is then empty, or holds characters a header cannot carry, is a
    ConfigurationError (which never shows the key)."""
    stripped = key.strip()
    if not stripped:
        raise ConfigurationError("api_key: is empty (only whitespace)")
    bad = next((i for i, ch in enumerate(stripped)
                if not (0x21 <= ord(ch) <= 0x7E)), None)
    if bad is not None:
        what = "whitespace" if stripped[bad].isspace() else (
            "a control character" if ord(stripped[bad]) < 0x20 or ord(stripped[bad]) == 0x7F
            else "a non-ASCII character")
        raise ConfigurationError(
            f"api_key: holds {what} at position {bad}, which cannot be sent in an HTTP "
            "header; check the value (copied with extra text?)")
    return stripped


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it wraps: its cause and context, a urllib3 ``reason``, and an
    exception passed as its first argument (as requests wraps urllib3's), breadth first."""
    out: list[BaseException] = []
    todo = [exc]
    while todo and len(out) < 32:
        e = todo.pop(0)
        if any(e is seen for seen in out):
            continue
        out.append(e)
        for nxt in (e.__cause__, e.__context__, getattr(e, "reason", None),
                    e.args[0] if e.args else None):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return out


def _httpx_types() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """httpx's (not-sent, timeout) exception types, if the async driver has loaded httpx
    (else empty: only its requests raise httpx's errors)."""
    httpx: Any = loaded_httpx()
    if httpx is None:
        return (), ()
    return ((httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout),
            (httpx.TimeoutException,))


def _transport_error(req: Request, exc: BaseException) -> TransportError:
    """Map a requests/httpx exception to the error tree (never leaking the original type),
    classified by the types in its cause chain, with the cause in words."""
    chain = _causes(exc)
    httpx_not_sent, httpx_timeout = _httpx_types()

    def has(*types: type[BaseException]) -> bool:
        return bool(types) and any(isinstance(e, types) for e in chain)

    # Only a failure to connect proves nothing was sent; requests' ConnectionError also covers
    # a connection dropped after the request went out, so it must not count as "not sent".
    not_sent = has(requests.exceptions.ConnectTimeout, urllib3.exceptions.NewConnectionError,
                   *httpx_not_sent)
    # (urllib3's NewConnectionError subclasses its ConnectTimeoutError: a refusal is not one)
    timed_out = has(requests.exceptions.Timeout, urllib3.exceptions.ReadTimeoutError,
                    builtins.TimeoutError, *httpx_timeout) or any(
        isinstance(e, urllib3.exceptions.ConnectTimeoutError)
        and not isinstance(e, urllib3.exceptions.NewConnectionError) for e in chain)
    if has(ssl.SSLCertVerificationError):
        cause = "TLS verification failed (the server's certificate is not trusted; see verify=)"
    elif has(ssl.SSLError, requests.exceptions.SSLError):
        cause = "TLS handshake failed"
    elif has(socket.gaierror, _name_resolution_error()):
        cause = "name not resolved (check the host in base_url)"
    elif has(ConnectionRefusedError):
        cause = "connection refused (nothing is listening at that host and port)"
    elif timed_out:
        cause = "timed out connecting" if not_sent else "timed out waiting for the answer"
    elif not_sent:
        cause = "could not connect"
    elif has(ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        cause = "connection reset before the answer was complete"
    else:
        cause = "connection failed or closed before the answer was complete"
    cls = TimeoutError if timed_out else TransportError
    err = cls(f"{cause}; the request got no answer", req.method, req.path)
    err.maybe_sent = not not_sent
    return err


def _name_resolution_error() -> type[BaseException]:
    return getattr(urllib3.exceptions, "NameResolutionError", socket.gaierror)


@attrs.define
class Transport:
    """Connection settings shared by both drivers."""

    base_url: str
    auth: Callable[[], str] = attrs.field(repr=False)
    timeout: Timeout
    verify: bool | str
    # After an APIError escaping an operation: an operation that may raise a clearer error
    # in its place (see Session._explain_op).
    explain: Callable[[APIError], Op[None]] | None = attrs.field(default=None, repr=False)
    limits: Limits = attrs.field(factory=Limits)
    plug: PluggableTransport | None = attrs.field(default=None, repr=False)  # see Session

    def url(self, req: Request) -> str:
        return self.base_url + req.path

    def headers(self) -> dict[str, str]:
        """A client's default headers; the key is not one (see ``_BearerAuth``)."""
        return {"Accept": "application/json", "Accept-Encoding": ACCEPT_ENCODING,
                "User-Agent": "dataforce-orm/0.1"}

    @property
    def read_timeout(self) -> float:
        return self.timeout[1] if isinstance(self.timeout, tuple) else self.timeout


class _BearerAuth(requests.auth.AuthBase):
    """Sets the Authorization header as each request is prepared, so the key is never among
    a client's default headers (printed with them); requests drops it on a cross-host
    redirect and does not re-apply it."""

    def __init__(self, header: Callable[[], str]) -> None:
        self._header = header

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = self._header()
        return r

    def __repr__(self) -> str:
        return "<bearer auth>"


def _httpx_auth(httpx: Any, header: Callable[[], str]) -> Any:
    """The same for httpx (which also drops the header on a cross-origin redirect)."""

    class BearerAuth(httpx.Auth):  # type: ignore[misc]
        def auth_flow(self, request: Any) -> Generator[Any, Any, None]:
            request.headers["Authorization"] = header()
            yield request

        def __repr__(self) -> str:
            return "<bearer auth>"

    return BearerAuth()


def _late(req: Request) -> TimeoutError:
    return TimeoutError("the answer was not complete by the deadline", req.method, req.path)


def _read_capped(r: requests.Response, req: Request, cap: int) -> bytes:
    """A streamed answer's body, read as it arrives (each read bounded by the thread's watch)
    and decoded here, at most ``cap`` bytes of it."""
    body = CappedBody(cap, r.headers.get("content-encoding"), req.method, req.path)
    body.declared(r.headers.get("content-length"))
    read = getattr(r.raw, "read1", r.raw.read)
    while chunk := read(65536, decode_content=False):
        body.feed(chunk)
    return body.result()


def _elapsed_ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


class SyncDriver:
    """Runs operations on ``requests``, one ``requests.Session`` per thread."""

    def __init__(self, transport: Transport, policy: RetryPolicy) -> None:
        self.transport = transport
        self.policy = policy
        self.storage = SyncStorage(policy, transport.timeout, transport.verify,
                                   transport.limits, transport.plug)
        self._pool = ThreadSessions(self._new_session)

    def _new_session(self) -> requests.Session:
        http = new_session(self.transport.plug)
        http.headers.update(self.transport.headers())
        http.auth = _BearerAuth(self.transport.auth)
        http.verify = self.transport.verify
        return http

    def _http(self) -> requests.Session:
        return self._pool.get()

    def send_once(self, req: Request, end: float | None = None) -> Response:
        """One attempt; with ``end`` (see ``Transport.end()``) the answer must be complete
        by then."""
        start = time.perf_counter()
        if req.json is not None:
            register_sent(req.json)
        try:
            with watching(None if end is None else Deadline(end)):
                r = self._http().request(
                    req.method, self.transport.url(req), params=req.params or None,
                    json=req.json, timeout=self.transport.timeout, stream=True,
                    allow_redirects=_follows(req),
                )
                with r:
                    body = _read_capped(r, req, self.transport.limits.max_answer)
        except DataForceError:
            raise
        except SYNC_FAILURES as exc:
            err = _transport_error(req, exc)
            if err.maybe_sent and end is not None and time.monotonic() >= end:
                err = _late(req)  # the watch cut a read short at the deadline
            raise err from None
        log.debug(REQUEST_LOG, req.method, req.path, r.status_code, _elapsed_ms(start))
        return read_response(req, r.status_code, r.headers, body)

    def send(self, req: Request) -> Response:
        """Send one request under the retry policy."""
        return self.run(_single(req))

    def run(self, op: Op[T]) -> T:
        """Run an operation to its result."""
        steps = self._stepper(op)
        for _ in self._steps(steps):
            pass
        return steps.result  # type: ignore[no-any-return]

    def stream(self, op: Op[Any]) -> Iterator[Any]:
        """Run a streaming operation, yielding the items of its batches as they come."""
        return self._steps(self._stepper(op))

    def _stepper(self, op: Op[Any]) -> Stepper:
        return Stepper(_explained(op, self.transport.explain), self.policy,
                       self.transport.read_timeout)

    def _steps(self, steps: Stepper) -> Iterator[Any]:
        while (step := _next(steps, self.transport)) is not None:
            if isinstance(step, Batch):
                yield from step.items
            else:
                try:  # a sleep too: an interrupt during a backoff reaches the operation
                    if isinstance(step, Sleep):
                        self.policy.sleep(step.seconds)
                    elif isinstance(step, Attempt):
                        local = step.request.storage
                        steps.reply = self.send_once(step.request, step.end) if local is None \
                            else self.storage.run(local.work, local.progress)
                    elif isinstance(step, Parallel):
                        steps.reply = self._parallel(step)
                    else:
                        assert isinstance(step, Local)
                        steps.reply = step.work()
                except BaseException as exc:  # the operation may clean up (then it re-raises)
                    steps.error = exc

    def _parallel(self, step: Parallel) -> list[Any]:
        """Run the operations in threads, each through its own stepper under the policy."""
        results: list[Any] = [None] * len(step.ops)
        stop = threading.Event()

        def one(i: int, op: Op[Any]) -> None:
            if stop.is_set():
                return
            steps = Stepper(op, self.policy, self.transport.read_timeout)
            for _ in self._steps(steps):
                pass
            results[i] = steps.result

        pool = ThreadPoolExecutor(max_workers=step.concurrency)
        try:
            futures = [pool.submit(one, i, op) for i, op in enumerate(step.ops)]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                exc = failed.exception()
                assert exc is not None
                raise exc
        finally:
            # On a failure, or anything else (a KeyboardInterrupt in wait()), the operations
            # not started are dropped; the ones running end before this returns.
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
        return results

    def close(self, current_thread_only: bool = False) -> None:
        """Close pooled connections: every thread's, or only the calling thread's."""
        self._pool.close(current_thread_only)
        self.storage.close(current_thread_only)


class AsyncDriver:
    """Runs operations on ``httpx.AsyncClient``, one client per event loop.

    A loop's client is made on its first request and closed by ``aclose()``, or when the
    loop shuts down its async generators (as ``asyncio.run`` does on exit).
    """

    def __init__(self, transport: Transport, policy: RetryPolicy) -> None:
        self.transport = transport
        self.policy = policy
        self.storage = AsyncStorage(policy, transport.timeout, _ssl_verify(transport.verify),
                                    transport.limits, transport.plug)
        # A client's connections refer to their loop, so a weak mapping would never let go:
        # entries of closed loops are dropped when the next client is made.
        self._clients: dict[asyncio.AbstractEventLoop, _LoopClient] = {}
        self._lock = threading.Lock()
        reset_in_child(self)

    def after_fork(self) -> None:
        """In a forked child: the parent's clients are never used (see ``_clients``)."""
        self._clients, self._lock = {}, threading.Lock()

    async def _entry(self) -> _LoopClient:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None and not entry.client.is_closed:
            return entry
        httpx = import_httpx()
        t = self.transport.timeout
        connect, read = t if isinstance(t, tuple) else (t, t)
        client = httpx.AsyncClient(
            headers=self.transport.headers(), auth=_httpx_auth(httpx, self.transport.auth),
            timeout=httpx.Timeout(read, connect=connect),
            verify=_ssl_verify(self.transport.verify), trust_env=False, follow_redirects=True,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=32),
            transport=None if (plug := self.transport.plug) is None else plug.httpx_transport(),
        )
        entry = _LoopClient(client, _close_at_shutdown(client))
        with self._lock:
            for old in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[old]
            self._clients[loop] = entry
        await entry.closer.asend(None)  # parked at its yield, tracked by the loop
        return entry

    async def send_once(self, req: Request, end: float | None = None) -> Response:
        """One attempt; with ``end`` (see ``Transport.end()``) the answer must be complete
        by then."""
        start = time.perf_counter()
        if req.json is not None:
            register_sent(req.json)
        entry = await self._entry()
        entry.busy += 1  # one loop: no lock needed
        try:
            call = self._answer(entry.client, req)
            r, body = await (call if end is None else within(call, end - time.monotonic()))
        except DataForceError:
            raise
        except asyncio.TimeoutError:  # the deadline's (httpx's own are HTTPErrors)
            raise _late(req) from None
        except async_failures() as exc:
            raise _transport_error(req, exc) from None
        finally:
            entry.busy -= 1
        log.debug(REQUEST_LOG, req.method, req.path, r.status_code, _elapsed_ms(start))
        return read_response(req, r.status_code, r.headers, body)

    async def _answer(self, client: httpx.AsyncClient, req: Request) -> tuple[Any, bytes]:
        """Send ``req``; the answer and its body (raw, decoded here within the cap)."""
        request = client.build_request(req.method, self.transport.url(req),
                                       params=list(req.params) or None, json=req.json)
        r = await client.send(request, stream=True, follow_redirects=_follows(req))
        try:
            body = CappedBody(self.transport.limits.max_answer,
                              r.headers.get("content-encoding"), req.method, req.path)
            body.declared(r.headers.get("content-length"))
            async for chunk in r.aiter_raw():
                body.feed(chunk)
        finally:
            await r.aclose()
        return r, body.result()

    async def send(self, req: Request) -> Response:
        """Send one request under the retry policy."""
        return await self.run(_single(req))

    async def run(self, op: Op[T]) -> T:
        """Run an operation to its result."""
        steps = self._stepper(op)
        async for _ in self._steps(steps):
            pass
        return steps.result  # type: ignore[no-any-return]

    def stream(self, op: Op[Any]) -> AsyncIterator[Any]:
        """Run a streaming operation, yielding the items of its batches as they come."""
        return self._steps(self._stepper(op))

    def _stepper(self, op: Op[Any]) -> Stepper:
        return Stepper(_explained(op, self.transport.explain), self.policy,
                       self.transport.read_timeout)

    async def _steps(self, steps: Stepper) -> AsyncIterator[Any]:
        while (step := _next(steps, self.transport)) is not None:
            if isinstance(step, Batch):
                for item in step.items:
                    yield item
            else:
                try:  # a sleep too: a cancellation during a backoff reaches the operation
                    if isinstance(step, Sleep):
                        await self.policy.async_sleep(step.seconds)
                    elif isinstance(step, Attempt):
                        local = step.request.storage
                        steps.reply = await (
                            self.send_once(step.request, step.end) if local is None
                            else self.storage.run(local.work, local.progress))
                    elif isinstance(step, Parallel):
                        steps.reply = await self._parallel(step)
                    else:
                        assert isinstance(step, Local)
                        steps.reply = await asyncio.to_thread(step.work)
                except BaseException as exc:  # the operation may clean up (then it re-raises)
                    steps.error = exc

    async def _parallel(self, step: Parallel) -> list[Any]:
        """Run the operations as tasks, each through its own stepper under the policy."""
        gate = asyncio.Semaphore(step.concurrency)

        async def one(op: Op[Any]) -> Any:
            async with gate:
                steps = Stepper(op, self.policy, self.transport.read_timeout)
                async for _ in self._steps(steps):
                    pass
                return steps.result

        tasks = [asyncio.ensure_future(one(op)) for op in step.ops]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            # A failure (or a cancellation) stops the others, and they have ended when this
            # returns: none is still sending, and their errors are retrieved.
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def aclose(self, *, if_idle: bool = False) -> None:
        """Close the client of the running loop (others close with their loops); with
        ``if_idle``, only when no request of another task is in flight on it."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # pragma: no cover - called outside a loop
            return
        with self._lock:
            entry = self._clients.get(loop)
            if entry is not None and if_idle and entry.busy:
                return
            if entry is not None:
                del self._clients[loop]
        if entry is not None:
            await entry.closer.aclose()
        await self.storage.aclose(if_idle=if_idle)  # the storage client of this loop too


@attrs.define
class _LoopClient:
    client: httpx.AsyncClient
    closer: AsyncGenerator[None, None]
    busy: int = 0  # requests in flight


async def _close_at_shutdown(client: httpx.AsyncClient) -> AsyncGenerator[None, None]:
    """Waits at its yield; closing it (``aclose()`` or the loop's shutdown) closes ``client``."""
    try:
        yield
    finally:
        await client.aclose()


def _explained(op: Op[T], explain: Callable[[APIError], Op[None]] | None) -> Op[T]:
    """``op``, with ``explain`` run on an APIError escaping it (which may raise a clearer
    one instead)."""
    if explain is None:
        return (yield from op)
    try:
        return (yield from op)
    except APIError as exc:
        if exc.status in (403, 404):
            yield from explain(exc)
        raise


def _next(steps: Stepper, transport: Transport
          ) -> Request | Attempt | Batch[Any] | Sleep | Local | Parallel | None:
    """The stepper's next step; an error it raises names the base URL it was sent to."""
    try:
        return steps.next()
    except (APIError, TransportError) as exc:
        if not exc.base_url and "://" not in exc.url:  # (a storage error names its own URL)
            exc.base_url = transport.base_url
        raise


def _single(req: Request) -> Op[Response]:
    response: Response = yield req
    return response


