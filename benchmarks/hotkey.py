"""Hot-key benchmark: a flash sale on one product at 2,000 and 16,000 buyers, per mode.

The cell: scenarios/flash_sale_partition.toml without its partition (no
faults), one product with as many units as buyers (so that every buyer may
buy and the product's row would list every order), buyers arriving every
100 ms on average, in strong, weak and eventual mode. Each cell is one whole
run, `run(scenario)` to its metrics (history and every metric included), in a
process of its own, so that a cell that takes too long is stopped and
reported as such. Prints the wall time per request at each size and the
ratio of the largest size's to the smallest's (issue 13's target: <= 1.5 in
every mode: a hot product's row must not grow with the orders it took).

    python benchmarks/hotkey.py [--sizes 2000 16000] [--modes strong weak eventual]
                                [--repeats 1] [--timeout-s 600]

To measure another tree (the committed code, say), run this file with that
tree first on PYTHONPATH: `PYTHONPATH=/tmp/hotkey-base python benchmarks/hotkey.py`.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "flash_sale_partition.toml"
ARRIVAL_MEAN_MS = 100.0
TARGET = 1.5


def overrides(mode: str, buyers: int) -> list[str]:
    """The cell's scenario overrides: no faults, one product, stock for every buyer."""
    return [
        f"cluster.mode={mode}",
        "faults=[]",
        "workload.products=1",
        f"workload.customers={buyers}",
        f"workload.stock={buyers}",
        f"workload.arrival_mean_ms={ARRIVAL_MEAN_MS}",
        f"duration_ms={2 * buyers * ARRIVAL_MEAN_MS}",  # long enough for every buyer to arrive
    ]


def cell(mode: str, buyers: int) -> dict:
    """One run, timed in this process: wall and CPU seconds, the part spent computing the
    metrics (and of that, the stale-read share), requests, what the customers were told."""
    import sys as _sys

    import sim.metrics
    from sim import load_scenario, run

    spent = {"metrics": 0.0, "stale_reads": 0.0}

    def timing(name: str, function: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] += time.process_time() - start

        return timed

    module = _sys.modules["sim.run"]
    module.compute = timing("metrics", module.compute)
    sim.metrics.stale_reads = timing("stale_reads", sim.metrics.stale_reads)
    scenario = load_scenario(SCENARIO, overrides(mode, buyers))
    gc.collect()  # the run before left its world to the collector: not in this time
    start, cpu = time.perf_counter(), time.process_time()
    metrics = run(scenario).metrics
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "metrics_s": spent["metrics"],
        "stale_reads_s": spent["stale_reads"],
        "requests": metrics["requests"],
        "orders_acknowledged": metrics["orders_acknowledged"],
        "lost_orders": metrics["lost_orders"],
        "oversell_units": metrics["oversell_units"],
    }


def timed(mode: str, buyers: int, timeout_s: float) -> dict | None:
    """The cell in a fresh interpreter (same sys.path); None if it ran past `timeout_s`."""
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--cell", mode, str(buyers)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2_000, 16_000])
    parser.add_argument("--modes", nargs="+", default=["strong", "weak", "eventual"])
    parser.add_argument("--repeats", type=int, default=1, help="runs per cell (median reported)")
    parser.add_argument("--timeout-s", type=float, default=600.0, help="give up on a run after")
    parser.add_argument("--cell", nargs=2, metavar=("MODE", "BUYERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:
        print(json.dumps(cell(args.cell[0], int(args.cell[1]))))
        return
    small, large = min(args.sizes), max(args.sizes)
    import sim

    print(f"sim from {Path(sim.__file__).parent}")
    print(
        f"hotkey: flash sale on 1 product, stock = buyers, arrivals every "
        f"{ARRIVAL_MEAN_MS:.0f} ms, no faults; buyers "
        f"{', '.join(f'{n:,}' for n in args.sizes)}; median of {args.repeats}"
    )
    print(f"{'mode':>9}" + "".join(f"{f'ms/req @ {n:,}':>17}" for n in args.sizes) + "    ratio")
    splits: dict[str, dict[int, dict | None]] = {}
    for mode in args.modes:
        runs: dict[int, dict | None] = {}
        for buyers in args.sizes:
            outs = []
            for _ in range(args.repeats):
                out = timed(mode, buyers, args.timeout_s)
                if out is None:
                    outs = []
                    break
                outs.append(out)
            outs.sort(key=lambda o: o["wall_s"])
            runs[buyers] = outs[len(outs) // 2] if outs else None  # the median run
        splits[mode] = runs
        cost = {
            n: None if r is None else 1000.0 * r["wall_s"] / r["requests"] for n, r in runs.items()
        }
        cells = "".join(
            f"{cost[n]:>17.3f}" if cost[n] is not None else f"{f'> {args.timeout_s:.0f} s run':>17}"
            for n in args.sizes
        )
        if cost[small] is not None and cost[large] is not None:
            ratio = cost[large] / cost[small]
            met = "met" if ratio <= TARGET else "MISSED"
            verdict = f"{ratio:5.2f}x  target <= {TARGET}x: {met}"
        else:
            verdict = "    -   (a run did not finish)"
        print(f"{mode:>9}{cells}    {verdict}", flush=True)
    print("where it goes, CPU ms per request: simulation + metrics (of which stale_reads)")
    for mode, runs in splits.items():
        parts, sims = [], {}
        for n in args.sizes:
            r = runs[n]
            if r is None:
                parts.append(f"{n:,}: -")
                continue
            per = 1000.0 / r["requests"]
            sims[n] = (r["cpu_s"] - r["metrics_s"]) * per
            parts.append(
                f"{n:,}: {sims[n]:.3f} + {r['metrics_s'] * per:.3f} "
                f"({r['stale_reads_s'] * per:.3f})"
            )
        ratio = (
            f"simulation {sims[large] / sims[small]:.2f}x" if len(sims) == len(args.sizes) else ""
        )
        print(f"{mode:>9}  {'   '.join(parts)}   {ratio}")


if __name__ == "__main__":
    main()
