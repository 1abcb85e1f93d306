"""Vector clocks and sibling sets: how eventual mode tells causal order from conflict (Dynamo §4.4).

A `VClock` maps an actor to (counter, timestamp_ms): the counter orders the
actor's writes, the timestamp (simulated time of the actor's last increment)
only serves pruning. Order is decided by counters alone. An actor is a node id,
or, once the node has lost its data, a new id of that node (`actor_id`): an
actor must never issue a counter without holding its earlier versions. A
replica keeps the maximal antichain of the versions it has seen
(`add_version`): a version no other version descends. A read returns all of
them plus their merged context, and the client's resolver writes one version
back that descends them all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

Entry = tuple[int, int, float]
"""(actor, counter, timestamp_ms) of one vector-clock entry."""

INCARNATION_SHIFT = 32
"""Actor ids keep the node id in their low 32 bits and the incarnation above them."""

_FIRST_NEW_ID = 1 << INCARNATION_SHIFT


def actor_id(node: int, incarnation: int) -> int:
    """The actor id of `node` after it lost its data `incarnation` times.

    Incarnation 0 is the node id itself, so runs without data loss keep the
    clocks they always had. A later incarnation sets bits above any node id, so
    it is nobody's earlier id: its counters start afresh, and no context built
    from the node's earlier dots can cover its dots (Riak gives a vnode that
    lost its data a new actor id for the same reason).

    Raises:
        ValueError: a node outside 0..2**32-1 or a negative incarnation.
    """
    if not 0 <= node < _FIRST_NEW_ID:
        raise ValueError(f"node must be in 0..{_FIRST_NEW_ID - 1} (got {node})")
    if incarnation < 0:
        raise ValueError(f"incarnation must be >= 0 (got {incarnation})")
    return incarnation << INCARNATION_SHIFT | node


def actor_name(actor: int) -> str:
    """An actor as written in JSON: "3" for node 3, "3:1" for its first new id after data loss."""
    if actor < _FIRST_NEW_ID:
        return str(actor)
    return f"{actor & (_FIRST_NEW_ID - 1)}:{actor >> INCARNATION_SHIFT}"


class Order(Enum):
    """How clock a relates to clock b: `a.compare(b)`."""

    BEFORE = "before"  # a happened before b: b descends a, and they differ
    AFTER = "after"  # b happened before a
    EQUAL = "equal"  # the same counters
    CONCURRENT = "concurrent"  # neither descends the other: a conflict


BEFORE = Order.BEFORE
AFTER = Order.AFTER
EQUAL = Order.EQUAL
CONCURRENT = Order.CONCURRENT


class VClock:
    """An immutable, hashable vector clock.

    Internally a tuple of (actor, counter, timestamp_ms) triples sorted by
    actor (equality and hash are the tuple's, timestamps included) plus a dict
    actor -> triple for compare, descends and merge. Equality is full value
    equality; `compare` returns EQUAL whenever the counters agree. The methods
    call an actor `node`: without data loss it is one.

    Args:
        entries: (node, counter, timestamp_ms) triples, distinct nodes, counters >= 1.

    Raises:
        ValueError: a repeated node, a counter < 1, a non-finite timestamp.
    """

    __slots__ = ("_by_node", "_entries", "_json")

    _entries: tuple[Entry, ...]
    _by_node: dict[int, Entry]
    _json: dict[str, int]

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        checked = []
        for node, counter, ts in entries:
            if isinstance(counter, bool) or not isinstance(counter, int) or counter < 1:
                raise ValueError(f"node {node}: counter must be an integer >= 1 (got {counter!r})")
            if not math.isfinite(ts):
                raise ValueError(f"node {node}: timestamp must be finite (got {ts!r})")
            checked.append((int(node), counter, float(ts)))
        checked.sort()
        by_node = {e[0]: e for e in checked}
        if len(by_node) != len(checked):
            raise ValueError(f"nodes must be distinct (got {[e[0] for e in checked]})")
        _set_entries(self, tuple(checked))
        _set_by_node(self, by_node)

    @classmethod
    def from_counters(cls, counters: Mapping[int, int], timestamp_ms: float = 0.0) -> VClock:
        """A clock from {node: counter}, every entry stamped `timestamp_ms` (tests, imports)."""
        return cls((n, c, timestamp_ms) for n, c in counters.items())

    # ------------------------------------------------------------------ value protocol

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("VClock is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("VClock is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (VClock, (self._entries,))

    def __eq__(self, other: object) -> bool:
        if type(other) is not VClock:
            return NotImplemented
        return self._entries == other._entries

    def __hash__(self) -> int:
        return hash(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"VClock({list(self._entries)!r})"

    @property
    def entries(self) -> tuple[Entry, ...]:
        """The (node, counter, timestamp_ms) triples, sorted by node."""
        return self._entries

    def counters(self) -> tuple[tuple[int, int], ...]:
        """(node, counter) pairs sorted by node: the clock's identity for ordering."""
        return tuple([(n, c) for n, c, _ in self._entries])

    def counter(self, node: int) -> int:
        """The node's counter; 0 if the node has no entry."""
        e = self._by_node.get(node)
        return 0 if e is None else e[1]

    def to_json(self) -> dict[str, int]:
        """{actor_name(actor): counter}, in actor order (timestamps left out).

        A node's own id is written "3", its id after a data loss "3:1"
        (`actor_name`). Computed once per clock and shared: a history records
        the same clock for many reads, so its ops share one dict. Callers must
        not mutate it.
        """
        try:
            return self._json
        except AttributeError:  # first call: the slot is still empty
            _set_json(self, {actor_name(n): c for n, c, _ in self._entries})
            return self._json

    # ------------------------------------------------------------------ new clocks

    def with_counter(self, node: int, counter: int, now_ms: float) -> VClock:
        """This clock with node's entry set to (counter, now_ms).

        Raises:
            ValueError: counter < 1.
        """
        if counter < 1:
            raise ValueError(f"counter must be >= 1 (got {counter})")
        by_node = self._by_node.copy()
        by_node[node] = (node, counter, float(now_ms))
        return _make(tuple(sorted(by_node.values())), by_node)

    def increment(self, node: int, now_ms: float) -> VClock:
        """The clock of a write `node` coordinates at `now_ms` (Dynamo §4.4)."""
        e = self._by_node.get(node)
        return self.with_counter(node, 1 if e is None else e[1] + 1, now_ms)

    def merge(self, other: VClock) -> VClock:
        """The least upper bound: per node the larger counter (on a tie, the later timestamp).

        Returns `self` or `other` unchanged when one already is the result, so
        merging a dominated clock allocates nothing.
        """
        if other is self or not other._entries:
            return self
        if not self._entries:
            return other
        mine = self._by_node
        best = None
        for e in other._entries:
            cur = mine.get(e[0])
            # Same node: triples compare by counter, then timestamp.
            if cur is None or e > cur:
                if best is None:
                    best = mine.copy()
                best[e[0]] = e
        if best is None:
            return self
        entries = tuple(sorted(best.values()))
        if entries == other._entries:
            return other
        return _make(entries, best)

    def prune(self, limit: int, keep: int | None = None) -> tuple[VClock, int]:
        """Bound the clock's size as Dynamo does (§4.4): drop the oldest entries past `limit`.

        Dropping entries can make a descendant look concurrent with its
        ancestor (a false conflict), so callers count what was dropped.

        Args:
            limit: the most entries to keep (>= 0).
            keep: a node whose entry is never dropped (the writer's own, just incremented).

        Returns:
            The pruned clock and how many entries were dropped. Among entries
            with equal timestamps, lower counters, then lower node ids, go first.
        """
        if limit < 0:
            raise ValueError(f"limit must be >= 0 (got {limit})")
        excess = len(self._entries) - limit
        if excess <= 0:
            return self, 0
        order = sorted(self._entries, key=lambda e: (e[0] == keep, e[2], e[1], e[0]))
        by_node = self._by_node.copy()
        for e in order[:excess]:
            del by_node[e[0]]
        return _make(tuple(sorted(by_node.values())), by_node), excess

    # ------------------------------------------------------------------ order

    def compare(self, other: VClock) -> Order:
        """BEFORE, AFTER, EQUAL or CONCURRENT by counters alone (timestamps ignored)."""
        if self._entries == other._entries:
            return EQUAL
        theirs = other._by_node
        le = ge = True  # self <= other, self >= other
        for node, c, _ in self._entries:
            e = theirs.get(node)
            if e is None or c > e[1]:
                le = False
                if not ge:
                    return CONCURRENT
            elif c < e[1]:
                ge = False
                if not le:
                    return CONCURRENT
        if ge:
            ge = theirs.keys() <= self._by_node.keys()  # other has no node self lacks
        if le and ge:
            return EQUAL  # same counters, different timestamps
        if le:
            return BEFORE
        return AFTER if ge else CONCURRENT

    def descends(self, other: VClock) -> bool:
        """Whether self >= other counter by counter: self has seen every write other has."""
        mine = self._by_node
        for node, c, _ in other._entries:
            e = mine.get(node)
            if e is None or e[1] < c:
                return False
        return True


_set_entries = VClock._entries.__set__  # slot setters: bypass the immutability guard
_set_by_node = VClock._by_node.__set__
_set_json = VClock._json.__set__
_new = object.__new__


def _make(entries: tuple[Entry, ...], by_node: dict[int, Entry]) -> VClock:
    """Wrap already sorted, valid entries and their index without checking them."""
    clock = _new(VClock)
    _set_entries(clock, entries)
    _set_by_node(clock, by_node)
    return clock


Dot = tuple[int, int]
"""A write's own event: (the coordinator's actor id, that actor's counter for the key)."""


@dataclass(frozen=True, slots=True)
class Versioned:
    """One version of a value: the context its writer had seen, plus the write's own dot.

    Keeping the dot apart from the context (a dotted version vector, Preguiça
    et al. 2010) is what makes node-id clocks safe: two writes coordinated by
    the same node from the same context get dots (n, 5) and (n, 6); with plain
    clocks the second would descend the first and silently replace it (the
    lost update of Riak's vnode clocks), here neither context covers the
    other's dot, so both are kept as siblings. It holds while an actor's
    version never travels without that actor's earlier versions its context
    does not cover; a node that lost them (a crash without durable storage)
    must issue its next dots as a new actor (`actor_id`).

    Attributes:
        context: the merged clock of the versions the writer read.
        dot: (actor, counter) of this write; None for data loaded before the run.
        value: the value (immutable, shared between replicas and messages).
        timestamp_ms: the coordinator's wall clock at the write (for lww resolvers).
        clock: the version's whole causal history: context plus dot.
    """

    context: VClock
    dot: Dot | None
    value: Any
    timestamp_ms: float
    clock: VClock

    @classmethod
    def new(cls, context: VClock, dot: Dot | None, value: Any, timestamp_ms: float) -> Versioned:
        """A version whose `clock` is `context` advanced to `dot`."""
        clock = context
        if dot is not None and context.counter(dot[0]) < dot[1]:
            clock = context.with_counter(dot[0], dot[1], timestamp_ms)
        return cls(context, dot, value, timestamp_ms, clock)

    def covers(self, other: Versioned) -> bool:
        """Whether this version's writer had seen `other` (so `other` is obsolete)."""
        if other.dot is None:
            return self.dot is not None
        return self.context.counter(other.dot[0]) >= other.dot[1]


def _sort_key(version: Versioned) -> tuple:
    # Dots are unique per write, so they order a sibling set totally.
    return version.dot or (-1, -1)


def add_version(siblings: tuple[Versioned, ...], incoming: Versioned) -> tuple[Versioned, ...]:
    """A replica's update rule (Dynamo §4.4, with dots): keep the versions nothing covers.

    Drops `incoming` if it is already there (same dot) or a sibling covers it;
    otherwise drops the siblings it covers and adds it.

    Returns:
        The new sibling set, sorted by dot so that equal sets are equal tuples;
        `siblings` itself (the same object) if nothing changed.
    """
    if not siblings:
        return (incoming,)
    dot = incoming.dot
    kept = []
    for version in siblings:
        if version.dot == dot or version.covers(incoming):
            return siblings
        if not incoming.covers(version):
            kept.append(version)
    kept.append(incoming)
    kept.sort(key=_sort_key)
    return tuple(kept)


def merge_siblings(a: tuple[Versioned, ...], b: Iterable[Versioned]) -> tuple[Versioned, ...]:
    """The versions of the union of two sibling sets that no other covers (fold of add_version).

    The result is the maximal antichain (Dynamo §4.4), canonical: sorted, so
    equal sets are equal tuples.
    """
    for version in b:
        a = add_version(a, version)
    return a


def merged_context(siblings: Iterable[Versioned]) -> VClock:
    """The least upper bound of the siblings' clocks: the context a resolving write carries."""
    siblings = tuple(siblings)
    if len(siblings) == 1:
        return siblings[0].clock
    context = _EMPTY
    for version in siblings:
        context = context.merge(version.clock)
    return context


_EMPTY = VClock()
