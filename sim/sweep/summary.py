"""What a sweep shows a reader: a grid point in words and a per-point table of headline metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sim.sweep.cells import ERROR

if TYPE_CHECKING:
    import pandas as pd

HEADLINE = ("availability", "oversell_units", "lost_orders", "latency_ms_p99")


def describe(point: Mapping[str, Any]) -> str:
    """`cluster.mode=weak, workload.stock=5` (or `base scenario` for no overrides)."""
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "base scenario"


def summary_table(frame: pd.DataFrame, swept: Sequence[str]) -> pd.DataFrame:
    """Per grid point: runs, failed runs, and the mean of a few headline metrics.

    The means are over the seeds of a point that did not fail; a metric no run
    produced is left out.
    """
    import pandas as pd

    means = [m for m in HEADLINE if m in frame.columns]
    failed = frame[ERROR].notna()
    keys = list(swept) or (lambda _: "all")
    groups = frame.assign(failed=failed).groupby(keys, sort=False, dropna=False)
    table = pd.DataFrame({"runs": groups.size(), "failed": groups["failed"].sum()})
    for metric in means:
        table[metric] = groups[metric].mean()
    return table.reset_index() if swept else table.reset_index(drop=True)
