"""Scale benchmark: per-request wall cost at 1,000 nodes against 10, per mode (target <= 1.5x).

The run: a browse workload (200 products, 4,000 customers arriving every 5 ms
on average, 5 page views each and a 10% chance to buy: about 20,000 shop
requests), no faults, N = 3, anti-entropy on (eventual mode's default, 1 s),
20 s of traffic and 5 s to settle, behind the default load balancer. The same
run on 10 and on 1,000 nodes; the cost of a request is the wall time of the
whole run (world, ring, load, simulation, history, metrics) divided by its
shop requests (a node's ring points are hashed once per process, as in a
sweep: `sim.engine.ring.node_points`). Prints, per mode, each size's median over the repeats, its
messages delivered per request (the mode's own work: what makes a request
dearer on a big cluster), availability (which must stay 1.0 with no fault) and
stale reads (what a mode's way of serving a big cluster costs in freshness),
and the ratio.

    python benchmarks/scale.py [--repeats 5] [--modes strong,weak,eventual]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

from sim import Scenario, run

SIZES = (10, 1000)
TARGET = 1.5


def scenario(mode: str, nodes: int) -> Scenario:
    """The browse run of the docstring on `nodes` nodes in `mode`."""
    return Scenario.from_dict(
        {
            "name": f"scale {mode} {nodes}",
            "seed": 1,
            "duration_ms": 20_000,
            "settle_ms": 5_000,
            "cluster": {"nodes": nodes, "replication": 3, "mode": mode},
            "workload": {
                "kind": "browse",
                "products": 200,
                "customers": 4_000,
                "arrival_mean_ms": 5.0,
            },
        }
    )


def per_request_ms(mode: str, repeats: int) -> dict[int, tuple[float, dict[str, Any]]]:
    """Per size: the median wall ms per shop request over `repeats` runs, and the last
    run's metrics. The sizes take turns within each repeat, so a change in the machine's
    load touches both alike."""
    costs: dict[int, list[float]] = {n: [] for n in SIZES}
    metrics: dict[int, dict[str, Any]] = {}
    for _ in range(repeats):
        for nodes in SIZES:
            gc.collect()  # the runs before leave their worlds to the collector: not in this time
            start = time.perf_counter()
            metrics[nodes] = run(scenario(mode, nodes)).metrics
            elapsed = time.perf_counter() - start
            costs[nodes].append(elapsed * 1000 / metrics[nodes]["requests"])
    return {n: (statistics.median(costs[n]), metrics[n]) for n in SIZES}


def main() -> None:
    """Print each mode's cost per request at both sizes, its messages per request, the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per cell (median)")
    parser.add_argument("--modes", default="strong,weak,eventual", help="comma-separated")
    args = parser.parse_args()
    print(
        f"scale: browse, ~20,000 requests, {SIZES[0]} vs {SIZES[1]} nodes, {args.repeats} repeats"
    )
    for mode in args.modes.split(","):
        cells = per_request_ms(mode, args.repeats)
        line = f"  {mode:9}"
        for nodes in SIZES:
            cost, m = cells[nodes]
            per_request = m["messages"]["delivered"] / m["requests"]
            stale = m["stale_reads"]
            line += (
                f" {nodes:>5} nodes {cost:6.3f} ms/request "
                f"({per_request:4.1f} msgs/request, avail {m['availability']:.3f}, "
                f"stale {stale:.3f}) "
            )
        ratio = cells[SIZES[1]][0] / cells[SIZES[0]][0]
        verdict = "met" if ratio <= TARGET else "MISSED"
        print(f"{line}  ratio {ratio:4.2f}x  target <= {TARGET}x: {verdict}")


if __name__ == "__main__":
    main()
