"""t-visibility and k-staleness from the probe's reads, as PBS defines them (Bailis et al. 2012).

A probe read (shop operation `probe`, sim/shop/workloads/probe.py) names the
write it probes, `write` = j, and the offset t after j's commit at which it
left its coordinator; answered, it names the newest version it returned.

- t-visibility: at each offset t, the share of answered reads that returned
  version j or a newer one, with a 95% Wilson interval; `t_999_ms` and
  `t_99_ms` are the first t at which that share reaches 0.999 and 0.99,
  interpolated linearly between the offsets around the crossing (the first
  offset if it is reached at once; None if the grid never reaches it).
- k-staleness: of the answered reads at t = 0, the share that returned one of
  the last k committed versions (j, j-1, ..., j-k+1), for k = 1..K_MAX, over
  the reads of writes j >= k - 1 (those that have k versions to be among).

Reads that failed or timed out are not in the shares (they returned nothing);
`reads` gives how many answered reads each share is over.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sim.history import OK, PROBE, Op

K_MAX = 10
"""k-staleness is reported for k = 1..K_MAX (fewer if the keys have fewer versions)."""

Z95 = 1.959963984540054
"""The standard normal quantile of 0.975."""

Pairs = Sequence[tuple[Op, Op | None]]


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of a binomial share (valid at 0 and 1, unlike the normal one)."""
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def first_reaching(
    offsets: Sequence[float], shares: Sequence[float | None], level: float
) -> float | None:
    """The first t at which the share reaches `level`, interpolated; None if it never does."""
    previous: tuple[float, float] | None = None
    for t, p in zip(offsets, shares, strict=True):
        if p is None:
            continue
        if p >= level:
            if previous is None:
                return t
            t0, p0 = previous
            return t0 + (level - p0) * (t - t0) / (p - p0)
        previous = (t, p)
    return None


def _answered(pairs: Pairs) -> list[dict[str, Any]]:
    """The values of the probe reads that were answered."""
    return [
        done.value
        for inv, done in pairs
        if inv.f == PROBE and done is not None and done.type == OK and done.value is not None
    ]


def t_visibility(pairs: Pairs) -> dict[str, Any] | None:
    """P(consistent) by offset, 95% intervals, t_999_ms and t_99_ms (None without probe reads)."""
    offsets = sorted({inv.value["offset_ms"] for inv, _ in pairs if inv.f == PROBE})
    if not offsets:
        return None
    hits: dict[float, int] = defaultdict(int)
    reads: dict[float, int] = defaultdict(int)
    for value in _answered(pairs):
        t = value["offset_ms"]
        reads[t] += 1
        returned = value["returned"]
        hits[t] += returned is not None and returned >= value["write"]
    shares = [hits[t] / reads[t] if reads[t] else None for t in offsets]
    return {
        "offsets_ms": offsets,
        "p_consistent": [None if p is None else round(p, 6) for p in shares],
        "ci95": [
            [round(v, 6) for v in wilson(hits[t], reads[t])] if reads[t] else None for t in offsets
        ],
        "t_999_ms": _rounded(first_reaching(offsets, shares, 0.999)),
        "t_99_ms": _rounded(first_reaching(offsets, shares, 0.99)),
        "reads": [reads[t] for t in offsets],
        "trials": len({(inv.key, inv.value["write"]) for inv, _ in pairs if inv.f == PROBE}),
    }


def k_staleness(pairs: Pairs) -> dict[str, Any] | None:
    """P(a read at t = 0 returns one of the last k versions), k = 1..K_MAX (None without any).

    The share at k is over the reads of writes that have k committed versions
    to be among (write j >= k - 1): a read of a key's first version that
    returns nothing is stale at k = 1 and not counted at k = 2.
    """
    at_zero = [v for v in _answered(pairs) if v["offset_ms"] == 0.0]
    if not at_zero:
        return None
    versions = max(v["write"] for v in at_zero) + 1
    ks = list(range(1, min(K_MAX, versions) + 1))
    behind = [
        (v["write"], v["write"] - v["returned"] if v["returned"] is not None else math.inf)
        for v in at_zero
    ]
    reads = [sum(1 for j, _ in behind if j >= k - 1) for k in ks]
    within = [sum(1 for j, b in behind if j >= k - 1 and b < k) for k in ks]
    return {
        "k": ks,
        "p_within_k": [round(w / n, 6) for w, n in zip(within, reads, strict=True)],
        "reads": reads,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
