"""The ``Parallel`` step runs its operations through a sliding window: a new one starts as
soon as any running one ends (not in waves of ``concurrency``), in both drivers."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from dataforce_orm import Session
from dataforce_orm._protocol import Local, Op, Parallel


def _window_op(started: list[int], third_started: threading.Event) -> Op[list[Any]]:
    """Three operations, two at a time: the first ends only once the third has started,
    which in waves (1 and 2, then 3) could never happen."""

    def first() -> Op[str]:
        started.append(0)
        ok = yield Local(lambda: third_started.wait(10))
        return "first" if ok else "waves"

    def second() -> Op[str]:
        started.append(1)
        yield Local(lambda: None)
        return "second"

    def third() -> Op[str]:
        started.append(2)
        third_started.set()
        yield Local(lambda: None)
        return "third"

    return (yield Parallel((first(), second(), third()), 2))


def test_sync_parallel_is_a_sliding_window() -> None:
    started: list[int] = []
    with Session(api_key="dfs_x", base_url="http://127.0.0.1:9") as s:
        out = s.driver.run(_window_op(started, threading.Event()))
    assert out == ["first", "second", "third"] and sorted(started) == [0, 1, 2]


def test_async_parallel_is_a_sliding_window() -> None:
    started: list[int] = []
    with Session(api_key="dfs_x", base_url="http://127.0.0.1:9") as s:
        out = asyncio.run(s.async_driver.run(_window_op(started, threading.Event())))
    assert out == ["first", "second", "third"] and sorted(started) == [0, 1, 2]
