"""Request-count targets (issue 7), counted with RequestCounter against LocalServer.

Counts are deterministic, so they are asserted exactly (or against the server's page count);
timings are never asserted here: benchmarks/run.py measures them.
"""

from __future__ import annotations

import logging
import math
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from parity import AsyncMode, MakeSession, SyncMode

from dataforce_orm import Collection, DataForceClient, Session
from dataforce_orm.testing import Fault, LocalServer, RequestCounter

Mode = SyncMode | AsyncMode
ROOT = Path(__file__).resolve().parent.parent


def seed(server: LocalServer, orbit_id: str, names: list[str]) -> list[str]:
    bodies = [{"name": n, "description": "", "type": "model", "tags": ["t"]} for n in names]
    return server.insert_collections(orbit_id, bodies)


def search_pages(server: LocalServer, orbit_id: str, term: str) -> int:
    """Pages of the server's search results for ``term`` at limit=100 (at least one)."""
    hits = [r for r in server.collection_rows(orbit_id) if term.lower() in r["name"].lower()]
    return max(1, math.ceil(len(hits) / 100))


# -- the counter itself --------------------------------------------------------------------


def test_counter_counts_per_method_and_path(session: Session, orbit_id: str) -> None:
    with RequestCounter() as sent:
        c = Collection.objects.create(name="a", collection_type="model")
        Collection.objects.get(id=c.id)
        c.delete()
    assert sent.total == 3
    assert sent.by_method == {"POST": 1, "GET": 1, "DELETE": 1}
    assert [(m, s) for m, _, s in sent.requests] == [("POST", 200), ("GET", 200), ("DELETE", 204)]
    assert all(orbit_id in path for _, path, _ in sent.requests)
    sent.reset()
    assert sent.total == 0 and sent.by_method["GET"] == 0
    assert "total=0" in repr(sent)


def test_counter_counts_retries_and_error_answers(server: LocalServer, session: Session,
                                                  orbit_id: str) -> None:
    (cid,) = seed(server, orbit_id, ["x"])
    server.add_fault(Fault(kind="status", status=503, method="GET", path=orbit_id, times=1))
    with RequestCounter() as sent:
        Collection.objects.get(id=cid)
        with pytest.raises(Collection.DoesNotExist):
            Collection.objects.get(id="00000000-0000-4000-8000-000000000000")
    assert [s for _, _, s in sent.requests] == [503, 200, 404]


def test_counter_nests_and_restores_the_logger(server: LocalServer, session: Session,
                                               orbit_id: str) -> None:
    (cid,) = seed(server, orbit_id, ["x"])
    logger = logging.getLogger("dataforce_orm")
    before, filters = logger.level, list(logger.filters)  # (the library's own: secret masking)
    with RequestCounter() as outer:
        Collection.objects.get(id=cid)
        with RequestCounter() as inner:
            Collection.objects.get(id=cid)
        Collection.objects.get(id=cid)
    Collection.objects.get(id=cid)  # after both: counted by neither
    assert (outer.total, inner.total) == (3, 1)
    assert logger.level == before and logger.filters == filters


