"""Per-node wall clocks: simulated time plus a static and a fault-driven skew (ms)."""

from __future__ import annotations

from collections.abc import Sequence

import simpy


class Clocks:
    """Each node's wall clock reading; skewed clocks move last-writer-wins timestamps."""

    __slots__ = ("env", "skew")

    def __init__(self, env: simpy.Environment, skew_ms: Sequence[float]) -> None:
        self.env = env
        self.skew = [float(s) for s in skew_ms]

    def now(self, node: int) -> float:
        """Node `node`'s wall clock reading, in ms (used for last-writer-wins timestamps)."""
        return self.env.now + self.skew[node]
