"""The retry policy: which failures are retried, how long to wait, and the operation that
sends a request under it (tenacity's retry state, driven step by step, so the sync and async
drivers, API and storage requests, share one engine)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs
import tenacity

from ._errors import APIError, TransportError, ValidationError
from ._outcomes import may_resend, maybe_applied
from ._protocol import (
    RETRY_STATUSES,
    Attempt,
    Op,
    Request,
    Response,
    Sleep,
    log_retry,
)

T = TypeVar("T")


def _full_jitter(base: float, cap: float, attempt: int) -> float:
    return random.uniform(0.0, min(cap, base * 2 ** (attempt - 1)))


def _at_least(minimum: float, *, integer: bool = False, optional: bool = False
              ) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    """An attrs validator: a number (an int if ``integer``) >= ``minimum``, or None if
    ``optional``; anything else is a ValidationError naming the field."""
    def check(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)) \
                or not value >= minimum:
            what = "an integer" if integer else "a number"
            raise ValidationError(attribute.name, f"must be {what} >= {minimum}, got {value!r}")

    return check


def _statuses(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, (str, bytes)) or not isinstance(value, (set, frozenset, list, tuple)) \
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in value):
        raise ValidationError(attribute.name, "must be a set of HTTP status codes (integers)")


@attrs.frozen
class RetryPolicy:
    """When and how often a failed request is sent again.

    Transient failures only (connection errors, timeouts, 408, 429, 502, 503, 504), with
    exponential backoff and full jitter, ``Retry-After`` honoured up to ``max_retry_after``,
    at most ``attempts`` sends and ``deadline`` seconds per request. ``sleep``/``async_sleep``
    are injectable for tests.

    Attributes:
        attempts: The most sends of one request (at least 1).
        deadline: The most seconds one request may take, retries included (None: no limit).
        backoff: The first backoff in seconds; it doubles on each retry, with full jitter.
        max_backoff: The longest backoff in seconds.
        max_retry_after: The longest ``Retry-After`` honoured, in seconds.
        statuses: The HTTP statuses that are retried.
        sleep: How the sync driver waits (injectable for tests).
        async_sleep: How the async driver waits (injectable for tests).
    """

    attempts: int = attrs.field(default=5, validator=_at_least(1, integer=True))
    deadline: float | None = attrs.field(default=60.0, validator=_at_least(0, optional=True))
    backoff: float = attrs.field(default=0.25, validator=_at_least(0))
    max_backoff: float = attrs.field(default=8.0, validator=_at_least(0))
    max_retry_after: float = attrs.field(default=30.0, validator=_at_least(0))
    statuses: frozenset[int] = attrs.field(default=RETRY_STATUSES, validator=_statuses)
    sleep: Callable[[float], None] = attrs.field(default=time.sleep, eq=False, repr=False)
    async_sleep: Callable[[float], Awaitable[None]] = attrs.field(
        default=asyncio.sleep, eq=False, repr=False
    )

    def should_retry(self, req: Request, exc: BaseException) -> bool:
        """Whether ``exc`` from sending ``req`` is transient and safe to re-send blindly."""
        return may_resend(req, exc, self.statuses)

    def backoff_for(self, attempt: int, exc: BaseException | None, elapsed: float = 0.0) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (``elapsed`` seconds in).

        Full jitter over ``[0, min(max_backoff, backoff * 2 ** (attempt - 1))]``, or the
        error's ``Retry-After`` capped at ``max_retry_after``; never past the deadline.
        """
        wait = _full_jitter(self.backoff, self.max_backoff, attempt)
        if isinstance(exc, APIError) and exc.retry_after is not None:
            wait = min(max(exc.retry_after, 0.0), self.max_retry_after)
        if self.deadline is not None:
            wait = min(wait, max(0.0, self.deadline - elapsed))
        return wait

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self.backoff_for(state.attempt_number, exc, state.seconds_since_start or 0.0)

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self.attempts:
            return True
        return self.deadline is not None and (state.seconds_since_start or 0.0) >= self.deadline

    def _kwargs(self, req: Request) -> dict[str, Any]:
        """tenacity's settings for sending ``req`` (stop, wait, what is retried, the log)."""
        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log_retry(req, exc, state.attempt_number, self.attempts)

        return {"stop": self._stop, "wait": self._wait, "before_sleep": before_sleep,
                "reraise": True,
                "retry": tenacity.retry_if_exception(lambda e: self.should_retry(req, e))}

    def attempt(self, req: Request, read_timeout: float) -> Attempt:
        """The first try of ``req``: its whole answer is due by the deadline plus one read
        timeout (so a server trickling its answer cannot hold a call past it)."""
        end = None if self.deadline is None else time.monotonic() + self.deadline + read_timeout
        return Attempt(req, end, _retry_clock())

    def retry_op(self, first: Attempt, error: BaseException) -> Op[Response]:
        """Go on after the first try of a request failed with ``error``: re-raise it unless
        it is transient and safe to re-send, else retry under tenacity's retry state (the
        common case, a first try that succeeds, never gets here).

        Before re-sending a create whose earlier try may have been committed,
        ``req.recover`` looks for what it made. The final error carries ``attempts``, and
        ``maybe_sent`` when an earlier try of a write may have taken effect.
        """
        req, attempt = first.request, first
        if not isinstance(error, (APIError, TransportError)) or not self.should_retry(req, error):
            if isinstance(error, (APIError, TransportError)):
                error.attempts = 1
            raise error
        started = first.started
        first_error = error
        retrying = tenacity.Retrying(**self._kwargs(req))
        retrying.begin()
        state = tenacity.RetryCallState(retrying, fn=None, args=(), kwargs={})
        state.start_time = started  # the deadline counts from the first send
        state.set_exception((type(first_error), first_error, first_error.__traceback__))
        applied = maybe_applied(req.method, first_error, server_errors=True)
        while True:
            try:
                action = retrying.iter(state)
            except (APIError, TransportError) as exc:  # stopped: the last error, reraised
                exc.attempts = state.attempt_number
                if applied and not exc.maybe_sent:
                    exc.maybe_sent = True
                raise
            if isinstance(action, tenacity.DoSleep):
                last = state.outcome.exception() if state.outcome else None
                if req.recover is not None and last is not None \
                        and maybe_applied(req.method, last, server_errors=True):
                    found = yield from req.recover()
                    if found is not None:
                        return Response(200, {}, found)
                state.prepare_for_next_attempt()
                yield Sleep(float(action))
            elif isinstance(action, tenacity.DoAttempt):
                try:
                    resp = yield attempt
                except (APIError, TransportError) as exc:
                    applied = applied or maybe_applied(req.method, exc, server_errors=True)
                    state.set_exception((type(exc), exc, exc.__traceback__))
                else:
                    state.set_result(resp)
            else:
                return action  # type: ignore[no-any-return]


def _retry_clock() -> float:
    """Now, on the clock tenacity measures deadlines with (its view of ``time.monotonic``).

    The drivers' first attempt runs before tenacity is involved; its start, read here, becomes
    the start of tenacity's retry state, so a deadline still counts from the first send.
    """
    clock: Any = getattr(tenacity, "time", time)
    return float(clock.monotonic())
