"""Artifact transfers through the ORM against plain ``requests``, against LocalServer's storage.

Run (from the repository root):

    .venv/bin/python benchmarks/transfers.py           # 64 MiB and 1 GiB files, about 5 minutes
    .venv/bin/python benchmarks/transfers.py --quick   # 8 MiB and 64 MiB files, a smoke test
    .venv/bin/python benchmarks/transfers.py --only download   # one section (repeatable):
                                                       # single, upload, download, memory
    .venv/bin/python benchmarks/transfers.py --sweep   # the 1 GiB transfers at concurrency
                                                       # 1, 2, 4, 8, 16: throughput, memory

Scenarios (files of random bytes in a temporary directory on disk, removed at the end):

1. Upload and download of a single-PUT file (64 MiB; 8 MiB with --quick), storage uncapped.
   Both sides do the whole job: the upload reads the archive for the create body (the same
   ``archive_body`` the ORM uses, SHA-256 included: any client has to send it), POSTs the
   artifact, PUTs the file to the presigned URL the create answered and PATCHes the status;
   the ORM with ``collection.artifacts.upload``, the raw side with a ``requests.Session``
   (``data=`` the open file). The download GETs the download URL and streams the file to disk:
   ``artifact.download(verify=False)`` (the size still checked) against ``iter_content`` for
   the target, then the default ``artifact.download`` (SHA-256 checked as the bytes arrive)
   against a raw GET that hashes, and one that does not.
2. A multipart upload (1 GiB; 64 MiB with --quick) at the default concurrency against one raw
   PUT of the same file, and against raw ``requests`` doing the same multipart upload (the
   create, the part URLs the platform hands out, the same parts streamed from the file through
   a sliding window of as many threads, the complete, the PATCH); its (ranged, verified)
   download against one raw GET and against as many raw ranged GETs of an equal share each,
   under a per-connection bandwidth cap the server applies (``storage_bandwidth``). On
   loopback nothing limits a single connection, so without the cap parallel parts would have
   nothing to win; with it they show what they buy against a real store that caps each
   connection.
3. Peak memory of that multipart upload and download in this (the client) process, in a
   separate untimed pass: tracemalloc's peak, and the RSS growth (sampled every 5 ms from
   ``/proc/self/statm``; the page cache is not in it), beside the official SDK's design
   (5 whole parts in memory).
4. Requests per operation, from the server's request log (API paths start with ``/v1/``).
5. With --sweep (instead of the above): the 1 GiB upload and download under the cap at each
   concurrency of SWEEP, one round each, their throughput and peak traced memory (what the
   default concurrency, ``_transfer.CONCURRENCY``, was chosen from).

The server runs in a subprocess (its own GIL and core, like a real server; tracemalloc then
sees only the client). Ratios are ORM/raw of throughput (higher is better for the ORM), the
median of per-round ratios; rounds alternate which side goes first. Exit status 1 if a target
is missed; with --quick the throughput targets are reported but do not fail the run (a loaded
machine makes a few-round smoke run too noisy for them), the request counts and memory do.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import requests

from dataforce_orm import Artifact, Collection, Session, _transfer
from dataforce_orm._archive_reader import archive_body
from dataforce_orm._transfer import CONCURRENCY
from dataforce_orm.testing import LocalServer, make_luml_archive
from dataforce_orm.testing._storage import part_size_for

MiB = 1024**2
GiB = 1024**3
SWEEP = (1, 2, 4, 8, 16)  # concurrencies of --sweep
SECTIONS = ("single", "upload", "download", "memory")  # what --only picks from


# -- the server, in a child driven over stdin/stdout -----------------------------------------------


class Child:
    """A LocalServer in a subprocess: the storage options, orbits and the request log."""

    def __init__(self, **options: Any) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve", json.dumps(options)],
                                     text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        hello = self._read()
        self.url, self.api_key = hello["url"], hello["api_key"]
        self.organization_id = hello["organization_id"]

    def _read(self) -> Any:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the benchmark server process exited")
        return json.loads(line)

    def call(self, **command: Any) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def log_size(self) -> int:
        return int(self.call(op="log", since=None))

    def log_since(self, n: int) -> list[tuple[str, str]]:
        return [tuple(x) for x in self.call(op="log", since=n)]  # type: ignore[misc]

    def session(self, name: str, **settings: Any) -> Session:
        orbit = self.call(op="orbit", name=name)
        return Session(api_key=self.api_key, base_url=self.url,
                       organization=self.organization_id, orbit=orbit, **settings)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def serve_child(options: dict[str, Any]) -> None:
    with LocalServer(**options) as srv:
        srv.set_organization_limits(srv.organization_id, orbits=100, artifacts=100_000)
        print(json.dumps({"url": srv.url, "api_key": srv.api_key,
                          "organization_id": srv.organization_id}), flush=True)
        for line in sys.stdin:
            cmd = json.loads(line)
            out: Any
            if cmd["op"] == "orbit":
                out = srv.add_orbit(srv.organization_id, cmd["name"])
            elif cmd["since"] is None:
                out = len(srv.request_log)
            else:
                out = srv.request_log[cmd["since"]:]
            print(json.dumps(out), flush=True)


@contextmanager
def child(**options: Any) -> Iterator[Child]:
    srv = Child(**options)
    try:
        yield srv
    finally:
        srv.close()


# -- the raw baseline ------------------------------------------------------------------------------


class Raw:
    """Plain ``requests``: an API client (with the key) and a storage client (without)."""

    def __init__(self, srv: Child, coll: Collection) -> None:
        self.api = requests.Session()
        self.api.trust_env = False
        self.api.headers["Authorization"] = f"Bearer {srv.api_key}"
        self.storage = requests.Session()
        self.storage.trust_env = False
        self.root = srv.url
        self.base = (f"{srv.url}/v1/organizations/{srv.organization_id}/orbits/"
                     f"{coll.orbit_id}/collections/{coll.id}/artifacts")

    def _api(self, method: str, url: str, **kw: Any) -> Any:
        r = self.api.request(method, url, **kw)
        r.raise_for_status()
        return r.json() if r.content else None

    def create(self, path: Path) -> tuple[str, dict[str, Any]]:
        """POST the artifact (the body as any client reads it from the archive): its id and
        upload details."""
        info = archive_body(path)
        body = {**info, "name": info["file_name"], "description": None, "tags": []}
        made = self._api("POST", self.base, json=body)
        return made["artifact"]["id"], made["upload_details"]

    def put(self, url: str, path: Path) -> None:
        """One PUT of the whole file, streamed by requests from the open file."""
        with open(path, "rb") as f:
            r = self.storage.put(url, data=f,
                                 headers={"Content-Length": str(path.stat().st_size)})
        r.raise_for_status()

    def multipart_upload(self, path: Path, concurrency: int) -> str:
        """The whole multipart upload as the platform hands it out: create, start (S3), ask
        for the part URLs, PUT the parts (each streamed from the file) through a sliding
        window of ``concurrency`` threads with a ``requests.Session`` each, complete with the
        ETags, PATCH the status."""
        artifact_id, details = self.create(path)
        assert details.get("multipart"), "the raw upload is multipart"
        size = path.stat().st_size
        started = self.storage.post(details["url"])
        started.raise_for_status()
        upload_id = re.search(rb"<UploadId>([^<]+)</UploadId>", started.content)
        assert upload_id is not None
        urls = self._api("POST", f"{self.root}/v1/bucket-secrets/upload/multipart", json={
            "bucket_id": details.get("bucket_secret_id"),
            "bucket_location": details.get("bucket_location"), "size": size,
            "upload_id": upload_id.group(1).decode()})
        parts = sorted(urls["parts"], key=lambda p: int(p["part_number"]))
        local = threading.local()

        def put(part: dict[str, Any]) -> str:
            if not hasattr(local, "http"):
                local.http = requests.Session()
                local.http.trust_env = False
            first, last = int(part["start_byte"]), int(part["end_byte"])
            with open(path, "rb") as f:
                r = local.http.put(part["url"], data=Slice(f, first, last - first + 1),
                                   headers={"Content-Length": str(last - first + 1)})
            r.raise_for_status()
            return str(r.headers["ETag"])

        with ThreadPoolExecutor(concurrency) as pool:
            etags = list(pool.map(put, parts))
        xml = "".join(f"<Part><PartNumber>{p['part_number']}</PartNumber><ETag>{e}</ETag></Part>"
                      for p, e in zip(parts, etags, strict=True))
        done = self.storage.post(urls["complete_url"], data=(
            f"<CompleteMultipartUpload>{xml}</CompleteMultipartUpload>").encode())
        done.raise_for_status()
        self.uploaded(artifact_id)
        return artifact_id

    def uploaded(self, artifact_id: str) -> None:
        self._api("PATCH", f"{self.base}/{artifact_id}", json={"status": "uploaded"})

    def upload(self, path: Path) -> str:
        artifact_id, details = self.create(path)
        assert not details.get("multipart"), "the raw upload is one PUT"
        self.put(details["url"], path)
        self.uploaded(artifact_id)
        return artifact_id

    def download(self, artifact_id: str, target: Path, sha256: str | None = None) -> None:
        """GET the download URL and stream the file to disk; with ``sha256``, also hash it as
        it arrives and compare (the check the ORM makes)."""
        url = self._api("GET", f"{self.base}/{artifact_id}/download-url")["url"]
        digest = hashlib.sha256()
        with self.storage.get(url, stream=True) as r:
            r.raise_for_status()
            with open(target, "wb") as out:
                for chunk in r.iter_content(MiB):
                    out.write(chunk)
                    if sha256:
                        digest.update(chunk)
        if sha256 and digest.hexdigest() != sha256:
            raise RuntimeError("the raw download does not match the SHA-256")

    def ranged_download(self, artifact_id: str, target: Path, size: int, n: int) -> None:
        """GET the download URL, then ``n`` ranged GETs of the file's equal shares side by
        side (a session each), each written in place (no hash)."""
        url = self._api("GET", f"{self.base}/{artifact_id}/download-url")["url"]
        with open(target, "wb") as f:
            f.truncate(size)
        share = -(-size // n)

        def one(first: int) -> None:
            last = min(first + share, size) - 1
            with requests.Session() as http, http.get(
                    url, headers={"Range": f"bytes={first}-{last}"}, stream=True) as r:
                r.raise_for_status()
                with open(target, "r+b") as out:
                    out.seek(first)
                    for chunk in r.iter_content(MiB):
                        out.write(chunk)

        threads = [threading.Thread(target=one, args=(i * share,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if os.path.getsize(target) != size:
            raise RuntimeError("the raw ranged download is not whole")

    def force_delete(self, artifact_id: str) -> None:
        self._api("DELETE", f"{self.base}/{artifact_id}/force")


class Slice:
    """``length`` bytes of an open file from ``first``, as a body requests streams with a
    Content-Length (``read`` and ``__len__`` only)."""

    def __init__(self, f: Any, first: int, length: int) -> None:
        self.f, self.left = f, length
        f.seek(first)

    def __len__(self) -> int:
        return self.left

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.f.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        return data


# -- measuring -------------------------------------------------------------------------------------


HEAD = ["scenario", "ORM", "raw", "ORM/raw", "rounds", "note"]
WIDTHS = [40, 12, 12, 8, 7]


def print_row(cells: list[str]) -> None:
    first, rest = cells[0], cells[1:]
    middle = "".join(f"{c:>{w}}" for c, w in zip(rest[:-1], WIDTHS[1:], strict=True))
    print(f"{first:<{WIDTHS[0]}}{middle}  {rest[-1]}".rstrip(), flush=True)


def fmt_rate(size: int, seconds: float) -> str:
    return f"{size / seconds / MiB:,.0f} MiB/s"


def fmt_mem(size: float) -> str:
    return f"{size / MiB:.1f} MiB"


def timed(job: Callable[[], object]) -> float:
    start = time.perf_counter()
    job()
    return time.perf_counter() - start


def compare(orm: Callable[[], object], raw: Callable[[], object], rounds: int,
            after: Callable[[], object] | None = None) -> tuple[float, float, float]:
    """Median seconds of each side and the median per-round throughput ratio ORM/raw."""
    times: dict[str, list[float]] = {"orm": [], "raw": []}
    for r in range(rounds):
        sides = [("orm", orm), ("raw", raw)]
        for side, job in sides if r % 2 == 0 else sides[::-1]:
            times[side].append(timed(job))
            if after is not None:
                after()
    ratios = [w / o for o, w in zip(times["orm"], times["raw"], strict=True)]
    return statistics.median(times["orm"]), statistics.median(times["raw"]), \
        statistics.median(ratios)


def rss() -> int:
    """This process's resident set size now (Linux), else its high-water mark."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def memory(job: Callable[[], object]) -> tuple[int, int]:
    """(tracemalloc peak above the start, the RSS peak above the start, sampled every 5 ms)
    of ``job``."""
    gc.collect()
    start, top = rss(), [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            top[0] = max(top[0], rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        job()
        traced = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
        stop.set()
        sampler.join()
    return traced, max(0, top[0] - start)


def sha256_rate() -> float:
    """hashlib's SHA-256 speed on this machine, MiB/s (the best of 3 passes over 64 MiB)."""
    block, best = os.urandom(MiB), float("inf")
    for _ in range(3):
        digest = hashlib.sha256()
        start = time.perf_counter()
        for _ in range(64):
            digest.update(block)
        best = min(best, time.perf_counter() - start)
    return 64 / best


def random_file(path: Path, size: int) -> Path:
    """``size`` random bytes, written in 1 MiB blocks (no holes)."""
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(MiB, left)
            f.write(os.urandom(n))
            left -= n
    return path


# -- the scenarios ---------------------------------------------------------------------------------


def range_text(size: int, concurrency: int) -> str:
    """The ranges a download of ``size`` bytes is fetched in, as the table says it."""
    got = _transfer.range_size(size, concurrency)
    return f"{-(-size // got)} ranges of {got / MiB:.0f} MiB"


class Bench:
    def __init__(self, quick: bool, tmp: Path, only: list[str] | None = None,
                 sweep: bool = False) -> None:
        self.quick, self.tmp, self.only, self.sweep = quick, tmp, only, sweep
        self.rows: list[list[str]] = []
        self.sweep_rows: list[list[str]] = []
        self.checks: list[tuple[str, str, bool, bool]] = []  # what, got, ok, counts for exit

    def wants(self, section: str) -> bool:
        return not self.sweep and (self.only is None or section in self.only)

    def check(self, what: str, got: str, ok: bool, *, timing: bool = False) -> None:
        self.checks.append((what, got, ok, not (timing and self.quick)))

    def archive(self, name: str, payload: int) -> Path:
        weights = random_file(self.tmp / f"{name}.bin", payload)
        path = make_luml_archive(self.tmp / f"{name}.luml", files={"weights.bin": weights})
        weights.unlink()
        return path

    def run(self) -> None:
        small = 8 * MiB if self.quick else 64 * MiB
        big = 64 * MiB if self.quick else 1 * GiB
        self.tiny = self.archive("tiny", 1024)
        if self.wants("single"):
            self.single_put(small)
        self.multipart(big)

    # 1 and 4: a single-PUT file, uncapped; request counts
    def single_put(self, payload: int) -> None:
        path = self.archive("single", payload)
        size = path.stat().st_size
        rounds = 3 if self.quick else 5
        with child(storage_dir=str(self.tmp / "storage-single")) as srv:
            # one stream each side (the file is just over the ranged downloads' threshold)
            session = srv.session("bench-single", ranged_download_above=None)
            with session:
                coll = Collection.objects.create(name="bench", collection_type="model")
                raw = Raw(srv, coll)
                made: list[str] = []

                def orm_up() -> None:
                    made.append(str(coll.artifacts.upload(path, concurrency=4).id))

                def raw_up() -> None:
                    made.append(raw.upload(path))

                def drop() -> None:
                    while made:
                        raw.force_delete(made.pop())

                orm_up(), raw_up(), drop()  # warm both clients' connections
                o, w, ratio = compare(orm_up, raw_up, rounds, after=drop)
                label = f"{size / MiB:.0f} MiB"
                self.rows.append([f"upload {label}, one PUT", fmt_rate(size, o),
                                  fmt_rate(size, w), f"{ratio:.2f}", f"{rounds}",
                                  "create + PUT + PATCH each side, uncapped"])
                self.check(f"upload {label} (one PUT): ORM/raw throughput >= 0.9",
                           f"{ratio:.2f}", ratio >= 0.9, timing=True)

                art = coll.artifacts.upload(path)
                out = self.tmp / "downloaded.luml"

                def orm_down() -> None:
                    art.download(out)

                def orm_down_unchecked() -> None:
                    art.download(out, verify=False)

                def raw_down() -> None:
                    raw.download(str(art.id), out)

                def rm() -> None:
                    out.unlink(missing_ok=True)

                def raw_down_checked() -> None:
                    raw.download(str(art.id), out, art.file_hash)

                orm_down(), rm(), raw_down(), rm()
                o, w, ratio = compare(orm_down_unchecked, raw_down, rounds, after=rm)
                self.rows.append([f"download {label}, verify=False", fmt_rate(size, o),
                                  fmt_rate(size, w), f"{ratio:.2f}", f"{rounds}",
                                  "download-url + GET; neither side hashes (the ORM still "
                                  "checks the size)"])
                self.check(f"download {label}: ORM/raw throughput >= 0.9", f"{ratio:.2f}",
                           ratio >= 0.9, timing=True)
                o, w, ratio = compare(orm_down, raw_down, rounds, after=rm)
                sha = sha256_rate()
                self.rows.append([f"download {label}, ORM hashing", fmt_rate(size, o),
                                  fmt_rate(size, w), f"{ratio:.2f}", f"{rounds}",
                                  "the default: only the ORM checks the SHA-256 "
                                  f"(hashlib here: {sha:,.0f} MiB/s)"])
                o, w, ratio = compare(orm_down, raw_down_checked, 3 * rounds, after=rm)
                self.rows.append([f"download {label}, raw also hashing", fmt_rate(size, o),
                                  fmt_rate(size, w), f"{ratio:.2f}", f"{3 * rounds}",
                                  "both sides check the SHA-256 as the bytes arrive"])
                self.check(f"download {label}: ORM/raw >= 0.9 when the raw side checks the "
                           "SHA-256 too", f"{ratio:.2f}", ratio >= 0.9, timing=True)
                self.request_counts(srv, coll, art)

    def request_counts(self, srv: Child, coll: Collection, art: Artifact) -> None:
        tiny = self.tiny

        def counted(job: Callable[[], object]) -> tuple[list[str], list[str]]:
            before = srv.log_size()
            job()
            sent = srv.log_since(before)
            return ([f"{m} {short(p)}" for m, p in sent if p.startswith("/v1/")],
                    [m for m, p in sent if not p.startswith("/v1/")])

        def short(path: str) -> str:
            last = path.split("?")[0].rsplit("/", 1)[-1]
            return "{id}" if re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", last) \
                else last

        made: list[Artifact] = []
        api, storage = counted(lambda: made.append(coll.artifacts.upload(tiny)))
        self.rows.append(["requests: upload (single PUT)", f"{len(api)} API",
                          f"{len(storage)} storage", "", "1",
                          f"API: {', '.join(api)}; storage: {', '.join(storage)}"])
        self.check("upload (single PUT): 2 API requests (create, PATCH status) + 1 storage PUT",
                   f"{len(api)} + {len(storage)}",
                   len(api) == 2 and storage == ["PUT"])
        api, storage = counted(made[0].delete)
        self.rows.append(["requests: delete", f"{len(api)} API", f"{len(storage)} storage",
                          "", "1", f"API: {', '.join(api)}; storage: {', '.join(storage)}"])
        self.check("delete: 2 API requests (delete-url, confirm) + 1 storage DELETE",
                   f"{len(api)} + {len(storage)}", len(api) == 2 and storage == ["DELETE"])
        api, storage = counted(lambda: art.download(self.tmp / "counted.luml"))
        (self.tmp / "counted.luml").unlink()
        self.rows.append(["requests: download", f"{len(api)} API", f"{len(storage)} storage",
                          "", "1", f"API: {', '.join(api)}; storage: {', '.join(storage)}"])
        self.check("download: 1 API request (download-url) + 1 storage GET",
                   f"{len(api)} + {len(storage)}", len(api) == 1 and storage == ["GET"])

    # 2 and 3: multipart under a per-connection cap; memory; the concurrency sweep
    def multipart(self, payload: int) -> None:
        path = self.archive("multipart", payload)
        size = path.stat().st_size
        cap = 64 * MiB
        part = 8 * MiB if self.quick else part_size_for(size)  # the platform's table
        parts = -(-size // part)
        n = CONCURRENCY
        rounds = 2 if self.quick else 3  # 1 GiB at the cap: 5-20 s a round per side
        options = {"storage_dir": str(self.tmp / "storage-multipart"),
                   "multipart_threshold": size - 1, "storage_bandwidth": cap,
                   "multipart_part_size": part}
        cap_text = f"{cap / MiB:.0f} MiB/s per connection"
        label = f"{size / MiB:,.0f} MiB"
        with child(**options) as srv, srv.session("bench-multipart"):
            coll = Collection.objects.create(name="bench", collection_type="model")
            raw = Raw(srv, coll)
            made: list[str] = []
            raw_made: list[str] = []

            def orm_up(concurrency: int = n) -> None:
                made.append(str(coll.artifacts.upload(path, concurrency=concurrency).id))

            def raw_parts() -> None:
                made.append(raw.multipart_upload(path, n))

            # The raw one-PUT side: the server would answer a create for this size with
            # multipart URLs, so it PUTs to the single-PUT URL of a small artifact's create
            # (same storage, same cap), made untimed.
            urls: list[str] = []

            def raw_up() -> None:
                raw.put(urls.pop(), path)

            def drop() -> None:
                while made:
                    raw.force_delete(made.pop())
                if not urls:
                    artifact_id, details = raw.create(self.tiny)
                    raw_made.append(artifact_id)
                    urls.append(str(details["url"]))

            drop()
            if self.wants("upload"):
                o, w, ratio = compare(orm_up, raw_up, rounds, after=drop)
                self.rows.append([f"upload {label}, {parts} parts x{n} vs 1 PUT",
                                  fmt_rate(size, o), fmt_rate(size, w), f"{ratio:.2f}",
                                  f"{rounds}", f"storage capped at {cap_text}; loopback has "
                                  "no per-connection limit of its own"])
                self.check(f"multipart upload {label} (concurrency={n}) faster than one raw "
                           f"PUT (cap {cap_text})", f"{ratio:.2f}x", ratio > 1.0, timing=True)
                more = rounds + 2  # a near tie: more rounds for the median
                o, w, ratio = compare(orm_up, raw_parts, more, after=drop)
                self.rows.append([f"upload {label} vs raw parts x{n}", fmt_rate(size, o),
                                  fmt_rate(size, w), f"{ratio:.2f}", f"{more}",
                                  f"raw: the same {parts} part URLs, a window of {n} threads "
                                  f"(a requests.Session each), {cap_text}"])
                self.check(f"multipart upload {label}: time <= 1.11x of raw parallel PUTs of "
                           "the same parts", f"{1 / ratio:.2f}x", 1 / ratio <= 1.11,
                           timing=True)

            art = coll.artifacts.upload(path)
            out = self.tmp / "downloaded-big.luml"

            def orm_down(concurrency: int = n) -> None:
                art.download(out, concurrency=concurrency)

            def raw_down() -> None:
                raw.download(str(art.id), out)

            def rm() -> None:
                out.unlink(missing_ok=True)

            def raw_ranged() -> None:
                raw.ranged_download(str(art.id), out, size, n)

            if self.wants("download"):
                o, w, ratio = compare(orm_down, raw_down, rounds, after=rm)
                self.rows.append([f"download {label} vs one GET", fmt_rate(size, o),
                                  fmt_rate(size, w), f"{ratio:.2f}", f"{rounds}",
                                  f"ORM: {range_text(size, n)} x{n} with SHA-256; raw: one "
                                  f"GET, {cap_text}"])
                self.check(f"download {label}: faster than one raw GET", f"{ratio:.2f}x",
                           ratio > 1.0, timing=True)
                o, w, ratio = compare(orm_down, raw_ranged, rounds, after=rm)
                self.rows.append([f"download {label} vs {n} ranged GETs", fmt_rate(size, o),
                                  fmt_rate(size, w), f"{ratio:.2f}", f"{rounds}",
                                  f"raw: {n} ranged GETs of a share each, no hash, {cap_text}"])
                self.check(f"download {label} ({n} connections, verified): time <= 1.15x of "
                           f"{n} raw ranged GETs", f"{1 / ratio:.2f}x", 1 / ratio <= 1.15,
                           timing=True)

            if self.wants("memory"):  # 3: untimed
                drop()
                up_mem, up_rss = memory(orm_up)
                raw_mem, raw_rss = memory(raw_up)
                down_mem, down_rss = memory(orm_down)
                rm()
                raw_down_mem, raw_down_rss = memory(raw_down)
                rm()
                drop()
                limit = n * part + 32 * MiB
                sdk = 5 * part
                self.rows.append([f"peak memory: upload {label}", fmt_mem(up_mem),
                                  fmt_mem(raw_mem), "", "1",
                                  f"RSS growth {fmt_mem(up_rss)} / "
                                  f"{fmt_mem(raw_rss)}; parts of {part / MiB:.0f} MiB; "
                                  f"official SDK design: 5 parts = {fmt_mem(sdk)}"])
                self.rows.append([f"peak memory: download {label}", fmt_mem(down_mem),
                                  fmt_mem(raw_down_mem), "", "1",
                                  f"RSS growth {fmt_mem(down_rss)} / "
                                  f"{fmt_mem(raw_down_rss)}"])
                self.check(f"multipart upload {label}: peak traced memory < {n} parts + 32 MiB"
                           f" = {fmt_mem(limit)}", fmt_mem(up_mem), up_mem < limit)
                down_limit = n * _transfer.RANGE_SIZE + 32 * MiB
                self.check(f"download {label}: peak traced memory < {n} ranges + 32 MiB = "
                           f"{fmt_mem(down_limit)}", fmt_mem(down_mem), down_mem < down_limit)

            if self.sweep:
                drop()
                for c in SWEEP:
                    up = timed(partial(orm_up, c))
                    drop()
                    down = timed(partial(orm_down, c))
                    rm()
                    up_mem, _ = memory(partial(orm_up, c))
                    drop()
                    down_mem, _ = memory(partial(orm_down, c))
                    rm()
                    self.sweep_rows.append([f"concurrency {c}", fmt_rate(size, up),
                                            fmt_mem(up_mem), fmt_rate(size, down),
                                            fmt_mem(down_mem)])
            for artifact_id in raw_made:
                raw.force_delete(artifact_id)

    def report(self, elapsed: float) -> bool:
        print(f"\ndataforce-orm transfer benchmarks ({'quick' if self.quick else 'full'}), "
              f"server in a subprocess, Python {platform.python_version()}, "
              f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
              "; throughput is the median per side, ORM/raw the median of per-round ratios "
              "(above 1: the ORM is faster)")
        print_row(HEAD)
        for row in self.rows:
            print_row(row)
        if self.sweep_rows:
            print(f"\nconcurrency sweep (1 round each; storage capped per connection; "
                  f"upload parts and download ranges as above; default {CONCURRENCY})")
            for cells in [["", "upload", "peak memory", "download", "peak memory"],
                          *self.sweep_rows]:
                print(f"{cells[0]:<16}" + "".join(f"{c:>14}" for c in cells[1:]))
        print("\ntargets" + (" (--quick: throughput targets reported, not enforced)"
                             if self.quick else ""))
        failed = False
        for what, got, ok, enforced in self.checks:
            mark = "ok  " if ok else ("MISS" if enforced else "miss")
            failed |= enforced and not ok
            print(f"  {mark} {what}: {got}")
        print(f"\n(took {elapsed:.0f} s)")
        return not failed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--only", action="append", choices=SECTIONS,
                        help="run only this section (repeatable)")
    parser.add_argument("--sweep", action="store_true",
                        help="only the 1 GiB upload and download at concurrency "
                             f"{', '.join(map(str, SWEEP))}: throughput and peak memory")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve_child(json.loads(args.serve))
        return
    start = time.perf_counter()
    # on disk, not in /dev/shm or a tmpfs /tmp: the files are as large as the transfers
    root = os.environ.get("DATAFORCE_BENCH_DIR") or (
        "/var/tmp" if os.path.isdir("/var/tmp") else None)
    tmp = Path(tempfile.mkdtemp(prefix="dataforce-transfers-", dir=root))
    try:
        bench = Bench(args.quick, tmp, args.only, args.sweep)
        bench.run()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ok = bench.report(time.perf_counter() - start)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