def test_counter_adds_no_records_for_handlers(server: LocalServer, session: Session,
                                              orbit_id: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    (cid,) = seed(server, orbit_id, ["x"])
    caplog.set_level(logging.INFO)
    with RequestCounter() as sent:
        Collection.objects.get(id=cid)
    assert sent.total == 1
    assert not [r for r in caplog.records if r.name == "dataforce_orm"]
    caplog.set_level(logging.DEBUG, logger="dataforce_orm")
    with RequestCounter() as sent:
        Collection.objects.get(id=cid)
    assert sent.total == 1  # and, asked for, the handlers still get the DEBUG record
    assert len([r for r in caplog.records if r.levelno == logging.DEBUG]) == 1


def test_counter_sees_other_threads_and_async(server: LocalServer, session: Session,
                                              orbit_id: str) -> None:
    import threading

    (cid,) = seed(server, orbit_id, ["x"])
    mode = AsyncMode(session)
    try:
        with RequestCounter() as sent:
            worker = threading.Thread(target=lambda: Collection.objects.using(session).get(id=cid))
            worker.start()
            worker.join()
            mode.get(Collection.objects, id=cid)
    finally:
        mode.close()
    assert sent.by_method == {"GET": 2}


# -- the targets ----------------------------------------------------------------------------


def test_constructing_a_session_or_client_sends_nothing(server: LocalServer) -> None:
    logged = len(server.request_log)
    with RequestCounter() as sent:
        s = Session(api_key=server.api_key, base_url=server.url,
                    organization="Default Organization", orbit="Default Orbit")
        client = DataForceClient(base_url=server.url, api_key=server.api_key,
                                 organization="Default Organization", orbit="Default Orbit")
    assert sent.total == 0 and len(server.request_log) == logged
    s.close()
    client.session.close()


def test_scope_resolves_once_per_session(make_session: MakeSession, server: LocalServer) -> None:
    name = f"counted-{uuid.uuid4().hex[:8]}"
    orbit_id = server.add_orbit(server.organization_id, name)
    (cid,) = seed(server, orbit_id, ["x"])
    s = make_session(organization="Default Organization", orbit=name)
    with RequestCounter() as first:
        Collection.objects.using(s).get(id=cid)
    with RequestCounter() as later:
        for _ in range(3):
            Collection.objects.using(s).get(id=cid)
    s.close()
    assert first.total == 3  # organizations, orbits, then the GET
    assert later.total == 3  # one GET per call: the scope is never resolved again


def test_get_by_id_sends_one(server: LocalServer, session: Session, orbit_id: str,
                             m: Mode) -> None:
    (cid,) = seed(server, orbit_id, ["x"])
    with RequestCounter() as sent:
        got = m.get(Collection.objects, id=cid)
    assert got.id == cid and sent.by_method == {"GET": 1}


def test_get_by_unique_exact_name_sends_one(server: LocalServer, session: Session,
                                            orbit_id: str, m: Mode) -> None:
    seed(server, orbit_id, [f"coll-{i:04d}" for i in range(2000)])
    with RequestCounter() as sent:
        got = m.get(Collection.objects, name="coll-1234")
    assert got.name == "coll-1234"
    assert sent.total == 1 == search_pages(server, orbit_id, "coll-1234")


def test_get_by_a_name_many_contain_sends_no_more_than_the_search_pages(
        server: LocalServer, session: Session, orbit_id: str, m: Mode) -> None:
    seed(server, orbit_id, ["shared", *(f"shared-{i:04d}" for i in range(999)),
                            *(f"other-{i:04d}" for i in range(1000))])
    pages = search_pages(server, orbit_id, "shared")
    with RequestCounter() as sent:
        got = m.get(Collection.objects, name="shared")
    assert got.name == "shared"
    assert pages == 10 and sent.total <= pages and sent.by_method == {"GET": sent.total}


def test_create_sends_one_post(session: Session, m: Mode) -> None:
    with RequestCounter() as sent:
        c = m.create(Collection.objects, name="new", collection_type="model")
    assert c.id is not None and sent.by_method == {"POST": 1}


def test_update_of_a_loaded_object_reads_then_patches(server: LocalServer, session: Session,
                                                      orbit_id: str, m: Mode) -> None:
    (cid,) = seed(server, orbit_id, ["x"])
    c = m.get(Collection.objects, id=cid)
    c.description = "changed"
    with RequestCounter() as sent:
        m.save(c)
    assert [method for method, _, _ in sent.requests] == ["GET", "PATCH"]
    c.description = "forced"
    with RequestCounter() as sent:
        m.save(c, force=True)
    assert [method for method, _, _ in sent.requests] == ["PATCH"]
    assert server.collection_rows(orbit_id)[0]["description"] == "forced"


def test_save_with_nothing_changed_sends_nothing(server: LocalServer, session: Session,
                                                 orbit_id: str, m: Mode) -> None:
    seed(server, orbit_id, ["x", "y"])
    loaded = m.list(Collection.objects.all())
    with RequestCounter() as sent:
        for c in loaded:
            m.save(c)
            m.save(c, force=True)
        loaded[0].description = loaded[0].description  # set to the same value
        m.save(loaded[0])
    assert sent.total == 0


def test_unchanged_server_data_is_not_revalidated(server: LocalServer, session: Session,
                                                  orbit_id: str) -> None:
    # Rows the library would not accept from a caller: a name past today's limit (older
    # rows), and a type newer than this library (loaded as its text).
    long_id, newer_id = server.insert_collections(orbit_id, [
        {"name": "n" * 150, "description": "", "type": "model"},
        {"name": "newer", "description": "", "type": "futuristic"}])
    legacy = Collection.objects.get(id=long_id)
    newer = Collection.objects.get(id=newer_id)
    with RequestCounter() as sent:
        legacy.save()
        newer.save()
    assert sent.total == 0
    newer.description = "changed"
    with RequestCounter() as sent:
        newer.save()
    assert sent.by_method == {"GET": 1, "PATCH": 1}
    assert newer.collection_type == "futuristic"
    row = next(r for r in server.collection_rows(orbit_id) if r["id"] == newer_id)
    assert row["description"] == "changed"


def test_count_and_iteration_send_one_request_per_page(server: LocalServer, session: Session,
                                                       orbit_id: str) -> None:
    n = 250
    seed(server, orbit_id, [f"c{i}" for i in range(n)])
    with RequestCounter() as counted:
        assert Collection.objects.count() == n
    with RequestCounter() as iterated:
        assert sum(1 for _ in Collection.objects.iterator()) == n
    assert counted.total == iterated.total == math.ceil(n / 100)


def test_bulk_delete_lists_then_deletes_each(server: LocalServer, session: Session,
                                             orbit_id: str) -> None:
    seed(server, orbit_id, [f"d{i}" for i in range(150)])
    with RequestCounter() as sent:
        assert Collection.objects.delete() == 150
    assert sent.by_method == {"GET": 2, "DELETE": 150}
    assert server.collection_rows(orbit_id) == []


# -- the benchmark script ---------------------------------------------------------------------


def test_benchmark_quick_run_prints_the_table() -> None:
    start = time.monotonic()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - start < 60
    lines = out.stdout.splitlines()
    header = next(line for line in lines if line.startswith("scenario"))
    for column in ("ORM", "raw", "ORM/raw", "ORM req", "raw req"):
        assert column in header
    for scenario in ("create", "get by id", "get by unique name", "get by name",
                     "update one field", "save() with nothing changed", "iterate", "list(qs)",
                     "count()", "bulk delete", "get by id, sync", "get by id, async x32"):
        assert any(line.startswith(scenario) for line in lines), scenario
    assert "targets" in lines
