"""A small World to drive one mode directly, without the shop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import simpy

from sim.distributions import Constant
from sim.engine.faults import Clocks
from sim.engine.network import LinkState, Network
from sim.engine.ring import Ring
from sim.engine.world import World
from sim.rng import Streams
from sim.scenario import NetworkConfig


def build_world(
    nodes: int = 5, latency_ms: float = 5.0, skew: list[float] | None = None, seed: int = 1
) -> World:
    env = simpy.Environment()
    links = LinkState()
    net = Network(
        env, NetworkConfig(latency=Constant(latency_ms)), np.random.default_rng(seed), links
    )
    clocks = Clocks(env, skew or [0.0] * nodes)
    return World(env, net, Ring(list(range(nodes)), 16), clocks, links, Streams(seed), nodes)


@pytest.fixture
def world() -> Callable[..., World]:
    return build_world


def call(env: simpy.Environment, start: Callable[[Callable[[Any], None]], None]) -> list:
    """Run `start(reply)` now and return a list that will hold the reply once it arrives."""
    box: list = []
    start(box.append)
    return box
