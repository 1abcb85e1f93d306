"""Quorum trade-offs (PBS): for N=3 and N=5, every R and W: latency, staleness, availability.

Eventual mode with strict quorums (no sloppy quorum, so that R and W decide
who can answer) on 5 nodes, browse traffic over 20 products with some
purchases, a long-tailed network (95% lognormal around 3 ms, 5% Pareto from
20 ms) and a 2|3 partition in the middle. R + W > N gives reads that see the
latest acknowledged write (no stale reads) but waits for slower replicas and
needs more of them reachable: the partition shows which (R, W) stay available.

    python experiments/quorum_tradeoffs.py [--quick] [--seeds N]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import common
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

PANELS = (
    ("stale_reads", "share of stale reads"),
    ("availability_during_faults", "availability during the partition"),
    ("read_latency_ms_p99", "read p99 (ms)"),
    ("write_latency_ms_p99", "write p99 (ms)"),
)
LATENCY = {
    "dist": "mixture",
    "parts": [
        {"weight": 0.95, "dist": "lognormal", "mu": 1.1, "sigma": 0.5},
        {"weight": 0.05, "dist": "pareto", "xm": 20.0, "alpha": 1.5},
    ],
}


def points() -> list[dict[str, Any]]:
    """Every (N, R, W) with N in 3, 5."""
    return [
        {"cluster.replication": n, "cluster.read_quorum": r, "cluster.write_quorum": w}
        for n in (3, 5)
        for r in range(1, n + 1)
        for w in range(1, n + 1)
    ]


def base(quick: bool) -> Any:
    """Browse traffic with purchases under a 2|3 partition, strict quorums."""
    customers = 80 if quick else 200
    return common.base_scenario(
        **{
            "cluster.mode": "eventual",
            "cluster.sloppy_quorum": False,
            "network.latency": LATENCY,
            "workload.kind": "browse",
            "workload.products": 20,
            "workload.customers": customers,
            "workload.reads_per_customer": 5,
            "workload.buy_probability": 0.3,
            "workload.think_ms": 50.0,
            "workload.arrival_mean_ms": 40.0,
            "workload.stock": 1000,
            "duration_ms": customers * 40.0,
            "settle_ms": 3000,
            "faults.0.start_ms": customers * 10.0,
            "faults.0.end_ms": customers * 30.0,
        }
    )


def label(frame: pd.DataFrame) -> pd.DataFrame:
    """Short `N`, `R`, `W` columns."""
    return frame.assign(
        N=frame["cluster.replication"],
        R=frame["cluster.read_quorum"],
        W=frame["cluster.write_quorum"],
    )


def short(value: float) -> str:
    """A number in at most four characters, without scientific notation."""
    return f"{value:.0f}" if abs(value) >= 10 else f"{value:.2g}"


def plot(frame: pd.DataFrame, args: Any) -> list:
    """Heat maps over (R, W), a row per N, each cell mean ± 95% CI; R + W > N outlined."""
    summary = common.summarise(frame, ["N", "R", "W"], [m for m, _ in PANELS])
    fig, axes = plt.subplots(2, len(PANELS), figsize=(4.2 * len(PANELS), 8), squeeze=False)
    for row, n in enumerate((3, 5)):
        part = summary[summary["N"] == n]
        for col, (metric, title) in enumerate(PANELS):
            ax = axes[row][col]
            grid = np.full((n, n), np.nan)
            half = np.full((n, n), np.nan)  # 95% CI half-width over seeds
            for _, r in part.iterrows():
                grid[int(r["R"]) - 1, int(r["W"]) - 1] = r[metric]
                half[int(r["R"]) - 1, int(r["W"]) - 1] = r[f"{metric}_ci"]
            image = ax.imshow(
                grid,
                origin="lower",
                cmap="viridis",
                aspect="auto",
                extent=(0.5, n + 0.5, 0.5, n + 0.5),
            )
            fig.colorbar(image, ax=ax, shrink=0.8)
            middle = np.nanmin(grid) + 0.6 * (np.nanmax(grid) - np.nanmin(grid))
            for i in range(n):
                for j in range(n):
                    if not np.isnan(grid[i, j]):
                        ax.text(
                            j + 1,
                            i + 1,
                            f"{short(grid[i, j])}\n±{short(half[i, j])}",
                            ha="center",
                            va="center",
                            fontsize=6,
                            color="black" if grid[i, j] > middle else "white",
                        )
            xs = np.arange(1, n + 1)
            # Cells above this staircase have R + W > N: every read quorum meets every
            # write quorum.
            edges = np.arange(0.5, n + 1.5)
            ax.stairs(
                n + 0.5 - xs,
                edges,
                color="red",
                linewidth=1.5,
                baseline=None,
                label="above: R + W > N",
            )
            ax.set_xlabel("W (write quorum)")
            ax.set_ylabel("R (read quorum)")
            ax.set_title(f"N={n}: {title}")
            ax.set_xticks(xs)
            ax.set_yticks(xs)
    axes[0][0].legend(loc="upper right", fontsize=7)
    fig.suptitle(
        "Quorums on 5 nodes, strict quorum, long-tailed latency, 2|3 partition: "
        + common.seeds_note(args)
    )
    return [common.save(fig, "quorum_tradeoffs", args.quick)]


def summary_lines(frame: pd.DataFrame) -> list[str]:
    """Stale reads and availability for overlapping vs non-overlapping quorums."""
    s = common.summarise(
        frame.assign(overlap=frame["R"] + frame["W"] > frame["N"]),
        ["N", "overlap"],
        ["stale_reads", "availability_during_faults", "read_latency_ms_p99"],
    )
    return [
        f"  N={int(r['N'])}, R+W{'>' if r['overlap'] else '<='}N: stale reads "
        f"{r['stale_reads']:.3f}, availability during partition "
        f"{r['availability_during_faults']:.3f}, read p99 {r['read_latency_ms_p99']:.1f} ms"
        for _, r in s.iterrows()
    ]


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Run the sweep, plot, print the summary; returns the labelled table."""
    args = common.arguments(__doc__, argv)
    frame = common.run_sweep("quorum_tradeoffs", base(args.quick), args, overrides=points())
    return common.finish(frame, args, sys.modules[__name__])


if __name__ == "__main__":
    main(sys.argv[1:])
