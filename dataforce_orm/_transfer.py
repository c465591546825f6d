"""File transfers to and from storage at presigned URLs (S3 or Azure): the storage steps, the
operation that sends them through the retry engine (``transfer_op()``), and the sync
(``requests``) and async (``httpx``) runners that make one try of a step.

Each storage request is a ``Request`` whose ``storage`` is the step: the retry engine
sends it under the session's RetryPolicy like an API request (same rules, deadline and log),
and the driver hands each try to its runner. Storage URLs carry their own signature: they are
sent without the API key, on clients of their own. Bodies stream from the file in chunks
(memory is bounded by the chunk size times the parts in flight, never the file), each part is
retried alone, and progress is reported as bytes are sent or received.

What storage sends is bounded: every body by the session's stall rule (``Limits.stall``), a
download by the size the artifact declares, a resumed download by a check that the answer
starts at the byte asked for, and a small answer (or an error's body) by the cap on answers.
Bodies are taken as stored (``Accept-Encoding: identity``, nothing decoded).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import hashlib
import io
import logging
import os
import re
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Generator,
    Iterator,
    Mapping,
)
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from ._clients import (
    SYNC_FAILURES,
    PluggableTransport,
    ThreadSessions,
    async_failures,
    import_httpx,
    new_session,
    reset_in_child,
    watching,
)
from ._errors import (
    APIError,
    DataForceError,
    IntegrityError,
    TimeoutError,
    TransportError,
    ValidationError,
)
from ._errors import error_class as _error_class
from ._limits import CappedBody, Deadline, Limits, Stall, within
from ._progress import Progress
from ._protocol import Local, Op, Parallel, Request, parse_retry_after
from ._retry import RetryPolicy
from ._storage_gate import Gate, agated, gated

log = logging.getLogger("dataforce_orm")
CHUNK = 1024 * 1024  # bytes read from a file (or the network) at a time
# Parts of an upload, or ranges of a download, in flight at once by default (and the items of
# a bulk transfer); chosen by measurement, see docs/artifacts.md.
CONCURRENCY = 4

T = TypeVar("T")


def check_concurrency(value: object) -> None:
    """Refuse a ``concurrency`` that is not an integer >= 1 (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("concurrency", f"must be an integer >= 1, got {value!r}")


_STORAGE_HEADERS = {"Accept-Encoding": "identity"}  # bodies as stored: nothing to inflate


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
    """PUT each part (each retried alone), at most ``concurrency`` at once; the answers'
    headers, in part order. The first failure (after its retries) cancels the parts not
    started."""

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
    ranged_above: int | None = None  # split a larger download into ranges (None: never)
    concurrency: int = CONCURRENCY  # ranges in flight at once (1: one stream)


@dataclass(frozen=True)
class Open:
    """A readable binary stream of the URL's body."""

    url: str


Step = Put | PutParts | Call | Fetch | Open


@dataclass
class _Resume:
    """One try of a ``Fetch``: its answer appended to the ``.part`` file (``tmp``),
    asking only for the bytes after what ``state`` holds."""

    fetch: Fetch
    tmp: Path
    state: _Partial


def transfer_op(step: Step, progress: Progress | None = None) -> Op[Any]:
    """A storage step as an operation: each storage request it makes goes through the retry
    engine (a part alone, a download resuming where its last try stopped)."""
    if isinstance(step, PutParts):
        parts = tuple(transfer_op(put, progress) for put in step.parts)
        return (yield Parallel(parts, step.concurrency))
    if isinstance(step, Fetch):
        return (yield from _fetch_op(step, progress))
    method = "PUT" if isinstance(step, Put) else step.method if isinstance(step, Call) else "GET"
    return (yield Request(method, _where(step.url), storage=Local(step, progress)))


def _fetch_op(step: Fetch, progress: Progress | None) -> Op[str]:
    """Download into ``target + '.part'``, renamed when whole and checked; nothing is left
    behind on a failure. Above ``ranged_above`` bytes, in ranges side by side (one stream
    if the server ignores ``Range``)."""
    target = Path(step.target)
    tmp = target.with_name(target.name + ".part")
    state = _Partial(0)
    try:
        yield Local(lambda: tmp.unlink(missing_ok=True))
        ranged = None
        if step.size and step.ranged_above is not None and step.size > step.ranged_above \
                and step.concurrency > 1:
            ranged = yield from _ranges_op(step, tmp, progress)
        if ranged is not None:
            state = ranged
        else:
            yield Request("GET", _where(step.url),
                          storage=Local(_Resume(step, tmp, state), progress))
        yield Local(lambda: _finish(tmp, target, step.size, step.sha256, state))
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, DataForceError):
            raise _file_error(exc) from None  # (a full disk, a file name refused)
        raise
    return str(target)


