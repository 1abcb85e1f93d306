"""Stale reads by write identity: a read must reflect every write acknowledged before it began."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from sim.history import INVOKE, OK, STORE_FS, History, Op, pair_ops
from sim.metrics.paired import Paired
from sim.metrics.staleness import Reads, stale_reads, versions_seen
from tests.strategies import exportable_histories, lineage_histories, op_values


def history(events: list[tuple], lineage: dict[str, tuple[float, tuple[str, ...]]]) -> History:
    """events: (process, f, key, value-or-tags, invoke, complete)."""
    h = History()
    for process, f, key, value, start, end in sorted(events, key=lambda e: e[4]):
        h.append(Op(process, INVOKE, f, key, value if f != "read" else None, start))
        h.append(Op(process, OK, f, key, value, end))
    h.ops.sort(key=lambda op: op.time)
    h.lineage.update(lineage)
    return h


def share(h: History) -> float | None:
    return stale_reads(Paired.of(h.ops).store, h.lineage)


def test_a_read_of_a_value_descending_from_every_acknowledged_write_is_fresh() -> None:
    h = history(
        [
            ("loader", "write", "k", "a", 0.0, 0.0),
            (1, "cas", "k", ["a", "b"], 1.0, 2.0),
            (2, "cas", "k", ["b", "c"], 3.0, 4.0),
            (3, "read", "k", "c", 5.0, 6.0),
        ],
        {"b": (1.0, ("a",)), "c": (3.0, ("b",))},
    )
    assert share(h) == 0.0


def test_a_write_last_writer_wins_discarded_is_missed_by_every_later_read() -> None:
    # b and c both descend from a; c wins, b is in no later value's lineage
    h = history(
        [
            ("loader", "write", "k", "a", 0.0, 0.0),
            (1, "cas", "k", ["a", "b"], 1.0, 2.0),
            (2, "cas", "k", ["a", "c"], 1.5, 2.5),
            (3, "cas", "k", ["c", "d"], 3.0, 4.0),
            (4, "read", "k", "d", 5.0, 6.0),
            (5, "read", "k", "d", 7.0, 8.0),
        ],
        {"b": (1.0, ("a",)), "c": (1.5, ("a",)), "d": (3.0, ("c",))},
    )
    assert share(h) == 1.0


def test_a_read_of_siblings_or_of_their_merge_reflects_both() -> None:
    lineage = {"b": (1.0, ("a",)), "c": (1.5, ("a",)), "m:1": (3.0, ("b", "c"))}
    events = [
        ("loader", "write", "k", "a", 0.0, 0.0),
        (1, "cas", "k", ["a", "b"], 1.0, 2.0),
        (2, "cas", "k", ["a", "c"], 1.5, 2.5),
    ]
    assert share(history([*events, (3, "read", "k", ["b", "c"], 5.0, 6.0)], lineage)) == 0.0
    merged = [*events, (3, "write", "k", "m:1", 3.0, 3.5), (4, "read", "k", "m:1", 5.0, 6.0)]
    assert share(history(merged, lineage)) == 0.0
    assert share(history([*events, (3, "read", "k", "b", 5.0, 6.0)], lineage)) == 1.0


def test_a_blind_write_reflects_what_was_acknowledged_before_it_began() -> None:
    h = history(
        [
            (1, "write", "k", "x", 0.0, 1.0),
            (2, "write", "k", "y", 2.0, 3.0),  # began after x was acknowledged: overwrites it
            (3, "read", "k", "y", 4.0, 5.0),
            (4, "write", "k", "z", 6.0, 9.0),
            (5, "write", "k", "w", 7.0, 8.0),  # concurrent with z: does not reflect it
            (6, "read", "k", "w", 10.0, 11.0),
        ],
        {},
    )
    assert share(h) == 0.5


def test_only_writes_acknowledged_before_the_read_began_count() -> None:
    h = history(
        [
            ("loader", "write", "k", "a", 0.0, 0.0),
            (1, "cas", "k", ["a", "b"], 1.0, 10.0),
            (2, "read", "k", "a", 5.0, 6.0),  # b not yet acknowledged: fresh
        ],
        {"b": (1.0, ("a",))},
    )
    assert share(h) == 0.0


def brute_force_stale(events: list[tuple], lineage: dict) -> float | None:
    """The definition, computed the long way: full closures, every acknowledged write checked."""
    writes = [(e[3], e[4], e[5]) for e in events if e[1] == "write"]
    invoked = {tag: start for tag, start, _ in writes}
    acked = {tag: end for tag, _, end in writes}
    closures: dict[str, set[str]] = {}

    def closure(tag: str) -> set[str]:
        if tag not in closures:
            closures[tag] = {tag}
            if tag in lineage:
                parents = lineage[tag][1]
            else:  # blind: what was acknowledged before it began, and what that reflects
                parents = [w for w in acked if w != tag and acked[w] < invoked.get(tag, 0.0)]
            for parent in parents:
                closures[tag] |= closure(parent)
        return closures[tag]

    def reflected(write: str, values: list[str]) -> bool:
        if write.startswith("m:") and write in lineage:
            return all(reflected(p, values) for p in lineage[write][1])
        return any(write in closure(v) for v in values)

    reads = [e for e in events if e[1] == "read"]
    if not reads:
        return None
    stale = 0
    for read in reads:
        values = read[3] if isinstance(read[3], list) else [read[3]]
        if any(not reflected(w, values) for w in acked if acked[w] < read[4]):
            stale += 1
    return stale / len(reads)


@given(lineage_histories())
def test_the_fast_frontier_agrees_with_the_definition(drawn) -> None:
    """The frontier and pruned searches give what full closures give (an independent check)."""
    events, lineage = drawn
    h = history(events, lineage)
    expected = brute_force_stale(events, lineage)
    event(f"stale share: {'0' if not expected else '1' if expected == 1 else 'between'}")
    assert share(h) == expected


def on_key(drawn: tuple[list[tuple], dict], key: str) -> tuple[list[tuple], dict]:
    """One drawn key's history moved to `key`, its tags and processes renamed: keys share none."""

    def rename(tag: str) -> str:
        return f"m:{key}{tag[2:]}" if tag.startswith("m:") else f"{key}.{tag}"

    events, lineage = drawn
    moved = [
        (
            f"{key}.{process}",
            f,
            key,
            [rename(t) for t in tags] if isinstance(tags, list) else rename(tags),
            *t,
        )
        for process, f, _, tags, *t in events
    ]
    renamed = {rename(tag): (t, tuple(map(rename, ps))) for tag, (t, ps) in lineage.items()}
    return moved, renamed


