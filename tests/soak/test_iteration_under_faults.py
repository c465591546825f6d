"""Full iterations over 2,000 collections while a quarter of the page requests fail."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterator

import pytest

from dataforce_orm import Collection, RetryPolicy, Session
from dataforce_orm.testing import Fault, LocalServer

N = 2000
RATE = 0.25


@pytest.fixture(scope="module")
def big(server: LocalServer) -> tuple[str, list[str]]:
    """An orbit holding N collections (inserted directly), and their ids."""
    orbit = server.add_orbit(server.organization_id, "iteration-under-faults")
    bodies = [{"name": f"c{i:04d}", "type": ("model", "dataset")[i % 2],
               "tags": ["even"] if i % 2 == 0 else None} for i in range(N)]
    return orbit, server.insert_collections(orbit, bodies)


@pytest.fixture
def faulty(server: LocalServer, big: tuple[str, list[str]],
           request: pytest.FixtureRequest) -> Iterator[Session]:
    """A session on the big orbit while a seeded RATE of its requests fail in every way."""
    orbit, _ = big
    kinds = [{"kind": "status", "status": 502}, {"kind": "status", "status": 503},
             {"kind": "status", "status": 504}, {"kind": "status", "status": 429,
                                                 "retry_after": "1"},
             {"kind": "drop"}, {"kind": "drop_after"}, {"kind": "delay", "delay": 0.5}]
    share = RATE / len(kinds)
    seed = sum(map(ord, request.node.name))
    for i, kw in enumerate(kinds):
        server.add_fault(Fault(path=orbit, rate=share / (1 - i * share), seed=seed + i, **kw))
    s = Session(api_key=server.api_key, base_url=server.url,
                organization=server.organization_id, orbit=orbit, timeout=(5.0, 0.25),
                retry=RetryPolicy(attempts=12, backoff=0.001, max_backoff=0.01,
                                  max_retry_after=0.01))
    yield s
    server.clear_faults()
    s.close()


def _exactly_once(got: list[str | None], want: list[str]) -> None:
    twice = [i for i, n in Counter(got).items() if n > 1]
    assert twice == [], f"{len(twice)} listed more than once"
    assert set(got) == set(want) and len(got) == len(want)


def _retries(caplog: pytest.LogCaptureFixture) -> int:
    return sum(r.name == "dataforce_orm" and r.levelno == logging.WARNING for r in caplog.records)


@pytest.mark.parametrize("order", [(), ("name",), ("-total_artifacts",)])
def test_iterator_returns_each_exactly_once(faulty: Session, big: tuple[str, list[str]],
                                            server: LocalServer,
                                            caplog: pytest.LogCaptureFixture,
                                            order: tuple[str, ...]) -> None:
    caplog.set_level(logging.WARNING, logger="dataforce_orm")
    before = sum(server.fault_counts.values())
    qs = Collection.objects.using(faulty).order_by(*order) if order else (
        Collection.objects.using(faulty).all())
    got = [c.id for c in qs.iterator()]
    _exactly_once(got, big[1])
    if order == ("name",):
        assert got == big[1]  # inserted in name order
    assert sum(server.fault_counts.values()) - before >= 3  # pages really failed
    assert _retries(caplog) >= 3


def test_async_iteration_returns_each_exactly_once(faulty: Session, big: tuple[str, list[str]],
                                                   server: LocalServer) -> None:
    before = sum(server.fault_counts.values())

    async def run() -> list[str | None]:
        try:
            return [c.id async for c in Collection.objects.using(faulty).all()]
        finally:
            await faulty.aclose()

    _exactly_once(asyncio.run(run()), big[1])
    assert sum(server.fault_counts.values()) - before >= 3


def test_filtered_iteration_under_faults(faulty: Session, big: tuple[str, list[str]]) -> None:
    even = big[1][::2]
    got = [c.id for c in Collection.objects.using(faulty).filter(tags__contains="even")]
    _exactly_once(got, even)
    datasets = Collection.objects.using(faulty).filter(collection_type="dataset")
    assert datasets.count() == N // 2
