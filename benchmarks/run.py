"""What the ORM costs over plain HTTP, scenario by scenario, against LocalServer.

Run (from the repository root):

    .venv/bin/python benchmarks/run.py            # full sizes, about 2 minutes
    .venv/bin/python benchmarks/run.py --quick    # small sizes, a smoke test (seconds)

For each scenario the same job is done by the ORM and by a raw ``requests.Session`` sending the
fewest requests that job needs; the table shows the median time per job of each, the median of
the per-round ORM/raw ratios (rounds interleave the two and alternate which goes first), the
requests each sent (the ORM's counted by ``dataforce_orm.testing.RequestCounter``, the raw
client's by itself), and peak traced memory (tracemalloc, measured in a separate untimed pass)
where memory is the point. Async rows are requests/second through ``httpx.AsyncClient`` (the
raw side) at the given concurrency; the sync get-by-id figure of the same run is beside them.

The server runs in a subprocess by default (its own GIL and core, like a real server, and
tracemalloc then sees only the client); ``--in-process`` runs it in a thread of this process.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import requests

from dataforce_orm import Collection, Session
from dataforce_orm.testing import LocalServer, RequestCounter

Job = Callable[[], object]


# -- the server: in this process, or in a child driven over stdin/stdout -------------------------


class Server:
    """A LocalServer and the data helpers the benchmark needs, wherever it runs."""

    url: str
    api_key: str
    organization_id: str

    def add_orbit(self, name: str) -> str:
        raise NotImplementedError

    def insert(self, orbit_id: str, names: list[str]) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _bodies(names: list[str]) -> list[dict[str, Any]]:
    return [{"name": n, "description": "benchmark row", "type": "model", "tags": ["bench"]}
            for n in names]


class InProcess(Server):
    def __init__(self) -> None:
        self.srv = LocalServer().start()
        self.url, self.api_key = self.srv.url, self.srv.api_key
        self.organization_id = self.srv.organization_id

    def add_orbit(self, name: str) -> str:
        return self.srv.add_orbit(self.organization_id, name)

    def insert(self, orbit_id: str, names: list[str]) -> list[str]:
        return self.srv.insert_collections(orbit_id, _bodies(names))

    def close(self) -> None:
        self.srv.close()


class Child(Server):
    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve"], text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        hello = self._read()
        self.url, self.api_key = hello["url"], hello["api_key"]
        self.organization_id = hello["organization_id"]

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark server process exited")
        return json.loads(line)

    def _call(self, **command: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def add_orbit(self, name: str) -> str:
        return str(self._call(op="orbit", name=name))

    def insert(self, orbit_id: str, names: list[str]) -> list[str]:
        return list(self._call(op="insert", orbit=orbit_id, names=names))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def serve_child() -> None:
    """The child's side: a LocalServer, and one JSON answer per JSON command line."""
    with LocalServer() as srv:
        print(json.dumps({"url": srv.url, "api_key": srv.api_key,
                          "organization_id": srv.organization_id}), flush=True)
        for line in sys.stdin:
            cmd = json.loads(line)
            if cmd["op"] == "orbit":
                out: Any = srv.add_orbit(srv.organization_id, cmd["name"])
            elif cmd["op"] == "artifact-limit":  # (targets.py uploads more than the default)
                out = srv.set_organization_limits(srv.organization_id, artifacts=cmd["limit"])
            else:
                out = srv.insert_collections(cmd["orbit"], _bodies(cmd["names"]))
            print(json.dumps(out), flush=True)


# -- the raw baseline ----------------------------------------------------------------------------


