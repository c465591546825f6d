"""benchmarks/targets.py --quick runs to the end and prints each figure beside its target.

The Dask figures are left out here (the recipe they time has its own test). Only that it
runs and prints is checked: its timings on a loaded machine are noise (the full run, with
--check, is the one that judges them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "targets.py"


def test_targets_quick_run_prints_every_figure_with_its_verdict() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--no-dask"],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for figure, target in (("get by id, per call (cpu)", "<= 1.05"),
                           ("list(all()[:100]), per call (cpu)", "<= 1.50"),
                           ("iterate 2,000 rows (iterator()) (wall)", "<= 1.15")):
        line = next(line for line in lines if line.startswith(figure))
        assert target in line and (" MET " in line or " MISS " in line), line
