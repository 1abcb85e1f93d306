"""Memory benchmark: peak resident memory of a one-million-request run (issue 13: must fit in 2 GB).

The run: the browse shop of benchmarks/scale.py (eventual mode, 10 nodes,
anti-entropy on) with enough customers for the asked number of shop requests
(5 page views each, 10% also buy), history and every metric included, in a
fresh process (`python -m sim run ... --json`) so that its peak is its own.
Prints the requests, the history's length, the wall time and the peak RSS
(the child's ru_maxrss), against the 2 GB budget.

    python benchmarks/memory.py [--requests 1000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGET_MB = 2048
SCENARIO = """
name = "memory"
seed = 1
duration_ms = {duration}
settle_ms = 5000
[cluster]
nodes = 10
replication = 3
mode = "eventual"
[workload]
kind = "browse"
products = 200
customers = {customers}
arrival_mean_ms = 1.0
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000, help="shop requests, about")
    args = parser.parse_args()
    customers = max(1, round(args.requests / 5.1))  # 5 views, and 1 order in 10 visits
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "memory.toml"
        path.write_text(SCENARIO.format(customers=customers, duration=customers * 1.0 + 10_000))
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "sim", "run", str(path), "--json"],
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    metrics = json.loads(proc.stdout)["metrics"]
    verdict = "met" if peak_mb <= BUDGET_MB else "MISSED"
    print(
        f"memory: browse, eventual, 10 nodes, {metrics['requests']:,} shop requests, "
        f"{metrics['messages']['delivered']:,} messages\n"
        f"  wall {wall:.1f} s   peak RSS {peak_mb:,.0f} MB   budget {BUDGET_MB:,} MB: {verdict}"
    )


if __name__ == "__main__":
    main()
