"""File transfers to and from storage at presigned URLs (S3 or Azure), as steps an operation
yields and a driver runs: the upload and download flows are written once (in ``_artifacts``);
here are the steps and their sync (``requests``, threads) and async (``httpx``, tasks) runners.

Storage URLs carry their own signature: they are sent without the API key, on clients of their
own. Bodies stream from the file in chunks (memory is bounded by the chunk size times the parts
in flight, never the file), each part is retried alone under the session's RetryPolicy, and
progress is reported as bytes are sent or received.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import logging
import os
import sys
import threading
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterator,
    Mapping,
)
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from ._errors import (
    APIError,
    ConfigurationError,
    DataForceError,
    IntegrityError,
    TimeoutError,
    TransportError,
)
from ._errors import error_class as _error_class
from ._protocol import Request, parse_retry_after
from ._retry import RetryPolicy

log = logging.getLogger("dataforce_orm")
CHUNK = 1024 * 1024  # bytes read from a file (or the network) at a time

ProgressFn = Callable[[int, int], None]


def import_httpx() -> Any:
    """httpx, or a ConfigurationError saying which extra brings it."""
    try:
        import httpx
    except ImportError:  # pragma: no cover - depends on the install
        raise ConfigurationError(
            "async calls need httpx: pip install 'dataforce-orm[async]'"
        ) from None
    return httpx


def _where(url: str) -> str:
    """A storage URL as errors and logs show it: no query (it holds the signature)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


# -- the steps -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Put:
    """PUT a byte range of a file (the whole file when ``length`` is None); the answer's
    headers (S3 parts need their ``ETag``)."""

    url: str
    path: str
    offset: int = 0
    length: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PutParts:
    """PUT each part, at most ``concurrency`` at once; the answers' headers, in part order.
    The first failure (after its retries) cancels the parts not started."""

    parts: tuple[Put, ...]
    concurrency: int


@dataclass(frozen=True)
class Call:
    """A small storage request (initiate, complete, abort, delete): status, headers, body."""

    method: str
    url: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fetch:
    """GET the URL into ``target`` (written as ``target + '.part'`` and renamed when whole),
    resuming a broken transfer with a Range request, checking the size and SHA-256 if given."""

    url: str
    target: str
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Open:
    """A readable binary stream of the URL's body."""

    url: str


Step = Put | PutParts | Call | Fetch | Open


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes = b""


# -- progress ----------------------------------------------------------------------------------


