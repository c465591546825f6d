"""benchmarks/bulk.py --quick runs to the end and prints bulk and one-at-a-time throughput
and their ratio, measured in the same run (the figures themselves are not asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "bulk.py"


def test_bulk_quick_run() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "dataforce-orm bulk upload benchmark (quick)" in out
    assert re.search(r"one at a time: +[\d.]+ MiB/s", out)
    assert re.search(r"bulk_upload\(concurrency=8\): +[\d.]+ MiB/s", out)
    assert re.search(r"bulk / one at a time: +[\d.]+x", out)
