"""When faults were active, and what clients got meanwhile: availability during faults and by side.

Only faults that cut links or crash nodes count as fault windows (a fault
class's `disrupts`); clock skew changes no link, so it is reported apart.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from sim.faults.base import Fault
from sim.history import OK, Op
from sim.metrics.timings import Timings

Pairs = Sequence[tuple[Op, Op | None]]


def merge_windows(
    windows: Iterable[tuple[float, float | None]], end_ms: float
) -> list[tuple[float, float]]:
    """Union of [start, end) windows (None: until `end_ms`), sorted and disjoint."""
    spans = sorted((s, end_ms if e is None else e) for s, e in windows)
    out: list[tuple[float, float]] = []
    for start, end in spans:
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def fault_windows(
    faults: Sequence[Fault], end_ms: float, disrupting: bool = True
) -> list[tuple[float, float]]:
    """When a fault that disrupts (cuts or crashes; with False: one that does not) was active."""
    return merge_windows(
        (w for f in faults if f.disrupts is disrupting for w in f.windows(end_ms)), end_ms
    )


def during(windows: Sequence[tuple[float, float]], t: float) -> bool:
    """Whether time `t` falls inside one of the sorted, disjoint windows."""
    starts = [w[0] for w in windows]
    i = bisect.bisect_right(starts, t) - 1
    return i >= 0 and windows[i][0] <= t < windows[i][1]


def during_mask(windows: Sequence[tuple[float, float]], times: np.ndarray) -> np.ndarray:
    """`during` for each of `times` at once: whether it falls inside one of the windows."""
    starts = np.array([w[0] for w in windows], dtype=float)
    ends = np.array([w[1] for w in windows], dtype=float)
    i = np.searchsorted(starts, times, side="right") - 1  # the last window starting by then
    inside = np.zeros(len(times), dtype=bool)
    after_a_start = i >= 0
    inside[after_a_start] = times[after_a_start] < ends[i[after_a_start]]
    return inside


def requests_and_availability(
    shop: Timings, windows: Sequence[tuple[float, float]]
) -> dict[str, Any]:
    """Requests issued, share answered without error, overall and during faults."""
    n = len(shop)
    ok = int(np.count_nonzero(shop.ok))
    in_faults = during_mask(windows, shop.invoked_ms)
    requests_during = int(np.count_nonzero(in_faults))
    ok_during = int(np.count_nonzero(shop.ok & in_faults))
    return {
        "requests": n,
        "availability": ok / n if n else None,
        "availability_during_faults": ok_during / requests_during if requests_during else None,
        "requests_during_faults": requests_during,
        "ok_during_faults": ok_during,
    }


def availability_by_side(
    shop: Pairs,
    faults: Sequence[Fault],
    nodes: int,
    end_ms: float,
    home_of: Callable[[Any], int | None],
) -> list[dict[str, Any]] | None:
    """For each fault that splits the cluster, the availability of each side's clients.

    A client belongs to the side of its home node; its requests count while the
    fault was active. None when no fault splits the cluster.
    """
    out = []
    for i, fault in enumerate(faults):
        sides = fault.sides(nodes)
        if not sides:
            continue
        windows = merge_windows(fault.windows(end_ms), end_ms)
        where = {node: s for s, side in enumerate(sides) for node in side}
        counts = [[0, 0] for _ in sides]
        for inv, done in shop:
            home = home_of(inv.process)
            if home is None or home not in where or not during(windows, inv.time):
                continue
            count = counts[where[home]]
            count[0] += 1
            count[1] += done is not None and done.type == OK
        for side, (requests, ok) in zip(sides, counts, strict=True):
            out.append(
                {
                    "fault": i,
                    "kind": fault.name,
                    "side": list(side),
                    "requests": requests,
                    "availability": ok / requests if requests else None,
                }
            )
    return out or None
