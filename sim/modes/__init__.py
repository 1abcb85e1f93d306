"""The registry of consistency modes: the one place that maps a scenario's mode name to a class."""

from __future__ import annotations

from sim.engine.world import World
from sim.errors import ScenarioError
from sim.modes.base import Mode
from sim.modes.eventual import EventualMode
from sim.modes.strong import StrongMode
from sim.modes.weak import WeakMode
from sim.scenario import MODES, ClusterConfig

REGISTRY: dict[str, type] = {
    "strong": StrongMode,
    "weak": WeakMode,
    "eventual": EventualMode,
}


def build_mode(world: World, cluster: ClusterConfig) -> Mode:
    """The mode object for `cluster.mode`, built on `world`."""
    cls = REGISTRY.get(cluster.mode)
    if cls is None:
        raise ScenarioError(
            f"cluster.mode: {cluster.mode!r} is not built yet (available: "
            f"{', '.join(m for m in MODES if m in REGISTRY)})"
        )
    return cls(world, cluster)