@given(lineage_histories(), lineage_histories())
def test_keys_are_judged_apart(a, b) -> None:
    """Two keys' reads together: the stale share is the reads-weighted share of each alone."""
    (events_a, lineage_a), (events_b, lineage_b) = on_key(a, "a"), on_key(b, "b")
    reads_a = sum(1 for e in events_a if e[1] == "read")
    reads_b = sum(1 for e in events_b if e[1] == "read")
    stale_a = brute_force_stale(events_a, lineage_a) * reads_a
    stale_b = brute_force_stale(events_b, lineage_b) * reads_b
    both = share(history(events_a + events_b, {**lineage_a, **lineage_b}))
    assert both == pytest.approx((stale_a + stale_b) / (reads_a + reads_b))


drawn_reads = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3).map(float),  # invoked: ties and disorder
        st.sampled_from(["a", "b"]),
        st.sampled_from([OK, "fail"]),
        op_values,
    ),
    max_size=12,
)


@given(drawn_reads, exportable_histories(max_ops=20))
def test_reads_are_the_successful_reads_in_time_order(drawn: list[tuple], noise: list[Op]) -> None:
    """`Reads.of` gathers by rows what `pair_ops` pairs, sorted stably by invoke time, even
    when the history is not in time order."""
    ops = [op._replace(process=f"n{op.process}") for op in noise]  # processes of their own
    for process, (t, key, outcome, value) in enumerate(drawn):
        ops += [
            Op(process, INVOKE, "read", key, None, t),
            Op(process, outcome, "read", key, value, 9.0),
        ]
    expected = sorted(
        (
            (inv.time, inv.key, done.value)
            for inv, done in pair_ops(ops, STORE_FS)
            if inv.f == "read" and done is not None and done.type == OK
        ),
        key=lambda read: read[0],
    )
    reads = Reads.of(Paired.of(ops).store)
    assert list(zip(reads.times, reads.keys, reads.values, strict=True)) == expected


@given(st.lists(op_values, max_size=30))
def test_versions_seen_counts_each_read_by_its_siblings(values: list) -> None:
    """The C count agrees with counting one read at a time (None: 0, a list: its length, else 1)."""
    counts = Counter(0 if v is None else len(v) if isinstance(v, list) else 1 for v in values)
    expected = {str(k): counts[k] for k in sorted(counts)}
    assert versions_seen(Reads(["k"] * len(values), [0.0] * len(values), values)) == expected
