"""Reliability figures: the soak (8 threads, then 32 asyncio tasks, under a seeded 20% fault
mix that includes "stall": a write held longer than the client's read timeout, then applied
and never answered), the bad-input scan, the key-leak scan and the server fuzz, then one
summary table. Discrepancies include any duplicate row and any lost update.

    python benchmarks/reliability.py                  # 30 s per soak mode
    python benchmarks/reliability.py --seconds 300 --seed 3 --examples 200

It runs the same code as the test suite (tests/soak/soakkit.py, tests/test_bad_input.py,
tests/test_security.py, tests/test_server_fuzz.py) against its own LocalServer. Exit status 1
if anything was found (a discrepancy, a leak, a bad input that got through, a 5xx).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _row(label: str, *cells: Any) -> str:
    return f"  {label:<38}" + "".join(f"{c!s:>12}" for c in cells)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="per soak mode")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=0.2, help="fault rate of the soak")
    parser.add_argument("--examples", type=int, default=100, help="Hypothesis examples per "
                                                                   "bad-input test")
    parser.add_argument("--fuzz", type=int, default=1000, help="malformed requests")
    args = parser.parse_args(argv)

    os.environ["DFO_BAD_INPUT_EXAMPLES"] = str(args.examples)
    sys.path[:0] = [str(ROOT / "tests" / "soak"), str(ROOT / "tests")]
    import soakkit
    import test_bad_input
    import test_security
    import test_server_fuzz

    from dataforce_orm.testing import LocalServer

    started = time.monotonic()
    with LocalServer() as server:
        reports = []
        for mode, workers in (("threads", 8), ("async", 32)):
            print(f"soak: {mode} x{workers} for {args.seconds:.0f} s ...", flush=True)
            reports.append(soakkit.run_soak(server, mode, workers, args.seconds, seed=args.seed,
                                            rate=args.rate))
            print("\n".join(reports[-1].lines()), flush=True)
        print("bad inputs ...", flush=True)
        cases: Counter[str] = test_bad_input.run_all(server)
        print("leak scan ...", flush=True)
        leaks = test_security.leak_scan(server)
        print("fuzz ...", flush=True)
        orbit = server.add_orbit(server.organization_id, "fuzz")
        fuzzed = test_server_fuzz.fuzz(server, orbit, cases=args.fuzz, seed=args.seed)
    answers: Counter[int] = Counter()
    for counts in fuzzed.values():
        answers.update(counts)

    threads, tasks = reports
    kinds = sorted(set(threads.faults) | set(tasks.faults))
    soak_leaks = len(threads.leaks) + len(tasks.leaks)
    discrepancies = len(threads.discrepancies) + len(tasks.discrepancies)
    server_errors = sum(n for status, n in answers.items() if status >= 500)
    lines = [
        "",
        f"Reliability summary (seed {args.seed}, fault rate {args.rate:.0%}, "
        f"{time.monotonic() - started:.0f} s)",
        _row("", "8 threads", "32 tasks", "total"),
        _row("soak seconds", f"{threads.seconds:.1f}", f"{tasks.seconds:.1f}", ""),
    ]

    def both(label: str, a: int, b: int) -> None:
        lines.append(_row(label, a, b, a + b))

    both("operations", sum(threads.ops.values()), sum(tasks.ops.values()))
    for op in soakkit.OPS:
        both(f"  {op}", threads.ops[op], tasks.ops[op])
    both("  ended in 'could not know'", threads.outcomes["unknown"], tasks.outcomes["unknown"])
    both("faults injected", sum(threads.faults.values()), sum(tasks.faults.values()))
    for kind in kinds:
        label = f"  {kind} (Retry-After 0, 1, date)" if kind == "status:429" else f"  {kind}"
        both(label, threads.faults.get(kind, 0), tasks.faults.get(kind, 0))
    both("retries (WARNING records)", threads.retries, tasks.retries)
    both("checks against the model", threads.checks, tasks.checks)
    both("discrepancies", len(threads.discrepancies), len(tasks.discrepancies))
    both("non-library exceptions", threads.outcomes["foreign"], tasks.outcomes["foreign"])
    both("log records scanned for the key", threads.log_records, tasks.log_records)
    lines += [
        _row("bad inputs tried (all refused)", "", "", sum(cases.values())),
        _row("  entry points", "", "", len(cases)),
        _row("leak scan: texts checked", "", "", leaks.checked),
        _row("leaks found", "", "", len(leaks.found) + soak_leaks),
        _row("malformed requests sent", "", "", args.fuzz),
        _row("  answered 5xx", "", "", server_errors),
    ]
    print("\n".join(lines))
    for finding in [*threads.discrepancies, *tasks.discrepancies, *leaks.found,
                    *threads.leaks, *tasks.leaks][:20]:
        print("  !", finding[:300])
    found = discrepancies + len(leaks.found) + soak_leaks + server_errors
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
