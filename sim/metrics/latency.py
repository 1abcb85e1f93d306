"""How long requests took, what the concurrency control cost, and what the network carried."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sim.history import FAIL, Op
from sim.metrics.timings import Timings

Pairs = Sequence[tuple[Op, Op | None]]


def percentiles(values: np.ndarray) -> dict[str, float] | None:
    """p50, p95, p99, p999 of `values` in ms (None if there are none)."""
    if not len(values):
        return None
    q = np.percentile(values, [50, 95, 99, 99.9])
    return {n: round(float(v), 6) for n, v in zip(("p50", "p95", "p99", "p999"), q, strict=True)}


def latency(timings: Timings) -> dict[str, float] | None:
    """Percentiles of the successful operations, invoke to completion."""
    ok = timings.ok
    return percentiles(timings.completed_ms[ok] - timings.invoked_ms[ok])


def latency_all(timings: Timings) -> dict[str, float] | None:
    """Percentiles of every operation that completed, whatever its outcome.

    A request that waited out its deadline counts with the time it waited: the
    latency a customer saw, success or not.
    """
    done = timings.completed
    return percentiles(timings.completed_ms[done] - timings.invoked_ms[done])


def concurrency(shop: Timings, orders: Pairs, unlocks: Pairs) -> dict[str, Any]:
    """Retries and aborts (occ), lock waits and lease expiries (lock), throughput.

    Args:
        shop: every shop request (throughput counts the successful ones over the
            span from the first invoke to the last completion).
        orders: the order requests' pairs (retries, lock waits, aborts).
        unlocks: the store's unlock pairs (lease expiries).
    """
    retries = waits = aborts = 0
    for _, done in orders:
        if done is None:
            continue
        if isinstance(done.value, dict):
            retries += done.value.get("retries", 0)
            waits += done.value.get("lock_waits", 0)
        if done.type == FAIL and done.error == "aborted":
            aborts += 1
    expiries = sum(1 for _, done in unlocks if done is not None and done.error == "lease-expired")
    completed = shop.completed_ms[shop.completed]
    span = 0.0
    if len(shop) and len(completed):
        span = float(completed.max()) - float(shop.invoked_ms.min())
    ok = int(np.count_nonzero(shop.ok))
    return {
        "retries": retries,
        "aborts": aborts,
        "lock_waits": waits,
        "lock_expiries": expiries,
        "throughput_per_s": ok / (span / 1000.0) if span > 0 else None,
    }


def messages(network: Mapping[str, Any], requests: int) -> dict[str, Any]:
    """Network cost: totals, per request, per kind, and anti-entropy on its own."""
    by_kind = network["by_kind"]
    sync = by_kind.get("sync", {"sent": 0, "delivered": 0, "dropped": 0})
    return {
        "sent": network["sent"],
        "delivered": network["delivered"],
        "dropped": network["dropped"],
        "per_request": network["delivered"] / requests if requests else None,
        "by_kind": dict(by_kind),
        "anti_entropy": dict(sync),
    }
