"""Each node's versioned storage: sibling sets per key, hinted versions, Merkle digests.

A replica keeps every version no other version descends (the maximal
antichain, Dynamo §4.4); a put or a merge folds incoming versions in with
`vclock.merge_siblings`. Hinted versions (sloppy quorum, §4.6) are kept apart,
per intended owner, until they are handed off. Digests use only integers
(clock counters, crc32 of keys), never Python's salted str hash, so every
process computes the same Merkle trees and sends the same messages.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

from sim.vclock import Versioned, actor_id, merge_siblings

Siblings = tuple[Versioned, ...]

BUCKETS = 16
"""Leaves of each Merkle tree: keys are bucketed by crc32(key) % BUCKETS."""


def state_of(siblings: Siblings) -> tuple:
    """A sibling set's identity: its dots (each write has its own; values follow from dots)."""
    return tuple(v.dot for v in siblings)


def bucket_of(key: str) -> int:
    """The Merkle leaf a key belongs to (stable across processes)."""
    return zlib.crc32(key.encode()) % BUCKETS


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
    """

    __slots__ = ("actor", "counters", "data", "dirty", "hints", "incarnation", "node", "own")

    def __init__(self, node: int, dirty: set[str]) -> None:
        self.node = node
        self.incarnation = 0
        self.actor = actor_id(node, 0)
        self.dirty = dirty  # shared by all nodes: keys changed since the last convergence probe
        self.data: dict[str, Siblings] = {}
        self.hints: dict[str, dict[int, Siblings]] = {}
        self.own: dict[str, Siblings] = {}
        self.counters: dict[str, int] = {}

    def merge(self, key: str, incoming: Iterable[Versioned]) -> bool:
        """Fold versions into the owned set of `key`; True if it changed."""
        before = self.data.get(key, ())
        after = merge_siblings(before, incoming)
        if after is before or after == before:
            return False
        self.data[key] = after
        self.dirty.add(key)
        return True

    def hint(self, key: str, owner: int, versions: Iterable[Versioned]) -> None:
        """Hold `versions` for `owner`, which was unreachable when they were written."""
        per_owner = self.hints.setdefault(key, {})
        per_owner[owner] = merge_siblings(per_owner.get(owner, ()), versions)

    def visible(self, key: str) -> Siblings:
        """What this node answers a read with: owned, hinted and self-coordinated versions."""
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
        """Forget every version: owned, hinted and own (a crash of a non-durable node)."""
        self.dirty.update(self.data)
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
    """A leaf entry's digest: key and sibling state, mixed into 64 bits."""
    h = zlib.crc32(key.encode())
    for dot in state_of(siblings):
        actor, counter = dot if dot is not None else (-1, 0)
        h = (h * 1_000_003 ^ (actor * 7_919 + counter)) & 0xFFFF_FFFF_FFFF_FFFF
    return h


def leaves(entries: Iterable[tuple[str, Siblings]]) -> tuple[int, ...]:
    """The BUCKETS leaf hashes of a set of keys (order of entries does not matter)."""
    out = [0] * BUCKETS
    for key, siblings in entries:
        b = bucket_of(key)
        out[b] = (out[b] + key_digest(key, siblings)) & 0xFFFF_FFFF_FFFF_FFFF
    return tuple(out)


def root_of(leaf_hashes: tuple[int, ...]) -> int:
    """The Merkle root over the leaves."""
    h = 0
    for leaf in leaf_hashes:
        h = (h * 1_000_003 ^ leaf) & 0xFFFF_FFFF_FFFF_FFFF
    return h
