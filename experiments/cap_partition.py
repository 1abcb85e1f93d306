"""CAP under partitions: availability (by side), oversell, lost orders and latency per mode.

The flash sale of scenarios/flash_sale_partition.toml (5 nodes, N=3, R=W=2)
under three fault shapes starting at 5 s: the 2|3 split, one isolated node, and
a one-way cut from {0, 1} to {2, 3, 4}; partitions of several lengths; and two
ways for clients to reach the cluster: tied to their home node, or through a
load balancer that sends them to any live node (`workload.routing`).
Availability is shown for each side of the split apart: a client homed on the
minority side is who strong mode turns away, unless a load balancer moves it.
Strong mode never oversells; weak and eventual stay available and oversell;
eventual loses no order.

    python experiments/cap_partition.py [--quick] [--seeds N] [--backend dask --address A]
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any

import common
import matplotlib.pyplot as plt
import pandas as pd

from sim.plugins import MODES

ROUTINGS = ("home", "any")
SHAPES: dict[str, dict[str, Any]] = {
    "2|3 split": {"kind": "partition", "groups": [[0, 1], [2, 3, 4]]},
    "isolated node": {"kind": "isolate", "node": 0},
    "one-way {0,1}->{2,3,4}": {"kind": "one-way", "from": [0, 1], "to": [2, 3, 4]},
}
START_MS = 5000
METRICS = (
    "availability",
    "availability_during_faults",
    "minority_availability",
    "oversell_units",
    "lost_orders",
    "latency_ms_p99",
)
LABELS = {
    "availability": "availability (share of requests)",
    "availability_during_faults": "availability during the fault",
    "minority_availability": "availability, node 0's side",
    "oversell_units": "units oversold",
    "lost_orders": "acknowledged orders lost",
    "latency_ms_p99": "p99 latency of successful requests (ms)",
}


def lengths(quick: bool) -> list[int]:
    """Partition lengths in seconds."""
    return [5, 15] if quick else [2, 5, 10, 15, 20]


def points(quick: bool) -> list[dict[str, Any]]:
    """One override set per (mode, routing, shape, length)."""
    out = []
    for mode in MODES.names():
        for routing in ROUTINGS:
            for shape in SHAPES.values():
                for length in lengths(quick):
                    fault = {**shape, "start_ms": START_MS, "end_ms": START_MS + length * 1000}
                    out.append(
                        {"cluster.mode": mode, "workload.routing": routing, "faults": [fault]}
                    )
    return out


def side_availability(sides: Any, minority: bool) -> float:
    """The availability of the side holding node 0 (minority) or the other (majority)."""
    if not isinstance(sides, list):
        return math.nan
    for side in sides:
        if (0 in side["side"]) == minority and side["availability"] is not None:
            return side["availability"]
    return math.nan


def label(frame: pd.DataFrame) -> pd.DataFrame:
    """Readable `shape`, `length_s`, `mode`, `routing`, and each side's availability."""
    kinds = {spec["kind"]: name for name, spec in SHAPES.items()}
    faults = frame["faults"]
    sides = frame["availability_by_side"]
    return frame.assign(
        shape=[kinds[f[0]["kind"]] for f in faults],
        length_s=[(f[0]["end_ms"] - f[0]["start_ms"]) / 1000 for f in faults],
        mode=frame["cluster.mode"],
        routing=frame["workload.routing"],
        minority_availability=[side_availability(s, True) for s in sides],
        majority_availability=[side_availability(s, False) for s in sides],
    )


def plot(frame: pd.DataFrame, args: Any) -> list:
    """Rows: metrics; columns: fault shapes; a line per mode (solid: any node, dashed: home)."""
    summary = common.summarise(frame, ["mode", "routing", "shape", "length_s"], METRICS)
    shown = [m for m in METRICS if m != "availability"]
    fig, axes = plt.subplots(len(shown), len(SHAPES), figsize=(13, 13), sharex=True, squeeze=False)
    for col, shape in enumerate(SHAPES):
        for row, metric in enumerate(shown):
            ax = axes[row][col]
            for routing, style in (("any", "-"), ("home", "--")):
                part = summary[(summary["shape"] == shape) & (summary["routing"] == routing)]
                common.errorbar_lines(
                    ax,
                    part,
                    "length_s",
                    metric,
                    "mode",
                    common.MODE_COLORS,
                    label_prefix=f"{routing}: ",
                    linestyle=style,
                )
            ax.grid(alpha=0.3)
            if row == 0:
                ax.set_title(shape)
            if col == 0:
                ax.set_ylabel(LABELS[metric])
            if row == len(shown) - 1:
                ax.set_xlabel("fault length (s)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, title="routing: mode", loc="lower center", ncol=6)
    fig.suptitle(
        f"Flash sale (300 buyers, 100 units, 5 nodes, N=3) under faults from 5 s: "
        f"{common.seeds_note(args)}"
    )
    return [common.save(fig, "cap_partition", args.quick, legend_below=True)]


def summary_lines(frame: pd.DataFrame) -> list[str]:
    """A few sentences from the table: the longest 2|3 split, per mode and routing."""
    longest = frame["length_s"].max()
    part = frame[(frame["shape"] == "2|3 split") & (frame["length_s"] == longest)]
    columns = [*METRICS, "majority_availability"]
    s = common.summarise(part, ["mode", "routing"], columns)
    lines = [f"2|3 split lasting {longest:g} s (means over seeds):"]
    for _, r in s.iterrows():
        lines.append(
            f"  {r['mode']:>8}, {r['routing']:>4}: availability during fault "
            f"{r['availability_during_faults']:.3f} (minority side "
            f"{r['minority_availability']:.3f}, majority {r['majority_availability']:.3f}), "
            f"oversell {r['oversell_units']:.1f}, "
            f"lost {r['lost_orders']:.1f}, p99 {r['latency_ms_p99']:.0f} ms"
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
