"""Optimistic vs pessimistic orders: throughput, latency, retries, aborts, lock waits.

Strong mode, no faults: `stock` units of one product and more and more buyers
arriving 100 per second, so that many race for the same row. occ retries
after a version conflict (with back-off) and aborts after `max_retries`; lock
waits for a lease lock. Both are safe in strong mode (no oversell); the
question is what each costs. The same race in eventual mode under a 2|3
partition shows what a version check or a lock buys there: nothing safe, the
oversell is measured.

    python experiments/occ_vs_lock.py [--quick] [--seeds N]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import common
import matplotlib.pyplot as plt
import pandas as pd

STOCK = 20
METRICS = (
    "throughput_per_s",
    "latency_ms_p99",
    "retries",
    "aborts",
    "lock_waits",
    "availability",
    "oversell_units",
    "orders_acknowledged",
)
COLORS = {"occ": "tab:purple", "lock": "tab:orange"}


def buyers(quick: bool) -> list[int]:
    """Buyers per run (contention = buyers / stock)."""
    return [20, 100] if quick else [20, 40, 80, 160, 320]


def points(quick: bool) -> list[dict[str, Any]]:
    """strong without faults, eventual with the 2|3 partition; occ and lock; each contention."""
    out = []
    for mode, faults in (("strong", []), ("eventual", None)):
        for concurrency in ("occ", "lock"):
            for n in buyers(quick):
                point = {
                    "cluster.mode": mode,
                    "shop.concurrency": concurrency,
                    "workload.customers": n,
                }
                if faults is not None:
                    point["faults"] = faults
                out.append(point)
    return out


def label(frame: pd.DataFrame) -> pd.DataFrame:
    """Readable `mode`, `concurrency` and `contention` columns."""
    return frame.assign(
        mode=frame["cluster.mode"],
        concurrency=frame["shop.concurrency"],
        contention=frame["workload.customers"] / STOCK,
    )


def plot(frame: pd.DataFrame, args: Any) -> list:
    """Strong mode's costs vs contention, and eventual mode's oversell, occ vs lock."""
    summary = common.summarise(frame, ["mode", "concurrency", "contention"], METRICS)
    strong = summary[summary["mode"] == "strong"]
    panels = [
        ("throughput_per_s", "successful requests per second"),
        ("latency_ms_p99", "p99 latency of successful requests (ms)"),
        ("retries", "occ retries (per run)"),
        ("aborts", "occ aborts (per run)"),
        ("lock_waits", "lock waits: busy answers (per run)"),
    ]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, (metric, ylabel) in zip(axes.flat, panels, strict=False):
        common.errorbar_lines(ax, strong, "contention", metric, "concurrency", COLORS)
        common.log_x(ax, summary["contention"])
        ax.set_xlabel("contention: buyers per unit of stock (log)")
        ax.set_ylabel(ylabel)
        ax.set_title(f"strong: {metric}")
        ax.grid(alpha=0.3)
        ax.legend(title="concurrency")
    ax = axes.flat[5]
    common.errorbar_lines(
        ax,
        summary[summary["mode"] == "eventual"],
        "contention",
        "oversell_units",
        "concurrency",
        COLORS,
    )
    common.log_x(ax, summary["contention"])
    ax.set_xlabel("contention: buyers per unit of stock (log)")
    ax.set_ylabel("units oversold")
    ax.set_title("eventual, 2|3 partition: oversell")
    ax.grid(alpha=0.3)
    ax.legend(title="concurrency")
    fig.suptitle(f"occ vs lock, {STOCK} units, buyers arriving 100/s: {common.seeds_note(args)}")
    return [common.save(fig, "occ_vs_lock", args.quick)]


def summary_lines(frame: pd.DataFrame) -> list[str]:
    """Means at the highest contention, per mode and concurrency control."""
    top = frame[frame["contention"] == frame["contention"].max()]
    s = common.summarise(top, ["mode", "concurrency"], METRICS)
    lines = [f"contention {top['contention'].iloc[0]:g} buyers per unit:"]
    for _, r in s.iterrows():
        lines.append(
            f"  {r['mode']:>8} {r['concurrency']:>4}: {r['throughput_per_s']:.1f} "
            f"ok/s, p99 {r['latency_ms_p99']:.0f} ms, retries {r['retries']:.0f}, "
            f"aborts {r['aborts']:.0f}, lock waits {r['lock_waits']:.0f}, "
            f"oversell {r['oversell_units']:.1f}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Run the sweep, plot, print the summary; returns the labelled table."""
    args = common.arguments(__doc__, argv)
    base = common.base_scenario(
        **{
            "workload.stock": STOCK,
            "workload.arrival_mean_ms": 10.0,
            "faults.0.start_ms": 0,
            "faults.0.end_ms": 8000,
            "duration_ms": 10000,
            "settle_ms": 5000,
        }
    )
    frame = common.run_sweep("occ_vs_lock", base, args, overrides=points(args.quick))
    return common.finish(frame, args, sys.modules[__name__])


if __name__ == "__main__":
    main(sys.argv[1:])
