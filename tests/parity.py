"""Run the same end-to-end test through the sync API or its async twins.

Tests take the ``m`` fixture (parametrised "sync"/"async") and call ``m.save(obj)``,
``m.get(qs, name=...)``, ``m.list(qs)``... so one test body checks both paths.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from dataforce_orm import Session

# The ``make_session`` fixture (tests/conftest.py): keyword overrides in, a Session out.
MakeSession = Callable[..., Session]


class SyncMode:
    name = "sync"

    def save(self, obj: Any, **kw: Any) -> None:
        obj.save(**kw)

    def refresh(self, obj: Any, **kw: Any) -> None:
        obj.refresh(**kw)

    def delete(self, obj: Any, **kw: Any) -> None:
        obj.delete(**kw)

    def list(self, qs: Any) -> list[Any]:
        return list(qs)

    def delete_all(self, qs: Any) -> int:
        return qs.delete()  # type: ignore[no-any-return]

    def __getattr__(self, method: str) -> Any:
        """get, first, last, count, exists, create, get_or_create, ... on a QuerySet."""
        return lambda qs, *a, **kw: getattr(qs, method)(*a, **kw)


class AsyncMode:
    name = "async"

    def __init__(self, session: Session) -> None:
        self.loop = asyncio.new_event_loop()
        self.session = session

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.session.aclose())
        self.loop.close()

    def save(self, obj: Any, **kw: Any) -> None:
        self.run(obj.asave(**kw))

    def refresh(self, obj: Any, **kw: Any) -> None:
        self.run(obj.arefresh(**kw))

    def delete(self, obj: Any, **kw: Any) -> None:
        self.run(obj.adelete(**kw))

    def list(self, qs: Any) -> list[Any]:
        async def gather() -> list[Any]:
            return [o async for o in qs]

        return self.run(gather())  # type: ignore[no-any-return]

    def iterator(self, qs: Any) -> list[Any]:
        return self.list(qs)

    def delete_all(self, qs: Any) -> int:
        return self.run(qs.adelete())  # type: ignore[no-any-return]

    def __getattr__(self, method: str) -> Any:
        def call(qs: Any, *a: Any, **kw: Any) -> Any:
            return self.run(getattr(qs, "a" + method)(*a, **kw))

        return call
