"""The engine's parts a mode is built on, bundled so that constructors take one argument."""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from sim.engine.faults import Clocks
from sim.engine.network import LinkState, Network
from sim.engine.ring import Ring
from sim.rng import Streams


@dataclass(frozen=True)
class World:
    """Simulation clock, network, ring, node clocks, link state and random streams of one run."""

    env: simpy.Environment
    network: Network
    ring: Ring
    clocks: Clocks
    links: LinkState
    streams: Streams
    nodes: int
