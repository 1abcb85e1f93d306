"""Stale reads judged by identity, in real time: did a read reflect every write acked before it?

A read is stale when it misses a write (by the write's tag) that was
acknowledged before the read was invoked, whatever made it miss: a clock, a
cut, a resolver, last-writer-wins. A value *reflects* a write when the write
is in its lineage: the value itself, what its writer had read (`History.lineage`),
and so on back. A value written blind (no lineage) reflects every write
acknowledged before its own was invoked: a blind write means to overwrite.
A merge adds nothing of its own, so a value reflects a written-back merge
when it reflects everything the merge merged. A write that last-writer-wins
discarded is in no later value's lineage, so every later read misses it.
Versions (clocks, stamps) are not compared: a skewed stamp would hide the miss.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sim.history import OK, Op
from sim.shop.model import MERGE_TAG

Pairs = Sequence[tuple[Op, Op | None]]
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


class Reflection:
    """Answers "does value v reflect write w?" over a run's lineage, memoised.

    Args:
        lineage: tag -> (time made, parent tags).
        invoked: tag -> when its write was invoked (blind writes' real-time past).
        acked: tag -> when its write was acknowledged.
    """

    def __init__(
        self, lineage: Lineage, invoked: Mapping[str, float], acked: Mapping[str, float]
    ) -> None:
        self.lineage = lineage
        self.invoked = invoked
        self.acked = acked
        self._memo: dict[tuple[Any, Any], bool] = {}

    def _made(self, tag: Any) -> float:
        made = self.lineage.get(tag)
        return made[0] if made is not None else self.invoked.get(tag, 0.0)

    def reflects(self, value: Any, write: Any) -> bool:
        """Whether the value tagged `value` has the write tagged `write` in its lineage."""
        if value == write:
            return True
        if isinstance(write, str) and write.startswith(MERGE_TAG) and write in self.lineage:
            # a written-back merge: reflected when all it merged is (its parents are no merges)
            return all(self._reaches(value, p) for p in self.lineage[write][1])
        return self._reaches(value, write)

    def _reaches(self, value: Any, write: Any) -> bool:
        """Depth-first from `value` back through lineage, never past what was made before `write`.

        Iterative (lineages are long); every value fully searched without finding
        `write` is remembered as not reaching it, so the next read's search stops there.
        """
        memo = self._memo
        known = memo.get((value, write))
        if known is not None:
            return known
        made_write = self._made(write)
        acked_write = self.acked.get(write, float("inf"))
        stack, seen = [value], set()
        while stack:
            tag = stack.pop()
            if tag == write or memo.get((tag, write)):
                memo[(value, write)] = True
                return True
            if tag in seen or (tag, write) in memo:
                continue
            seen.add(tag)
            made = self.lineage.get(tag)
            if made is not None:
                if made[0] >= made_write:
                    stack.extend(made[1])
            elif acked_write < self.invoked.get(tag, float("-inf")):  # blind: its real-time past
                memo[(value, write)] = True
                return True
        for tag in seen:
            memo[(tag, write)] = False
        return False


def stale_reads(store: Pairs, lineage: Lineage) -> float | None:
    """Share of successful reads that missed a write acknowledged before the read began."""
    writes: dict[str, list[tuple[float, Any]]] = defaultdict(list)
    invoked: dict[Any, float] = {}
    acked: dict[Any, float] = {}
    reads: list[tuple[float, str, list[Any]]] = []
    for inv, done in store:
        if done is None or done.type != OK:
            continue
        if inv.f == "read":
            value = done.value
            tags = [] if value is None else value if isinstance(value, list) else [value]
            reads.append((inv.time, inv.key, tags))
            continue
        for key, tag in written_tags(inv):
            writes[key].append((done.time, tag))
            invoked[tag] = inv.time
            acked[tag] = done.time
    if not reads:
        return None
    reflection = Reflection(lineage, invoked, acked)
    for acks in writes.values():
        acks.sort(key=lambda a: a[0])
    reads.sort(key=lambda r: r[0])
    frontier: dict[str, list[Any]] = defaultdict(list)  # per key: acked writes no other reflects
    cursor: Counter[str] = Counter()
    stale = 0
    for t, key, tags in reads:
        acks = writes.get(key, [])
        i = cursor[key]
        front = frontier[key]
        while i < len(acks) and acks[i][0] < t:
            tag = acks[i][1]
            if not any(reflection.reflects(f, tag) for f in front):
                front[:] = [f for f in front if not reflection.reflects(tag, f)] + [tag]
            i += 1
        cursor[key] = i
        if not all(any(reflection.reflects(v, f) for v in tags) for f in front):
            stale += 1
    return stale / len(reads)


def versions_seen(store: Pairs) -> dict[str, int]:
    """Histogram: how many sibling versions each successful read returned (0 = key absent)."""
    counts: Counter[int] = Counter()
    for inv, done in store:
        if inv.f == "read" and done is not None and done.type == OK:
            v = done.value
            counts[0 if v is None else len(v) if isinstance(v, list) else 1] += 1
    return {str(k): counts[k] for k in sorted(counts)}