class Raw:
    """Plain ``requests``: the fewest requests each job needs, counting them."""

    def __init__(self, server: Server, orbit_id: str) -> None:
        self.http = requests.Session()
        self.http.trust_env = False  # as the ORM does: no proxy/netrc lookups per request
        self.http.headers["Authorization"] = f"Bearer {server.api_key}"
        self.base = (f"{server.url}/v1/organizations/{server.organization_id}/orbits/"
                     f"{orbit_id}/collections")
        self.sent = 0

    def call(self, method: str, path: str = "", **kw: Any) -> Any:
        self.sent += 1
        r = self.http.request(method, self.base + path, **kw)
        r.raise_for_status()
        return r.json() if r.content else None

    def pages(self, params: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
        params = {"limit": "100", **params}
        while True:
            page = self.call("GET", params=params)
            yield page["items"]
            if not page["cursor"]:
                return
            params["cursor"] = page["cursor"]

    def get_by_name(self, name: str) -> dict[str, Any]:
        found = [c for items in self.pages({"search": name}) for c in items if c["name"] == name]
        if len(found) != 1:
            raise LookupError(f"{len(found)} named {name!r}")
        return found[0]


# -- measuring -----------------------------------------------------------------------------------


class Row:
    """One line of the table."""

    def __init__(self, name: str, orm: str, raw: str = "-", ratio: str = "-", orm_req: str = "-",
                 raw_req: str = "-", rounds: str = "", mem: str = "") -> None:
        self.cells = [name, orm, raw, ratio, orm_req, raw_req, rounds, mem]


HEAD = ["scenario", "ORM", "raw", "ORM/raw", "ORM req", "raw req", "rounds", "peak mem ORM / raw"]
WIDTHS = [34, 11, 11, 8, 8, 8, 9, 20]


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def fmt_mem(size: float) -> str:
    return f"{size / 2**20:.2f} MB" if size >= 2**20 else f"{size / 2**10:.0f} KB"


def print_row(cells: list[str]) -> None:
    first, rest = cells[0], cells[1:]
    middle = "".join(f"{c:>{w}}" for c, w in zip(rest[:-1], WIDTHS[1:-1], strict=True))
    print(f"{first:<{WIDTHS[0]}}{middle}  {rest[-1]}".rstrip(), flush=True)


def timed(job: Job, reps: int) -> float:
    start = time.perf_counter()
    for _ in range(reps):
        job()
    return (time.perf_counter() - start) / reps


def compare(orm: Job, raw: Job, reps: int, rounds: int,
            before: Callable[[str], object] | None = None) -> tuple[float, float, float]:
    """Median seconds per job of each side, and the median per-round ratio."""
    times: dict[str, list[float]] = {"orm": [], "raw": []}
    for r in range(rounds):
        sides = [("orm", orm), ("raw", raw)]
        for side, job in sides if r % 2 == 0 else sides[::-1]:
            if before is not None:
                before(side)
            times[side].append(timed(job, reps))
    ratios = [o / w for o, w in zip(times["orm"], times["raw"], strict=True)]
    return statistics.median(times["orm"]), statistics.median(times["raw"]), \
        statistics.median(ratios)


def count_orm(job: Job) -> int:
    with RequestCounter() as sent:
        job()
    return sent.total


def count_raw(raw: Raw, job: Job) -> int:
    before = raw.sent
    job()
    return raw.sent - before


def peak(job: Job) -> int:
    """Peak traced memory above what was allocated before ``job`` ran."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        job()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


# -- the scenarios -------------------------------------------------------------------------------


class Bench:
    """The scenarios. Each runs ``rounds`` rounds of ``reps`` jobs per side: many short rounds
    for the small jobs (each side then sees the same moments of a busy machine), 5 for the
    large ones (3 with --quick)."""

    def __init__(self, server: Server, quick: bool) -> None:
        self.server, self.quick = server, quick
        self.rows: list[Row] = []
        self.checks: list[tuple[str, str, bool]] = []
        self.sync_get = (0.0, 0.0)  # seconds per get by id: ORM, raw

    def orbit(self, name: str, names: list[str] | None = None
              ) -> tuple[Session, Raw, str, list[str]]:
        """A new orbit holding ``names``: an ORM session and a raw client on it, its id, ids."""
        orbit_id = self.server.add_orbit(name)
        ids = self.server.insert(orbit_id, names) if names else []
        session = Session(api_key=self.server.api_key, base_url=self.server.url,
                          organization=self.server.organization_id, orbit=orbit_id)
        return session, Raw(self.server, orbit_id), orbit_id, ids

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def plan(self, rounds: int, reps: int) -> tuple[int, int]:
        """(rounds, reps) for a full run; far fewer with --quick."""
        return (min(rounds, 3), max(1, reps // 5)) if self.quick else (rounds, reps)

    def add(self, name: str, orm: Job, raw: Raw, raw_job: Job, plan: tuple[int, int], *,
            before: Callable[[str], object] | None = None, mem: str = ""
            ) -> tuple[float, float, float, int]:
        """Time one scenario; returns (ORM s/job, raw s/job, ratio, ORM requests per job)."""
        if before is not None:
            before("orm")
        orm_req = count_orm(orm)  # the warm-up run of each side is the counted one
        if before is not None:
            before("raw")
        raw_req = count_raw(raw, raw_job)
        rounds, reps = plan
        o, w, ratio = compare(orm, raw_job, reps, rounds, before)
        self.rows.append(Row(name, fmt_time(o), fmt_time(w), f"{ratio:.2f}", str(orm_req),
                             str(raw_req), f"{rounds}x{reps}", mem))
        return o, w, ratio, orm_req

    def run(self) -> None:
        self.session_construction()
        self.create()
        self.gets()
        self.updates()
        self.iteration()
        self.bulk_delete()
        self.concurrency()

    def session_construction(self) -> None:
        with RequestCounter() as sent:
            s = Session(api_key=self.server.api_key, base_url=self.server.url,
                        organization="Default Organization", orbit="Default Orbit")
        s.close()
        self.checks.append(("Session(...) sends no request", str(sent.total), sent.total == 0))

    def create(self) -> None:
        session, raw, _, _ = self.orbit("bench-create")
        qs = Collection.objects.using(session)
        body = {"name": "created", "description": "", "type": "model", "tags": ["bench"]}
        self.add("create", lambda: qs.create(name="created", collection_type="model",
                                             tags=["bench"]),
                 raw, lambda: raw.call("POST", json=body), self.plan(41, 10))

    def gets(self) -> None:
        n, shared = self.n(2000, 200), self.n(999, 99)
        names = ["shared", *(f"shared-{i:04d}" for i in range(shared))]
        names += [f"coll-{i:04d}" for i in range(n - len(names))]
        session, raw, _, ids = self.orbit("bench-get", names)
        qs = Collection.objects.using(session)
        cid, unique = ids[-1], names[-1]
        o, w, ratio, orm_req = self.add("get by id", lambda: qs.get(id=cid), raw,
                                        lambda: raw.call("GET", f"/{cid}"), self.plan(101, 10))
        self.sync_get = (o, w)
        self.checks.append(("get by id: ORM/raw <= 1.10", f"{ratio:.2f}", ratio <= 1.10))
        self.checks.append(("get by id: 1 request", str(orm_req), orm_req == 1))
        *_, orm_req = self.add(f"get by unique name ({n:,} rows)", lambda: qs.get(name=unique),
                               raw, lambda: raw.get_by_name(unique), self.plan(41, 5))
        self.checks.append(("get by unique exact name: 1 request", str(orm_req), orm_req == 1))
        pages = math.ceil((shared + 1) / 100)
        *_, orm_req = self.add(
            f"get by name {shared} others contain", lambda: qs.get(name="shared"), raw,
            lambda: raw.get_by_name("shared"), self.plan(15, 1))
        self.checks.append((f"get by a name {shared} others contain: <= {pages} requests "
                            "(search pages at limit=100)", str(orm_req), orm_req <= pages))

    def updates(self) -> None:
        # Separate rows: each side's writes would otherwise be the other's conflicts.
        session, raw, _, (cid, raw_id) = self.orbit("bench-update", ["orm-row", "raw-row"])
        obj = Collection.objects.using(session).get(id=cid)
        loaded = raw.call("GET", f"/{raw_id}")
        step = iter(range(10**9))

        def orm_update(force: bool = False) -> None:
            obj.description = f"v{next(step)}"
            obj.save(force=force)

        def raw_update(read: bool = True) -> None:
            current = raw.call("GET", f"/{raw_id}") if read else loaded
            body = {"name": current["name"], "description": f"v{next(step)}",
                    "tags": current["tags"]}
            raw.call("PATCH", f"/{raw_id}", json=body)

        *_, orm_req = self.add("update one field (read, PATCH)", orm_update, raw, raw_update,
                               self.plan(41, 5))
        self.checks.append(("update of a loaded object: 2 requests", str(orm_req), orm_req == 2))
        *_, orm_req = self.add("update one field, force=True", lambda: orm_update(True), raw,
                               lambda: raw_update(False), self.plan(41, 10))
        self.checks.append(("update with force=True: 1 request", str(orm_req), orm_req == 1))
        reps = self.n(20000, 2000)
        orm_req = count_orm(obj.save)
        self.rows.append(Row("save() with nothing changed", fmt_time(timed(obj.save, reps)),
                             orm_req=str(orm_req), raw_req="0", rounds=f"1x{reps}"))
        self.checks.append(("save() with nothing changed: 0 requests", str(orm_req),
                            orm_req == 0))

    def iteration(self) -> None:
        n = self.n(20000, 2000)
        session, raw, _, _ = self.orbit("bench-iterate", [f"row-{i:05d}" for i in range(n)])
        qs = Collection.objects.using(session)

        def orm_iterate() -> None:
            for _ in qs.iterator():
                pass

        def raw_iterate() -> None:
            for items in raw.pages({}):
                for _ in items:
                    pass

        mem_iter, mem_list, mem_raw = peak(orm_iterate), peak(lambda: list(qs.all())), \
            peak(raw_iterate)
        self.add(f"iterate {n:,} with iterator()", orm_iterate, raw, raw_iterate, self.plan(5, 1),
                 mem=f"{fmt_mem(mem_iter)} / {fmt_mem(mem_raw)}")
        self.add(f"list(qs) of {n:,}", lambda: list(qs.all()), raw, raw_iterate, self.plan(5, 1),
                 mem=f"{fmt_mem(mem_list)} / {fmt_mem(mem_raw)}")
        self.checks.append((f"iterator() over {n:,}: peak traced memory < 5 MB",
                            fmt_mem(mem_iter), mem_iter < 5 * 2**20))
        self.add(f"count() of {n:,}", qs.count, raw,
                 lambda: sum(len(items) for items in raw.pages({})), self.plan(5, 1))

    def bulk_delete(self) -> None:
        n = self.n(1000, 100)
        session, raw, orbit_id, _ = self.orbit("bench-delete")
        qs = Collection.objects.using(session)

        def seed(side: str) -> None:
            self.server.insert(orbit_id, [f"gone-{i:04d}" for i in range(n)])

        def raw_delete() -> None:
            ids = [c["id"] for items in raw.pages({}) for c in items]
            for cid in ids:
                raw.call("DELETE", f"/{cid}")

        self.add(f"bulk delete of {n:,} (qs.delete())", qs.delete, raw, raw_delete,
                 self.plan(5, 1), before=seed)

    def concurrency(self) -> None:
        session, raw, _, (cid,) = self.orbit("bench-async", ["async-row"])
        total, rounds = self.n(640, 64), self.n(9, 3)
        loop = asyncio.new_event_loop()
        client = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {self.server.api_key}"}, trust_env=False,
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=32))
        url = f"{raw.base}/{cid}"
        qs = Collection.objects.using(session)

        async def orm_one() -> None:
            await qs.aget(id=cid)

        async def raw_one() -> None:
            r = await client.get(url)
            r.raise_for_status()
            r.json()

        async def drive(one: Callable[[], Any], workers: int) -> None:
            async def worker() -> None:
                for _ in range(total // workers):
                    await one()

            await asyncio.gather(*(worker() for _ in range(workers)))

        try:
            o, w = self.sync_get
            self.rows.append(Row("get by id, sync (req/s)", f"{1 / o:,.0f}", f"{1 / w:,.0f}",
                                 f"{o / w:.2f}", "1", "1", "(above)"))
            for workers in (1, 8, 32):
                def orm(w: int = workers) -> None:
                    loop.run_until_complete(drive(orm_one, w))

                def raw_job(w: int = workers) -> None:
                    loop.run_until_complete(drive(raw_one, w))

                raw_job()  # warm the raw client's connections
                orm_req = count_orm(lambda: loop.run_until_complete(orm_one()))
                o, w, ratio = compare(orm, raw_job, 1, rounds)
                per = total // workers * workers
                self.rows.append(Row(f"get by id, async x{workers} (req/s)", f"{per / o:,.0f}",
                                     f"{per / w:,.0f}", f"{ratio:.2f}", str(orm_req), "1",
                                     f"{rounds}x{per}"))
        finally:
            loop.run_until_complete(client.aclose())
            loop.run_until_complete(session.aclose())
            loop.close()

    def report(self, mode: str, elapsed: float) -> None:
        print(f"dataforce-orm benchmarks ({'quick' if self.quick else 'full'}), server {mode}, "
              f"Python {platform.python_version()}; times are medians per job, ORM/raw the median "
              "of per-round ratios (rounds x jobs per round)")
        print_row(HEAD)
        for row in self.rows:
            print_row(row.cells)
        print("\ntargets")
        for what, got, ok in self.checks:
            print(f"  {'ok  ' if ok else 'MISS'} {what}: {got}")
        print(f"\n(took {elapsed:.0f} s)")


@contextmanager
def server(in_process: bool) -> Iterator[Server]:
    srv: Server = InProcess() if in_process else Child()
    try:
        yield srv
    finally:
        srv.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--in-process", action="store_true",
                        help="run the server in a thread of this process")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve_child()
        return
    start = time.perf_counter()
    with server(args.in_process) as srv:
        bench = Bench(srv, args.quick)
        bench.run()
    bench.report("in process" if args.in_process else "in a subprocess",
                 time.perf_counter() - start)


if __name__ == "__main__":
    main()
