"""CAP under partitions: availability, oversell, lost orders and latency per mode as faults vary.

The flash sale of scenarios/flash_sale_partition.toml (5 nodes, N=3, R=W=2)
under three fault shapes starting at 5 s: the 2|3 split, one isolated node, and
a one-way cut from {0, 1} to {2, 3, 4}; and partitions of several lengths.
Strong mode gives up availability on the minority side and never oversells;
weak and eventual stay available and oversell; eventual loses no order.

    python experiments/cap_partition.py [--quick] [--seeds N] [--backend dask --address A]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import common
import matplotlib.pyplot as plt
import pandas as pd

from sim.plugins import MODES

SHAPES: dict[str, dict[str, Any]] = {
    "2|3 split": {"kind": "partition", "groups": [[0, 1], [2, 3, 4]]},
    "isolated node": {"kind": "isolate", "node": 0},
    "one-way {0,1}->{2,3,4}": {"kind": "one-way", "from": [0, 1], "to": [2, 3, 4]},
}
START_MS = 5000
METRICS = (
    "availability",
    "availability_during_faults",
    "oversell_units",
    "lost_orders",
    "latency_ms_p99",
)
LABELS = {
    "availability": "availability (share of requests)",
    "availability_during_faults": "availability during the fault",
    "oversell_units": "units oversold",
    "lost_orders": "acknowledged orders lost",
    "latency_ms_p99": "p99 latency of successful requests (ms)",
}


def lengths(quick: bool) -> list[int]:
    """Partition lengths in seconds."""
    return [5, 15] if quick else [2, 5, 10, 15, 20]


def points(quick: bool) -> list[dict[str, Any]]:
    """One override set per (mode, shape, length)."""
    out = []
    for mode in MODES.names():
        for shape in SHAPES.values():
            for length in lengths(quick):
                fault = {**shape, "start_ms": START_MS, "end_ms": START_MS + length * 1000}
                out.append({"cluster.mode": mode, "faults": [fault]})
    return out


def label(frame: pd.DataFrame) -> pd.DataFrame:
    """Add readable `shape` and `length_s` columns from the swept `faults` value."""
    kinds = {spec["kind"]: name for name, spec in SHAPES.items()}
    faults = frame["faults"]
    return frame.assign(
        shape=[kinds[f[0]["kind"]] for f in faults],
        length_s=[(f[0]["end_ms"] - f[0]["start_ms"]) / 1000 for f in faults],
        mode=frame["cluster.mode"],
    )


def plot(frame: pd.DataFrame, args: Any) -> list:
    """Rows: metrics; columns: fault shapes; a line per mode with 95% CIs over seeds."""
    summary = common.summarise(frame, ["mode", "shape", "length_s"], METRICS)
    shown = [m for m in METRICS if m != "availability"]
    fig, axes = plt.subplots(len(shown), len(SHAPES), figsize=(13, 11), sharex=True, squeeze=False)
    for col, shape in enumerate(SHAPES):
        for row, metric in enumerate(shown):
            ax = axes[row][col]
            part = summary[summary["shape"] == shape]
            common.errorbar_lines(ax, part, "length_s", metric, "mode", common.MODE_COLORS)
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(shape)
            if col == 0:
                ax.set_ylabel(LABELS[metric])
            if row == len(shown) - 1:
                ax.set_xlabel("fault length (s)")
    axes[0][0].legend(title="mode")
    fig.suptitle(
        f"Flash sale (300 buyers, 100 units, 5 nodes, N=3) under faults from 5 s: "
        f"{common.seeds_note(args)}"
    )
    return [common.save(fig, "cap_partition", args.quick)]


def summary_lines(frame: pd.DataFrame) -> list[str]:
    """A few sentences from the table: the longest 2|3 split, per mode."""
    longest = frame["length_s"].max()
    part = frame[(frame["shape"] == "2|3 split") & (frame["length_s"] == longest)]
    s = common.summarise(part, ["mode"], METRICS)
    lines = [f"2|3 split lasting {longest:g} s (means over seeds):"]
    for _, r in s.iterrows():
        lines.append(
            f"  {r['mode']:>8}: availability during fault {r[METRICS[1]]:.3f}, "
            f"oversell {r['oversell_units']:.1f} units, lost orders "
            f"{r['lost_orders']:.1f}, p99 {r['latency_ms_p99']:.0f} ms"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Run the sweep, plot, print the summary; returns the labelled table."""
    args = common.arguments(__doc__, argv)
    frame = common.run_sweep(
        "cap_partition", common.base_scenario(), args, overrides=points(args.quick)
    )
    return common.finish(frame, args, sys.modules[__name__])


if __name__ == "__main__":
    main(sys.argv[1:])
