"""The engine's parts a mode is built on, bundled so that constructors take one argument."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.engine.clocks import Clocks
from sim.engine.kernel import Engine
from sim.engine.network import LinkState, Network
from sim.engine.ring import Ring
from sim.rng import Streams


@dataclass(frozen=True)
class World:
    """Clock, network, ring, node clocks, link state and random streams of one run.

    `replication` (N) and `durable` are the cluster's settings that every mode
    reads; a mode's own settings come to its `build` beside the world.
    `self_latency` (`network.self_latency`): a node's request to itself goes
    through the network and pays its kind's latency, instead of a call.
    """

    env: Engine
    network: Network
    ring: Ring
    clocks: Clocks
    links: LinkState
    streams: Streams
    nodes: int
    replication: int = 3
    durable: bool = True
    self_latency: bool = False

    @property
    def now(self) -> float:
        """The simulated time, in ms."""
        return self.env.now

    def call_later(self, delay_ms: float, fn: Callable[..., None], *args: Any) -> None:
        """Call `fn(*args)` after `delay_ms` of simulated time (see Engine.call_later)."""
        self.env.call_later(delay_ms, fn, *args)
