"""Progress of a transfer: bytes done out of a total, reported to observers (callables taking
``(done, total)``); a bar on the terminal (tqdm: bytes, rate, ETA, throttled) is one observer
among others, turned off by ``progress=False``, the session's ``progress_bars=False`` or
``DFS_DISABLE_PROGRESS_BARS`` (or ``LUML_DISABLE_PROGRESS_BARS``)."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import ValidationError

log = logging.getLogger("dataforce_orm")
Observer = Callable[[int, int], None]
LOG_EVERY = 64 * 1024 * 1024  # bytes between INFO records of a long transfer
_TRUE = ("1", "true", "yes", "on")


def bars_disabled_by_env() -> bool:
    """Whether ``DFS_DISABLE_PROGRESS_BARS`` (else ``LUML_DISABLE_PROGRESS_BARS``) is true."""
    value = os.environ.get("DFS_DISABLE_PROGRESS_BARS") or os.environ.get(
        "LUML_DISABLE_PROGRESS_BARS") or ""
    return value.strip().lower() in _TRUE


class Bar:
    """An observer drawing one tqdm bar on stderr, only when stderr is a terminal; redrawn at
    most every half second. Closed when the transfer is whole (or by ``close()``)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None
        self._closed = False

    def __call__(self, done: int, total: int) -> None:
        if self._closed:
            return
        if self._bar is None:
            from tqdm.auto import tqdm  # type: ignore[import-untyped]

            self._bar = tqdm(total=total, desc=self.label, unit="B", unit_scale=True,
                             unit_divisor=1024, file=sys.stderr, mininterval=0.5,
                             disable=None, leave=True, dynamic_ncols=True)
        if self._bar.total != total:
            self._bar.total = total
        self._bar.update(done - self._bar.n)
        if total and done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None and not self._closed:
            self._bar.close()
        self._closed = True


class Progress:
    """Bytes done out of ``total``, reported to each observer as they change (under a lock:
    parts sent from several threads report in order; a failed try's bytes are taken back)."""

    def __init__(self, total: int, observers: Observer | Sequence[Observer] = (),
                 label: str = "") -> None:
        self.total, self.done, self.label = total, 0, label
        self.observers = [observers] if callable(observers) else list(observers)
        self._lock = threading.Lock()
        self._logged = 0

    def grow(self, n: int) -> None:
        """Add ``n`` bytes to the total (one bar over several files)."""
        with self._lock:
            self.total += n

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            done, total = self.done, self.total
            for observer in self.observers:
                observer(done, total)
            if done < self._logged:
                self._logged = done
            elif done - self._logged >= LOG_EVERY or done >= total > LOG_EVERY:
                self._logged = done
                log.info("%s: %d of %d bytes", self.label, done, total)

    def close(self) -> None:
        """Close the observers that hold something (a bar)."""
        for observer in self.observers:
            close = getattr(observer, "close", None)
            if callable(close):
                close()


# what a transfer's ``progress=`` takes (a Progress: one shared by several transfers)
ProgressArg = bool | Observer | Sequence[Observer] | Progress | None


def progress_for(progress: ProgressArg, total: int, label: str,
                 bars: bool = True) -> Progress | None:
    """The Progress of one transfer: ``progress`` is None or True (a bar, unless ``bars``
    is False or the environment turns bars off), False (nothing), a callable or a list of
    them (observers, no bar), or a Progress already shared by several transfers."""
    if isinstance(progress, Progress):
        return progress
    if progress is False:
        return None
    if progress is None or progress is True:
        on = bars and not bars_disabled_by_env()
        return Progress(total, [Bar(label)] if on else [], label)
    observers = [progress] if callable(progress) else list(progress)
    for observer in observers:
        if not callable(observer):
            raise ValidationError("progress", "must be True, False, a callable taking (bytes "
                                              "done, total) or a list of them, not "
                                              f"{type(observer).__name__}")
    return Progress(total, observers, label)
