"""Flash sale: oversell and apologies vs concurrent buyers and stock, per mode and resolver.

The flash sale of scenarios/flash_sale_partition.toml (its 2|3 partition moved
to 1 s - 16 s so that it starts before the stock runs out) with buyers arriving
faster or slower and more or less stock. Weak mode oversells and loses the
losing side's orders; eventual mode with merge-orders oversells as much but
detects it when the siblings meet and apologises instead of losing orders; with
lww it loses them; strong mode never oversells, at the price of refusing the
minority side.

    python experiments/flash_sale.py [--quick] [--seeds N]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import common
import matplotlib.pyplot as plt
import pandas as pd

VARIANTS: dict[str, dict[str, Any]] = {
    "strong": {"cluster.mode": "strong"},
    "weak": {"cluster.mode": "weak"},
    "eventual, merge-orders": {"cluster.mode": "eventual", "shop.resolver": "merge-orders"},
    "eventual, lww": {"cluster.mode": "eventual", "shop.resolver": "lww"},
}
COLORS = {
    "strong": common.MODE_COLORS["strong"],
    "weak": common.MODE_COLORS["weak"],
    "eventual, merge-orders": common.MODE_COLORS["eventual"],
    "eventual, lww": "tab:olive",
}
METRICS = (
    "oversell_units",
    "apologies",
    "lost_orders",
    "availability_during_faults",
    "orders_acknowledged",
)


def rates(quick: bool) -> list[float]:
    """Buyers per second (the arrival rate of the Poisson process)."""
    return [5.0, 20.0] if quick else [2.0, 5.0, 10.0, 20.0, 40.0]


def stocks(quick: bool) -> list[int]:
    """Units of the product on sale."""
    return [50] if quick else [20, 100]


def points(quick: bool) -> list[dict[str, Any]]:
    """One override set per (variant, rate, stock); 300 buyers whatever the rate."""
    return [
        {**variant, "workload.arrival_mean_ms": 1000.0 / rate, "workload.stock": stock}
        for variant in VARIANTS.values()
        for rate in rates(quick)
        for stock in stocks(quick)
    ]


def label(frame: pd.DataFrame) -> pd.DataFrame:
    """Readable `variant` and `buyers_per_s` columns."""

    def name(row: pd.Series) -> str:
        mode = row["cluster.mode"]
        if mode != "eventual":
            return mode
        return f"eventual, {row['shop.resolver']}"

    return frame.assign(
        variant=frame.apply(name, axis=1),
        buyers_per_s=(1000.0 / frame["workload.arrival_mean_ms"]).round(3),
        stock=frame["workload.stock"],
    )


def plot(frame: pd.DataFrame, args: Any) -> list:
    """Oversell, apologies and lost orders vs buyers per second; a column per stock level."""
    summary = common.summarise(frame, ["variant", "stock", "buyers_per_s"], METRICS)
    shown = ("oversell_units", "apologies", "lost_orders")
    labels = {
        "oversell_units": "units oversold",
        "apologies": "apologies (orders cancelled)",
        "lost_orders": "acknowledged orders lost",
    }
    levels = sorted(summary["stock"].unique())
    fig, axes = plt.subplots(
        len(shown), len(levels), figsize=(max(10, 6 * len(levels)), 10), squeeze=False, sharex=True
    )
    for col, stock in enumerate(levels):
        for row, metric in enumerate(shown):
            ax = axes[row][col]
            common.errorbar_lines(
                ax, summary[summary["stock"] == stock], "buyers_per_s", metric, "variant", COLORS
            )
            common.log_x(ax, summary["buyers_per_s"])
            ax.grid(alpha=0.3)
            ax.set_ylabel(labels[metric])
            if row == 0:
                ax.set_title(f"stock {stock} units")
            if row == len(shown) - 1:
                ax.set_xlabel("buyers per second (log scale)")
    axes[0][0].legend(title="mode, resolver")
    fig.suptitle(
        "Flash sale, 300 buyers, 2|3 partition from 1 s to 16 s: " + common.seeds_note(args)
    )
    return [common.save(fig, "flash_sale", args.quick)]


def summary_lines(frame: pd.DataFrame) -> list[str]:
    """Means at the fastest arrival rate and the smallest stock."""
    part = frame[
        (frame["buyers_per_s"] == frame["buyers_per_s"].max())
        & (frame["stock"] == frame["stock"].min())
    ]
    s = common.summarise(part, ["variant"], METRICS)
    lines = [f"{part['buyers_per_s'].iloc[0]:g} buyers/s, stock {part['stock'].iloc[0]}:"]
    for _, r in s.iterrows():
        lines.append(
            f"  {r['variant']:>22}: oversell {r['oversell_units']:.1f}, apologies "
            f"{r['apologies']:.1f}, lost {r['lost_orders']:.1f}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Run the sweep, plot, print the summary; returns the labelled table."""
    args = common.arguments(__doc__, argv)
    base = common.base_scenario(**{"faults.0.start_ms": 1000, "faults.0.end_ms": 16000})
    frame = common.run_sweep("flash_sale", base, args, overrides=points(args.quick))
    return common.finish(frame, args, sys.modules[__name__])


if __name__ == "__main__":
    main(sys.argv[1:])
