"""The ORM's cost targets, each figure printed beside its target with MET or MISS.

Run (from the repository root):

    .venv/bin/python benchmarks/targets.py            # full sizes, a few minutes
    .venv/bin/python benchmarks/targets.py --quick    # small sizes, a smoke test (seconds)
    .venv/bin/python benchmarks/targets.py --check    # exit status 1 if any target is missed

The LocalServer runs in another process (``benchmarks/run.py --serve``), so its work is not
counted. Each figure interleaves the ORM with plain ``requests`` doing the same request and
``.json()`` (``trust_env=False``: no environment lookups per request), alternating which goes
first, and reports the medians over rounds of the ORM's time, the raw client's and their
per-round ratio. The CPU figures are this process's CPU time (``time.process_time``); the
iteration figure is wall time.

With ``distributed`` installed (the dev extra), the Dask recipe of docs/artifacts.md (run as
written there) uploads and downloads artifacts through a LocalCluster of two worker processes,
timed (wall) beside the same transfers one after another in this process: a figure, not a
target.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Child, fmt_time  # (the benchmark server of run.py, beside this file)

from dataforce_orm import Collection, Session
from dataforce_orm.testing import make_luml_archive

DOCS = Path(__file__).resolve().parent.parent / "docs" / "artifacts.md"

Job = Callable[[], object]
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


class Raw:
    """Plain ``requests``: one GET and its ``.json()``."""

    def __init__(self, server: Child, orbit_id: str) -> None:
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {server.api_key}"
        self.base = (f"{server.url}/v1/organizations/{server.organization_id}/orbits/"
                     f"{orbit_id}/collections")

    def get(self, path: str = "", params: dict[str, str] | None = None) -> Any:
        r = self.http.get(self.base + path, params=params)
        r.raise_for_status()
        return r.json()

    def walk(self) -> None:
        """Every row of the listing, page by page (as the ORM walks it)."""
        params = {"limit": "100"}
        while True:
            page = self.get(params=params)
            for _ in page["items"]:
                pass
            if not page["cursor"]:
                return
            params["cursor"] = page["cursor"]


def measure(orm: Job, raw: Job, rounds: int, reps: int, clock: str
            ) -> tuple[float, float, float]:
    """Median seconds per job of each side by ``clock``, and the median per-round ratio."""
    now = CLOCKS[clock]
    orm(), raw()  # warm both
    times: dict[str, list[float]] = {"orm": [], "raw": []}
    for r in range(rounds):
        sides = [("orm", orm), ("raw", raw)]
        for side, job in sides if r % 2 == 0 else sides[::-1]:
            start = now()
            for _ in range(reps):
                job()
            times[side].append((now() - start) / reps)
    ratios = [o / w for o, w in zip(times["orm"], times["raw"], strict=True)]
    return (statistics.median(times["orm"]), statistics.median(times["raw"]),
            statistics.median(ratios))


class Targets:
    """The figures, and whether each meets its target."""

    HEAD = f"{'figure':<52}{'ORM':>11}{'raw':>11}{'ORM/raw':>9}{'target':>9}  result"

    def __init__(self, quick: bool, dask: bool = True) -> None:
        self.quick, self.with_dask = quick, dask
        self.lines: list[str] = []
        self.missed: list[str] = []

    def plan(self, rounds: int, reps: int) -> tuple[int, int]:
        return (min(rounds, 3), max(1, reps // 10)) if self.quick else (rounds, reps)

    def figure(self, name: str, orm: Job, raw: Job, plan: tuple[int, int], clock: str,
               target: float) -> None:
        o, w, ratio = measure(orm, raw, *plan, clock)
        met = ratio <= target
        if not met:
            self.missed.append(name)
        self.add(f"{name} ({clock})", fmt_time(o), fmt_time(w), f"{ratio:.3f}",
                 f"<= {target:.2f}", "MET" if met else "MISS", f"({plan[0]}x{plan[1]})")

    def add(self, *cells: str) -> None:
        name, orm, raw, ratio, target, *rest = cells
        line = f"{name:<52}{orm:>11}{raw:>11}{ratio:>9}{target:>9}  {' '.join(rest)}"
        self.lines.append(line)
        print(line, flush=True)

    def run(self, server: Child) -> None:
        print(self.HEAD, flush=True)
        rows = 2000 if self.quick else 20000
        orbit_id = server.add_orbit("targets")
        ids = server.insert(orbit_id, [f"row-{i:05d}" for i in range(rows)])
        session = Session(api_key=server.api_key, base_url=server.url,
                          organization=server.organization_id, orbit=orbit_id)
        raw = Raw(server, orbit_id)
        qs = Collection.objects.using(session)
        cid = ids[len(ids) // 2]
        self.figure("get by id, per call", lambda: qs.get(id=cid),
                    lambda: raw.get(f"/{cid}"), self.plan(41, 40), "cpu", 1.05)
        self.figure("list(all()[:100]), per call", lambda: list(qs.all()[:100]),
                    lambda: raw.get(params={"limit": "100"}), self.plan(31, 10), "cpu", 1.5)

        def orm_iterate() -> None:
            for _ in qs.iterator():
                pass

        self.figure(f"iterate {rows:,} rows (iterator())", orm_iterate, raw.walk,
                    self.plan(7, 1), "wall", 1.15)
        session.close()
        if self.with_dask:
            self.dask(server)

    def dask(self, server: Child) -> None:
        """The Dask recipe on two worker processes beside one process (a figure only)."""
        try:
            import distributed
        except ImportError:
            print("(Dask figures left out: pip install distributed)")
            return
        n, size = (4, 64 * 1024) if self.quick else (16, 4 * 2**20)
        rounds = 1 if self.quick else 3
        server._call(op="artifact-limit", limit=1_000_000)
        orbit_id = server.add_orbit("targets-dask")
        session = Session(api_key=server.api_key, base_url=server.url,
                          organization=server.organization_id, orbit=orbit_id)
        collection = Collection.objects.using(session).create(name="fan-out",
                                                              collection_type="model")
        steps = recipe()
        with tempfile.TemporaryDirectory() as tmp, distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True,
                dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            paths = [str(make_luml_archive(Path(tmp) / f"a{i}.luml",
                                           files={"w.bin": os.urandom(size)}))
                     for i in range(n)]
            out = Path(tmp) / "out"
            out.mkdir()

            def one_up() -> None:
                for p in paths:
                    collection.artifacts.upload(p)

            def one_down() -> None:
                for a in collection.artifacts.all()[:n]:
                    a.download(out)

            def fan_up() -> None:
                steps.upload_all(client, session, collection, paths)

            def fan_down() -> None:
                steps.download_all(client, session, list(collection.artifacts.all()[:n]),
                                   str(out))

            what = f"{n} x {size // 1024:,} KiB"
            for name, fan, one in ((f"upload {what}: 2 workers / 1 process", fan_up, one_up),
                                   (f"download {what}: 2 workers / 1 process", fan_down,
                                    one_down)):
                o, w, ratio = measure(fan, one, rounds, 1, "wall")
                self.add(f"{name} (wall)", fmt_time(o), fmt_time(w), f"{ratio:.3f}", "-",
                         "figure", f"({rounds}x1; 'raw' is one process)")
        session.close()


def recipe() -> types.ModuleType:
    """The Dask recipe's definitions, as docs/artifacts.md has them (its first code block
    there), as a module the workers cannot import: its functions travel by value."""
    text = DOCS.read_text()
    section = text[text.index("## Many artifacts over worker processes"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    module = types.ModuleType("dask_recipe")
    exec(compile(code[1], str(DOCS), "exec"), module.__dict__)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if any target is missed")
    parser.add_argument("--no-dask", action="store_true", help="leave out the Dask figures")
    args = parser.parse_args()
    targets = Targets(args.quick, dask=not args.no_dask)
    print(f"dataforce-orm targets ({'quick' if args.quick else 'full'}): medians of "
          "interleaved rounds against a LocalServer in another process", flush=True)
    server = Child()
    try:
        targets.run(server)
    finally:
        server.close()
    if targets.missed:
        print(f"\nmissed: {', '.join(targets.missed)}")
        if args.check:
            sys.exit(1)


if __name__ == "__main__":
    main()
