"""Sweep benchmark: wall time of one sweep on 1 worker vs every core, and Dask's per-run overhead.

The sweep: scenarios/flash_sale_partition.toml (weak mode, 300 shoppers, a 2|3
partition) over workload.stock = 25, 50, 100, 200 × 10 seeds = 40 runs of
about 0.4 s each. Timed, each from the call of `sweep` to its table:

- local, 1 worker: a process pool of one (the serial baseline, pool start included).
- local, every core: the same runs on a pool of `--workers` processes.
- dask, cold: a 2-worker LocalCluster started by the sweep (cluster start included).
- dask, warm: the same runs on a 2-worker LocalCluster that is already up
  (`address=`), as on a cluster started beforehand with `dask scheduler`.

Prints the wall times, the speed-up of every core over one (target >= 1.8 on
2 cores), and Dask's overhead per run against the local pool on the same
number of workers: (dask wall - local wall) / runs. All tables must be equal.

    python benchmarks/sweep.py [--seeds 10] [--workers N]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from sim.scenario import load_scenario
from sim.sweep import sweep

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "flash_sale_partition.toml"
GRID = {"workload.stock": [25, 50, 100, 200]}


def timed(**kwargs: Any) -> tuple[float, pd.DataFrame]:
    """Wall seconds of one sweep of GRID, and its table."""
    base = load_scenario(SCENARIO, ["cluster.mode=weak"])
    start = time.perf_counter()
    table = sweep(base, grid=GRID, **kwargs)
    return time.perf_counter() - start, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per grid point")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    runs = len(GRID["workload.stock"]) * args.seeds
    cores = args.workers
    print(f"sweep: {SCENARIO.name}, {runs} runs, {cores} cores")

    one, reference = timed(seeds=args.seeds, workers=1)
    print(f"  {'local, 1 worker':24} {one:6.2f} s   ({one / runs:.3f} s per run)")
    many, table = timed(seeds=args.seeds, workers=cores)
    pd.testing.assert_frame_equal(table, reference)
    print(f"  {f'local, {cores} workers':24} {many:6.2f} s   speed-up {one / many:.2f}x")

    try:
        from distributed import LocalCluster
    except ImportError:
        print("  dask: not installed (pip install capsim[dask])")
        return
    local2 = many if cores == 2 else timed(seeds=args.seeds, workers=2)[0]
    cold, table = timed(seeds=args.seeds, backend="dask", workers=2)
    pd.testing.assert_frame_equal(table, reference)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        warm, table = timed(seeds=args.seeds, backend="dask", address=cluster.scheduler_address)
    pd.testing.assert_frame_equal(table, reference)
    for name, wall in (("cold", cold), ("warm", warm)):
        overhead_ms = 1000 * (wall - local2) / runs
        print(
            f"  {f'dask, 2 workers, {name}':24} {wall:6.2f} s   "
            f"overhead vs local 2 workers {overhead_ms:+.1f} ms per run"
        )
    print("  tables: identical on every backend")


if __name__ == "__main__":  # spawned workers import this file: keep the guard
    main()
