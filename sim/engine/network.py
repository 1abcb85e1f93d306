"""The simulated network: send a message, deliver it after a latency unless a cut or loss drops it.

This is the hot path (STYLE.md §5). Per message: a latency from a pre-drawn
buffer, one check of the active faults, one scheduled delivery object that
SimPy's loop calls back (no process per message, no payload copies).
A message is checked against the faults twice, when sent and when it arrives,
so a partition that starts while it is in flight drops it too (as a firewall
rule would). Messages are any objects with a class attribute `kind` (its latency class:
one of the core four or a kind the run's mode declares) and are dispatched by
type to the handler registered for it.

With zones (data centres: `network.zones`, `network.cross_zone`), a message
between two zones takes its kind's latency plus a cross_zone draw. Whether the
run has zones is decided once, when the network is built: without them the
send path pays one attribute test for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from heapq import heappush
from typing import Any

import numpy as np

from sim.config.network import CORE_KINDS, NetworkConfig
from sim.distributions import Sampler, Uniform
from sim.engine.kernel import NORMAL, Bare, Engine
from sim.errors import InvariantError

Handler = Callable[[int, int, Any], None]
"""A message handler: handler(src, dst, msg)."""


def message(cls: type) -> type:
    """Class decorator for messages and per-request results: a slotted dataclass.

    They are values: never mutated after construction, shared between
    recipients. They are not `frozen` because a frozen dataclass's __init__
    costs 2.5x as much (object.__setattr__ per field) and they are built
    several times per request on the hot path (benchmarks/engine.py).
    """
    return dataclass(slots=True)(cls)


class _Delivery(Bare):
    """A scheduled arrival: a bare heap entry (sim/engine/kernel.py) carrying one payload."""


class LinkState:
    """Who can reach whom right now: the nemesis writes it, the network reads it.

    `active` is a plain attribute so that the hot path pays one attribute read
    when nothing is broken; `blocked(src, dst)` is asked only while it is true.
    Change the state through the methods, which keep `active` right.
    """

    __slots__ = ("active", "cuts", "down")

    def __init__(self) -> None:
        self.cuts: list[Callable[[int, int], bool]] = []
        self.down: set[int] = set()
        self.active = False

    def blocked(self, src: int, dst: int) -> bool:
        """True when a message from src to dst would be dropped by a fault."""
        if src in self.down or dst in self.down:
            return True
        return any(cut(src, dst) for cut in self.cuts)

    def separated(self, a: int, b: int) -> bool:
        """True when a cut (not a crash) stands between a and b, either way."""
        return any(cut(a, b) or cut(b, a) for cut in self.cuts)

    def add_cut(self, cut: Callable[[int, int], bool]) -> None:
        """Start dropping the messages `cut(src, dst)` selects."""
        self.cuts.append(cut)
        self.active = True

    def remove_cut(self, cut: Callable[[int, int], bool]) -> None:
        """Heal a cut added with add_cut."""
        self.cuts.remove(cut)
        self.active = bool(self.cuts or self.down)

    def set_down(self, node: int, down: bool) -> None:
        """Mark a node crashed (every message to or from it is dropped) or back up."""
        if down:
            self.down.add(node)
        else:
            self.down.discard(node)
        self.active = bool(self.cuts or self.down)


class Network:
    """Delivers messages between nodes with latency, loss, duplication and cuts.

    Args:
        env: the engine.
        config: the scenario's `[network]` table.
        rng: the network's own random stream.
        links: the fault state consulted for every message.
        kinds: the message kinds of the run (the core four and the mode's own).
    """

    def __init__(
        self,
        env: Engine,
        config: NetworkConfig,
        rng: np.random.Generator,
        links: LinkState,
        kinds: Sequence[str] = CORE_KINDS,
    ) -> None:
        self.env = env
        self.links = links
        self.kinds = tuple(kinds)
        self._handlers: dict[type, Handler] = {}
        self._latency: dict[str, Sampler] = {}
        default = Sampler(config.latency, rng)
        for kind in self.kinds:  # a kind without its own latency shares the default's draws
            dist = config.latency_for(kind)
            self._latency[kind] = default if dist is config.latency else Sampler(dist, rng)
        self._loss = config.loss
        self._duplicate = config.duplicate
        coin = Uniform(0.0, 1.0)
        self._coin = Sampler(coin, rng) if (config.loss or config.duplicate) else None
        # One delivery class per network: its shared callback list calls this network.
        self._delivery_class = type("Delivery", (_Delivery,), {"callbacks": [self._deliver]})
        self._heap, self._entry_ids = env.heap()
        # Zones add a cross_zone draw to a message between two zones (None: no zones).
        self._zones: Sequence[str] | None = config.zones if config.zoned else None
        self._cross = Sampler(config.cross_zone, rng) if config.zoned else None
        # sent = delivered + dropped - duplicated + in flight; counted where it is cheapest.
        self.duplicated: dict[str, int] = dict.fromkeys(self.kinds, 0)
        self.delivered: dict[str, int] = dict.fromkeys(self.kinds, 0)
        self.dropped: dict[str, int] = dict.fromkeys(self.kinds, 0)

    def register(self, msg_type: type, handler: Handler) -> None:
        """Route every message of `msg_type` to `handler(src, dst, msg)`."""
        kind = getattr(msg_type, "kind", None)
        if kind not in self.kinds:
            raise InvariantError(
                f"{msg_type.__name__}.kind {kind!r} is not a message kind of this run "
                f"{self.kinds} (a mode lists the kinds it sends in its ModeSpec)"
            )
        self._handlers[msg_type] = handler

    def send(self, src: int, dst: int, msg: Any) -> None:
        """Send `msg` from src to dst; it arrives later, or never if dropped.

        Between two zones the delay grows by a cross_zone draw.
        """
        if self.links.active and self.links.blocked(src, dst):
            self.dropped[msg.kind] += 1
            return
        if self._coin is not None:
            if self._coin() < self._loss:
                self.dropped[msg.kind] += 1
                return
            if self._coin() < self._duplicate:
                self.duplicated[msg.kind] += 1
                self._send_one(src, dst, msg)
        # _send_one inlined, and the delivery pushed on the heap here rather than through
        # the kernel's scheduler: two calls less per message (the hot path; kernel.INTERNALS)
        delay = self._latency[msg.kind]()
        zones = self._zones
        if zones is not None and zones[src] != zones[dst]:
            delay += self._cross()
        delivery = self._delivery_class()
        delivery.payload = (src, dst, msg)
        heappush(self._heap, (self.env.now + delay, NORMAL, next(self._entry_ids), delivery))

    def _send_one(self, src: int, dst: int, msg: Any) -> None:
        delay = self._latency[msg.kind]()
        zones = self._zones
        if zones is not None and zones[src] != zones[dst]:
            delay += self._cross()
        delivery = self._delivery_class()
        delivery.payload = (src, dst, msg)
        heappush(self._heap, (self.env.now + delay, NORMAL, next(self._entry_ids), delivery))

    def _deliver(self, delivery: _Delivery) -> None:
        src, dst, msg = delivery.payload
        if self.links.active and self.links.blocked(src, dst):
            self.dropped[msg.kind] += 1
            return
        self.delivered[msg.kind] += 1
        self._handlers[type(msg)](src, dst, msg)

    def stats(self) -> dict[str, Any]:
        """Message counts, totals and per kind (kinds with no traffic left out).

        `sent` counts every send, including those still in flight at the end.
        """
        flying: dict[str, int] = dict.fromkeys(self.kinds, 0)
        for obj in self.env.scheduled():
            if isinstance(obj, self._delivery_class):
                flying[obj.payload[2].kind] += 1
        by_kind = {}
        for k in self.kinds:
            sent = self.delivered[k] + self.dropped[k] + flying[k] - self.duplicated[k]
            if sent or self.delivered[k]:
                by_kind[k] = {
                    "sent": sent,
                    "delivered": self.delivered[k],
                    "dropped": self.dropped[k],
                }
        return {
            "sent": sum(v["sent"] for v in by_kind.values()),
            "delivered": sum(self.delivered.values()),
            "dropped": sum(self.dropped.values()),
            "by_kind": by_kind,
        }
