"""RequestCounter: the requests the library sends, counted from its own per-request log records."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from types import TracebackType

from .._protocol import REQUEST_LOG
from .._protocol import log as _log

_lock = threading.Lock()
_active: list[RequestCounter] = []
_saved_level = logging.NOTSET  # the logger's own level before the first counter started
_threshold = logging.WARNING  # the level records needed to pass before the first counter


class _Tap(logging.Filter):
    """Hands each per-request record to the active counters; drops records that exist only
    because a counter lowered the logger's level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == REQUEST_LOG and isinstance(record.args, tuple):
            method, path, status = record.args[:3]
            for counter in list(_active):
                counter._add(str(method), str(path), status if isinstance(status, int) else 0)
        return record.levelno >= _threshold


_tap = _Tap()


class RequestCounter:
    """Counts the HTTP requests the library sends while active, per method.

    ``with RequestCounter() as sent: ...`` then ``sent.total``, ``sent.by_method["GET"]`` and
    ``sent.requests`` (method, path, status of each, in order). It counts the DEBUG record
    each driver logs for every answered request (retries included), so it needs no patching of
    ``requests`` or ``httpx``; a request that got no answer at all (connection lost) has no
    record and is not counted. Counting is process-wide: every thread and event loop.

    While any counter is active the ``dataforce_orm`` logger is set to DEBUG; records that
    would not have passed its previous level are counted, then dropped, so log handlers see
    exactly what they would have seen without the counter.

    Attributes:
        requests: The (method, path, status) of each request counted, in order.
    """

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, int]] = []
        self._mutex = threading.Lock()

    def _add(self, method: str, path: str, status: int) -> None:
        with self._mutex:
            self.requests.append((method, path, status))

    @property
    def total(self) -> int:
        """How many requests were sent."""
        return len(self.requests)

    @property
    def by_method(self) -> Counter[str]:
        """Requests per HTTP method (a missing method counts 0)."""
        return Counter(method for method, _, _ in self.requests)

    def reset(self) -> None:
        """Forget what was counted so far (the counter stays active)."""
        with self._mutex:
            self.requests.clear()

    def __repr__(self) -> str:
        return f"RequestCounter(total={self.total}, by_method={dict(self.by_method)})"

    def __enter__(self) -> RequestCounter:
        global _saved_level, _threshold
        with _lock:
            if not _active:
                _saved_level, _threshold = _log.level, _log.getEffectiveLevel()
                _log.addFilter(_tap)
                _log.setLevel(logging.DEBUG)
            _active.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with _lock:
            if self in _active:
                _active.remove(self)
            if not _active:
                _log.removeFilter(_tap)
                if _log.level == logging.DEBUG:  # unless someone else changed it meanwhile
                    _log.setLevel(_saved_level)
