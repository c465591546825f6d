"""What a server may cost the library: the size cap on API answers (decompressed), the
deadline an API answer must be complete by, and the stall rule for storage bodies.

``Deadline`` and ``Stall`` are read watches: before each network read the drivers
ask a watch how long the read may wait (``wait()``), and tell it what came (``got()``).
``CappedBody`` collects an answer's body, decoding gzip or deflate itself so that no
more than the cap is ever inflated. Standard library only.
"""

from __future__ import annotations

import asyncio
import sys
import time
import zlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from ._errors import TransportError, ValidationError

T = TypeVar("T")
MiB = 1024 * 1024
DEFAULT_MAX_ANSWER = 16 * MiB
DEFAULT_STALL = (64 * 1024, 10.0)  # (bytes, seconds)
# What the API clients accept: the encodings CappedBody decodes.
ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class Limits:
    """A session's limits: ``max_answer`` bytes per API answer (decompressed), and the stall
    rule ``stall`` = (bytes, seconds): a storage body that brings fewer bytes than that in
    that many seconds of waiting fails."""

    max_answer: int = DEFAULT_MAX_ANSWER
    stall: tuple[int, float] = DEFAULT_STALL

    def watch(self) -> Stall:
        return Stall(*self.stall)


def size_text(n: float) -> str:
    """Bytes in words: 16 MiB, 64 KiB, 300 bytes."""
    for unit, size in (("GiB", 1024 * MiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:g} {unit}"
    return f"{n:g} bytes"


class Deadline:
    """Reads must be done by ``end`` (``time.monotonic()``)."""

    def __init__(self, end: float) -> None:
        self.end = end
        self.tripped = False

    def wait(self) -> float:
        """Seconds the next read may wait (<= 0: the watch has tripped)."""
        left = self.end - time.monotonic()
        if left <= 0:
            self.tripped = True
        return left

    def got(self, n: int, waited: float) -> None:
        pass


class Stall:
    """Each ``min_bytes`` must come within ``seconds`` of waiting for the network (time spent
    elsewhere, writing a file or in the caller's code between reads, does not count)."""

    def __init__(self, min_bytes: int, seconds: float) -> None:
        self.min_bytes, self.seconds = min_bytes, seconds
        self.tripped = False
        self._bytes, self._waited = 0, 0.0

    def wait(self) -> float:
        left = self.seconds - self._waited
        if left <= 0:
            self.tripped = True
        return left

    def got(self, n: int, waited: float) -> None:
        self._bytes += n
        self._waited += waited
        if self._bytes >= self.min_bytes:
            self._bytes, self._waited = 0, 0.0

    @property
    def rule(self) -> str:
        return (f"storage sent fewer than {size_text(self.min_bytes)} in {self.seconds:g} s "
                "(the stall limit, Session(stall=...))")


class CappedBody:
    """An answer's body, decoded, refused once it passes ``cap`` bytes: a TransportError
    naming the cap (not retried: the same answer would come again)."""

    def __init__(self, cap: int, encoding: str | None, method: str, url: str) -> None:
        self.cap, self.method, self.url = cap, method, url
        self.size = 0
        self._chunks: list[bytes] = []
        enc = (encoding or "identity").strip().lower()
        if enc in ("", "identity"):
            self._z = None
        elif enc in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._z = zlib.decompressobj(32 + zlib.MAX_WBITS)  # zlib or gzip header
        else:
            raise self._error(f"the answer is encoded as {encoding!r}, which was not asked for")

    def _error(self, message: str) -> TransportError:
        err = TransportError(message, self.method, self.url)
        err.transient = False
        return err

    def _over(self) -> TransportError:
        return self._error(f"the answer is larger than the {size_text(self.cap)} cap on API "
                           "answers (Session(max_answer_size=...))")

    def declared(self, length: str | None) -> None:
        """Refuse at once an unencoded answer whose Content-Length is over the cap."""
        if self._z is None and length and length.strip().isascii() \
                and length.strip().isdigit() and int(length) > self.cap:
            raise self._over()

    def _add(self, data: bytes) -> None:
        if data:
            self.size += len(data)
            if self.size > self.cap:
                self._chunks.clear()
                raise self._over()
            self._chunks.append(data)

    def feed(self, data: bytes) -> None:
        """Add bytes as they came over the network."""
        if self._z is None:
            self._add(data)
            return
        try:
            self._add(self._z.decompress(data, self.cap - self.size + 1))
            while self._z.unconsumed_tail:
                self._add(self._z.decompress(self._z.unconsumed_tail, self.cap - self.size + 1))
        except zlib.error:
            raise self._error("the answer's compressed body is corrupt") from None

    def result(self) -> bytes:
        """The whole body, once the network has brought all of it."""
        if self._z is not None:
            try:
                self._add(self._z.flush())
            except zlib.error:
                raise self._error("the answer's compressed body is corrupt") from None
        body = b"".join(self._chunks)
        self._chunks = [body]
        return body


async def within(call: Awaitable[T], seconds: float) -> T:
    """``await call``, or asyncio.TimeoutError after ``seconds``. On 3.11+ through a timeout
    scope: wait_for runs the call in a task of its own, about 10 us more per request."""
    if sys.version_info >= (3, 11):
        async with asyncio.timeout(max(0.0, seconds)):
            return await call
    return await asyncio.wait_for(call, max(0.0, seconds))  # pragma: no cover - 3.10


def check_limits(max_answer_size: object, stall: object) -> Limits:
    """A session's limits, or a ValidationError naming the parameter and the rule."""
    def count(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1

    if not count(max_answer_size):
        raise ValidationError("max_answer_size", f"must be a number of bytes >= 1, got "
                                                 f"{max_answer_size!r}")
    if not (isinstance(stall, tuple) and len(stall) == 2 and count(stall[0])
            and isinstance(stall[1], (int, float)) and not isinstance(stall[1], bool)
            and 0 < stall[1] < float("inf")):
        raise ValidationError("stall", "must be (bytes >= 1, seconds > 0): a transfer moving "
                                       f"fewer bytes in that many seconds fails; got {stall!r}")
    return Limits(max_answer_size, (stall[0], float(stall[1])))  # type: ignore[arg-type]
