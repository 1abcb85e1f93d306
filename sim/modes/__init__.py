"""Consistency modes, one module each; `build_mode` makes the one a cluster names.

Modes are found by the registry (sim/plugins.py, `MODES`): each module of this
package that declares `MODE = ModeSpec(...)` is one. Nothing here lists them.
"""

from __future__ import annotations

from sim.config.cluster import ClusterConfig
from sim.engine.world import World
from sim.modes.base import Mode, ModeSpec
from sim.plugins import MODES


def spec_of(mode: str) -> ModeSpec:
    """The ModeSpec registered as `mode`."""
    return MODES.get(mode, "cluster.mode")


def build_mode(world: World, cluster: ClusterConfig) -> Mode:
    """The mode object for `cluster.mode`, built on `world` with its own settings."""
    return spec_of(cluster.mode).build(world, cluster.settings)
