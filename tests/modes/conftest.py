"""A small World to drive one mode directly, without the shop."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sim.config.network import NetworkConfig, message_kinds
from sim.distributions import Constant
from sim.engine.clocks import Clocks
from sim.engine.kernel import Engine
from sim.engine.network import LinkState, Network
from sim.engine.ring import Ring
from sim.engine.world import World
from sim.plugins import MODES
from sim.rng import Streams

CLUSTER_KEYS = ("replication", "durable")
"""Settings of the cluster (in World) rather than of a mode's own table."""


def build_world(
    nodes: int = 5, latency_ms: float = 5.0, skew: list[float] | None = None, seed: int = 1
) -> World:
    env = Engine()
    links = LinkState()
    config = NetworkConfig(latency=Constant(latency_ms))
    net = Network(env, config, np.random.default_rng(seed), links, message_kinds())
    clocks = Clocks(env, skew or [0.0] * nodes)
    return World(env, net, Ring(list(range(nodes)), 16), clocks, links, Streams(seed), nodes)


def make_mode(name: str, world: World, **settings: Any) -> Any:
    """Mode `name` on `world`, with cluster keys (replication, durable) and its own settings."""
    spec = MODES.get(name, "mode")
    shared = {k: settings.pop(k) for k in CLUSTER_KEYS if k in settings}
    if shared:
        world = dataclasses.replace(world, **shared)
    return spec.build(world, spec.settings(**settings))


@pytest.fixture
def world() -> Callable[..., World]:
    return build_world


def call(env: Engine, start: Callable[[Callable[[Any], None]], None]) -> list:
    """Run `start(reply)` now and return a list that will hold the reply once it arrives."""
    box: list = []
    start(box.append)
    return box
