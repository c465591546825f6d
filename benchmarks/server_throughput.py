"""Requests per second the LocalServer sustains over keep-alive (get-by-id and list pages).

Run: python benchmarks/server_throughput.py [--seconds 2] [--process]
By default the server runs in this process (as in tests, sharing the GIL with the clients);
--process also measures it in its own process (``python -m dataforce_orm serve``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import requests

from dataforce_orm.testing import LocalServer

Target = tuple[str, str, str]  # (collections url, api key, one collection id)


def measure(threads: int, seconds: float, make: Callable[[], Callable[[], None]]) -> float:
    """Requests/second from `threads` clients, each looping over its own keep-alive call."""
    counts = [0] * threads
    gate = threading.Barrier(threads + 1)
    deadline = [0.0]

    def run(slot: int) -> None:
        call = make()
        call()  # open the keep-alive connection
        gate.wait()
        n = 0
        while time.perf_counter() < deadline[0]:
            call()
            n += 1
        counts[slot] = n

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    deadline[0] = time.perf_counter() + seconds
    begin = time.perf_counter()
    gate.wait()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - begin)


def client(key: str, url: str, params: dict[str, str] | None = None) -> Callable[[], None]:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"

    def call() -> None:
        r = session.get(url, params=params)
        if r.status_code != 200:
            raise RuntimeError(r.text)

    return call


@contextmanager
def in_process() -> Iterator[Target]:
    with LocalServer() as srv:
        base = f"{srv.url}/v1/organizations/{srv.organization_id}/orbits/{srv.orbit_id}"
        bodies = [{"name": f"bench-{i:04d}", "description": "d", "type": "model", "tags": ["b"]}
                  for i in range(200)]
        ids = srv.insert_collections(srv.orbit_id, bodies)
        yield base + "/collections", srv.api_key, ids[100]


@contextmanager
def own_process() -> Iterator[Target]:
    cmd = [sys.executable, "-m", "dataforce_orm", "serve", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        env = dict(proc.stdout.readline().strip()[7:].split("=", 1) for _ in range(4))
        base = (f"{env['DFS_BASE_URL']}/v1/organizations/{env['DFS_ORGANIZATION']}/orbits/"
                f"{env['DFS_ORBIT']}/collections")
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {env['DFS_API_KEY']}"
        ids = [s.post(base, json={"name": f"bench-{i:04d}", "description": "d", "type": "model",
                                  "tags": ["b"]}).json()["id"] for i in range(200)]
        yield base, env["DFS_API_KEY"], ids[100]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def report(label: str, target: Target, seconds: float) -> None:
    base, key, cid = target
    cases: list[tuple[str, Callable[[], Callable[[], None]]]] = [
        ("get by id", lambda: client(key, f"{base}/{cid}")),
        ("list page (limit=50)", lambda: client(key, base, {"limit": "50"})),
    ]
    for name, make in cases:
        one, eight = measure(1, seconds, make), measure(8, seconds, make)
        print(f"{label:<14}{name:<22}{one:>10.0f}{eight:>11.0f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--process", action="store_true", help="also serve from a subprocess")
    args = parser.parse_args()
    print(f"{'server':<14}{'request':<22}{'1 thread':>10}{'8 threads':>11}   (requests/s)")
    with in_process() as target:
        report("in-process", target, args.seconds)
    if args.process:
        with own_process() as target:
            report("subprocess", target, args.seconds)


if __name__ == "__main__":
    main()
