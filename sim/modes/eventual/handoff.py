"""Hinted handoff (Dynamo §4.6): fall-backs offer the versions they hold back to their owners.

Every `handoff_ms` each live node that holds hints sends them to the intended
owner; the owner merges them into its own copy and acknowledges with the state
it received; the fall-back drops the hint if it has not changed since.
A cut drops the offer and the next round tries again.
"""

from __future__ import annotations

from sim.engine.world import World
from sim.modes.eventual.messages import Handoff, HandoffAck
from sim.modes.eventual.storage import NodeStorage, state_of


class HintedHandoff:
    """Periodic delivery of hinted versions to the replicas they were meant for."""

    def __init__(self, world: World, storage: list[NodeStorage], period_ms: float) -> None:
        self.env = env = world.env
        self.net = network = world.network
        self.storage = storage
        self.period_ms = period_ms
        self.links = world.links
        self.delivered = 0
        network.register(Handoff, self._on_handoff)
        network.register(HandoffAck, self._on_ack)
        env.call_later(period_ms, self._tick)

    def _tick(self) -> None:
        down = self.links.down
        for node, store in enumerate(self.storage):
            if not store.hints or node in down:
                continue
            for key, per_owner in list(store.hints.items()):
                for owner, siblings in per_owner.items():
                    self.net.send(node, owner, Handoff(key, siblings))
        self.env.call_later(self.period_ms, self._tick)

    def _on_handoff(self, src: int, dst: int, msg: Handoff) -> None:
        self.storage[dst].merge(msg.key, msg.siblings)
        self.net.send(dst, src, HandoffAck(msg.key, state_of(msg.siblings)))

    def _on_ack(self, src: int, dst: int, msg: HandoffAck) -> None:
        per_owner = self.storage[dst].hints.get(msg.key)
        if not per_owner or src not in per_owner:
            return
        if state_of(per_owner[src]) == msg.state:
            del per_owner[src]
            self.delivered += 1
            if not per_owner:
                del self.storage[dst].hints[msg.key]
