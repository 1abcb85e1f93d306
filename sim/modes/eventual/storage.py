"""Each node's versioned storage: sibling sets per key, hinted versions, Merkle trees.

A replica keeps every version no other version descends (the maximal
antichain, Dynamo §4.4); a put or a merge folds incoming versions in with
`vclock.merge_siblings`. Hinted versions (sloppy quorum, §4.6) are kept apart,
per intended owner, until they are handed off.

For anti-entropy (§4.7) each node keeps one Merkle tree per peer over the keys
both replicate (`PeerTrees`), brought up to date from the keys whose sibling
set changed (`NodeStorage.changed`), so that keeping them costs per changed
key, never per stored key. Digests use only integers (clock counters, crc32
of keys), never Python's salted str hash, so every process computes the same
trees and sends the same messages.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable

from sim.vclock import Versioned, actor_id, merge_siblings

Siblings = tuple[Versioned, ...]

MASK = 0xFFFF_FFFF_FFFF_FFFF
"""Digests and tree hashes are 64-bit integers."""

FANOUT_BITS = 4
"""Each tree node has 2**FANOUT_BITS = 16 children."""

POSITION_BITS = 16
"""A key's place in a tree: the top 16 bits of crc32(key) (`key_position`)."""

DEPTH = POSITION_BITS // FANOUT_BITS
"""Levels below the root: level 0 is the root, level DEPTH (4) the leaves (65,536 of them).

A sync settles a subtree by sending its keys once it holds few of them, so a
round's work stays independent of the keys stored while a pair shares fewer
than about a million keys (16 per leaf); beyond that a differing leaf sends
all of its keys. Each level more would cost every key about 80 bytes a tree."""


def state_of(siblings: Siblings) -> tuple:
    """A sibling set's identity: its dots (each write has its own; values follow from dots)."""
    return tuple(v.dot for v in siblings)


def key_position(key: str) -> int:
    """Where a key sits in every Merkle tree: its leaf (stable across processes)."""
    return zlib.crc32(key.encode()) >> (32 - POSITION_BITS)


class NodeStorage:
    """One node's data: owned sibling sets, hints held for others, write counters.

    `actor` is the id this node's dots carry (`vclock.actor_id`): the node id,
    then a new one for each `incarnation` (each restart without its data); the
    incarnation is all such a crash leaves (node metadata). `counters[key]` is
    the highest counter `actor` has issued for key as a coordinator, so every
    write it coordinates gets a dot of its own. `own[key]` holds the versions
    this node coordinated for keys it does not replicate: a coordinator ships
    its whole state of the key with each write, so a version never travels
    without the same actor's earlier versions that its context does not cover
    (the invariant that makes node-id dots safe, as in DVVSet; a node that
    lost those versions keeps it by becoming a new actor).

    `changed` (once `track_changes` is called: anti-entropy is on) holds, in
    the order they changed, the keys whose owned sibling set changed since
    the node's Merkle trees last caught up (`PeerTrees.catch_up`). Unlike
    `dirty`, it is per node and ordered, never a set of strings.
    """

    __slots__ = (
        "actor",
        "changed",
        "counters",
        "data",
        "dirty",
        "hints",
        "incarnation",
        "node",
        "on_change",
        "own",
    )

    def __init__(self, node: int, dirty: set[str]) -> None:
        self.node = node
        self.incarnation = 0
        self.actor = actor_id(node, 0)
        self.dirty = dirty  # shared by all nodes: keys changed since the last convergence probe
        self.data: dict[str, Siblings] = {}
        self.hints: dict[str, dict[int, Siblings]] = {}
        self.own: dict[str, Siblings] = {}
        self.counters: dict[str, int] = {}
        self.changed: dict[str, None] | None = None
        self.on_change: Callable[[int], None] | None = None
        """Called with the node when a key changes and none had since the last catch-up."""

    def track_changes(self) -> None:
        """Start recording changed keys for the Merkle trees; every key held counts as changed."""
        if self.changed is None:
            self.changed = dict.fromkeys(self.data)

    def take_changed(self) -> dict[str, None]:
        """The keys changed since the last call (in order of first change), and forget them."""
        changed = self.changed
        if not changed:
            return {}
        self.changed = {}
        return changed

    def merge(self, key: str, incoming: Iterable[Versioned]) -> bool:
        """Fold versions into the owned set of `key`; True if it changed."""
        before = self.data.get(key, ())
        after = merge_siblings(before, incoming)
        if after is before or after == before:
            return False
        self.data[key] = after
        self.dirty.add(key)
        changed = self.changed
        if changed is not None:
            if not changed and self.on_change is not None:
                self.on_change(self.node)
            changed[key] = None
        return True

    def hint(self, key: str, owner: int, versions: Iterable[Versioned]) -> None:
        """Hold `versions` for `owner`, which was unreachable when they were written."""
        per_owner = self.hints.setdefault(key, {})
        per_owner[owner] = merge_siblings(per_owner.get(owner, ()), versions)

    def visible(self, key: str) -> Siblings:
        """What this node answers a read with: owned, hinted and self-coordinated versions.

        (`Coordinators._on_get` inlines the common case: a key with neither own versions
        nor hints.)
        """
        siblings = self.data.get(key, ())
        if not self.own and not self.hints:
            return siblings  # the common case: nothing but owned data
        own = self.own.get(key)
        if own:
            siblings = merge_siblings(siblings, own)
        held = self.hints.get(key)
        if held:
            for versions in held.values():
                siblings = merge_siblings(siblings, versions)
        return siblings

    def wipe(self) -> None:
        """Forget every version: owned, hinted and own (a crash of a non-durable node).

        Every key it held counts as changed: the Merkle trees drop them at the
        next catch-up, which leaves them empty, as if built from nothing.
        """
        self.dirty.update(self.data)
        if self.changed is not None:
            self.changed.update(dict.fromkeys(self.data))
        self.data.clear()
        self.hints.clear()
        self.own.clear()

    def reincarnate(self) -> None:
        """Become a new actor, with counters from zero: the node's earlier versions are gone.

        Kept, the old actor's next dot (n, k+1) would travel without (n, k),
        which still lives on other replicas, and a reader that saw only the
        first would write back a context covering the second: (n, k) silently
        dropped. A new actor's dots are covered by no context built before.
        """
        self.incarnation += 1
        self.actor = actor_id(self.node, self.incarnation)
        self.counters.clear()