class Progress:
    """Bytes done out of a total, reported to a callable or drawn as a bar on stderr."""

    def __init__(self, total: int, report: bool | ProgressFn | None, label: str) -> None:
        self.total, self.done, self.label = total, 0, label
        self._lock = threading.Lock()
        self._fn: ProgressFn | None = report if callable(report) else None
        self._bar = report is True
        self._logged = 0

    def add(self, n: int) -> None:
        # Reported under the lock: parts sent from several threads report in the order their
        # counts were added, so the values only go back on an explicit undo of a failed try.
        with self._lock:
            self.done += n
            done = self.done
            if self._fn is not None:
                self._fn(done, self.total)
            if self._bar:
                width = 30
                filled = max(0, min(width, width * done // self.total if self.total else width))
                pct = 100.0 * done / self.total if self.total else 100.0
                sys.stderr.write(f"\r{self.label} [{'=' * filled}{' ' * (width - filled)}] "
                                 f"{pct:5.1f}%")
                if done >= self.total:
                    sys.stderr.write("\n")
                sys.stderr.flush()
            if done < self._logged:
                self._logged = done
            elif done - self._logged >= 64 * CHUNK or done >= self.total > 64 * CHUNK:
                self._logged = done
                log.info("%s: %d of %d bytes", self.label, done, self.total)


class _Sent:
    """Bytes one try of a PUT has sent, reported to the transfer's progress (and taken back
    if the try fails: the retry sends them again)."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress, self.n = progress, 0

    def add(self, n: int) -> None:
        self.n += n
        if self.progress is not None:
            self.progress.add(n)

    def undo(self) -> None:
        if self.progress is not None and self.n:
            self.progress.add(-self.n)
        self.n = 0


def _reader(path: str, offset: int, length: int, sent: _Sent) -> Generator[bytes, None, None]:
    with open(path, "rb") as f:
        f.seek(offset)
        left = length
        while left > 0:
            chunk = f.read(min(CHUNK, left))
            if not chunk:
                raise DataForceError(f"{path} became shorter while it was being uploaded")
            left -= len(chunk)
            sent.add(len(chunk))
            yield chunk


class _Body:
    """A file range as a body ``requests`` streams with a Content-Length: it has ``read``
    and ``__len__`` only (with ``__iter__`` or ``tell``, requests would send it chunked)."""

    def __init__(self, chunks: Iterator[bytes], length: int) -> None:
        self._chunks, self._length = chunks, length
        self._buf, self._pos = b"", 0

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if self._pos >= len(self._buf):
            self._buf, self._pos = next(self._chunks, b""), 0
        end = len(self._buf) if size < 0 else self._pos + size
        out = self._buf[self._pos:end]
        self._pos += len(out)
        return out


def _length(put: Put) -> int:
    return put.length if put.length is not None else os.path.getsize(put.path)


def _check(method: str, url: str, status: int, body: bytes,
           headers: Mapping[str, str] | None = None) -> None:
    """Raise the error tree's error for a storage error status (with its ``Retry-After``
    on a 429 or 503, as S3 sends with SlowDown)."""
    if 200 <= status < 300:
        return
    text = body.decode("utf-8", "replace").strip()[:300] or "(empty body)"
    retry_after = None
    if headers is not None and status in (429, 503):
        retry_after = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
    raise _error_class(status)(status, method, _where(url), f"storage refused: {text}",
                               retry_after=retry_after)


# requests' ConnectTimeout; httpx's ConnectError, ConnectTimeout and PoolTimeout: nothing sent.
_NOT_SENT = frozenset({"ConnectTimeout", "ConnectError", "PoolTimeout"})


def _not_sent(exc: BaseException) -> bool:
    """Whether the failure proves the request never went out (a failure to connect)."""
    if type(exc).__name__ in _NOT_SENT:
        return True
    # requests' ConnectionError wraps urllib3's MaxRetryError, whose reason says why; only a
    # NewConnectionError (refused, unreachable) proves nothing was sent.
    import urllib3.exceptions

    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _transport(method: str, url: str, exc: BaseException) -> TransportError:
    name = type(exc).__name__
    cls = TimeoutError if "Timeout" in name else TransportError
    err = cls(f"{name}: storage did not answer", method, _where(url))
    err.maybe_sent = not _not_sent(exc)
    return err


@dataclass
class _Partial:
    """A download so far: bytes written to the ``.part`` file, and their SHA-256 as they
    arrived (so the check needs no second pass over the file)."""

    written: int
    digest: Any = field(default_factory=hashlib.sha256)
    hashed: int = 0

    def hash(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.hashed += len(chunk)

    def add(self, chunk: bytes) -> None:
        self.written += len(chunk)
        self.hash(chunk)

    def restart(self) -> None:
        self.written, self.digest, self.hashed = 0, hashlib.sha256(), 0


def _finish(tmp: Path, target: Path, size: int | None, sha256: str | None,
            state: _Partial | None = None) -> None:
    got = tmp.stat().st_size
    if size is not None and got != size:
        tmp.unlink(missing_ok=True)
        raise IntegrityError(f"downloaded {got} bytes, the artifact's size is {size}")
    if sha256:
        if state is not None and state.hashed == got:
            digest = state.digest  # hashed while it arrived
        else:  # the file and the running hash disagree (a failed write): read it back
            digest = hashlib.sha256()
            with open(tmp, "rb") as f:
                while chunk := f.read(CHUNK):
                    digest.update(chunk)
        if digest.hexdigest() != sha256.lower():
            tmp.unlink(missing_ok=True)
            raise IntegrityError("the downloaded file does not match the artifact's SHA-256 "
                                 "(file_hash); nothing was kept")
    os.replace(tmp, target)


def _write_hashed(out: Any, chunk: bytes, state: _Partial) -> None:
    out.write(chunk)
    state.add(chunk)


def _write_hashing(chunks: Iterator[bytes], out: Any, state: _Partial,
                   progress: Progress | None) -> None:
    """Write chunks, each hashed in a thread (hashlib releases the GIL) while the next is
    received and written: the SHA-256 check costs no second pass and little time. At most two
    chunks are held."""
    with ThreadPoolExecutor(1) as hasher:
        pending = None
        try:
            for chunk in chunks:
                out.write(chunk)
                state.written += len(chunk)
                if pending is not None:
                    pending.result()
                pending = hasher.submit(state.hash, chunk)
                if progress is not None:
                    progress.add(len(chunk))
        finally:
            if pending is not None:
                pending.result()


def is_sha256(text: object) -> bool:
    return isinstance(text, str) and len(text) == 64 and all(
        c in "0123456789abcdefABCDEF" for c in text)


# -- sync ------------------------------------------------------------------------------------


class ThreadSessions:
    """One ``requests.Session`` per thread, made by ``make`` on first use; ``close()`` ends
    every thread's, or only the calling thread's."""

    def __init__(self, make: Callable[[], requests.Session]) -> None:
        self._make = make
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list[requests.Session] = []

    def get(self) -> requests.Session:
        http: requests.Session | None = getattr(self._local, "http", None)
        if http is None:
            http = self._make()
            self._local.http = http
            with self._lock:
                self._sessions.append(http)
        return http

    def close(self, current_thread_only: bool = False) -> None:
        with self._lock:
            if current_thread_only:
                http = self._local.__dict__.pop("http", None)
                targets = [http] if http is not None else []
                self._sessions = [h for h in self._sessions if h is not http]
            else:
                targets, self._sessions = self._sessions, []
                self._local = threading.local()
        for http in targets:
            http.close()


class SyncStorage:
    """Runs storage steps on ``requests`` (a client per thread, without the API key)."""

    def __init__(self, policy: RetryPolicy, timeout: float | tuple[float, float],
                 verify: bool | str = True) -> None:
        self.policy, self.timeout, self.verify = policy, timeout, verify
        self._pool = ThreadSessions(self._new_session)

    def _new_session(self) -> requests.Session:
        http = requests.Session()
        http.trust_env = False
        http.verify = self.verify
        return http

    def _http(self) -> requests.Session:
        return self._pool.get()

    def close(self, current_thread_only: bool = False) -> None:
        """Close pooled connections: every thread's, or only the calling thread's."""
        self._pool.close(current_thread_only)

    def run(self, step: Step, progress: Progress | None = None) -> Any:
        if isinstance(step, PutParts):
            return self._parts(step, progress)
        if isinstance(step, Put):
            return self._retried("PUT", step.url, lambda: self._put(step, progress))
        if isinstance(step, Call):
            return self._retried(step.method, step.url, lambda: self._call(step))
        if isinstance(step, Fetch):
            return self._fetch(step, progress)
        return self._open(step)

    def _retried(self, method: str, url: str, fn: Callable[[], Any]) -> Any:
        return self.policy.call(Request(method, _where(url)), fn)

    def _send(self, method: str, url: str, **kw: Any) -> requests.Response:
        try:
            return self._http().request(method, url, timeout=self.timeout,
                                        allow_redirects=False, **kw)
        except requests.RequestException as exc:
            raise _transport(method, url, exc) from None

    def _put(self, put: Put, progress: Progress | None) -> Answer:
        length = _length(put)
        sent = _Sent(progress)
        chunks = _reader(put.path, put.offset, length, sent)
        try:
            r = self._send("PUT", put.url, data=_Body(chunks, length),
                           headers={**put.headers, "Content-Length": str(length)})
            _check("PUT", put.url, r.status_code, r.content, r.headers)
        except DataForceError:
            sent.undo()
            raise
        finally:
            chunks.close()  # the file, if the body was not read to its end
        return Answer(r.status_code, dict(r.headers))

    def _parts(self, step: PutParts, progress: Progress | None) -> list[Answer]:
        results: list[Answer | None] = [None] * len(step.parts)
        stop = threading.Event()

        def one(i: int, put: Put) -> None:
            if stop.is_set():
                return
            results[i] = self._retried("PUT", put.url, lambda: self._put(put, progress))

        pool = ThreadPoolExecutor(max_workers=step.concurrency)
        try:
            futures = [pool.submit(one, i, p) for i, p in enumerate(step.parts)]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in done if f.exception() is not None), None)
            if failed is not None:
                exc = failed.exception()
                assert exc is not None
                raise exc
        finally:
            # On a failure, or anything else (a KeyboardInterrupt in wait()), the parts not
            # started are dropped; the ones in flight end before this returns.
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
        return [r for r in results if r is not None]

    def _call(self, call: Call) -> Answer:
        r = self._send(call.method, call.url, data=call.body or None, headers=dict(call.headers))
        _check(call.method, call.url, r.status_code, r.content, r.headers)
        return Answer(r.status_code, dict(r.headers), r.content)

    def _fetch(self, step: Fetch, progress: Progress | None) -> str:
        target = Path(step.target)
        tmp = target.with_name(target.name + ".part")
        tmp.unlink(missing_ok=True)
        state = _Partial(0)

        def attempt() -> None:
            headers = {"Range": f"bytes={state.written}-"} if state.written else {}
            try:
                with self._http().get(step.url, headers=headers, stream=True,
                                      timeout=self.timeout) as r:
                    if r.status_code == 200 and state.written:  # no range support: restart
                        tmp.unlink(missing_ok=True)
                        if progress is not None:
                            progress.add(-state.written)
                        state.restart()
                    _check("GET", step.url, r.status_code, b"" if r.ok else r.content,
                           r.headers)
                    with open(tmp, "ab") as out:
                        if step.sha256:
                            _write_hashing(r.iter_content(CHUNK), out, state, progress)
                        else:
                            for chunk in r.iter_content(CHUNK):
                                out.write(chunk)
                                state.written += len(chunk)
                                if progress is not None:
                                    progress.add(len(chunk))
            except requests.RequestException as exc:
                raise _transport("GET", step.url, exc) from None
            if step.size is not None and state.written < step.size:
                raise _transport("GET", step.url, EOFError("the answer ended early"))

        try:
            self._retried("GET", step.url, attempt)
            _finish(tmp, target, step.size, step.sha256, state)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return str(target)

    def _open(self, step: Open) -> io.BufferedReader:
        r = self._retried("GET", step.url, lambda: self._stream(step.url))
        return io.BufferedReader(_RawStream(r), CHUNK)

    def _stream(self, url: str) -> requests.Response:
        r = self._send("GET", url, stream=True)
        if not r.ok:
            _check("GET", url, r.status_code, r.content, r.headers)
        return r


class _RawStream(io.RawIOBase):
    def __init__(self, response: requests.Response) -> None:
        self._r = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._r.raw.read(len(buffer), decode_content=True)
        except Exception as exc:
            raise _transport("GET", self._r.url or "", exc) from None
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        self._r.close()
        super().close()


# -- async -----------------------------------------------------------------------------------


class AsyncStorage:
    """Runs storage steps on ``httpx`` (a client per event loop, without the API key); file
    reads, writes and hashing run in threads so the loop is never blocked."""

    def __init__(self, policy: RetryPolicy, timeout: float | tuple[float, float],
                 verify: Any = True) -> None:
        # ``verify``: httpx's form (a bool or an SSL context, see ``_http._ssl_verify``).
        self.policy, self.timeout, self.verify = policy, timeout, verify
        # A client per loop, with the async generator that closes it when the loop shuts
        # down its async generators (as ``asyncio.run`` does), like the API clients.
        self._clients: dict[asyncio.AbstractEventLoop, tuple[Any, Any]] = {}
        self._busy: dict[asyncio.AbstractEventLoop, int] = {}
        self._lock = threading.Lock()

    async def _client(self) -> Any:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is not None and not entry[0].is_closed:
            return entry[0]
        httpx = import_httpx()
        t = self.timeout
        connect, read = t if isinstance(t, tuple) else (t, t)
        client = httpx.AsyncClient(timeout=httpx.Timeout(read, connect=connect),
                                   verify=self.verify, trust_env=False,
                                   follow_redirects=False)
        closer = _close_at_shutdown(client)
        with self._lock:
            for old in [lp for lp in self._clients if lp.is_closed()]:
                del self._clients[old]
            self._clients[loop] = (client, closer)
        await closer.asend(None)  # parked at its yield, tracked by the loop
        return client

    async def aclose(self, *, if_idle: bool = False) -> None:
        """Close the running loop's client; with ``if_idle``, only when no step runs on it."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if if_idle and self._busy.get(loop):
                return
            entry = self._clients.pop(loop, None)
        if entry is not None:
            await entry[1].aclose()

    async def run(self, step: Step, progress: Progress | None = None) -> Any:
        loop = asyncio.get_running_loop()
        self._busy[loop] = self._busy.get(loop, 0) + 1  # one loop: no lock needed
        try:
            return await self._run(step, progress)
        finally:
            self._busy[loop] -= 1
            if not self._busy[loop]:
                del self._busy[loop]

    async def _run(self, step: Step, progress: Progress | None) -> Any:
        if isinstance(step, PutParts):
            return await self._parts(step, progress)
        if isinstance(step, Put):
            return await self._retried("PUT", step.url, lambda: self._put(step, progress))
        if isinstance(step, Call):
            return await self._retried(step.method, step.url, lambda: self._call(step))
        if isinstance(step, Fetch):
            return await self._fetch(step, progress)
        return await self._open(step)

    async def _retried(self, method: str, url: str, fn: Callable[[], Any]) -> Any:
        return await self.policy.acall(Request(method, _where(url)), fn)

    async def _send(self, method: str, url: str, **kw: Any) -> Any:
        httpx = import_httpx()
        try:
            return await (await self._client()).request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise _transport(method, url, exc) from None

    async def _put(self, put: Put, progress: Progress | None) -> Answer:
        length = await asyncio.to_thread(_length, put)
        sent = _Sent(progress)
        chunks = _reader(put.path, put.offset, length, sent)

        async def body() -> AsyncIterator[bytes]:
            while chunk := await asyncio.to_thread(next, chunks, b""):
                yield chunk

        try:
            r = await self._send("PUT", put.url, content=body(),
                                 headers={**put.headers, "Content-Length": str(length)})
            _check("PUT", put.url, r.status_code, r.content, r.headers)
        except DataForceError:
            sent.undo()
            raise
        finally:
            with contextlib.suppress(ValueError):  # a read still running in its thread
                chunks.close()  # the file, if the body was not read to its end
        return Answer(r.status_code, dict(r.headers))

    async def _parts(self, step: PutParts, progress: Progress | None) -> list[Answer]:
        gate = asyncio.Semaphore(step.concurrency)

        async def one(put: Put) -> Answer:
            async with gate:
                answer: Answer = await self._retried(
                    "PUT", put.url, lambda: self._put(put, progress))
                return answer

        tasks = [asyncio.ensure_future(one(p)) for p in step.parts]
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            # A failure (or a cancellation) stops the other parts, and they have ended when
            # this returns: none is still sending, and their errors are retrieved.
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _call(self, call: Call) -> Answer:
        r = await self._send(call.method, call.url, content=call.body or None,
                             headers=dict(call.headers))
        _check(call.method, call.url, r.status_code, r.content, r.headers)
        return Answer(r.status_code, dict(r.headers), r.content)

    async def _fetch(self, step: Fetch, progress: Progress | None) -> str:
        httpx = import_httpx()
        target = Path(step.target)
        tmp = target.with_name(target.name + ".part")
        await asyncio.to_thread(tmp.unlink, True)
        state = _Partial(0)

        async def attempt() -> None:
            headers = {"Range": f"bytes={state.written}-"} if state.written else {}
            try:
                client = await self._client()
                async with client.stream("GET", step.url, headers=headers) as r:
                    if r.status_code == 200 and state.written:
                        await asyncio.to_thread(tmp.unlink, True)
                        if progress is not None:
                            progress.add(-state.written)
                        state.restart()
                    if not 200 <= r.status_code < 300:
                        _check("GET", step.url, r.status_code, await r.aread(), r.headers)
                    out = await asyncio.to_thread(open, tmp, "ab")
                    try:
                        async for chunk in r.aiter_bytes(CHUNK):
                            await asyncio.to_thread(_write_hashed, out, chunk, state)
                            if progress is not None:
                                progress.add(len(chunk))
                    finally:
                        await asyncio.to_thread(out.close)
            except httpx.HTTPError as exc:
                raise _transport("GET", step.url, exc) from None
            if step.size is not None and state.written < step.size:
                raise _transport("GET", step.url, EOFError("the answer ended early"))

        try:
            await self._retried("GET", step.url, attempt)
            await asyncio.to_thread(_finish, tmp, target, step.size, step.sha256, state)
        except BaseException:
            await asyncio.to_thread(tmp.unlink, True)
            raise
        return str(target)

    async def _open(self, step: Open) -> AsyncReader:
        client = await self._client()
        r = await self._retried("GET", step.url, lambda: self._start(client, step.url))
        return AsyncReader(r, step.url)

    async def _start(self, client: Any, url: str) -> Any:
        httpx = import_httpx()
        try:
            r = await client.send(client.build_request("GET", url), stream=True)
            if not 200 <= r.status_code < 300:
                try:
                    body = await r.aread()
                finally:
                    await r.aclose()
                _check("GET", url, r.status_code, body, r.headers)
        except httpx.HTTPError as exc:
            raise _transport("GET", url, exc) from None
        return r


class AsyncReader:
    """An artifact's bytes as an async stream: ``await f.read(n)``, ``async for chunk in f``
    (both may be mixed: iteration starts with what ``read`` left buffered), ``async with``.
    A failure while reading is a TransportError naming the URL without its query."""

    def __init__(self, response: Any, url: str = "") -> None:
        self._r = response
        self._url = url or str(getattr(response, "url", ""))
        self._chunks: AsyncIterator[bytes] = response.aiter_bytes(CHUNK)
        self._buf = bytearray()
        self._pos = 0  # bytes of _buf already read
        self._eof = False

    async def _next(self) -> bytes | None:
        """The next chunk from the network, None at the end."""
        if self._eof:
            return None
        httpx = import_httpx()
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            self._eof = True
            return None
        except httpx.HTTPError as exc:
            raise _transport("GET", self._url, exc) from None

    def _take(self, size: int) -> bytes:
        end = len(self._buf) if size < 0 else min(len(self._buf), self._pos + size)
        out = bytes(self._buf[self._pos:end])
        self._pos = end
        if self._pos == len(self._buf):
            self._buf.clear()
            self._pos = 0
        elif self._pos >= CHUNK:  # drop what was read, now and then (amortised linear)
            del self._buf[:self._pos]
            self._pos = 0
        return out

    async def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) - self._pos < size:
            chunk = await self._next()
            if chunk is None:
                break
            self._buf += chunk
        return self._take(size)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while True:
            if len(self._buf) > self._pos:  # what read() left buffered comes first
                yield self._take(-1)
                continue
            chunk = await self._next()
            if chunk is None:
                return
            yield chunk

    async def aclose(self) -> None:
        await self._r.aclose()

    async def __aenter__(self) -> AsyncReader:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _close_at_shutdown(client: Any) -> AsyncGenerator[None, None]:
    """Waits at its yield; closing it (``aclose()`` or the loop's shutdown) closes ``client``."""
    try:
        yield
    finally:
        await client.aclose()


__all__ = ["APIError", "AsyncReader", "AsyncStorage", "Call", "Fetch", "Open", "Progress",
           "Put", "PutParts", "SyncStorage", "is_sha256"]
