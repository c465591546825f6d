"""benchmarks/transfers.py --quick runs to the end and prints its table.

The quick run enforces the request counts and the memory bounds (its exit status); its
throughput ratios are printed but not enforced, a few rounds on a loaded machine being too
noisy for them (the full run enforces them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "transfers.py"


def test_transfers_quick_run() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                          text=True, timeout=120)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "dataforce-orm transfer benchmarks (quick)" in out
    head = next(line for line in out.splitlines() if line.startswith("scenario"))
    assert head.split()[:4] == ["scenario", "ORM", "raw", "ORM/raw"]
    for row in ("upload 8 MiB, one PUT", "download 8 MiB", "requests: upload (single PUT)",
                "requests: delete", "requests: download", "upload 64 MiB vs raw parts x4",
                "download 64 MiB vs one GET",
                "download 64 MiB vs 4 ranged GETs",
                "peak memory: upload 64 MiB", "peak memory: download 64 MiB"):
        assert any(line.startswith(row) for line in out.splitlines()), row
    assert "MISS" not in out
    for target in ("2 API requests (create, PATCH status) + 1 storage PUT: 2 + 1",
                   "2 API requests (delete-url, confirm) + 1 storage DELETE: 2 + 1"):
        assert f"ok   upload (single PUT): {target}" in out or f"ok   delete: {target}" in out
