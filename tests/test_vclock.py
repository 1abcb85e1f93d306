"""Vector clocks and sibling sets: partial-order and lattice laws, pruning, replica update rule."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import event, find, given, note
from hypothesis import strategies as st

from sim.vclock import (
    AFTER,
    BEFORE,
    CONCURRENT,
    EQUAL,
    Order,
    VClock,
    Versioned,
    actor_id,
    actor_name,
    add_version,
    merge_siblings,
    merged_context,
)
from tests.strategies import causal_puts, deliveries, vclocks

FLIP = {BEFORE: AFTER, AFTER: BEFORE, EQUAL: EQUAL, CONCURRENT: CONCURRENT}


def vc(**counters: int) -> VClock:
    """VClock from keyword counters: vc(n0=2, n3=1) -> {0: 2, 3: 1}."""
    return VClock.from_counters({int(k[1:]): c for k, c in counters.items()})


def naive_le(a: VClock, b: VClock) -> bool:
    return all(c <= b.counter(n) for n, c in a.counters())


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize(
    ("a", "b", "order"),
    [
        (vc(), vc(), EQUAL),
        (vc(), vc(n1=1), BEFORE),
        (vc(n1=1), vc(n1=2), BEFORE),
        (vc(n1=2, n2=1), vc(n1=2), AFTER),
        (vc(n1=1), vc(n2=1), CONCURRENT),  # same size, disjoint nodes
        (vc(n1=2, n2=1), vc(n1=1, n2=2), CONCURRENT),
        (vc(n1=1, n3=1), vc(n1=1, n2=1), CONCURRENT),
        (VClock([(1, 1, 5.0)]), VClock([(1, 1, 9.0)]), EQUAL),  # timestamps ignored
    ],
)
def test_compare_examples(a: VClock, b: VClock, order: Order) -> None:
    assert a.compare(b) is order
    assert b.compare(a) is FLIP[order]
    assert a.descends(b) == (order in (AFTER, EQUAL))


def test_increment_counts_per_node_and_stamps_time() -> None:
    a = VClock().increment(2, 10.0).increment(0, 11.0).increment(2, 12.5)
    assert a.counters() == ((0, 1), (2, 2))
    assert a.entries == ((0, 1, 11.0), (2, 2, 12.5))
    assert a.counter(2) == 2 and a.counter(7) == 0
    assert a.to_json() == {"0": 1, "2": 2}
    assert len(a) == 2 and len(VClock()) == 0
    assert a.increment(2, 13.0).compare(a) is AFTER


def test_to_json_is_computed_once_and_leaves_the_clock_a_value() -> None:
    a = VClock([(3, 2, 1.0), (1, 4, 2.0)])
    first = a.to_json()
    assert first == {"1": 4, "3": 2} and list(first) == ["1", "3"]
    assert a.to_json() is first  # cached: a history's ops share it
    twin = pickle.loads(pickle.dumps(a))
    assert twin == a and hash(twin) == hash(a) and twin.to_json() == first
    assert a.merge(VClock([(1, 5, 3.0)])).to_json() == {"1": 5, "3": 2}


def test_merge_keeps_larger_counter_and_on_a_tie_the_later_timestamp() -> None:
    a = VClock([(0, 3, 1.0), (1, 1, 2.0), (2, 5, 9.0)])
    b = VClock([(0, 2, 7.0), (1, 1, 4.0), (3, 1, 0.5)])
    assert a.merge(b).entries == ((0, 3, 1.0), (1, 1, 4.0), (2, 5, 9.0), (3, 1, 0.5))
    assert a.merge(VClock()) is a and VClock().merge(a) is a
    assert a.merge(a.increment(1, 3.0)).counters() == a.increment(1, 3.0).counters()


def test_value_semantics_hash_pickle_and_immutability() -> None:
    a = VClock([(1, 2, 3.0), (0, 1, 1.0)])
    b = VClock([(0, 1, 1.0), (1, 2, 3.0)])
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    assert a != VClock([(0, 1, 1.0), (1, 2, 4.0)])  # equality includes timestamps
    assert pickle.loads(pickle.dumps(a)) == a
    assert eval(repr(a), {"VClock": VClock}) == a
    with pytest.raises(AttributeError):
        a._entries = ()  # type: ignore[misc]
    with pytest.raises(AttributeError):
        a.anything = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([(0, 0, 1.0)], "node 0: counter must be an integer >= 1 (got 0)"),
        ([(0, True, 1.0)], "node 0: counter must be an integer >= 1 (got True)"),
        ([(0, 1, float("nan"))], "node 0: timestamp must be finite (got nan)"),
        ([(0, 1, 1.0), (0, 2, 2.0)], "nodes must be distinct (got [0, 0])"),
    ],
)
def test_bad_entries_raise(entries, message: str) -> None:
    with pytest.raises(ValueError) as info:
        VClock(entries)
    assert str(info.value) == message


def test_prune_drops_oldest_and_can_protect_the_writer() -> None:
    a = VClock([(0, 1, 5.0), (1, 4, 1.0), (2, 2, 3.0), (3, 1, 1.0)])
    pruned, dropped = a.prune(2)
    assert dropped == 2 and pruned.entries == ((0, 1, 5.0), (2, 2, 3.0))
    assert a.prune(4) == (a, 0) and a.prune(10)[0] is a
    # equal timestamps: lower counter first, so (3, 1) goes before (1, 4)
    assert a.prune(3)[0].entries == ((0, 1, 5.0), (1, 4, 1.0), (2, 2, 3.0))
    assert a.prune(1, keep=3)[0].entries == ((3, 1, 1.0),)
    with pytest.raises(ValueError):
        a.prune(-1)


def test_an_actor_is_the_node_id_until_data_loss_then_a_new_id_written_node_colon_n() -> None:
    assert actor_id(3, 0) == 3 and actor_name(3) == "3"
    assert actor_name(actor_id(3, 1)) == "3:1" and actor_name(actor_id(0, 2)) == "0:2"
    assert VClock.from_counters({actor_id(0, 1): 1, 0: 2}).to_json() == {"0": 2, "0:1": 1}
    for node, incarnation in ((-1, 0), (2**32, 0), (0, -1)):
        with pytest.raises(ValueError):
            actor_id(node, incarnation)


@given(
    a=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 9)),
    b=st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 9)),
)
def test_each_node_and_incarnation_has_its_own_actor_id_and_name(a, b) -> None:
    assert (actor_id(*a) == actor_id(*b)) == (a == b)
    assert (actor_name(actor_id(*a)) == actor_name(actor_id(*b))) == (a == b)


# --------------------------------------------------------------------------- laws


@given(a=vclocks(), b=vclocks())
def test_compare_is_antisymmetric_and_agrees_with_descends(a: VClock, b: VClock) -> None:
    order = a.compare(b)
    event(f"order: {order.name}")
    assert b.compare(a) is FLIP[order]
    assert a.descends(b) == naive_le(b, a) == (order in (AFTER, EQUAL))
    assert (order is EQUAL) == (a.counters() == b.counters())
    assert a.compare(a) is EQUAL and a.descends(a)


@given(a=vclocks(), b=vclocks(), c=vclocks())
def test_descends_is_transitive(a: VClock, b: VClock, c: VClock) -> None:
    if a.descends(b) and b.descends(c):
        event("chain")
        assert a.descends(c)


@given(a=vclocks(), b=vclocks(), c=vclocks())
def test_merge_is_commutative_associative_idempotent(a: VClock, b: VClock, c: VClock) -> None:
    assert a.merge(b) == b.merge(a)
    assert a.merge(b).merge(c) == a.merge(b.merge(c))
    assert a.merge(a) == a


@given(a=vclocks(), b=vclocks(), c=vclocks())
def test_merge_is_the_least_upper_bound(a: VClock, b: VClock, c: VClock) -> None:
    m = a.merge(b)
    assert m.descends(a) and m.descends(b)
    assert a.descends(b) == (m.counters() == a.counters())
    if c.descends(a) and c.descends(b):
        assert c.descends(m)
    assert merged_context([Versioned.new(a, None, 0, 0.0), Versioned.new(b, None, 1, 0.0)]) == m


@given(a=vclocks(), node=st.integers(0, 6), now=st.floats(0, 1e6))
def test_increment_happens_after(a: VClock, node: int, now: float) -> None:
    b = a.increment(node, now)
    assert b.compare(a) is AFTER
    assert b.counter(node) == a.counter(node) + 1
    assert (node, b.counter(node), now) in b.entries


@given(
    entries=st.dictionaries(st.integers(0, 20), st.tuples(st.integers(1, 9), st.integers(0, 5))),
    limit=st.integers(0, 12),
)
def test_prune_counts_and_keeps_the_newest(entries, limit: int) -> None:
    clock = VClock((n, c, float(t)) for n, (c, t) in entries.items())
    pruned, dropped = clock.prune(limit)
    assert dropped == max(0, len(clock) - limit)
    assert len(pruned) == min(len(clock), limit)
    assert set(pruned.entries) <= set(clock.entries)
    if dropped:
        event("pruned")
        removed = set(clock.entries) - set(pruned.entries)
        if pruned:
            assert max(e[2] for e in removed) <= min(e[2] for e in pruned.entries)
    assert clock.descends(pruned)


# --------------------------------------------------------------------------- sibling sets


def maximal(puts: list[Versioned]) -> tuple[Versioned, ...]:
    """The reference answer: every distinct put that no other put covers."""
    distinct = {p.dot: p for p in puts}.values()
    top = [p for p in distinct if not any(q.covers(p) for q in distinct)]
    return tuple(sorted(top, key=lambda p: p.dot))


def replay(order: list[Versioned]) -> tuple[Versioned, ...]:
    siblings: tuple[Versioned, ...] = ()
    for version in order:
        siblings = add_version(siblings, version)
    return siblings


@given(case=deliveries())
def test_any_delivery_order_gives_the_same_maximal_antichain(case) -> None:
    puts, first, second = case
    note(f"puts={[(p.dot, p.context.to_json()) for p in puts]}")
    a, b = replay(first), replay(second)
    event(f"siblings: {len(a)}")
    assert a == b == maximal(puts)
    for x in a:  # an antichain: no sibling covers another
        assert all(x is y or not x.covers(y) for y in a)
    for p in puts:  # nothing lost: every put is a sibling or covered by one
        assert any(s is p or s.covers(p) for s in a)
    assert all(merged_context(a).descends(p.clock) for p in puts)


def test_two_writes_from_one_node_and_one_context_are_siblings() -> None:
    # Plain node-id clocks would make the second descend the first (a lost update).
    base = Versioned.new(VClock(), None, "loaded", 0.0)
    first = Versioned.new(base.clock, (0, 1), "a", 1.0)
    second = Versioned.new(base.clock, (0, 2), "b", 2.0)
    assert second.clock.descends(first.clock)  # what plain clocks would conclude
    assert replay([base, first, second]) == (first, second)
    assert replay([second, first, base]) == (first, second)


@given(case=deliveries(), cut=st.integers(0, 30))
def test_merging_two_replicas_equals_one_replica_seeing_everything(case, cut: int) -> None:
    _, first, second = case
    left, right = replay(first[:cut]), replay(second[cut:])
    assert merge_siblings(left, right) == merge_siblings(right, left)
    # left and right together may miss puts; compare against what they saw
    assert merge_siblings(left, right) == maximal(first[:cut] + second[cut:])


def test_add_version_keeps_identity_when_nothing_changes() -> None:
    old = Versioned.new(VClock(), (0, 1), "a", 0.0)
    new = Versioned.new(old.clock, (0, 2), "b", 1.0)
    other = Versioned.new(VClock(), (1, 1), "c", 2.0)
    siblings = add_version(add_version((), new), other)
    assert add_version(siblings, old) is siblings  # covered
    assert add_version(siblings, new) is siblings  # duplicate delivery
    assert add_version(siblings, other) is siblings
    assert add_version((old,), new) == (new,)
    assert merged_context(()) == VClock()
    assert merged_context(siblings).counters() == ((0, 2), (1, 1))


def test_strategies_reach_conflicts_and_dominated_writes() -> None:
    find(causal_puts(), lambda puts: len(maximal(puts)) >= 3)
    find(causal_puts(), lambda puts: 1 < len(maximal(puts)) < len(puts))
    find(st.tuples(vclocks(), vclocks()), lambda ab: ab[0].compare(ab[1]) is BEFORE)
    find(st.tuples(vclocks(), vclocks()), lambda ab: ab[0].compare(ab[1]) is CONCURRENT)
    find(
        st.tuples(vclocks(), vclocks()),
        lambda ab: ab[0].compare(ab[1]) is EQUAL and ab[0] != ab[1],
    )
