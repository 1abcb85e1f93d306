"""Siblings: how many versions a read returns, vs write concurrency and under long partitions.

Eventual mode (N=3, R=W=2), a flash sale of one product with plenty of stock
so that every buyer writes the product row. Without faults, siblings appear
only when two writes from different coordinators race within a replication
round trip, so they grow with the arrival rate. Under a partition each side
writes its own branch: every read after the heal sees two versions until a
client writes the merge back. Dynamo reported 99.94% of reads seeing exactly
one version in production (DeCandia et al. 2007, §6.3), where writes to one
key are rarely concurrent; a flash sale is the opposite case.

    python experiments/siblings.py [--quick] [--seeds N]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import common
import matplotlib.pyplot as plt
import pandas as pd

DYNAMO_ONE_VERSION = 0.9994


def rates(quick: bool) -> list[float]:
    """Buyers per second, without faults."""
    return [5.0, 40.0, 160.0] if quick else [2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0]


def lengths(quick: bool) -> list[int]:
    """Partition lengths in seconds (20 buyers per second)."""
    return [5, 20] if quick else [2, 5, 10, 20]


def points(quick: bool) -> list[dict[str, Any]]:
    """Concurrency without faults, then partitions of growing length."""
    out: list[dict[str, Any]] = [
        {"workload.arrival_mean_ms": 1000.0 / rate, "faults": []} for rate in rates(quick)
    ]
    out += [
        {
            "workload.arrival_mean_ms": 50.0,
            "faults": [
                {
                    "kind": "partition",
                    "start_ms": 2000,
                    "end_ms": 2000 + s * 1000,
                    "groups": [[0, 1], [2, 3, 4]],
                }
            ],
        }
        for s in lengths(quick)
    ]
    return out


def label(frame: pd.DataFrame) -> pd.DataFrame:
    """Per run: buyers/s, partition length, and the shares of reads by sibling count."""
    counts = frame.filter(regex=r"^versions_seen_\d+$").fillna(0)
    counts = counts.drop(columns=["versions_seen_0"], errors="ignore")  # absent keys
    total = counts.sum(axis=1)
    shares = counts.div(total, axis=0)
    sizes = [int(c.rsplit("_", 1)[1]) for c in counts.columns]
    out = frame.assign(
        buyers_per_s=(1000.0 / frame["workload.arrival_mean_ms"]).round(3),
        partition_s=[
            (f[0]["end_ms"] - f[0]["start_ms"]) / 1000 if f else 0.0 for f in frame["faults"]
        ],
        one_version=shares.get("versions_seen_1", 0.0),
        max_versions=[
            max((s for s, c in zip(sizes, row, strict=True) if c), default=0)
            for row in counts.to_numpy()
        ],
    )
    for size, col in zip(sizes, counts.columns, strict=True):
        out[f"share_{size}"] = shares[col]
    return out


def plot(frame: pd.DataFrame, args: Any) -> list:
    """Share of reads with one version vs concurrency and vs partition length."""
    calm = frame[frame["partition_s"] == 0]
    split = frame[frame["partition_s"] > 0]
    metrics = ["one_version", "max_versions"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    s = common.summarise(calm, ["buyers_per_s"], metrics).assign(series="no faults")
    common.errorbar_lines(axes[0], s, "buyers_per_s", "one_version", "series")
    axes[0].axhline(
        DYNAMO_ONE_VERSION,
        color="black",
        linestyle="--",
        linewidth=1,
        label="Dynamo in production (99.94%)",
    )
    common.log_x(axes[0], s["buyers_per_s"])
    axes[0].set_xlabel("buyers per second on one product (log)")
    axes[0].set_ylabel("share of reads returning one version")
    axes[0].set_title("siblings vs write concurrency (no faults)")
    common.errorbar_lines(axes[1], s, "buyers_per_s", "max_versions", "series")
    common.log_x(axes[1], s["buyers_per_s"])
    axes[1].set_xlabel("buyers per second on one product (log)")
    axes[1].set_ylabel("most versions any read returned")
    axes[1].set_title("largest sibling set seen")
    p = common.summarise(split, ["partition_s"], metrics).assign(series="2|3 partition")
    common.errorbar_lines(axes[2], p, "partition_s", "one_version", "series")
    axes[2].axhline(DYNAMO_ONE_VERSION, color="black", linestyle="--", linewidth=1)
    axes[2].set_xlabel("partition length (s), 20 buyers per second")
    axes[2].set_ylabel("share of reads returning one version")
    axes[2].set_title("siblings under partitions")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Eventual mode, N=3, R=W=2, one product: " + common.seeds_note(args))
    return [common.save(fig, "siblings", args.quick)]


def summary_lines(frame: pd.DataFrame) -> list[str]:
    """Where the shop lands against Dynamo's 99.94%."""
    calm = common.summarise(
        frame[frame["partition_s"] == 0], ["buyers_per_s"], ["one_version", "max_versions"]
    )
    lines = [
        f"  {r['buyers_per_s']:g} buyers/s, no faults: {100 * r['one_version']:.2f}% of "
        f"reads see one version (most seen: {r['max_versions']:.0f})"
        for _, r in calm.iterrows()
    ]
    split = common.summarise(frame[frame["partition_s"] > 0], ["partition_s"], ["one_version"])
    lines += [
        f"  {r['partition_s']:g} s partition: {100 * r['one_version']:.2f}% one version"
        for _, r in split.iterrows()
    ]
    return [
        f"Dynamo in production: {100 * DYNAMO_ONE_VERSION:.2f}% of reads see one version",
        *lines,
    ]


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    """Run the sweep, plot, print the summary; returns the labelled table."""
    args = common.arguments(__doc__, argv)
    base = common.base_scenario(
        **{
            "cluster.mode": "eventual",
            "workload.stock": 100000,
            "workload.customers": 300 if args.quick else 600,
            "duration_ms": 60000,
            "settle_ms": 5000,
        }
    )
    frame = common.run_sweep("siblings", base, args, overrides=points(args.quick))
    return common.finish(frame, args, sys.modules[__name__])


if __name__ == "__main__":
    main(sys.argv[1:])
