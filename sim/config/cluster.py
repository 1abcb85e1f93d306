"""The `[cluster]` table: nodes, replication, the mode, and each mode's own `[cluster.<mode>]`.

What every mode shares (nodes, N, the ring, durability, clock skew) is a field
here; what only one mode reads (Raft timers, Dynamo's quorums and repair) is in
that mode's own settings table, declared by the mode (sim/modes). Every
registered mode's table is present, filled with its defaults, so that a sweep
over `cluster.mode` keeps the settings of each mode. Flat keys of the first
layout (`cluster.read_quorum`) still work (sim/config/plugin_tables.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import Field, model_validator

from sim.config.limits import (
    MAX_NODES,
    MAX_RING_POINTS,
    MAX_VIRTUAL_NODES,
    at_most,
    check_skew,
)
from sim.config.plugin_tables import WithPluginTables
from sim.config.shop import SHOP_KEYS_ELSEWHERE
from sim.config.table import Floats, Table
from sim.errors import ScenarioError
from sim.plugins import MODES


class ModeSettings(Table):
    """A mode's own settings table, `[cluster.<mode>]`; a mode subclasses it (fields optional)."""

    QUIET: ClassVar[Mapping[str, Any]] = {}
    """Defaults for a workload whose reads must not change what they measure (the probe):
    the settings that repair on read or in the background, turned off unless given."""
    TIMERS: ClassVar[Mapping[str, bool]] = {}
    """The settings that are the period (ms) of a loop that runs all run long, each with
    whether every node runs it (else one leader per busy group): the scenario checks that
    the run can hold their ticks (sim/config/limits.py)."""

    def check(self, cluster: ClusterConfig, path: str) -> None:
        """Validate against the cluster (e.g. R <= N); raise ScenarioError naming `path`."""


def check_at_most(value: int, limit: int, path: str, limit_path: str) -> None:
    """Raise `<path>: must be <= <limit_path> (got value > limit)` when value exceeds limit."""
    if value > limit:
        raise ScenarioError(f"{path}: must be <= {limit_path} (got {value} > {limit})")


class ClusterConfig(WithPluginTables):
    """The `[cluster]` table: nodes, replication (N), mode, ring, durability, skew, mode tables."""

    PATH = "cluster"
    REGISTRY = MODES
    TABLES = "modes"
    SELECTOR = "mode"
    MOVED: ClassVar[Mapping[str, str]] = {k: f"shop.{k}" for k in SHOP_KEYS_ELSEWHERE["cluster"]}

    nodes: int = Field(5, ge=1)
    replication: int = Field(3, ge=1)
    mode: str = "eventual"
    virtual_nodes: int = Field(64, ge=1)
    durable: bool = True
    clock_skew_ms: Floats = ()
    modes: dict[str, Any] = Field(default_factory=dict)
    """Each registered mode's settings by name (TOML: `[cluster.<mode>]`)."""

    def skew_of(self, node: int) -> float:
        """The static clock skew of `node` in ms (0 when none is configured)."""
        return float(self.clock_skew_ms[node]) if self.clock_skew_ms else 0.0

    @model_validator(mode="after")
    def _check(self) -> Self:
        at_most(self.nodes, MAX_NODES, "cluster.nodes", "the most nodes a run holds")
        at_most(
            self.virtual_nodes,
            MAX_VIRTUAL_NODES,
            "cluster.virtual_nodes",
            "the most ring points per node",
        )
        at_most(
            self.nodes * self.virtual_nodes,
            MAX_RING_POINTS,
            "cluster.virtual_nodes x cluster.nodes",
            "the most points a ring holds",
        )
        check_at_most(self.replication, self.nodes, "cluster.replication", "cluster.nodes")
        MODES.get(self.mode, "cluster.mode")
        skew = self.clock_skew_ms
        if skew and len(skew) != self.nodes:
            raise ScenarioError(
                f"cluster.clock_skew_ms: must list one value per node ({self.nodes}) "
                f"or be empty (got {len(skew)})"
            )
        for i, value in enumerate(skew):
            check_skew(value, f"cluster.clock_skew_ms[{i}]")
        for name, settings in self.modes.items():
            settings.check(self, f"cluster.{name}")
        return self