def key_digest(key: str, siblings: Siblings) -> int:
    """A leaf entry's digest: key and sibling state, mixed into 64 well-spread bits.

    Trees add digests up (`MerkleTree`), so the digests of different states
    must look random: the last step is splitmix64's finaliser, without which
    two keys one counter apart in opposite directions could cancel out.
    """
    h = zlib.crc32(key.encode())
    for dot in state_of(siblings):
        actor, counter = dot if dot is not None else (-1, 0)
        h = (h * 1_000_003 ^ (actor * 7_919 + counter)) & MASK
    h = (h ^ (h >> 30)) * 0xBF58_476D_1CE4_E5B9 & MASK
    h = (h ^ (h >> 27)) * 0x94D0_49BB_1331_11EB & MASK
    return h ^ (h >> 31)


class MerkleTree:
    """A sparse 16-ary hash tree over a set of keys: each node holds the hash and count below it.

    A key sits in leaf `key_position(key)`; its ancestor at level d is
    `position >> (POSITION_BITS - FANOUT_BITS * d)`, so level 0 is the root.
    A node's hash is the sum, modulo 2**64, of the digests of the keys below
    it (an incremental set hash, Bellare and Micciancio's AdHash), so changing
    one key's digest adds the same delta to its leaf and to each node on its
    path: DEPTH + 1 updates however many keys the tree holds. Two trees that
    agree on a node's hash and count hold, but for a 2**-64 chance, the same
    keys in the same states below it. Only non-empty nodes are stored, each as
    one integer, count << 64 | hash (a tree holds one node per key at its
    deepest levels, so a pair of ints or a list per node would double its
    size); a leaf's keys are a str, or a sorted tuple when several share it.
    Equal key sets give equal trees, however they were reached.
    """

    __slots__ = ("leaves", "levels")

    def __init__(self) -> None:
        self.levels: list[dict[int, int]] = [{} for _ in range(DEPTH + 1)]
        """Per level, node index -> count << 64 | hash; only nodes with keys below them."""
        self.leaves: dict[int, str | tuple[str, ...]] = {}
        """Leaf index -> the key in it, or the sorted keys when several share it."""

    @classmethod
    def of(
        cls,
        entries: Iterable[tuple[str, Siblings]],
        position: Callable[[str], int] = key_position,
    ) -> MerkleTree:
        """The tree of these keys, built from nothing (tests compare it with a kept tree)."""
        tree = cls()
        for key, siblings in entries:
            tree.update(key, position(key), None, key_digest(key, siblings))
        return tree

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MerkleTree):
            return NotImplemented
        return self.levels == other.levels and self.leaves == other.leaves

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        digest, count = self.root
        return f"MerkleTree({count} keys, root {digest:#018x})"

    @property
    def root(self) -> tuple[int, int]:
        """(hash, count) of the whole tree."""
        packed = self.levels[0].get(0, 0)
        return packed & MASK, packed >> 64

    @property
    def count(self) -> int:
        """How many keys the tree holds."""
        return self.levels[0].get(0, 0) >> 64

    def node(self, level: int, index: int) -> tuple[int, int]:
        """(hash, count) of a node; (0, 0) where no key lies below it."""
        packed = self.levels[level].get(index, 0)
        return packed & MASK, packed >> 64

    def level_nodes(self, level: int) -> dict[int, tuple[int, int]]:
        """Every non-empty node of a level as index -> (hash, count) (for tests)."""
        return {i: (p & MASK, p >> 64) for i, p in self.levels[level].items()}

    def children(self, level: int, index: int) -> tuple[tuple[int, int, int], ...]:
        """(index, hash, count) of all 16 children of a node above the leaves, empty ones too."""
        below = self.levels[level + 1]
        first = index << FANOUT_BITS
        out = []
        for child in range(first, first + (1 << FANOUT_BITS)):
            packed = below.get(child, 0)
            out.append((child, packed & MASK, packed >> 64))
        return tuple(out)

    def keys_under(self, level: int, index: int) -> list[str]:
        """The keys below a node, by position: the walk visits only non-empty nodes."""
        frontier = [index]
        fanout = 1 << FANOUT_BITS
        for below in self.levels[level + 1 :]:
            frontier = [
                child
                for parent in frontier
                for child in range(parent << FANOUT_BITS, (parent << FANOUT_BITS) + fanout)
                if child in below
            ]
        out: list[str] = []
        leaves = self.leaves
        for leaf in frontier:
            held = leaves.get(leaf)
            if held is None:
                continue
            if type(held) is str:
                out.append(held)
            else:
                out.extend(held)
        return out

    def update(self, key: str, position: int, old: int | None, new: int | None) -> None:
        """Change `key`'s digest from `old` to `new` (None: the key is absent) on its path."""
        if old == new:
            return
        delta = (0 if new is None else new) - (0 if old is None else old)
        grown = (new is not None) - (old is not None)
        shift = POSITION_BITS
        index = 0
        for level in self.levels:
            index = position >> shift
            packed = level.get(index)
            if packed is None:
                level[index] = 1 << 64 | (delta & MASK)  # a first key: grown is 1
            elif (packed >> 64) + grown == 0:
                del level[index]
            else:
                level[index] = ((packed >> 64) + grown) << 64 | ((packed + delta) & MASK)
            shift -= FANOUT_BITS
        if grown > 0:
            held = self.leaves.get(index)
            if held is None:
                self.leaves[index] = key
            else:
                self.leaves[index] = tuple(
                    sorted((held, key) if type(held) is str else (*held, key))
                )
        elif grown < 0:
            held = self.leaves[index]
            if type(held) is str:
                del self.leaves[index]
            else:
                rest = tuple(k for k in held if k != key)
                self.leaves[index] = rest[0] if len(rest) == 1 else rest


