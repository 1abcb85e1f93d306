"""Partitions: symmetric (`partition`), non-transitive (`bridge`), on and off (`flapping`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from sim.config.limits import check_period, windows_estimate
from sim.config.table import as_tuple
from sim.errors import ScenarioError
from sim.faults.base import Cut, CutFault, node_list

Groups = Annotated[tuple[tuple[int, ...], ...], BeforeValidator(as_tuple)]


def partition_cut(groups: Sequence[Sequence[int]], nodes: int, rest_is_bridge: bool) -> Cut:
    """A cut between groups. Unlisted nodes form one more group, or bridge all (for bridges)."""
    side: list[int | None] = [None if rest_is_bridge else len(groups)] * nodes
    for i, group in enumerate(groups):
        for node in group:
            side[node] = i

    def cut(src: int, dst: int) -> bool:
        a = side[src]
        b = side[dst]
        return a is not None and b is not None and a != b

    return cut


class Partition(CutFault):
    """Messages between groups are dropped; nodes not listed form one more group together."""

    name = "partition"
    order = 10

    groups: Groups

    def _check_groups(self, nodes: int, path: str) -> int:
        """Groups are non-empty, disjoint lists of existing nodes; returns how many are unlisted."""
        if not self.groups:
            raise ScenarioError(f"{path}.groups: must list at least one group of node ids")
        seen: dict[int, int] = {}
        for i, group in enumerate(self.groups):
            for node in node_list(group, f"{path}.groups[{i}]", nodes):
                if node in seen:
                    raise ScenarioError(
                        f"{path}.groups: groups overlap: node {node} is in groups {seen[node]} "
                        f"and {i}"
                    )
                seen[node] = i
        return nodes - len(seen)

    def check(self, nodes: int, path: str) -> None:
        """At least two sides, counting the unlisted nodes as one."""
        super().check(nodes, path)
        rest = self._check_groups(nodes, path)
        if len(self.groups) + (1 if rest else 0) < 2:
            raise ScenarioError(
                f"{path}.groups: a partition needs at least two sides "
                "(list the groups, unlisted nodes form one more)"
            )

    def cut_for(self, nodes: int) -> Cut:
        """Drop messages between different groups."""
        return partition_cut(self.groups, nodes, rest_is_bridge=False)

    def sides(self, nodes: int) -> list[tuple[int, ...]] | None:
        """The groups, and the unlisted nodes as one more (the bridge, for a bridge)."""
        listed = {n for g in self.groups for n in g}
        rest = tuple(n for n in range(nodes) if n not in listed)
        return [tuple(g) for g in self.groups] + ([rest] if rest else [])

    def describe(self) -> Any:
        """The groups, as lists."""
        return [list(g) for g in self.groups]


class Bridge(Partition):
    """Two groups that cannot reach each other; the unlisted nodes reach both (non-transitive)."""

    name = "bridge"
    order = 40

    def check(self, nodes: int, path: str) -> None:
        """Exactly two groups, and at least one unlisted node to be the bridge."""
        CutFault.check(self, nodes, path)
        rest = self._check_groups(nodes, path)
        if len(self.groups) != 2:
            raise ScenarioError(
                f"{path}.groups: a bridge needs exactly 2 groups (got {len(self.groups)})"
            )
        if rest == 0:
            raise ScenarioError(
                f"{path}.groups: a bridge needs at least one unlisted node to be the bridge"
            )

    def cut_for(self, nodes: int) -> Cut:
        """Drop messages between the two groups; the bridge reaches both."""
        return partition_cut(self.groups, nodes, rest_is_bridge=True)


class Flapping(Partition):
    """A partition that is on for `period_ms`, off for `period_ms`, and so on until `end_ms`."""

    name = "flapping"
    order = 50

    period_ms: float = Field(gt=0.0)

    def check(self, nodes: int, path: str) -> None:
        """A partition's checks, and a period the run can resolve (sim/config/limits.py)."""
        super().check(nodes, path)
        check_period(self.period_ms, f"{path}.period_ms")

    def window_count(self, end_of_run_ms: float) -> float:
        """One window every 2 x period_ms from start_ms to the end (or the run's end)."""
        stop = self.end_ms if self.end_ms is not None else end_of_run_ms
        return windows_estimate(self.start_ms, stop, self.period_ms)

    def windows(self, end_of_run_ms: float) -> list[tuple[float, float | None]]:
        """On-windows of `period_ms` every 2 x `period_ms`, until the end (or the run's end)."""
        stop = self.end_ms if self.end_ms is not None else end_of_run_ms
        out: list[tuple[float, float | None]] = []
        t = self.start_ms
        while t < stop:
            out.append((t, min(t + self.period_ms, stop)))
            t += 2 * self.period_ms
        return out


FAULTS = (Partition, Bridge, Flapping)
