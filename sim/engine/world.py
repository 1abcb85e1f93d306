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

    def reachable(self, src: int, dst: int) -> bool:
        """Whether a message from src to dst would pass the faults right now (no loss drawn).

        Protocols may not use this to cheat (a real node cannot know); it exists
        for the simulator's own monitors and for tests.
        """
        return not (self.links.active and self.links.blocked(src, dst))
