"""Faults of one node: `crash` (down, then restarted) and `clock-skew` (its clock moved)."""

from __future__ import annotations

from typing import Any

from sim.config.limits import check_skew
from sim.faults.base import Fault, FaultTarget, node_id


class Crash(Fault):
    """Node `node` is down until `end_ms`: it loses volatile state, and restarts then."""

    name = "crash"
    order = 60

    node: int

    def check(self, nodes: int, path: str) -> None:
        """The node exists."""
        super().check(nodes, path)
        node_id(self.node, f"{path}.node", nodes)

    def start(self, target: FaultTarget) -> Any:
        """Take the node down."""
        target.crash(self.node)

    def stop(self, target: FaultTarget, handle: Any) -> None:
        """Bring it back."""
        target.restart(self.node)

    def describe(self) -> Any:
        """The node id."""
        return self.node


class ClockSkew(Fault):
    """Node `node`'s clock runs `skew_ms` ahead (negative: behind) while active."""

    name = "clock-skew"
    order = 70
    disrupts = False  # no link is cut: requests meanwhile are not "during a fault"

    node: int
    skew_ms: float

    def check(self, nodes: int, path: str) -> None:
        """The node exists, and the skew is one a clock can have (sim/config/limits.py)."""
        super().check(nodes, path)
        node_id(self.node, f"{path}.node", nodes)
        check_skew(self.skew_ms, f"{path}.skew_ms")

    def start(self, target: FaultTarget) -> Any:
        """Move the clock."""
        target.skew(self.node, self.skew_ms)

    def stop(self, target: FaultTarget, handle: Any) -> None:
        """Move it back."""
        target.skew(self.node, -self.skew_ms)

    def describe(self) -> Any:
        """{"node": ..., "skew_ms": ...}."""
        return {"node": self.node, "skew_ms": self.skew_ms}


FAULTS = (Crash, ClockSkew)