RANGE_SIZE = 8 * 1024 * 1024  # the smallest range of a parallel download, and the SHA-256's
# in-memory budget per range in flight (bytes arriving ahead of the hash beyond it are read back)
MAX_RANGE_SIZE = 32 * 1024 * 1024  # the largest range
RANGED_DOWNLOAD_ABOVE = 64 * 1024 * 1024  # the default size above which downloads are ranged


class _RangeIgnored(DataForceError):
    """The server answered a range request with the whole file (it ignores ``Range``)."""


def range_size(size: int, concurrency: int) -> int:
    """The ranges of a parallel download of ``size`` bytes: about four per connection (fewer
    requests, each a longer stream), a multiple of RANGE_SIZE up to MAX_RANGE_SIZE."""
    share = -(-size // (4 * concurrency * RANGE_SIZE)) * RANGE_SIZE
    return max(RANGE_SIZE, min(MAX_RANGE_SIZE, share))


def _ranges_op(step: Fetch, tmp: Path, progress: Progress | None) -> Op[_Partial | None]:
    """Fetch ``step`` into ``tmp`` (sized first) in ranges (``range_size()``), ``concurrency``
    at once, each retried and resumed alone; the SHA-256 computed in order as bytes arrive.
    The download so far, or None when the server ignores ``Range`` (``tmp`` is then
    removed)."""
    size = step.size or 0
    yield Local(lambda: _sized(tmp, size))
    hasher = _OrderedHash(tmp, step.concurrency * RANGE_SIZE) if step.sha256 else None
    each = range_size(size, step.concurrency)
    ranges = [_Range(step, tmp, start, min(each, size - start), hasher)
              for start in range(0, size, each)]
    try:
        yield Parallel(tuple(_range_op(one, progress) for one in ranges), step.concurrency)
        if hasher is not None:
            yield Local(hasher.close)
    except BaseException as exc:
        if hasher is not None:
            hasher.close(cancel=True)
        if not isinstance(exc, _RangeIgnored):
            raise
        got = sum(one.written for one in ranges)
        if progress is not None and got:
            progress.add(-got)
        yield Local(lambda: tmp.unlink(missing_ok=True))
        return None
    if hasher is None:
        return _Partial(size)
    return _Partial(size, hasher.digest, hasher.done)


def _range_op(one: _Range, progress: Progress | None) -> Op[None]:
    yield Request("GET", _where(one.fetch.url), storage=Local(one, progress))


def _sized(tmp: Path, size: int) -> None:
    with open(tmp, "wb") as f:
        f.truncate(size)


@dataclass
class _Range:
    """One range of a parallel download: ``length`` bytes at ``start``, written in place
    into ``tmp``; ``written`` of them so far (a retry asks only for the rest)."""

    fetch: Fetch
    tmp: Path
    start: int
    length: int
    hasher: _OrderedHash | None
    written: int = 0

    def headers(self) -> dict[str, str]:
        first, last = self.start + self.written, self.start + self.length - 1
        return {**_STORAGE_HEADERS, "Range": f"bytes={first}-{last}"}

    def check(self, status: int, headers: Mapping[str, str]) -> None:
        """A 200 is the whole file (the server ignores ``Range``); a 206 must be of exactly
        the bytes asked for, of a file of the artifact's size (else a TransportError: the
        range is asked for again)."""
        if status == 200:
            raise _RangeIgnored("storage ignored the range request")
        first, last = self.start + self.written, self.start + self.length - 1
        given = (headers.get("content-range") or "").strip()
        if given != f"bytes {first}-{last}/{self.fetch.size}":
            raise TransportError(f"the 206 answer's Content-Range {given[:80]!r} is not the "
                                 f"bytes {first}-{last} of {self.fetch.size} asked for",
                                 "GET", _where(self.fetch.url))

    def took(self, chunk: bytes, progress: Progress | None) -> None:
        """Account for a chunk written at ``start + written``."""
        if self.hasher is not None:
            self.hasher.add(self.start + self.written, chunk)
        self.written += len(chunk)
        if progress is not None:
            progress.add(len(chunk))

    def admit(self, n: int) -> None:
        """Refuse an answer longer than the range (IntegrityError, not retried)."""
        if self.written + n > self.length:
            raise IntegrityError(f"storage sent more than the {self.length} bytes asked for "
                                 f"at byte {self.start}; nothing was kept")

    def ended(self) -> None:
        if self.written < self.length:
            raise _transport("GET", self.fetch.url, EOFError("the answer ended early"))


class _OrderedHash:
    """The SHA-256 of a file written out of order, computed in order in a thread of its own
    while the bytes arrive: chunks after the next byte to hash are held in memory up to
    ``budget`` bytes (beyond it, read back from the file when their turn comes)."""

    def __init__(self, path: Path, budget: int) -> None:
        self.digest, self.done = hashlib.sha256(), 0  # bytes hashed so far
        self._path, self._budget, self._held = path, budget, 0
        self._waiting: dict[int, bytes | int] = {}  # offset -> chunk, or its length
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(1)

    def add(self, offset: int, chunk: bytes) -> None:
        """A chunk written at ``offset``."""
        with self._lock:
            if self._held + len(chunk) <= self._budget:
                self._waiting[offset] = chunk
                self._held += len(chunk)
            else:
                self._waiting[offset] = len(chunk)
        self._worker.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                item = self._waiting.pop(self.done, None)
            if item is None:
                return
            if isinstance(item, int):
                with open(self._path, "rb") as f:
                    f.seek(self.done)
                    data = f.read(item)
            else:
                data = item
            self.digest.update(data)
            self.done += len(data)
            if isinstance(item, bytes):
                with self._lock:
                    self._held -= len(item)

    def close(self, cancel: bool = False) -> None:
        """Wait for the hashing to catch up (or, with ``cancel``, drop it), and end its
        thread."""
        self._worker.shutdown(wait=True, cancel_futures=cancel)


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes = b""


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
    and ``__len__`` only (with ``__iter__`` or ``tell``, requests would send it chunked).
    The time between reads is the time the last bytes took to send: ``stall`` judges it."""

    def __init__(self, chunks: Iterator[bytes], length: int, stall: Stall | None = None
                 ) -> None:
        self._chunks, self._length, self._stall = chunks, length, stall
        self._buf, self._pos = b"", 0
        self._last: tuple[float, int] | None = None  # when the last read was, what it gave

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if self._stall is not None:
            now = time.monotonic()
            if self._last is not None:
                self._stall.got(self._last[1], now - self._last[0])
            if self._stall.wait() <= 0:
                raise builtins.TimeoutError(self._stall.rule)
        out = self._read(size)
        if self._stall is not None:
            self._last = (time.monotonic(), len(out))
        return out

    def _read(self, size: int) -> bytes:
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
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _transport(method: str, url: str, exc: BaseException,
               watch: Deadline | Stall | None = None) -> TransportError:
    if watch is not None and watch.tripped:
        rule = watch.rule if isinstance(watch, Stall) else \
            "storage's answer was not complete by the deadline"
        return TimeoutError(rule, method, _where(url))
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


def _call_watch(storage: SyncStorage | AsyncStorage) -> Deadline | Stall:
    """A small call's watch (initiate, complete, delete): its answer is due by the retry
    deadline plus one read timeout (with no retry deadline: the stall rule)."""
    if storage.policy.deadline is None:
        return storage.limits.watch()
    t = storage.timeout
    return Deadline(time.monotonic() + storage.policy.deadline + (t[1] if isinstance(t, tuple)
                                                                   else t))


def _range_headers(state: _Partial) -> dict[str, str]:
    if not state.written:
        return _STORAGE_HEADERS
    return {**_STORAGE_HEADERS, "Range": f"bytes={state.written}-"}


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.ASCII)


def _resumable(step: Fetch, status: int, headers: Mapping[str, str], state: _Partial
               ) -> tuple[bool, TransportError | None]:
    """Whether what came so far must be dropped (a 200 to a range request: the whole file
    again), and the error to raise if the answer cannot be used: a 206 whose Content-Range
    does not start at the byte asked for, or is of a file of another size (the download then
    starts over on the next try)."""
    if status != 206:
        return status == 200 and state.written > 0, None
    given = headers.get("content-range") or ""
    m = _CONTENT_RANGE.fullmatch(given.strip())
    problem = None
    if m is None:
        problem = f"a 206 answer without a usable Content-Range ({given[:80]!r})"
    elif int(m[1]) != state.written:
        problem = (f"the 206 answer starts at byte {int(m[1])}, not at byte {state.written} "
                   "as asked")
    elif step.size is not None and m[3] != "*" and int(m[3]) != step.size:
        problem = (f"the 206 answer is of a {int(m[3])}-byte file, the artifact's size is "
                   f"{step.size}")
    if problem is None:
        return False, None
    return True, TransportError(f"{problem}; the download starts over", "GET",
                                _where(step.url))


def _restart(state: _Partial, progress: Progress | None) -> None:
    if progress is not None and state.written:
        progress.add(-state.written)
    state.restart()


def _within_size(chunks: Iterator[bytes], state: _Partial, size: int | None
                 ) -> Iterator[bytes]:
    """The chunks, refused (IntegrityError, nothing kept) once they pass ``size``."""
    for chunk in chunks:
        _admit(state.written + len(chunk), size)
        yield chunk


def _admit(total: int, size: int | None) -> None:
    """Refuse a download that has passed its declared size (IntegrityError, not retried)."""
    if size is not None and total > size:
        raise IntegrityError(f"storage sent more than the artifact's size of {size} bytes; "
                             "nothing was kept")


def _ended(step: Fetch, state: _Partial) -> None:
    """A try that ended early is a TransportError (the next one resumes)."""
    if step.size is not None and state.written < step.size:
        raise _transport("GET", step.url, EOFError("the answer ended early"))


def _file_error(exc: OSError) -> DataForceError:
    return DataForceError(f"cannot write the download to {exc.filename!r}: "
                          f"{exc.strerror or exc}")


def _fetch_failure(exc: BaseException, url: str, stall: Stall) -> DataForceError:
    """What a failure while fetching into a file is: a file error naming the path (a full
    disk, a name refused), else the transport's."""
    if isinstance(exc, OSError) and exc.filename is not None:
        return _file_error(exc)
    return _transport("GET", url, exc, stall)


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


class SyncStorage:
    """Runs storage steps on ``requests`` (a client per thread, without the API key)."""

    def __init__(self, policy: RetryPolicy, timeout: float | tuple[float, float],
                 verify: bool | str = True, limits: Limits | None = None,
                 plug: PluggableTransport | None = None) -> None:
        self.policy, self.timeout, self.verify = policy, timeout, verify
        self.limits, self.plug = limits or Limits(), plug
        self.gate: Gate | None = None  # the session's cap on storage connections
        self._pool = ThreadSessions(self._new_session)

    def _new_session(self) -> requests.Session:
        http = new_session(self.plug)
        http.verify = self.verify
        return http

    def _http(self) -> requests.Session:
        return self._pool.get()

    def close(self, current_thread_only: bool = False) -> None:
        """Close pooled connections: every thread's, or only the calling thread's."""
        self._pool.close(current_thread_only)

    def run(self, step: Put | Call | Open | _Resume | _Range,
            progress: Progress | None = None) -> Any:
        """One try of a storage step (the retry engine decides on the next), holding a
        place of the session's storage gate while it is sent and answered."""
        return gated(self.gate, lambda: self._run(step, progress))()

    def _run(self, step: Put | Call | Open | _Resume | _Range,
             progress: Progress | None) -> Any:
        if isinstance(step, Put):
            return self._put(step, progress)
        if isinstance(step, Call):
            return self._call(step)
        if isinstance(step, _Resume):
            return self._resume(step, progress)
        if isinstance(step, _Range):
            return self._range(step, progress)
        return io.BufferedReader(_RawStream(self._stream(step.url)), CHUNK)

    def _send(self, method: str, url: str, watch: Deadline | Stall, **kw: Any
              ) -> tuple[requests.Response, bytes]:
        """Send, and read the (small) answer whole, under ``watch`` and the cap."""
        headers = {**_STORAGE_HEADERS, **kw.pop("headers", {})}
        try:
            with watching(watch):
                r = self._http().request(method, url, timeout=self.timeout, headers=headers,
                                         allow_redirects=False, stream=True, **kw)
                with r:
                    return r, self._small(r, method, url)
        except DataForceError:
            raise
        except SYNC_FAILURES as exc:
            raise _transport(method, url, exc, watch) from None

    def _small(self, r: requests.Response, method: str, url: str) -> bytes:
        body = CappedBody(self.limits.max_answer, None, method, _where(url))
        for chunk in r.raw.stream(65536, decode_content=False):
            body.feed(chunk)
        return body.result()

    def _put(self, put: Put, progress: Progress | None) -> Answer:
        length = _length(put)
        sent = _Sent(progress)
        chunks = _reader(put.path, put.offset, length, sent)
        stall = self.limits.watch()
        try:
            r, body = self._send("PUT", put.url, stall, data=_Body(chunks, length, stall),
                                 headers={**put.headers, "Content-Length": str(length)})
            _check("PUT", put.url, r.status_code, body, r.headers)
        except DataForceError:
            sent.undo()
            raise
        finally:
            chunks.close()  # the file, if the body was not read to its end
        return Answer(r.status_code, dict(r.headers))

    def _call(self, call: Call) -> Answer:
        r, body = self._send(call.method, call.url, _call_watch(self),
                             data=call.body or None, headers=dict(call.headers))
        _check(call.method, call.url, r.status_code, body, r.headers)
        return Answer(r.status_code, dict(r.headers), body)

    def _resume(self, one: _Resume, progress: Progress | None) -> None:
        step, tmp, state = one.fetch, one.tmp, one.state
        stall = self.limits.watch()
        try:
            with watching(stall), self._http().get(
                    step.url, headers=_range_headers(state), stream=True,
                    timeout=self.timeout, allow_redirects=False) as r:
                if not 200 <= r.status_code < 300:
                    _check("GET", step.url, r.status_code,
                           self._small(r, "GET", step.url), r.headers)
                over, problem = _resumable(step, r.status_code, r.headers, state)
                if over:
                    tmp.unlink(missing_ok=True)
                    _restart(state, progress)
                if problem is not None:
                    raise problem
                chunks = _within_size(r.raw.stream(CHUNK, decode_content=False), state,
                                      step.size)
                with open(tmp, "ab") as out:
                    if step.sha256:
                        _write_hashing(chunks, out, state, progress)
                    else:
                        for chunk in chunks:
                            out.write(chunk)
                            state.written += len(chunk)
                            if progress is not None:
                                progress.add(len(chunk))
        except DataForceError:
            raise
        except SYNC_FAILURES as exc:
            raise _fetch_failure(exc, step.url, stall) from None
        _ended(step, state)

    def _range(self, one: _Range, progress: Progress | None) -> None:
        url = one.fetch.url
        stall = self.limits.watch()
        try:
            with watching(stall), self._http().get(
                    url, headers=one.headers(), stream=True, timeout=self.timeout,
                    allow_redirects=False) as r:
                if not 200 <= r.status_code < 300:
                    _check("GET", url, r.status_code, self._small(r, "GET", url), r.headers)
                one.check(r.status_code, r.headers)
                with open(one.tmp, "r+b") as out:
                    out.seek(one.start + one.written)
                    for chunk in r.raw.stream(CHUNK, decode_content=False):
                        one.admit(len(chunk))
                        out.write(chunk)
                        one.took(chunk, progress)
        except DataForceError:
            raise
        except SYNC_FAILURES as exc:
            raise _fetch_failure(exc, url, stall) from None
        one.ended()

    def _stream(self, url: str) -> requests.Response:
        stall = self.limits.watch()  # (it counts only the time spent waiting in reads)
        try:
            with watching(stall):
                r = self._http().get(url, headers=_STORAGE_HEADERS, stream=True,
                                     timeout=self.timeout, allow_redirects=False)
                if not r.ok:
                    with r:
                        _check("GET", url, r.status_code, self._small(r, "GET", url),
                               r.headers)
        except DataForceError:
            raise
        except SYNC_FAILURES as exc:
            raise _transport("GET", url, exc, stall) from None
        r.stall = stall  # type: ignore[attr-defined]
        return r


class _RawStream(io.RawIOBase):
    def __init__(self, response: requests.Response) -> None:
        self._r = response

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._r.raw.read(len(buffer), decode_content=False)
        except Exception as exc:
            raise _transport("GET", self._r.url or "", exc,
                             getattr(self._r, "stall", None)) from None
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        self._r.close()
        super().close()


# -- async -----------------------------------------------------------------------------------


async def _waited(call: Awaitable[T], watch: Deadline | Stall) -> T:
    """``await call``, for no longer than ``watch`` allows (asyncio.TimeoutError then, with
    the watch tripped)."""
    start = time.monotonic()
    try:
        result = await within(call, watch.wait())
    except asyncio.TimeoutError:
        watch.tripped = True
        raise
    watch.got(len(result) if isinstance(result, bytes) else 0, time.monotonic() - start)
    return result


async def _next_chunk(chunks: AsyncIterator[bytes], watch: Deadline | Stall) -> bytes | None:
    """The next chunk of a body under ``watch``; None at its end."""
    try:
        return await _waited(chunks.__anext__(), watch)
    except StopAsyncIteration:
        return None


class AsyncStorage:
    """Runs storage steps on ``httpx`` (a client per event loop, without the API key); file
    reads, writes and hashing run in threads so the loop is never blocked."""

    def __init__(self, policy: RetryPolicy, timeout: float | tuple[float, float],
                 verify: Any = True, limits: Limits | None = None,
                 plug: PluggableTransport | None = None) -> None:
        # ``verify``: httpx's form (a bool or an SSL context, see ``_http._ssl_verify``).
        self.policy, self.timeout, self.verify = policy, timeout, verify
        self.limits, self.plug = limits or Limits(), plug
        self.gate: Gate | None = None  # the session's cap on storage connections
        # A client per loop, with the async generator that closes it when the loop shuts
        # down its async generators (as ``asyncio.run`` does), like the API clients.
        self._clients: dict[asyncio.AbstractEventLoop, tuple[Any, Any]] = {}
        self._busy: dict[asyncio.AbstractEventLoop, int] = {}
        self._lock = threading.Lock()
        reset_in_child(self)

    def after_fork(self) -> None:
        """In a forked child: the parent's clients are never used (see ``_clients``)."""
        self._clients, self._busy, self._lock = {}, {}, threading.Lock()

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
                                   follow_redirects=False, headers=_STORAGE_HEADERS,
                                   transport=None if self.plug is None
                                   else self.plug.httpx_transport())
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

    async def run(self, step: Put | Call | Open | _Resume | _Range,
                  progress: Progress | None = None) -> Any:
        """One try of a storage step (the retry engine decides on the next)."""
        loop = asyncio.get_running_loop()
        self._busy[loop] = self._busy.get(loop, 0) + 1  # one loop: no lock needed
        try:
            return await agated(self.gate, lambda: self._run(step, progress))()
        finally:
            self._busy[loop] -= 1
            if not self._busy[loop]:
                del self._busy[loop]

    async def _run(self, step: Put | Call | Open | _Resume | _Range,
                   progress: Progress | None) -> Any:
        if isinstance(step, Put):
            return await self._put(step, progress)
        if isinstance(step, Call):
            return await self._call(step)
        if isinstance(step, _Resume):
            return await self._resume(step, progress)
        if isinstance(step, _Range):
            return await self._range(step, progress)
        return await self._reader(step.url)

    async def _start(self, method: str, url: str, watch: Deadline | Stall, **kw: Any) -> Any:
        """Send, and wait under ``watch`` for the answer's head (its body is not read)."""
        client = await self._client()
        return await _waited(client.send(client.build_request(method, url, **kw),
                                         stream=True), watch)

    async def _small(self, r: Any, method: str, url: str, watch: Deadline | Stall) -> bytes:
        """A streamed answer's (small) body, read whole under ``watch`` and the cap."""
        body = CappedBody(self.limits.max_answer, None, method, _where(url))
        try:
            chunks = r.aiter_raw()
            while (chunk := await _next_chunk(chunks, watch)) is not None:
                body.feed(chunk)
        finally:
            await r.aclose()
        return body.result()

    async def _send(self, method: str, url: str, watch: Deadline | Stall, **kw: Any
                    ) -> tuple[Any, bytes]:
        try:
            r = await self._start(method, url, watch, **kw)
            return r, await self._small(r, method, url, watch)
        except DataForceError:
            raise
        except async_failures() as exc:
            raise _transport(method, url, exc, watch) from None

    async def _put(self, put: Put, progress: Progress | None) -> Answer:
        length = await asyncio.to_thread(_length, put)
        sent = _Sent(progress)
        chunks = _reader(put.path, put.offset, length, sent)
        stall = self.limits.watch()

        async def body() -> AsyncIterator[bytes]:
            last = None  # (when the last chunk was handed over, its size)
            while True:
                now = time.monotonic()
                if last is not None:
                    stall.got(last[1], now - last[0])
                if stall.wait() <= 0:
                    raise builtins.TimeoutError(stall.rule)
                chunk = await asyncio.to_thread(next, chunks, b"")
                if not chunk:
                    return
                yield chunk
                last = (time.monotonic(), len(chunk))

        try:
            r, answer = await self._send("PUT", put.url, stall, content=body(),
                                         headers={**put.headers, "Content-Length": str(length)})
            _check("PUT", put.url, r.status_code, answer, r.headers)
        except DataForceError:
            sent.undo()
            raise
        finally:
            with contextlib.suppress(ValueError):  # a read still running in its thread
                chunks.close()  # the file, if the body was not read to its end
        return Answer(r.status_code, dict(r.headers))

    async def _call(self, call: Call) -> Answer:
        r, body = await self._send(call.method, call.url, _call_watch(self),
                                   content=call.body or None, headers=dict(call.headers))
        _check(call.method, call.url, r.status_code, body, r.headers)
        return Answer(r.status_code, dict(r.headers), body)

    async def _resume(self, one: _Resume, progress: Progress | None) -> None:
        step, tmp, state = one.fetch, one.tmp, one.state
        stall = self.limits.watch()
        try:
            r = await self._start("GET", step.url, stall, headers=_range_headers(state))
            try:
                if not 200 <= r.status_code < 300:
                    _check("GET", step.url, r.status_code,
                           await self._small(r, "GET", step.url, stall), r.headers)
                over, problem = _resumable(step, r.status_code, r.headers, state)
                if over:
                    await asyncio.to_thread(tmp.unlink, True)
                    _restart(state, progress)
                if problem is not None:
                    raise problem
                await self._write(r, stall, tmp, state, step.size, progress)
            finally:
                await r.aclose()
        except DataForceError:
            raise
        except async_failures() as exc:
            raise _fetch_failure(exc, step.url, stall) from None
        _ended(step, state)

    async def _write(self, r: Any, stall: Stall, tmp: Path, state: _Partial,
                     size: int | None, progress: Progress | None) -> None:
        """Append the body to ``tmp`` within ``size``: each chunk written and hashed in a
        thread while the next one is received (at most two chunks held)."""
        out = await asyncio.to_thread(open, tmp, "ab")
        buf = bytearray()
        base, seen = state.written, 0  # (state.written moves in the writing thread)
        writing: asyncio.Task[None] | None = None  # the last chunk's write and hash
        queued = 0  # its bytes

        async def settle() -> None:
            nonlocal writing, queued
            if writing is not None:
                task, writing = writing, None
                await task
                if progress is not None:
                    progress.add(queued)
            queued = 0

        async def flush() -> None:
            nonlocal writing, queued
            await settle()
            data = bytes(buf)
            buf.clear()
            queued = len(data)
            writing = asyncio.ensure_future(asyncio.to_thread(_write_hashed, out, data, state))

        try:
            chunks = r.aiter_raw()
            while (chunk := await _next_chunk(chunks, stall)) is not None:
                seen += len(chunk)
                _admit(base + seen, size)
                buf += chunk
                if len(buf) >= CHUNK:
                    await flush()
        finally:
            try:
                await settle()
                if buf:  # what came before a failure too: the next try resumes after it
                    await flush()
                    await settle()
            finally:
                await asyncio.to_thread(out.close)

    async def _range(self, one: _Range, progress: Progress | None) -> None:
        url = one.fetch.url
        stall = self.limits.watch()
        try:
            r = await self._start("GET", url, stall, headers=one.headers())
            try:
                if not 200 <= r.status_code < 300:
                    _check("GET", url, r.status_code, await self._small(r, "GET", url, stall),
                           r.headers)
                one.check(r.status_code, r.headers)
                out = await asyncio.to_thread(open, one.tmp, "r+b")
                try:
                    await asyncio.to_thread(out.seek, one.start + one.written)
                    chunks = r.aiter_raw()
                    buf = bytearray()
                    while True:
                        chunk = await _next_chunk(chunks, stall)
                        if chunk is not None:
                            one.admit(len(buf) + len(chunk))
                            buf += chunk
                        if buf and (chunk is None or len(buf) >= CHUNK):
                            data = bytes(buf)
                            buf.clear()
                            await asyncio.to_thread(out.write, data)
                            one.took(data, progress)
                        if chunk is None:
                            break
                finally:
                    await asyncio.to_thread(out.close)
            finally:
                await r.aclose()
        except DataForceError:
            raise
        except async_failures() as exc:
            raise _fetch_failure(exc, url, stall) from None
        one.ended()

    async def _reader(self, url: str) -> AsyncReader:
        stall = self.limits.watch()  # (it counts only the time spent waiting in reads)
        try:
            r = await self._start("GET", url, stall)
            if not 200 <= r.status_code < 300:
                _check("GET", url, r.status_code, await self._small(r, "GET", url, stall),
                       r.headers)
        except DataForceError:
            raise
        except async_failures() as exc:
            raise _transport("GET", url, exc, stall) from None
        return AsyncReader(r, url, stall)


class AsyncReader:
    """An artifact's bytes as an async stream: ``await f.read(n)``, ``async for chunk in f``
    (both may be mixed: iteration starts with what ``read`` left buffered), ``async with``.
    A failure while reading (a stall included) is a TransportError naming the URL without
    its query."""

    def __init__(self, response: Any, url: str = "", stall: Stall | None = None) -> None:
        self._r = response
        self._url = url or str(getattr(response, "url", ""))
        self._stall = stall or Limits().watch()
        self._chunks: AsyncIterator[bytes] = response.aiter_raw()
        self._buf = bytearray()
        self._pos = 0  # bytes of _buf already read
        self._eof = False

    async def _next(self) -> bytes | None:
        """The next chunk from the network, None at the end."""
        if self._eof:
            return None
        try:
            chunk = await _next_chunk(self._chunks, self._stall)
        except async_failures() as exc:
            raise _transport("GET", self._url, exc, self._stall) from None
        if chunk is None:
            self._eof = True
        return chunk

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
           "Put", "PutParts", "SyncStorage", "is_sha256", "transfer_op"]
