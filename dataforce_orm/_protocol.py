"""The sans-I/O protocol: requests, responses, operations and the stepper that advances them.

An operation is a generator: it yields ``Request`` objects (or ``Batch`` results when
it streams, or ``Sleep`` pauses) and receives ``Response`` objects, or has the
library error for a failed request thrown into it. Models and querysets are written only
against this module; the drivers in ``_http`` run operations on ``requests`` or ``httpx``.
Standard library only.
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from typing import Any, Generic, TypeVar

from ._errors import APIError
from ._errors import error_class as _error_class
from ._secrets import mask

log = logging.getLogger("dataforce_orm")
# The DEBUG record logged for every answered request: method, path, status, milliseconds.
REQUEST_LOG = "%s %s -> %d in %.1f ms"

T = TypeVar("T")

RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
# Statuses that say the request was not processed, so even a create may be re-sent.
UNPROCESSED_STATUSES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, relative to the session's base URL (its body is never in its repr:
    it may hold credentials)."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    json: Any = field(default=None, repr=False)
    # For a create: an operation that finds what an earlier, lost try made (None if nothing),
    # run before the create is sent again after a failure that may have been committed.
    recover: Callable[[], Op[Any]] | None = field(default=None, repr=False, compare=False)
    # A storage transfer step sent in place of an API request (its path is then the storage
    # URL without its query): the driver's storage runner makes each try of it.
    storage: Local | None = field(default=None, repr=False, compare=False)

    @property
    def idempotent(self) -> bool:
        return self.method != "POST"


@dataclass(frozen=True, slots=True)
class Response:
    """A successful answer: status, headers (lower-case names) and the decoded JSON body."""

    status: int
    headers: Mapping[str, str]
    data: Any


@dataclass(frozen=True, slots=True)
class Batch(Generic[T]):
    """Items a streaming operation hands to its caller before asking for more."""

    items: list[T]


@dataclass(frozen=True, slots=True)
class Sleep:
    """A pause an operation asks for (backoff between its own re-sends)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of a request, as the retry engine hands it to a driver: the answer must be
    complete by ``end`` (``time.monotonic()``), if given."""

    request: Request
    end: float | None
    started: float = 0.0  # when the first try began, on the retry clock


@dataclass(frozen=True, slots=True)
class Local:
    """Work a driver does itself rather than an API request: a blocking function (file
    reading, hashing) that the async driver runs in a thread, or, as a request's ``storage``,
    one try of a storage transfer step (see ``_transfer``, with its progress)."""

    work: Any
    progress: Any = None


@dataclass(frozen=True, slots=True)
class Parallel:
    """Operations run side by side, at most ``concurrency`` at once; their results in order.
    The first failure stops those not started, and the ones running end before it is raised."""

    ops: tuple[Op[Any], ...]
    concurrency: int


# An operation: yields requests (and batches, when it streams), returns its result.
Op = Generator["Request | Attempt | Batch[Any] | Sleep | Local | Parallel", Any, T]


def log_retry(req: Request, exc: BaseException | None, attempt: int, attempts: int) -> None:
    """The WARNING logged before each re-send: method, path, status (or error) and attempt."""
    status = exc.status if isinstance(exc, APIError) else type(exc).__name__
    log.warning("retrying %s %s after %s (attempt %d of %d)",
                req.method, req.path, status, attempt, attempts)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date); None for
    anything else (``²``, a negative number, an impossible date): the usual backoff then."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # ("²".isdigit() is True; float() refuses it)
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None
    return max(0.0, seconds)


# The first element of a 422 ``loc`` says where the field was; the rest is its path.
_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def _field_path(loc: Any) -> str:
    parts = list(loc) if isinstance(loc, (list, tuple)) else []
    if len(parts) > 1 and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(str(p) for p in parts)


def _detail(data: Any, text: str) -> tuple[str, list[tuple[str, str]]]:
    """The server's ``detail`` as a message, plus 422 errors as (field path, message) pairs."""
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, str):
        return detail, []
    if isinstance(detail, list):
        errors = []
        for item in detail:
            if isinstance(item, dict):
                errors.append((_field_path(item.get("loc")), str(item.get("msg", ""))))
        return "; ".join(f"{loc}: {msg}" for loc, msg in errors) or "invalid request", errors
    return (text.strip()[:200] or "(empty body)"), []


def read_response(req: Request, status: int, headers: Mapping[str, str], body: bytes) -> Response:
    """Decode an answer, raising the matching ``APIError`` for anything but 2xx JSON."""
    text_type = "json" in headers.get("content-type", "")
    data: Any = None
    bad_json = False
    if body:
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            bad_json = True
    if 200 <= status < 300:
        if bad_json or (body and not text_type):
            raise APIError(status, req.method, req.path, "the server's answer is not valid JSON")
        return Response(status, headers, data)
    text = body.decode("utf-8", "replace")  # the message when there is no usable ``detail``
    detail, errors = _detail(data, text)
    if 300 <= status < 400:
        where = headers.get("location") or "nowhere"
        detail = f"redirected to {where[:200]}; only reads follow redirects" + (
            f": {detail}" if body else "")
    err = _error_class(status)(status, req.method, req.path, detail)
    err.errors = [(mask(where), mask(message)) for where, message in errors]
    err.retry_after = parse_retry_after(headers.get("retry-after"))
    raise err


class Stepper:
    """Advances an operation: hands it the last reply (or error) and takes its next step.

    With a ``policy`` (a RetryPolicy), each ``Request`` an operation yields is sent under
    it: its first try goes straight to the driver, and only after a failure does the
    policy's retry operation take over (the requests that one makes are sent the same way).
    The steps that come out are then only attempts, sleeps, batches, local work and
    parallel operations.
    """

    def __init__(self, op: Op[Any], policy: Any = None, read_timeout: float = 0.0) -> None:
        self.op = op
        self.policy = policy
        self.read_timeout = read_timeout
        self.stack: list[Op[Any]] = [op]  # the operation, then the retries it waits on
        self.first: Attempt | None = None  # a first try whose answer is awaited
        self.reply: Any = None
        self.error: BaseException | None = None  # thrown into the operation (any failure, so
        # an operation can clean up after an interruption too)
        self.result: Any = None

    def next(self) -> Request | Attempt | Batch[Any] | Sleep | Local | Parallel | None:
        """The next step, or None when the operation has finished."""
        reply, error = self.reply, self.error
        self.reply = self.error = None
        stack = self.stack
        if self.first is not None:
            first, self.first = self.first, None
            if error is not None:
                stack.append(self.policy.retry_op(first, error))
                error = None
        while stack:
            top = stack[-1]
            try:
                step = top.throw(error) if error is not None else top.send(reply)
            except StopIteration as stop:
                stack.pop()
                if not stack:
                    self.result = stop.value
                    return None
                reply, error = stop.value, None
                continue
            except BaseException as exc:
                if len(stack) == 1 or isinstance(exc, GeneratorExit):
                    raise
                stack.pop()
                reply, error = None, exc
                continue
            if self.policy is None or not isinstance(step, Request):
                return step
            self.first = self.policy.attempt(step, self.read_timeout)
            return self.first
        return None
