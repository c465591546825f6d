"""Exactly-once creates: a POST is never blindly re-sent after it may have reached the server.

End to end against LocalServer: whatever faults hit the POSTs, N creates make exactly N rows,
and each returned object is one of those rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from parity import MakeSession

from dataforce_orm import Collection, CollectionType, RetryPolicy, Session
from dataforce_orm.testing import Fault, LocalServer

N = 40


@pytest.fixture
def patient(make_session: MakeSession, server: LocalServer, orbit_id: str,
            sleeps: list[float]) -> Iterator[Session]:
    """A current session whose policy allows enough attempts for 30% fault rates."""
    with make_session(retry=RetryPolicy(attempts=10, sleep=sleeps)) as s:
        yield s


def posts(server: LocalServer, orbit_id: str) -> int:
    return sum(1 for m, p in server.request_log if m == "POST" and orbit_id in p)


def assert_exactly(server: LocalServer, orbit_id: str, made: list[Collection]) -> None:
    rows = {r["id"]: r for r in server.collection_rows(orbit_id)}
    assert len(rows) == len(made)
    assert sorted(str(c.id) for c in made) == sorted(rows)  # distinct, and each a real row
    for c in made:
        row = rows[str(c.id)]
        assert (row["name"], row["description"], row["type"], row["tags"]) == (
            c.name, c.description, c.collection_type.value if c.collection_type else None,
            c._lookup_value("tags"))  # (tags the server keeps null show as [])
        assert not c.changed_fields()


@pytest.mark.parametrize("kind", ["drop_after", "drop"])
@pytest.mark.parametrize("same_body", [False, True], ids=["distinct", "identical"])
def test_n_creates_make_n_rows_under_connection_faults(
        server: LocalServer, patient: Session, orbit_id: str, kind: str,
        same_body: bool) -> None:
    server.add_fault(Fault(kind=kind, method="POST", path=orbit_id, rate=0.3, seed=7))
    made = [
        Collection.objects.create(
            name="same" if same_body else f"coll-{i}", description="d" if same_body else "",
            collection_type="model", tags=["t"] if same_body else None)
        for i in range(N)
    ]
    injected = server.fault_counts.get(kind, 0)
    assert injected >= 5  # the faults really happened
    assert_exactly(server, orbit_id, made)
    if kind == "drop_after":
        assert posts(server, orbit_id) == N  # a committed POST is found, never sent again
    else:
        assert posts(server, orbit_id) > N


@pytest.mark.parametrize("status", [502, 503, 504])
def test_n_creates_make_n_rows_under_gateway_errors(server: LocalServer, patient: Session,
                                                    orbit_id: str, status: int) -> None:
    server.add_fault(Fault(kind="status", status=status, method="POST", path=orbit_id,
                           rate=0.3, seed=11))
    made = [Collection.objects.create(name=f"c{i % 3}", collection_type="dataset")
            for i in range(N)]
    assert_exactly(server, orbit_id, made)
    assert posts(server, orbit_id) > N


def test_n_creates_under_mixed_faults(server: LocalServer, patient: Session,
                                      orbit_id: str) -> None:
    for kind, seed in (("drop_after", 1), ("drop", 2)):
        server.add_fault(Fault(kind=kind, method="POST", path=orbit_id, rate=0.15, seed=seed))
    server.add_fault(Fault(kind="status", status=503, method="POST", path=orbit_id, rate=0.15,
                           seed=3))
    server.add_fault(Fault(kind="drop", method="GET", path=orbit_id, rate=0.2, seed=4))
    made = [Collection.objects.create(name="x", collection_type="model", tags=[])
            for _ in range(N)]
    assert_exactly(server, orbit_id, made)


def test_committed_but_dropped_create_returns_the_committed_row(
        server: LocalServer, session: Session, orbit_id: str, sleeps: list[float]) -> None:
    server.add_fault(Fault(kind="drop_after", method="POST", path=orbit_id, times=1))
    c = Collection.objects.create(name="Churn models", description="weekly",
                                  collection_type=CollectionType.MODEL, tags=["prod", "Churn"])
    (row,) = server.collection_rows(orbit_id)
    assert c.id == row["id"] and c.created_at is not None
    assert (c.name, c.description, c.tags) == ("Churn models", "weekly", ["prod", "Churn"])
    assert posts(server, orbit_id) == 1
    assert Collection.objects.get(id=c.id) == c


def test_lost_create_is_not_confused_with_an_earlier_identical_one(
        server: LocalServer, session: Session, orbit_id: str, sleeps: list[float]) -> None:
    first = Collection.objects.create(name="twin", collection_type="model")
    server.add_fault(Fault(kind="drop_after", method="POST", path=orbit_id, times=1))
    second = Collection.objects.create(name="twin", collection_type="model")
    assert first.id != second.id
    assert_exactly(server, orbit_id, [first, second])


@pytest.mark.parametrize("name", ["50%_off", "a\\b", "under_score", "", "  spaced  "])
def test_lookup_handles_search_wildcards_and_empty_names(server: LocalServer, session: Session,
                                                         orbit_id: str, sleeps: list[float],
                                                         name: str) -> None:
    server.insert_collections(orbit_id, [{"name": "50x_off"}, {"name": "ab"}, {"name": "other"}])
    server.add_fault(Fault(kind="drop_after", method="POST", path=orbit_id, times=1))
    c = Collection.objects.create(name=name, collection_type="experiment")
    rows = [r for r in server.collection_rows(orbit_id) if r["id"] == c.id]
    assert len(rows) == 1 and rows[0]["name"] == name
    assert len(server.collection_rows(orbit_id)) == 4
    assert posts(server, orbit_id) == 1


def test_save_of_a_new_object_under_drop_after(server: LocalServer, session: Session,
                                               orbit_id: str, sleeps: list[float]) -> None:
    c = Collection(name="via save", collection_type="mixed", tags=["a", "a", "B"])
    server.add_fault(Fault(kind="drop_after", method="POST", path=orbit_id, times=1))
    c.save()
    (row,) = server.collection_rows(orbit_id)
    assert c.id == row["id"] and row["tags"] == ["a", "a", "B"]
    c.save()  # nothing changed: no request
    assert posts(server, orbit_id) == 1


@pytest.mark.parametrize("kind", ["drop_after", "drop"])
def test_async_creates_are_exactly_once_too(make_session: MakeSession, server: LocalServer,
                                            orbit_id: str, sleeps: Any, kind: str) -> None:
    s = make_session(retry=RetryPolicy(attempts=10, sleep=sleeps, async_sleep=sleeps.asleep))
    server.add_fault(Fault(kind=kind, method="POST", path=orbit_id, rate=0.3, seed=5))

    async def make() -> list[Collection]:
        try:
            return [await Collection.objects.using(s).acreate(name="a", collection_type="model")
                    for _ in range(20)]
        finally:
            await s.aclose()

    try:
        made = asyncio.run(make())
    finally:
        server.clear_faults()
        s.close()
    assert_exactly(server, orbit_id, made)
    assert (posts(server, orbit_id) == 20) == (kind == "drop_after")