_EMPTY_TREE = MerkleTree()
"""The tree of a peer a node shares no key with (read only)."""

Placement = Callable[[str], tuple[int, tuple[int, ...]]]
"""key -> (its `key_position`, its preference list)."""


class PeerTrees:
    """One node's Merkle trees: one per peer, over the keys it holds that the peer replicates.

    Dynamo keeps a tree per key range (§4.7); here a pair of nodes syncs every
    key they share at once, and on a ring with virtual nodes two nodes share
    many small ranges, so the trees are per peer: a key with preference list
    (a, b, c) is in a's trees for b and c. The preference lists never change
    during a run, so neither does which trees a key belongs to. The trees
    catch up lazily: `catch_up` folds in the keys the store marked as changed
    (one digest per changed key, whatever the number of writes to it since),
    and every reader calls it first, so what it reads is the tree of the
    store's current data.

    Args:
        node: the node whose keys these are.
        placement: key -> (position, preference list); shared and cached by the caller.
    """

    __slots__ = ("_peers", "computed", "digests", "node", "placement", "trees")

    def __init__(self, node: int, placement: Placement) -> None:
        self.node = node
        self.placement = placement
        self.trees: dict[int, MerkleTree] = {}
        self.digests: dict[str, int] = {}
        """The digest of every key in the trees (what a change is a change from)."""
        self.computed = 0
        """key_digest calls so far: the work anti-entropy does on this node."""
        self._peers: list[int] | None = []

    def catch_up(self, store: NodeStorage) -> None:
        """Fold the keys changed in `store` since the last call into the trees."""
        changed = store.take_changed()
        if not changed:
            return
        data = store.data
        digests = self.digests
        trees = self.trees
        node = self.node
        for key in changed:
            siblings = data.get(key)
            old = digests.get(key)
            if siblings:
                new: int | None = key_digest(key, siblings)
                self.computed += 1
                if new == old:
                    continue
                digests[key] = new
            elif old is None:
                continue
            else:
                new = None
                del digests[key]
            position, replicas = self.placement(key)
            for peer in replicas:
                if peer == node:
                    continue
                tree = trees.get(peer)
                if tree is None:
                    tree = trees[peer] = MerkleTree()
                if old is None or new is None:  # the peer may join or leave the list
                    was = tree.count
                    tree.update(key, position, old, new)
                    if not was or not tree.count:
                        self._peers = None
                else:
                    tree.update(key, position, old, new)

    def tree(self, peer: int) -> MerkleTree:
        """The tree of the keys shared with `peer` (call `catch_up` first); do not modify it."""
        return self.trees.get(peer, _EMPTY_TREE)

    def peers(self) -> list[int]:
        """The peers this node holds keys of, in id order (call `catch_up` first)."""
        if self._peers is None:
            self._peers = sorted(p for p, tree in self.trees.items() if tree.count)
        return self._peers
