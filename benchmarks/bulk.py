"""Bulk uploads against one-at-a-time uploads of the same files, in the same run.

Run (from the repository root):

    .venv/bin/python benchmarks/bulk.py           # 32 files of 2 MiB, 3 rounds
    .venv/bin/python benchmarks/bulk.py --quick   # 12 files of 256 KiB, 2 rounds

Each round uploads the files once with ``collection.artifacts.upload`` in a loop and once with
``collection.artifacts.bulk_upload(paths, concurrency=8)``, alternating which goes first, to
a LocalServer in a subprocess (its own GIL and core) whose storage caps each connection's
bandwidth (``storage_bandwidth``, as a real store does per connection; on loopback nothing
else would limit one). Throughput is the files' bytes over the wall time of the whole job
(create, PUT, status for each file); the ratio is bulk over one-at-a-time, the median of the
rounds' ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from transfers import child

from dataforce_orm import Artifact, Collection
from dataforce_orm.testing import make_luml_archive

MiB = 1024**2
CONCURRENCY = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few small files (a smoke test)")
    args = parser.parse_args()
    count, size, rounds = (12, MiB // 4, 2) if args.quick else (32, 2 * MiB, 3)
    cap = 8 * MiB  # bytes/s per storage connection
    tmp = Path(tempfile.mkdtemp(prefix="dataforce-bulk-"))
    try:
        paths = [make_luml_archive(tmp / f"m{i}.luml", files={"w": os.urandom(size)})
                 for i in range(count)]
        total = sum(p.stat().st_size for p in paths)
        singles: list[float] = []
        bulks: list[float] = []
        with child(storage_bandwidth=cap) as srv:
            for r in range(rounds):
                with srv.session(f"bulk-{r}") as s:
                    coll = Collection.objects.create(name=f"bulk-{r}", collection_type="model")

                    def one_at_a_time(coll: Collection = coll) -> float:
                        start = time.perf_counter()
                        for p in paths:
                            coll.artifacts.upload(p, progress=False)
                        return total / (time.perf_counter() - start)

                    def bulk(coll: Collection = coll) -> float:
                        start = time.perf_counter()
                        got = coll.artifacts.bulk_upload(paths, concurrency=CONCURRENCY,
                                                         progress=False)
                        assert all(isinstance(a, Artifact) for a in got), got
                        return total / (time.perf_counter() - start)

                    if r % 2 == 0:
                        singles.append(one_at_a_time())
                        bulks.append(bulk())
                    else:
                        bulks.append(bulk())
                        singles.append(one_at_a_time())
                    del s
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = statistics.median(b / s for b, s in zip(bulks, singles, strict=True))
    print(f"dataforce-orm bulk upload benchmark{' (quick)' if args.quick else ''}: "
          f"{count} files of {size / MiB:g} MiB, storage capped at {cap / MiB:g} MiB/s per "
          f"connection, {rounds} rounds")
    print(f"one at a time:               {statistics.median(singles) / MiB:8.1f} MiB/s")
    print(f"bulk_upload(concurrency={CONCURRENCY}): {statistics.median(bulks) / MiB:8.1f} MiB/s")
    print(f"bulk / one at a time:        {ratio:8.2f}x")


if __name__ == "__main__":
    main()
