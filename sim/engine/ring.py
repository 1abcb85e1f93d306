"""Consistent hashing with virtual nodes: which nodes hold a key (Dynamo §4.2, §4.3).

Every node owns `virtual_nodes` points on a 64-bit ring; a key belongs to the
first point clockwise from its own position, and its preference list is the
first N *distinct* nodes met walking on from there. Positions are the first
8 bytes of blake2b over `"{node}#{v}"` (and over the key), never Python's
salted `hash()`, so every process and every run places keys identically.
Points with equal positions (never seen in practice) are ordered by node id.
"""

from __future__ import annotations

import functools
import hashlib
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import chain

import numpy as np


def position(label: str) -> int:
    """The 64-bit ring position of a key or of a virtual node's label."""
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "big")


def _points(node: int, suffixes: Sequence[bytes]) -> np.ndarray:
    """`position` of each of the node's labels `"{node}#{v}"` (`suffixes`: each `v` as
    bytes), read as one big-endian array. The same values at half the cost (a ring of
    1,000 nodes hashes 64,000 labels): the hash of the label's common prefix is
    copied, not recomputed, and the digests are read at once."""
    prefix = hashlib.blake2b(f"{node}#".encode(), digest_size=8)
    copy = prefix.copy
    digests = []
    for suffix in suffixes:
        label = copy()
        label.update(suffix)
        digests.append(label.digest())
    return np.frombuffer(b"".join(digests), dtype=">u8").astype(np.uint64)


@functools.lru_cache(maxsize=1 << 14)
def node_points(node: int, virtual_nodes: int) -> np.ndarray:
    """The positions of node `node`'s `virtual_nodes` labels, read-only, memoized per
    process: a pure function of its arguments, so runs in one process (a sweep's seeds,
    a benchmark's repeats) hash a ring's labels once (64,000 at 1,000 nodes)."""
    points = _points(node, _suffixes(virtual_nodes))
    points.flags.writeable = False
    return points


@functools.cache
def _suffixes(virtual_nodes: int) -> tuple[bytes, ...]:
    """The `v` of each label `"{node}#{v}"`, as bytes: the same for every node."""
    return tuple(str(v).encode() for v in range(virtual_nodes))


class Ring:
    """An immutable ring of nodes; `with_node` and `without_node` return new rings.

    Args:
        nodes: distinct integer node ids.
        virtual_nodes: points per node; more points, smoother load (Dynamo §4.2).

    Raises:
        ValueError: duplicate node ids or virtual_nodes < 1.
    """

    __slots__ = ("_cache", "_node_points", "_owners", "_positions", "nodes", "virtual_nodes")

    def __init__(self, nodes: Sequence[int], virtual_nodes: int = 64) -> None:
        if isinstance(virtual_nodes, bool) or not isinstance(virtual_nodes, int):
            raise ValueError(f"virtual_nodes must be an integer (got {virtual_nodes!r})")
        if virtual_nodes < 1:
            raise ValueError(f"virtual_nodes must be >= 1 (got {virtual_nodes})")
        ids = [int(n) for n in nodes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"node ids must be distinct (got {sorted(ids)})")
        self._build({n: node_points(n, virtual_nodes) for n in ids}, virtual_nodes)

    @classmethod
    def _from_points(cls, node_points: dict[int, np.ndarray], virtual_nodes: int) -> Ring:
        ring = cls.__new__(cls)
        ring._build(node_points, virtual_nodes)
        return ring

    def _build(self, node_points: dict[int, np.ndarray], virtual_nodes: int) -> None:
        self.virtual_nodes = virtual_nodes
        self.nodes: tuple[int, ...] = tuple(sorted(node_points))
        self._node_points = node_points  # per node, so a new ring reuses the hashes
        if node_points:
            positions = np.concatenate(list(node_points.values()))
        else:
            positions = np.empty(0, dtype=np.uint64)
        owners = np.repeat(np.fromiter(node_points, dtype=np.int64), virtual_nodes)
        order = np.lexsort((owners, positions))  # by position, ties by node id
        # Python lists: bisect and indexing on them beat numpy scalars one at a time.
        self._positions: list[int] = positions[order].tolist()
        self._owners: list[int] = owners[order].tolist()
        self._cache: dict[tuple[str, int], tuple[int, ...]] = {}

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, node: object) -> bool:
        return node in self._node_points

    def __repr__(self) -> str:
        return f"Ring({len(self.nodes)} nodes, virtual_nodes={self.virtual_nodes})"

    def _start(self, key: str) -> int:
        """Index of the first point at or after the key's position (wrapping to 0)."""
        i = bisect_left(self._positions, position(key))
        return 0 if i == len(self._positions) else i

    def preference_list(self, key: str, n: int) -> tuple[int, ...]:
        """The first n distinct nodes clockwise from the key: its replicas (Dynamo §4.3).

        Cached per (key, n): keys are few and the ring never changes.

        Raises:
            ValueError: n < 0 or more than the ring's nodes.
        """
        try:
            return self._cache[key, n]
        except KeyError:
            pass
        if not 0 <= n <= len(self.nodes):
            raise ValueError(f"preference list of {n} nodes from a ring of {len(self.nodes)}")
        found: list[int] = []
        if n:
            owners = self._owners
            size = len(owners)
            i = self._start(key)
            while True:
                node = owners[i]
                if node not in found:  # n is small (the replication factor)
                    found.append(node)
                    if len(found) == n:
                        break
                i += 1
                if i == size:
                    i = 0
        result = tuple(found)
        self._cache[key, n] = result
        return result

    def primary(self, key: str) -> int:
        """The key's coordinator: the first node of its preference list."""
        return self.preference_list(key, 1)[0]

    def walk(self, key: str) -> Iterator[int]:
        """Every distinct node once, in ring order from the key (lazily).

        The first N are the preference list; the rest are, in order, the
        fall-backs a sloppy quorum uses when replicas are unreachable
        (Dynamo §4.6). Each point is visited at most once, and the walk stops
        as soon as every node has been met (or the caller stops iterating).
        """
        owners = self._owners
        size = len(owners)
        total = len(self.nodes)
        if not total:
            return
        start = self._start(key)
        seen: set[int] = set()
        for i in chain(range(start, size), range(start)):
            node = owners[i]
            if node not in seen:
                seen.add(node)
                yield node
                if len(seen) == total:
                    return

    def with_node(self, node: int) -> Ring:
        """A new ring with `node` added (its points hashed once; the others' reused).

        Raises:
            ValueError: the node is already on the ring.
        """
        node = int(node)
        if node in self._node_points:
            raise ValueError(f"node {node} is already on the ring")
        points = dict(self._node_points)
        points[node] = node_points(node, self.virtual_nodes)
        return Ring._from_points(points, self.virtual_nodes)

    def without_node(self, node: int) -> Ring:
        """A new ring with `node` removed: only the keys it held move.

        Raises:
            ValueError: the node is not on the ring.
        """
        if node not in self._node_points:
            raise ValueError(f"node {node} is not on the ring")
        points = {n: p for n, p in self._node_points.items() if n != node}
        return Ring._from_points(points, self.virtual_nodes)
