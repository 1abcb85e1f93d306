"""Anti-entropy (Dynamo §4.7): replicas compare Merkle trees and exchange only what differs.

Every `anti_entropy_ms` each live node picks the next peer (round robin) among
the nodes it shares keys with and sends the root of its tree of the keys they
both replicate (`storage.PeerTrees`: one tree per peer, kept up to date from
the keys that changed). Replicas in sync stop there: one message. Otherwise
the two walk down the trees together, each step one message: the side that
finds subtrees differing sends, for each, either its 16 children's hashes
(`SyncTree`) or, once the subtree holds at most LEAF_KEYS of its keys (or the
other side holds none there, or it is a leaf), the versions of its keys there
(`SyncKeys`); the other merges them and sends back what it holds there that
differs. A subtree whose hash agrees is never looked at again, so a round
costs in proportion to the keys that differ, not to the keys stored: the
trees are read, never recomputed, and a digest is computed once per key
change (see `PeerTrees.catch_up`). After faults heal, this brings every
replica of every key to the same sibling set.
"""

from __future__ import annotations

from sim.engine.world import World
from sim.modes.eventual.messages import SyncKeys, SyncRoot, SyncTree
from sim.modes.eventual.storage import (
    DEPTH,
    MerkleTree,
    NodeStorage,
    PeerTrees,
    key_position,
    state_of,
)

LEAF_KEYS = 16
"""A differing subtree holding at most this many of the sender's keys is settled by sending
their versions, rather than descending one more level (a round trip) to find which differ."""


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
        self._placement: dict[str, tuple[int, tuple[int, ...]]] = {}
        self.trees = [PeerTrees(node, self._place) for node in range(len(storage))]
        for store in storage:
            store.track_changes()
        self.next_peer = [0] * len(storage)
        self.rounds = 0
        self.in_sync = 0
        self.keys_sent = 0
        network.register(SyncRoot, self._on_root)
        network.register(SyncTree, self._on_tree)
        network.register(SyncKeys, self._on_keys)
        nodes = len(storage)
        # Stagger the nodes over one period so rounds do not all collide.
        self.due = [period_ms * (node + 1) / nodes for node in range(nodes)]
        self.idle = [False] * nodes
        for node in range(nodes):
            env.call_later(self.due[node], self._tick, node)
        for store in storage:
            store.on_change = self._wake

    @property
    def digests_computed(self) -> int:
        """key_digest calls on every node so far: anti-entropy's own work."""
        return sum(t.computed for t in self.trees)

    def _place(self, key: str) -> tuple[int, tuple[int, ...]]:
        """A key's tree position and preference list (fixed for the run, so cached)."""
        placed = self._placement.get(key)
        if placed is None:
            placed = self._placement[key] = (
                key_position(key),
                self.ring.preference_list(key, self.n),
            )
        return placed

    def tree(self, node: int, peer: int) -> MerkleTree:
        """`node`'s tree of the keys it shares with `peer`, up to date with its data."""
        trees = self.trees[node]
        trees.catch_up(self.storage[node])
        return trees.tree(peer)

    def _tick(self, node: int) -> None:
        if node not in self.links.down:
            trees = self.trees[node]
            trees.catch_up(self.storage[node])
            peers = trees.peers()
            if not peers:
                # Nothing to compare with anyone: sleep until a key lands (`_wake`) rather
                # than tick for nothing (on 1,000 nodes a third of the ticks, early on).
                self.idle[node] = True
                self.due[node] = self.env.now + self.period_ms
                return
            peer = peers[self.next_peer[node] % len(peers)]
            self.next_peer[node] += 1
            self.rounds += 1
            root, count = trees.tree(peer).root
            self.net.send(node, peer, SyncRoot(root, count))
        self.env.call_later(self.period_ms, self._tick, node)

    def _wake(self, node: int) -> None:
        """A key changed on `node`: if its ticks slept, resume them on their old schedule,
        at the very times they would have come (the same sums of the period)."""
        if not self.idle[node]:
            return
        self.idle[node] = False
        due, now = self.due[node], self.env.now
        while due < now:
            due += self.period_ms
        self.env.call_at(due, self._tick, node)

    def _on_root(self, src: int, dst: int, msg: SyncRoot) -> None:
        tree = self.tree(dst, src)
        if tree.root == (msg.root, msg.count):
            self.in_sync += 1
            return
        self._compare(dst, src, tree, 0, ((0, msg.root, msg.count),))

    def _on_tree(self, src: int, dst: int, msg: SyncTree) -> None:
        self._compare(dst, src, self.tree(dst, src), msg.level, msg.nodes)

    def _compare(
        self,
        node: int,
        peer: int,
        tree: MerkleTree,
        level: int,
        theirs: tuple[tuple[int, int, int], ...],
    ) -> None:
        """Answer the peer's nodes of `level`: descend where big subtrees differ, else send keys."""
        descend: list[int] = []
        settle: list[int] = []
        for index, digest, count in theirs:
            mine, have = tree.node(level, index)
            if mine == digest and have == count:
                continue
            if have <= LEAF_KEYS or count == 0 or level == DEPTH:
                settle.append(index)
            else:
                descend.append(index)
        if descend:
            nodes = tuple(child for index in descend for child in tree.children(level, index))
            self.net.send(node, peer, SyncTree(level + 1, nodes))
        if settle:
            data = self.storage[node].data
            entries = tuple(
                (key, data[key]) for index in settle for key in tree.keys_under(level, index)
            )
            self.keys_sent += len(entries)
            self.net.send(node, peer, SyncKeys(level, tuple(settle), entries, answer=True))

    def _on_keys(self, src: int, dst: int, msg: SyncKeys) -> None:
        tree = self.tree(dst, src)  # before the merge: what dst held there
        store = self.storage[dst]
        for key, siblings in msg.entries:
            store.merge(key, siblings)
        if not msg.answer:
            return
        # A key dst lacked now holds exactly what was sent; every other key
        # whose state differs from what was sent was in the tree.
        sent = {k: state_of(s) for k, s in msg.entries}
        data = store.data
        back = tuple(
            (key, data[key])
            for index in msg.subtrees
            for key in tree.keys_under(msg.level, index)
            if sent.get(key) != state_of(data[key])
        )
        if back:
            self.keys_sent += len(back)
            self.net.send(dst, src, SyncKeys(msg.level, msg.subtrees, back, answer=False))
