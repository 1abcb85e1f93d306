"""Anti-entropy (Dynamo §4.7): replicas compare Merkle trees and exchange only what differs.

Every `anti_entropy_ms` each live node picks the next peer (round robin) among
the nodes it shares keys with and sends the root hash of the keys they both
replicate. Replicas in sync stop there: one message. Otherwise the peer answers
with its leaf hashes, the initiator sends the versions of the keys in the
leaves that differ, and the peer merges them and sends back what the initiator
lacked: four messages, data only for the differing buckets. After faults heal,
this brings every replica of every key to the same sibling set.
"""

from __future__ import annotations

from sim.engine.world import World
from sim.modes.eventual.messages import SyncBuckets, SyncKeys, SyncRoot
from sim.modes.eventual.storage import (
    BUCKETS,
    NodeStorage,
    Siblings,
    bucket_of,
    leaves,
    root_of,
    state_of,
)


class AntiEntropy:
    """Periodic Merkle-tree synchronisation between replicas of the same keys."""

    def __init__(self, world: World, storage: list[NodeStorage], period_ms: float) -> None:
        self.env = env = world.env
        self.net = network = world.network
        self.ring = world.ring
        self.n = world.replication
        self.storage = storage
        self.period_ms = period_ms
        self.links = world.links
        self.next_peer = [0] * len(storage)
        self.rounds = 0
        self.in_sync = 0
        self.keys_sent = 0
        network.register(SyncRoot, self._on_root)
        network.register(SyncBuckets, self._on_buckets)
        network.register(SyncKeys, self._on_keys)
        nodes = len(storage)
        for node in range(nodes):
            # Stagger the nodes over one period so rounds do not all collide.
            env.call_later(period_ms * (node + 1) / nodes, self._tick, node)

    def _shared(self, node: int, peer: int) -> list[tuple[str, Siblings]]:
        """The keys `node` holds that `peer` also replicates."""
        pref = self.ring.preference_list
        n = self.n
        return [(k, s) for k, s in self.storage[node].data.items() if peer in pref(k, n)]

    def _peers(self, node: int) -> list[int]:
        pref = self.ring.preference_list
        n = self.n
        peers: set[int] = set()
        for key in self.storage[node].data:
            peers.update(pref(key, n))
        peers.discard(node)
        return sorted(peers)

    def _tick(self, node: int) -> None:
        if node not in self.links.down:
            peers = self._peers(node)
            if peers:
                peer = peers[self.next_peer[node] % len(peers)]
                self.next_peer[node] += 1
                self.rounds += 1
                self.net.send(node, peer, SyncRoot(root_of(leaves(self._shared(node, peer)))))
        self.env.call_later(self.period_ms, self._tick, node)

    def _on_root(self, src: int, dst: int, msg: SyncRoot) -> None:
        mine = leaves(self._shared(dst, src))
        if root_of(mine) == msg.root:
            self.in_sync += 1
            return
        self.net.send(dst, src, SyncBuckets(mine))

    def _on_buckets(self, src: int, dst: int, msg: SyncBuckets) -> None:
        mine = leaves(self._shared(dst, src))
        differ = tuple(b for b in range(BUCKETS) if mine[b] != msg.leaves[b])
        if not differ:
            return
        wanted = set(differ)
        entries = tuple((k, s) for k, s in self._shared(dst, src) if bucket_of(k) in wanted)
        self.keys_sent += len(entries)
        self.net.send(dst, src, SyncKeys(differ, entries, answer=True))

    def _on_keys(self, src: int, dst: int, msg: SyncKeys) -> None:
        store = self.storage[dst]
        for key, siblings in msg.entries:
            store.merge(key, siblings)
        if not msg.answer:
            return
        sent = {k: state_of(s) for k, s in msg.entries}
        wanted = set(msg.buckets)
        back = tuple(
            (k, s)
            for k, s in self._shared(dst, src)
            if bucket_of(k) in wanted and sent.get(k) != state_of(s)
        )
        if back:
            self.keys_sent += len(back)
            self.net.send(dst, src, SyncKeys(msg.buckets, back, answer=False))
