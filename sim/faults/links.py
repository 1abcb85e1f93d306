"""Cuts of some links: one direction only (`one-way`), or every link of one node (`isolate`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sim.config.table import Ints
from sim.errors import ScenarioError
from sim.faults.base import Cut, CutFault, node_id, node_list


class OneWay(CutFault):
    """Messages from `from` to `to` are dropped; the other direction passes (asymmetric)."""

    name = "one-way"
    order = 20

    from_nodes: Ints = Field(alias="from")
    to_nodes: Ints = Field(alias="to")

    def check(self, nodes: int, path: str) -> None:
        """Both lists name existing nodes, and no node is in both."""
        super().check(nodes, path)
        src = node_list(self.from_nodes, f"{path}.from", nodes)
        dst = node_list(self.to_nodes, f"{path}.to", nodes)
        both = sorted(set(src) & set(dst))
        if both:
            raise ScenarioError(f"{path}.to: overlaps {path}.from (nodes {both})")

    def cut_for(self, nodes: int) -> Cut:
        """Drop messages from a `from` node to a `to` node."""
        src_set = frozenset(self.from_nodes)
        dst_set = frozenset(self.to_nodes)

        def cut(src: int, dst: int) -> bool:
            return src in src_set and dst in dst_set

        return cut

    def sides(self, nodes: int) -> list[tuple[int, ...]] | None:
        """The nodes cut from sending, those cut from receiving, and the others."""
        listed = {*self.from_nodes, *self.to_nodes}
        rest = tuple(n for n in range(nodes) if n not in listed)
        return [tuple(self.from_nodes), tuple(self.to_nodes)] + ([rest] if rest else [])

    def describe(self) -> Any:
        """{"from": [...], "to": [...]}."""
        return {"from": list(self.from_nodes), "to": list(self.to_nodes)}


def isolate_cut(node: int) -> Cut:
    """Every message to or from `node` is dropped (the node itself keeps running)."""

    def cut(src: int, dst: int) -> bool:
        return (src == node) != (dst == node)

    return cut


class Isolate(CutFault):
    """Node `node` is cut off from every other node; it keeps running."""

    name = "isolate"
    order = 30

    node: int

    def check(self, nodes: int, path: str) -> None:
        """The node exists."""
        super().check(nodes, path)
        node_id(self.node, f"{path}.node", nodes)

    def cut_for(self, nodes: int) -> Cut:
        """Drop every message to or from the node."""
        return isolate_cut(self.node)

    def sides(self, nodes: int) -> list[tuple[int, ...]] | None:
        """The node alone, and the others."""
        return [(self.node,), tuple(n for n in range(nodes) if n != self.node)]

    def describe(self) -> Any:
        """The node id."""
        return self.node


FAULTS = (OneWay, Isolate)
