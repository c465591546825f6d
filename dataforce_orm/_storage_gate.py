"""The cap on storage connections of one session: every storage request (a part, a PUT, a
download, a small call) holds a place while it is sent and answered, whatever mix of
parallel parts and bulk items asks for them; retries wait for their backoff outside it.
Standard library only."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ._errors import ValidationError

T = TypeVar("T")
DEFAULT_STORAGE_CONNECTIONS = 16


class Gate:
    """At most ``limit`` storage requests at once: threads wait on a semaphore, tasks on an
    asyncio one per event loop (each side counts its own requests)."""

    def __init__(self, limit: int = DEFAULT_STORAGE_CONNECTIONS) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("max_storage_connections", "must be an integer >= 1")
        self.limit = limit
        self._threads = threading.BoundedSemaphore(limit)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = \
            weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` holding a place."""
        with self._threads:
            return fn()

    async def arun(self, fn: Callable[[], Awaitable[T]]) -> T:
        """``await fn()`` holding a place on the running loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            gate = self._loops.get(loop)
            if gate is None:
                gate = self._loops[loop] = asyncio.Semaphore(self.limit)
        async with gate:
            return await fn()


def gated(gate: Gate | None, fn: Callable[[], Any]) -> Callable[[], Any]:
    """``fn`` holding a place of ``gate`` while it runs (as is, with no gate)."""
    return fn if gate is None else (lambda: gate.run(fn))


def agated(gate: Gate | None, fn: Callable[[], Any]) -> Callable[[], Any]:
    """Async ``gated()``."""
    return fn if gate is None else (lambda: gate.arun(fn))
