"""Sessions across processes: a session pickles (its settings, never its connections; the key
only if ``pickle_key``), works in a process started by spawn, and after ``os.fork`` the
child opens its own connections."""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from dataforce_orm import Collection, ConfigurationError, Session, ValidationError
from dataforce_orm.testing import LocalServer, RequestCounter


@pytest.fixture
def rows(server: LocalServer, orbit_id: str) -> int:
    server.insert_collections(orbit_id, [{"name": f"p-{i}", "type": "model"} for i in range(3)])
    return 3


@pytest.fixture
def own(server: LocalServer, orbit_id: str) -> Iterator[Session]:
    """A session with the default retry policy (its sleeps pickle)."""
    s = Session(api_key=server.api_key, base_url=server.url,
                organization=server.organization_id, orbit=orbit_id)
    yield s
    s.close()


def _count(session: Session) -> int:
    """Runs in another process."""
    return Collection.objects.using(session).count()


def test_a_pickled_session_keeps_its_settings_and_none_of_its_connections(
        own: Session, rows: int, server: LocalServer) -> None:
    assert _count(own) == rows  # a pooled connection now, and the scope resolved
    clone = pickle.loads(pickle.dumps(own))
    assert (clone.base_url, clone.organization, clone.orbit, clone.timeout) == (
        own.base_url, own.organization, own.orbit, own.timeout)
    assert clone._scope == own._scope and clone.retry == own.retry
    assert len(clone.driver._pool) == 0 and len(own.driver._pool) == 1
    with RequestCounter() as sent:
        assert _count(clone) == rows
    assert sent.total == 1  # no resolution again
    clone.close()


def test_a_pickled_session_keeps_its_transfer_settings(server: LocalServer, tmp_path: Path
                                                       ) -> None:
    s = Session(api_key=server.api_key, base_url=server.url, progress_bars=False, cache=True,
                cache_dir=tmp_path, max_storage_connections=3)
    clone = pickle.loads(pickle.dumps(s))
    assert (clone.progress_bars, clone.cache, clone.cache_dir) == (False, True, str(tmp_path))
    assert clone.driver.storage.gate is not None and clone.driver.storage.gate.limit == 3


def test_pickle_key_false_leaves_the_key_out(own: Session, server: LocalServer,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DFS_API_KEY", "LUML_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    assert server.api_key.encode() in pickle.dumps(own)
    keyless = Session(api_key=server.api_key, base_url=server.url,
                      organization=server.organization_id, orbit=own.orbit, pickle_key=False)
    data = pickle.dumps(keyless)
    assert server.api_key.encode() not in data
    with pytest.raises(ConfigurationError, match="no API key"):
        _count(pickle.loads(data))
    monkeypatch.setenv("DFS_API_KEY", server.api_key)  # the receiving side's own key
    received = pickle.loads(data)
    assert _count(received) == 0 and received.pickle_key is False
    with pytest.raises(ValidationError, match="pickle_key"):
        Session(api_key=server.api_key, pickle_key="no")  # type: ignore[arg-type]


def test_a_session_works_in_a_spawned_process(own: Session, rows: int, server: LocalServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    keyless = Session(base_url=server.url, organization=server.organization_id,
                      orbit=own.orbit, api_key=server.api_key, pickle_key=False)
    monkeypatch.setenv("DFS_API_KEY", server.api_key)  # inherited by the spawned process
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        assert pool.submit(_count, own).result(timeout=120) == rows
        assert pool.submit(_count, keyless).result(timeout=60) == rows


def _in_child(report: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``report()`` run in a forked child, its answer (or the error it raised) sent back as
    JSON; the child leaves without running the parent's cleanups."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            answer = report()
        except BaseException as exc:
            answer = {"error": repr(exc)}
        os.write(write, json.dumps(answer).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as got:
        answer = json.loads(got.read())
    os.waitpid(pid, 0)
    return answer


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_after_fork_the_child_opens_its_own_connections(own: Session, rows: int) -> None:
    assert _count(own) == rows
    parent_http = own.driver._http()  # this thread's pooled client, holding a connection
    answer = _in_child(lambda: {"fresh": own.driver._http() is not parent_http,
                                "count": _count(own)})
    assert answer == {"fresh": True, "count": rows}
    assert own.driver._http() is parent_http  # the parent keeps its own
    assert _count(own) == rows


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_after_fork_the_storage_runners_start_empty(own: Session) -> None:
    import asyncio

    parent_storage = own.driver.storage._http()  # this thread's storage client
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(own.async_driver.storage._client())
        assert own.async_driver.storage._clients
        answer = _in_child(lambda: {
            "sync_fresh": own.driver.storage._http() is not parent_storage,
            "async_clients": len(own.async_driver.storage._clients)})
        assert answer == {"sync_fresh": True, "async_clients": 0}
        assert own.driver.storage._http() is parent_storage
        assert own.async_driver.storage._clients  # the parent keeps its own
        loop.run_until_complete(own.async_driver.storage.aclose())
    finally:
        loop.close()
