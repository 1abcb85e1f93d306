"""How long requests took, what the concurrency control cost, and what the network carried."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sim.history import FAIL, OK, Op

Pairs = Sequence[tuple[Op, Op | None]]


def percentiles(values: Sequence[float]) -> dict[str, float] | None:
    """p50, p95, p99, p999 of `values` in ms (None if there are none)."""
    if not values:
        return None
    q = np.percentile(np.asarray(values), [50, 95, 99, 99.9])
    return {n: round(float(v), 6) for n, v in zip(("p50", "p95", "p99", "p999"), q, strict=True)}


def latency(pairs: Pairs, fs: frozenset[str] | None = None) -> dict[str, float] | None:
    """Percentiles of the successful operations (of `fs`, if given), invoke to completion."""
    return percentiles(
        [
            done.time - inv.time
            for inv, done in pairs
            if done is not None and done.type == OK and (fs is None or inv.f in fs)
        ]
    )


def latency_all(pairs: Pairs) -> dict[str, float] | None:
    """Percentiles of every operation that completed, whatever its outcome.

    A request that waited out its deadline counts with the time it waited: the
    latency a customer saw, success or not.
    """
    return percentiles([done.time - inv.time for inv, done in pairs if done is not None])


def concurrency(shop: Pairs, store: Pairs) -> dict[str, Any]:
    """Retries and aborts (occ), lock waits and lease expiries (lock), throughput."""
    retries = waits = aborts = 0
    first = last = None
    ok = 0
    for inv, done in shop:
        first = inv.time if first is None else min(first, inv.time)
        if done is None:
            continue
        last = done.time if last is None else max(last, done.time)
        if done.type == OK:
            ok += 1
        if inv.f == "order":
            retries += done.value.get("retries", 0) if isinstance(done.value, dict) else 0
            waits += done.value.get("lock_waits", 0) if isinstance(done.value, dict) else 0
            if done.type == FAIL and done.error == "aborted":
                aborts += 1
    expiries = sum(
        1
        for inv, done in store
        if inv.f == "unlock" and done is not None and done.error == "lease-expired"
    )
    span = (last - first) if first is not None and last is not None else 0.0
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
