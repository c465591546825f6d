"""Fault injection: status, delay, drop and drop_after rules."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from dfserver_helpers import Api

from dataforce_orm.testing import Fault, LocalServer


@pytest.fixture
def faulty(api: Api) -> Iterator[Api]:
    api.server.clear_faults()
    yield api
    api.server.clear_faults()


def test_status_fault_for_next_n_matching(faulty: Api) -> None:
    srv = faulty.server
    before = srv.fault_counts.get("status:503", 0)
    srv.add_fault(Fault(kind="status", status=503, method="GET", path=r"/collections$", times=2))
    assert faulty.post({"name": "n", "description": "", "type": "model"}).status_code == 200
    first, second, third = faulty.get(), faulty.get(), faulty.get()
    assert (first.status_code, first.json()) == (503, {"detail": "Service Unavailable"})
    assert first.headers["x-frame-options"] == "DENY"
    assert second.status_code == 503 and third.status_code == 200
    assert srv.fault_counts["status:503"] == before + 2


@pytest.mark.parametrize("retry_after", ["2", "Wed, 21 Oct 2026 07:28:00 GMT"])
def test_429_with_retry_after(faulty: Api, retry_after: str) -> None:
    faulty.server.add_fault(Fault(kind="status", status=429, retry_after=retry_after, times=1))
    r = faulty.get()
    assert r.status_code == 429 and r.headers["retry-after"] == retry_after
    assert faulty.get().status_code == 200


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_statuses(faulty: Api, status: int) -> None:
    faulty.server.add_fault(Fault(kind="status", status=status, times=1))
    assert faulty.get().status_code == status


def test_status_fault_changes_nothing(faulty: Api) -> None:
    faulty.server.add_fault(Fault(kind="status", status=503, method="POST", times=1))
    assert faulty.post({"name": "n", "description": "", "type": "model"}).status_code == 503
    assert faulty.server.collection_rows(faulty.orbit) == []


def test_delay_fault(faulty: Api) -> None:
    faulty.server.add_fault(Fault(kind="delay", delay=0.3, times=1))
    start = time.monotonic()
    assert faulty.get().status_code == 200
    assert time.monotonic() - start >= 0.3
    start = time.monotonic()
    faulty.get()
    assert time.monotonic() - start < 0.3


def test_drop_closes_before_handling(faulty: Api) -> None:
    faulty.server.add_fault(Fault(kind="drop", method="POST", times=1))
    with pytest.raises(requests.ConnectionError):
        faulty.post({"name": "n", "description": "", "type": "model"})
    assert faulty.server.collection_rows(faulty.orbit) == []
    assert faulty.post({"name": "n", "description": "", "type": "model"}).status_code == 200
    assert faulty.server.fault_counts["drop"] >= 1


def test_drop_after_commits_then_closes(faulty: Api) -> None:
    faulty.server.add_fault(Fault(kind="drop_after", method="POST", times=1))
    with pytest.raises(requests.ConnectionError):
        faulty.post({"name": "committed", "description": "", "type": "model"})
    assert [r["name"] for r in faulty.server.collection_rows(faulty.orbit)] == ["committed"]
    assert faulty.server.fault_counts["drop_after"] >= 1


def test_seeded_rate_is_reproducible(faulty: Api) -> None:
    def run() -> list[int]:
        faulty.server.clear_faults()
        faulty.server.add_fault(Fault(kind="status", status=503, rate=0.3, seed=7))
        return [faulty.get().status_code for _ in range(40)]

    first, second = run(), run()
    assert first == second
    assert 3 <= first.count(503) <= 25 and first.count(200) > 0


def test_rules_in_order_first_applicable_wins(faulty: Api) -> None:
    srv = faulty.server
    srv.add_fault(Fault(kind="status", status=502, method="DELETE", times=5))
    srv.add_fault(Fault(kind="status", status=504, path=r"/collections", times=1))
    srv.add_fault(Fault(kind="status", status=503, times=1))
    assert [faulty.get().status_code for _ in range(3)] == [504, 503, 200]


def test_faults_only_on_v1_routes_and_clear(faulty: Api) -> None:
    srv = faulty.server
    srv.add_fault(Fault(kind="status", status=503))
    assert faulty.session.get(srv.url + "/nowhere").status_code == 404
    assert faulty.get().status_code == 503
    srv.clear_faults()
    assert faulty.get().status_code == 200


def test_fault_validation() -> None:
    with pytest.raises(ValueError):
        Fault(kind="explode")
    with pytest.raises(ValueError):
        Fault(kind="status")


def test_request_log(faulty: Api, server: LocalServer) -> None:
    server.reset_request_log()
    faulty.get(params={"limit": 5})
    faulty.session.get(server.url + "/nowhere")
    path = faulty.base.split(str(server.port), 1)[1]
    assert server.request_log == [("GET", path + "?limit=5"), ("GET", "/nowhere")]
    server.reset_request_log()
    assert server.request_log == []


def test_seeded_delay_rate(faulty: Api) -> None:
    faulty.server.add_fault(Fault(kind="delay", delay=0.05, rate=0.5, seed=3, method="GET"))
    before = faulty.server.fault_counts.get("delay", 0)
    codes = [faulty.get().status_code for _ in range(20)]
    assert set(codes) == {200}
    assert 2 <= faulty.server.fault_counts["delay"] - before <= 18
