"""Which node serves a client's request: its home node only, any node of its side, or any live node.

- `home`: the client sits with its home node and uses nothing else (the first
  model; Jepsen's clients are tied to a node the same way).
- `side`: the client sits with its home node and may use any live node that no
  cut separates from it (its data centre).
- `any`: a load balancer in front of the cluster, as a shop would run: it
  health-checks the nodes and sends a request to a live node; links between
  clients and the balancer are never cut, only links between nodes (Jepsen's
  nemesis cuts node to node).

A client keeps the node it last used while that node serves it, starting at
its home node, so that without faults every policy behaves as `home`. A node
that answered a request with a certain failure (down, unavailable) or let it
time out is ejected (outlier ejection, as load balancers do): for `eject_ms`,
doubled at each ejection in a row, up to MAX_EJECTIONS doublings; a success
resets it (Envoy's base ejection time grows the same way). The client then
moves, to its home node if usable, else to a usable node drawn from the run's
"routing" stream. A request that failed for certain is
retried on another node within its deadline; one whose outcome is unknown is
not re-sent (its write might still land).
"""

from __future__ import annotations

import numpy as np

from sim.engine.kernel import Engine
from sim.engine.network import LinkState

POLICIES = ("home", "side", "any")
MAX_EJECTIONS = 5
"""Doublings of the ejection time at most (a node failing every time is avoided for 32 x)."""


class Router:
    """The routing policy of a run, and the load balancer's memory of failed nodes.

    Args:
        env: the engine (for the time).
        policy: home, side or any.
        links: who is down and where the cuts are.
        nodes: number of nodes.
        eject_ms: how long a failing node is avoided.
        rng: the "routing" stream (which node a client moves to).
    """

    def __init__(
        self,
        env: Engine,
        policy: str,
        links: LinkState,
        nodes: int,
        eject_ms: float,
        rng: np.random.Generator,
    ) -> None:
        self.env = env
        self.policy = policy
        self.links = links
        self.nodes = nodes
        self.eject_ms = eject_ms
        self.rng = rng
        self.ejected_until = [float("-inf")] * nodes
        self.ejections = [0] * nodes  # ejections in a row, since the node last served
        self.moves = 0

    def usable(self, node: int, home: int) -> bool:
        """Whether `node` may serve a client homed on `home` now (`pick` inlines it once)."""
        if node in self.links.down or self.ejected_until[node] > self.env.now:
            return False
        return self.policy == "any" or node == home or not self.links.separated(home, node)

    def pick(self, current: int, home: int) -> int:
        """The node for the next request: the current one while usable, else home, else another."""
        policy = self.policy
        if policy == "home":
            return current
        links = self.links
        if (  # usable(current, home), inlined: every request asks it
            current not in links.down
            and self.ejected_until[current] <= self.env.now
            and (policy == "any" or current == home or not links.separated(home, current))
        ):
            return current
        if self.usable(home, home):
            return home
        candidates = [n for n in range(self.nodes) if n != current and self.usable(n, home)]
        if not candidates:
            return current
        self.moves += 1
        return candidates[int(self.rng.integers(len(candidates)))]

    def failed(self, node: int) -> None:
        """`node` failed a request (certainly, or by letting it time out): avoid it a while."""
        if self.policy != "home":
            doublings = min(self.ejections[node], MAX_EJECTIONS)
            self.ejections[node] += 1
            self.ejected_until[node] = self.env.now + self.eject_ms * 2**doublings

    def served(self, node: int) -> None:
        """`node` answered a request: its ejections start over."""
        self.ejections[node] = 0
