"""Probe benchmark: wall time of one 10,000-trial t-visibility cell (issue 12's target: < 15 s).

The cell: scenarios/staleness_exponential.toml (PBS's exponential profile,
N = 3, R = W = 1, eventual mode, self latency on) with 10,000 probe writes,
each read at 12 offsets from 0 to 500 ms: 130,000 store operations and
780,000 messages (each goes to all three replicas and back). Timed in
process, from `run(scenario)` to its metrics (history, t_visibility and
every other metric included; the interpreter's start and the scenario's
loading are not). Prints each repeat's wall time, the median with min and
max, the target, and the cell's messages per second. The same cell as a
whole process: `/usr/bin/time -v python -m sim run
scenarios/staleness_exponential.toml --set
workload.probe.offsets_ms=[0,1,2,5,10,20,30,50,70,100,200,500] --json`.

    python benchmarks/probe.py [--repeats 5] [--trials 10000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path

from sim import load_scenario, run

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "staleness_exponential.toml"
OFFSETS_MS = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 50.0, 70.0, 100.0, 200.0, 500.0]
TARGET_S = 15.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (median reported)")
    parser.add_argument("--trials", type=int, default=10_000, help="probe writes in the cell")
    args = parser.parse_args()
    scenario = load_scenario(SCENARIO).with_overrides(
        {"workload.probe.trials": args.trials, "workload.probe.offsets_ms": OFFSETS_MS}
    )
    reads = args.trials * len(OFFSETS_MS)
    print(
        f"probe: {SCENARIO.name}, R=W=1, {args.trials:,} trials x {len(OFFSETS_MS)} offsets "
        f"= {reads:,} reads, {args.repeats} repeats"
    )
    walls, messages = [], 0
    for repeat in range(args.repeats):
        gc.collect()  # the repeat before left its world to the collector: not in this time
        start = time.perf_counter()
        result = run(scenario, seed=repeat)
        walls.append(time.perf_counter() - start)
        messages = result.metrics["messages"]["sent"]
        tv = result.metrics["t_visibility"]
        print(
            f"  run {repeat}: {walls[-1]:6.2f} s   {messages:,} messages, "
            f"P(consistent) at t=0 {tv['p_consistent'][0]:.3f}, t_999 {tv['t_999_ms']:.1f} ms"
        )
    median = statistics.median(walls)
    print(
        f"  median {median:6.2f} s   (min {min(walls):.2f}, max {max(walls):.2f})   "
        f"target < {TARGET_S:.0f} s: {'met' if median < TARGET_S else 'MISSED'}   "
        f"{messages / median:,.0f} messages/s"
    )


if __name__ == "__main__":
    main()
