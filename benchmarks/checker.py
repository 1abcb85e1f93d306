"""Time the linearizability checker on the 102 Jepsen etcd conformance histories.

Usage: make bench, or from the repository root: python benchmarks/checker.py
Prints the five slowest files, the total wall time and whether every verdict
matched verdicts.tsv; exits 1 on a mismatch. Target: all 102 in under 10 s on one core.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

from sim.check import check, load_history

DATA = Path(__file__).resolve().parent.parent / "tests" / "check" / "conformance" / "jepsen-etcd"


def main() -> int:
    """Check every history, report timings, return the exit status."""
    with (DATA / "verdicts.tsv").open(newline="") as f:
        rows = [(r["file"], r["verdict"]) for r in csv.DictReader(f, delimiter="\t")]
    timings: list[tuple[float, str, str]] = []
    mismatches = []
    start = time.perf_counter()
    for name, expected in rows:
        t0 = time.perf_counter()
        result = check(load_history(DATA / name, "jepsen-log"))
        elapsed = time.perf_counter() - t0
        timings.append((elapsed, name, result.verdict.value))
        if result.verdict.value != expected:
            mismatches.append(f"{name}: got {result.verdict.value}, expected {expected}")
    total = time.perf_counter() - start

    print(f"checker: {len(rows)} Jepsen etcd histories (parse + check, one core)")
    print("slowest:")
    for elapsed, name, verdict in sorted(timings, reverse=True)[:5]:
        print(f"  {name}  {elapsed * 1000:8.1f} ms  {verdict}")
    print(f"total: {total:.2f} s")
    for line in mismatches:
        print(f"MISMATCH {line}")
    print(f"all verdicts match: {'yes' if not mismatches else 'no'}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
