"""Fault injection rules for the local server."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

KINDS = ("status", "delay", "drop", "drop_after", "stall")
SCOPES = (None, "api", "storage")


@dataclass(frozen=True)
class Fault:
    """One rule: what to inject and into which requests.

    kind: "status" (answer ``status`` with ``{"detail": ...}`` and optional ``Retry-After``),
    "delay" (sleep ``delay`` seconds, then handle normally), "drop" (close the connection
    without handling), "drop_after" (handle and commit, then close without answering),
    "stall" (hold the request ``delay`` seconds, longer than the client's read timeout, then
    handle and commit it and close without answering: a write the client gave up on that is
    delivered after all).
    method/path (a regex searched in the path without query) select requests; None = any.
    scope: "api" (``/v1/...`` and the worker's ``/satellites/v1/...`` routes) or "storage"
    (presigned storage URLs); None = both.
    times: apply to the next N matching requests only; rate: a seeded random fraction.
    """

    kind: str
    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0
    method: str | None = None
    path: str | None = None
    times: int | None = None
    rate: float | None = None
    seed: int | None = None
    scope: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {KINDS}")
        if self.kind == "status" and (self.status is None or not 100 <= self.status <= 599):
            raise ValueError("a status fault needs status=<100..599>")
        if self.path is not None:
            re.compile(self.path)
        if self.scope not in SCOPES:
            raise ValueError(f"unknown fault scope {self.scope!r}; expected one of {SCOPES}")

    @property
    def key(self) -> str:
        """The fault_counts key: the kind, or ``status:503``."""
        return f"status:{self.status}" if self.kind == "status" else self.kind


@dataclass
class _Rule:
    fault: Fault
    remaining: int | None
    rng: random.Random
    pattern: re.Pattern[str] | None = field(default=None)


class FaultSet:
    """Ordered, thread-safe rules; the first applicable rule wins."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[_Rule] = []
        self._counts: dict[str, int] = {}

    def add(self, fault: Fault) -> None:
        """Append a rule."""
        pattern = re.compile(fault.path) if fault.path is not None else None
        rule = _Rule(fault, fault.times, random.Random(fault.seed), pattern)
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        """Drop every rule (counts are kept)."""
        with self._lock:
            self._rules.clear()

    def reset_counts(self) -> None:
        """Forget what was injected so far."""
        with self._lock:
            self._counts.clear()

    @property
    def counts(self) -> dict[str, int]:
        """How many of each fault were injected."""
        with self._lock:
            return dict(self._counts)

    def pick(self, method: str, path: str, scope: str = "api") -> Fault | None:
        """The fault to inject into this request, if any (and account for it)."""
        with self._lock:
            if not self._rules:
                return None
            for rule in self._rules:
                f = rule.fault
                if rule.remaining == 0:
                    continue
                if f.method is not None and f.method.upper() != method:
                    continue
                if f.scope is not None and f.scope != scope:
                    continue
                if rule.pattern is not None and not rule.pattern.search(path):
                    continue
                if f.rate is not None and rule.rng.random() >= f.rate:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                self._counts[f.key] = self._counts.get(f.key, 0) + 1
                return f
            return None
