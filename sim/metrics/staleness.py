"""Stale reads judged by identity, in real time: did a read reflect every write acked before it?

A read is stale when it misses a write (by the write's tag) that was
acknowledged before the read was invoked, whatever made it miss: a clock, a
cut, a resolver, last-writer-wins. A value *reflects* a write when the write
is in its lineage: the value itself, what its writer had read (`History.lineage`),
and so on back. A value written blind (no lineage) reflects every write
acknowledged before its own was invoked, and what those reflect: a blind
write means to overwrite the state it found.
A merge adds nothing of its own, so a value reflects a written-back merge
when it reflects everything the merge merged. A write that last-writer-wins
discarded is in no later value's lineage, so every later read misses it.
Versions (clocks, stamps) are not compared: a skewed stamp would hide the miss.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np

from sim.history import Op
from sim.metrics.paired import Level
from sim.shop.model import MERGE_TAG

Lineage = Mapping[str, tuple[float, tuple[str, ...]]]


def written_tags(inv: Op) -> list[tuple[str, Any]]:
    """(key, tag) of each value a store operation writes."""
    if inv.f == "write":
        return [(inv.key, inv.value)]
    if inv.f == "cas":
        return [(inv.key, inv.value[1])]
    if inv.f == "txn":
        return [(k, v[1] if f == "cas" else v) for f, k, v in inv.value]
    return []


def made_time(tag: Any, lineage: Lineage, invoked: Mapping[Any, float]) -> float:
    """When the value tagged `tag` was made: its lineage's time, or (written blind) when
    its write was invoked; 0 for a value of neither (the initial data)."""
    made = lineage.get(tag)
    return made[0] if made is not None else invoked.get(tag, 0.0)


class MadeTimes(dict[Any, float]):
    """`made_time` of every tag, looked up in C: `made_times[tag]` (0 for the initial data).

    Args:
        lineage: tag -> (time made, parent tags).
        invoked: tag -> when its write was invoked.
    """

    def __init__(self, lineage: Lineage, invoked: Mapping[Any, float]) -> None:
        super().__init__(invoked)
        self.update((tag, made[0]) for tag, made in lineage.items())

    def __missing__(self, tag: Any) -> float:
        return 0.0


class Reflection:
    """Answers "does value v reflect write w?" for one key's values, memoised.

    Args:
        lineage: tag -> (time made, parent tags).
        invoked: tag -> when its write was invoked.
        acks: the key's acknowledged writes as (time acknowledged, tag), sorted.
    """

    def __init__(
        self, lineage: Lineage, invoked: Mapping[Any, float], acks: Sequence[tuple[float, Any]]
    ) -> None:
        self.lineage = lineage
        self.invoked = invoked
        self.acks = acks
        self.ack_times = [t for t, _ in acks]
        self._memo: dict[tuple[Any, Any], bool] = {}

    def _made(self, tag: Any) -> float:
        return made_time(tag, self.lineage, self.invoked)

    def _parents(self, tag: Any, since: float) -> list[Any]:
        """What `tag`'s value was made from: its lineage, or (written blind) every write
        acknowledged before its own was invoked, back to `since` (older ones cannot lead
        to a write made at `since`)."""
        made = self.lineage.get(tag)
        if made is not None:
            return list(made[1]) if made[0] >= since else []
        until = self.invoked.get(tag, float("-inf"))
        lo = bisect.bisect_left(self.ack_times, since)
        hi = bisect.bisect_left(self.ack_times, until)
        return [t for _, t in self.acks[lo:hi] if t != tag]

    def reflects(self, value: Any, write: Any) -> bool:
        """Whether the value tagged `value` has the write tagged `write` in its lineage."""
        return self.seen_by((value,), write)

    def seen_by(self, values: Sequence[Any], write: Any) -> bool:
        """Whether the values a read returned (siblings, together) reflect `write`.

        A written-back merge is reflected when each thing it merged is, by one
        sibling or another (a merge's parents are never merges: lineage is flat).
        """
        if isinstance(write, str) and write.startswith(MERGE_TAG) and write in self.lineage:
            if write in values:
                return True
            parents = self.lineage[write][1]
            return all(any(self._reaches(v, p) for v in values) for p in parents)
        return any(self._reaches(v, write) for v in values)

    def _reaches(self, value: Any, write: Any) -> bool:
        """Depth-first from `value` back through lineage, never past what was made before `write`.

        `value == write` counts (a value reflects its own write).

        Iterative (lineages are long); every value fully searched without finding
        `write` is remembered as not reaching it, so the next read's search stops there.
        """
        memo = self._memo
        known = memo.get((value, write))
        if known is not None:
            return known
        since = self._made(write)
        stack, seen = [value], set()
        while stack:
            tag = stack.pop()
            if tag == write or memo.get((tag, write)):
                memo[(value, write)] = True
                return True
            if tag in seen or (tag, write) in memo:
                continue
            seen.add(tag)
            stack.extend(self._parents(tag, since))
        for tag in seen:
            memo[(tag, write)] = False
        return False


by_time = itemgetter(0)
"""Sort key of (time, ...) records: acknowledgements."""

NONE_EVER = float("-inf")
UNKNOWN = float("inf")


def _last_reflected(
    lineage: Lineage,
    writes: Mapping[str, Sequence[tuple[float, Any]]],
    made: Callable[[Any], float],
) -> dict[Any, float]:
    """For each acknowledged write, the latest time a value reflecting it was made.

    NONE_EVER when no value lists it in its lineage (a last-writer-wins loser: a
    read reflects it only by returning it); UNKNOWN, never pruned, for a merge (it
    is reflected through its parents) and for a write a later blind write on its
    key may reflect. A value made after this time cannot reflect the write, which
    spares the search for most of a hot key's frontier.
    """
    children: dict[Any, list[Any]] = defaultdict(list)
    for tag, (_, parents) in lineage.items():
        for parent in parents:
            children[parent].append(tag)
    latest: dict[Any, float] = {}
    for acks in writes.values():
        last_blind = max((made(tag) for _, tag in acks if tag not in lineage), default=NONE_EVER)
        for t, tag in acks:
            if t < last_blind or (isinstance(tag, str) and tag.startswith(MERGE_TAG)):
                latest[tag] = UNKNOWN
            elif tag not in latest:
                latest[tag] = _latest_descendant(tag, children, made, latest)
    return latest


def _latest_descendant(
    root: Any, children: Mapping[Any, list[Any]], made: Callable[[Any], float], latest: dict
) -> float:
    """The latest `made` among `root`'s descendants by lineage (memoised in `latest`)."""
    if root not in children:  # most writes: nothing was made from them
        return NONE_EVER
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        tag, expanded = stack.pop()
        if tag in latest and tag != root:
            continue
        kids = children.get(tag, ())
        if expanded:
            latest[tag] = max(
                (max(made(c), latest.get(c, UNKNOWN)) for c in kids), default=NONE_EVER
            )
        else:
            stack.append((tag, True))
            stack.extend((c, False) for c in kids if c not in latest)
    return latest[root]


_key = itemgetter(Op._fields.index("key"))  # Op.key, as a C function for map
_value = itemgetter(Op._fields.index("value"))


@dataclass(frozen=True)
class Reads:
    """A store's successful reads in time order, as columns: each read's key, when it
    was invoked and the value it returned.

    Both staleness metrics use them, so they are gathered once, by `map` (a loop in C):
    each read's two Ops are read once, long after the pairing pass left them.
    """

    keys: list[str]
    times: list[float]
    values: list[Any]

    @classmethod
    def of(cls, store: Level) -> Reads:
        """The reads of `store` that completed ok, in time order (reads invoked at once
        in the order invoked)."""
        rows = store.ok_rows("read")
        times = store.timings.invoked_ms[rows]
        if np.any(times[1:] < times[:-1]):  # not so in a run's history
            order = np.argsort(times, kind="stable")  # reads invoked at once: in the order invoked
            rows, times = rows[order], times[order]
        in_order = rows.tolist()
        return cls(
            list(map(_key, map(store.invokes.__getitem__, in_order))),
            times.tolist(),
            list(map(_value, map(store.completions.__getitem__, in_order))),
        )


def stale_reads(store: Level, lineage: Lineage, reads: Reads | None = None) -> float | None:
    """Share of successful reads that missed a write acknowledged before the read began.

    Per key, a frontier of the acknowledged writes no other reflects: a read is stale
    when it misses one. Each write's latest descendant bounds the searches: a value made
    after it cannot reflect the write, so a hot key's frontier of lost updates is mostly
    passed over by comparing times; and writes nothing ever reflects (the losers of
    last-writer-wins) are kept apart in a set, O(1) per read. The keys are independent
    (each has its own writes, frontier and searches), so the reads are judged in one
    pass in time order, each by its key's frontier.

    `reads` are `Reads.of(store)`, if already gathered.
    """
    if reads is None:
        reads = Reads.of(store)
    if not reads.keys:
        return None
    invokes, completions = store.invokes, store.completions
    writes: dict[str, list[tuple[float, Any]]] = defaultdict(list)
    invoked: dict[Any, float] = {}
    for row in store.ok_rows("write", "cas", "txn").tolist():  # the fs that write
        inv, done = invokes[row], completions[row]
        assert done is not None  # it completed ok
        for key, tag in written_tags(inv):
            writes[key].append((done.time, tag))
            invoked[tag] = inv.time
    for acks in writes.values():
        acks.sort(key=by_time)

    made = MadeTimes(lineage, invoked).__getitem__
    latest = _last_reflected(lineage, writes, made)
    frontiers = {  # of the keys read and written (a key never written has nothing to miss)
        key: Frontier(Reflection(lineage, invoked, writes[key]), latest, made)
        for key in dict.fromkeys(reads.keys)
        if key in writes
    }
    stale = 0
    for key, t, value in zip(reads.keys, reads.times, reads.values, strict=True):
        frontier = frontiers.get(key)
        if frontier is None:  # never written: nothing to miss
            continue
        # Most reads return the key's latest tag, already judged while the frontier stands.
        if t <= frontier.next_ack_ms and isinstance(value, str):
            missed = frontier.verdicts.get(value)
            if missed is not None:
                stale += missed
                continue
        stale += frontier.misses(t, value)
    return stale / len(reads.keys)


class Frontier:
    """One key's acknowledged writes that no other reflects, as acknowledgements come in.

    A read is stale when it misses one of them. Writes nothing ever reflects (the
    losers of last-writer-wins) are kept apart, `lost`: a read reflects those only by
    returning them.

    Args:
        reflection: the key's acknowledged writes and the lineage search over them.
        latest: each acknowledged write's latest descendant (`_last_reflected`).
        made: when a value was made.
    """

    def __init__(
        self, reflection: Reflection, latest: Mapping[Any, float], made: Callable[[Any], float]
    ) -> None:
        self.reflection = reflection
        self.latest = latest
        self.made = made
        self.front: list[Any] = []  # frontier writes still reflectable
        self.lost: set[Any] = set()  # frontier writes nothing reflects
        self.lost_by_made: list[tuple[float, int, Any]] = []  # the same, sorted by when made
        self.admitted = 0  # how many of the key's acknowledgements are in
        self.next_ack_ms = reflection.acks[0][0] if reflection.acks else UNKNOWN
        self.verdicts: dict[str, bool] = {}  # a single tag returned -> missed, while it stands

    def misses(self, t: float, value: Any) -> bool:
        """Whether a read invoked at `t` that returned `value` missed a write.

        Reads come in time order. Between two acknowledgements the frontier stands
        still, and most reads return the key's latest value: each tag returned alone
        is judged once while the frontier stands.
        """
        if t > self.next_ack_ms:
            self.admit_before(t)
            self.verdicts.clear()
        if isinstance(value, str):  # one version's tag (a dict key, unlike a list of siblings)
            missed = self.verdicts.get(value)
            if missed is None:
                missed = self.verdicts[value] = self.missed_by([value])
            return missed
        tags = [] if value is None else value if isinstance(value, list) else [value]
        return self.missed_by(tags)

    def admit_before(self, t: float) -> None:
        """Take in the writes acknowledged before time `t`, in the order acknowledged."""
        reflection, latest, made = self.reflection, self.latest, self.made
        acks, front, i = reflection.acks, self.front, self.admitted
        by_made = self.lost_by_made
        while i < len(acks) and acks[i][0] < t:
            tag = acks[i][1]
            when = made(tag)
            # Only a value made no earlier than `tag` can reflect it, and `tag` reflects
            # only writes with a descendant made no earlier than it.
            newer = by_made[bisect.bisect_left(by_made, (when, -1)) :]
            if not any(made(f) >= when and reflection.reflects(f, tag) for f in front) and not any(
                reflection.reflects(f, tag) for _, _, f in newer
            ):
                front[:] = [f for f in front if latest[f] < when or not reflection.reflects(tag, f)]
                if latest[tag] == NONE_EVER:
                    self.lost.add(tag)
                    bisect.insort(by_made, (when, i, tag))
                else:
                    front.append(tag)
            i += 1
        self.admitted = i
        self.next_ack_ms = acks[i][0] if i < len(acks) else UNKNOWN

    def missed_by(self, tags: Sequence[Any]) -> bool:
        """Whether a read that returned the values `tags` (siblings, together) misses a write."""
        lost = self.lost
        # A write nothing reflects is seen only by being returned: more of them than
        # values is a miss.
        if lost and (len(lost) > len(tags) or not lost.issubset(tags)):
            return True
        # A frontier write the read returned is reflected; the others are searched for.
        missing = [f for f in self.front if f not in tags]
        if not missing:
            return False
        oldest = min((self.made(v) for v in tags), default=UNKNOWN)
        latest, reflection = self.latest, self.reflection
        return not all(latest[f] >= oldest and reflection.seen_by(tags, f) for f in missing)


def versions_seen(reads: Reads) -> dict[str, int]:
    """Histogram: how many sibling versions each successful read returned (0 = key absent).

    Counted in C: most reads return one version (a tag); only siblings (a list) are
    counted one by one, and only if some read returned them.
    """
    values = reads.values
    counts: Counter[int] = Counter()
    if any(map(isinstance, values, repeat(list))):
        counts.update(len(v) for v in values if isinstance(v, list))
    absent = values.count(None)  # by identity first; a str, list or dict is never == None
    for size, n in ((0, absent), (1, len(values) - absent - counts.total())):
        if n:
            counts[size] += n
    return {str(k): counts[k] for k in sorted(counts)}
