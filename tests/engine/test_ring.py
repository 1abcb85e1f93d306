"""The consistent-hash ring: preference lists, walks, balance, minimal movement (Dynamo §4.2)."""

from __future__ import annotations

import statistics
import time

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st

from sim.engine.ring import Ring

KEYS = [f"product:{i}" for i in range(2000)]


def test_preference_list_is_n_distinct_nodes_of_the_ring() -> None:
    ring = Ring(range(12), virtual_nodes=16)
    for key in KEYS[:200]:
        for n in range(13):
            pref = ring.preference_list(key, n)
            assert len(pref) == n == len(set(pref))
            assert set(pref) <= set(range(12))
            assert pref == ring.preference_list(key, n)  # cached value is the same


def test_preference_lists_nest_and_start_at_the_primary() -> None:
    ring = Ring(range(20))
    for key in KEYS[:200]:
        full = ring.preference_list(key, 20)
        assert ring.primary(key) == full[0]
        for n in range(21):
            assert ring.preference_list(key, n) == full[:n]


def test_bad_arguments_raise_value_error() -> None:
    ring = Ring(range(3))
    with pytest.raises(ValueError, match="of 4 nodes from a ring of 3"):
        ring.preference_list("k", 4)
    with pytest.raises(ValueError):
        ring.preference_list("k", -1)
    with pytest.raises(ValueError, match="distinct"):
        Ring([1, 2, 1])
    with pytest.raises(ValueError, match="virtual_nodes"):
        Ring([1], virtual_nodes=0)
    with pytest.raises(ValueError, match="already"):
        ring.with_node(2)
    with pytest.raises(ValueError, match="not on the ring"):
        ring.without_node(7)
    empty = Ring([])
    assert empty.preference_list("k", 0) == ()
    assert list(empty.walk("k")) == []


def test_placement_is_deterministic_and_independent_of_node_order() -> None:
    a = Ring(range(30))
    b = Ring(reversed(range(30)))  # type: ignore[arg-type]
    for key in KEYS[:300]:
        assert a.preference_list(key, 3) == b.preference_list(key, 3)
    # blake2b, not hash(): the same in every process and on every machine.
    ring = Ring(range(10))
    assert [ring.preference_list(f"product:{i}", 3) for i in range(3)] == [
        (2, 5, 7),
        (5, 8, 0),
        (2, 5, 4),
    ]


def test_walk_yields_every_node_once_starting_with_the_preference_list() -> None:
    ring = Ring([3, 14, 15, 92, 65, 35], virtual_nodes=8)
    for key in KEYS[:100]:
        walked = list(ring.walk(key))
        assert sorted(walked) == sorted(ring.nodes)
        assert tuple(walked[:4]) == ring.preference_list(key, 4)


def test_load_is_balanced_across_100_nodes() -> None:
    ring = Ring(range(100))
    keys = [f"user:{i}" for i in range(50_000)]
    counts = dict.fromkeys(range(100), 0)
    for key in keys:
        counts[ring.primary(key)] += 1
    fair = len(keys) / 100
    # 64 points per node: each node's share has a relative spread of about 1/sqrt(64).
    assert min(counts.values()) >= 0.5 * fair
    assert max(counts.values()) <= 1.6 * fair
    assert statistics.pstdev(counts.values()) / fair < 0.2


def test_with_and_without_node_leave_the_original_unchanged() -> None:
    ring = Ring(range(5))
    before = [ring.preference_list(k, 3) for k in KEYS[:100]]
    grown = ring.with_node(5)
    shrunk = ring.without_node(0)
    assert ring.nodes == (0, 1, 2, 3, 4)
    assert grown.nodes == (0, 1, 2, 3, 4, 5) and 5 in grown and len(grown) == 6
    assert shrunk.nodes == (1, 2, 3, 4) and 0 not in shrunk
    assert [ring.preference_list(k, 3) for k in KEYS[:100]] == before
    # A ring rebuilt from scratch places keys exactly like one grown node by node.
    fresh = Ring(range(6))
    assert all(grown.preference_list(k, 3) == fresh.preference_list(k, 3) for k in KEYS[:300])


node_sets = st.lists(st.integers(0, 10_000), min_size=1, max_size=30, unique=True)


@given(nodes=node_sets, new=st.integers(0, 10_000))
def test_adding_a_node_moves_about_one_in_n_plus_1_keys_and_only_to_it(nodes, new) -> None:
    if new in nodes:
        nodes = [n for n in nodes if n != new]
        if not nodes:
            return
    note(f"nodes={nodes} new={new}")
    old = Ring(nodes)
    grown = old.with_node(new)
    moved = 0
    for key in KEYS:
        before, after = old.primary(key), grown.primary(key)
        if before != after:
            moved += 1
            assert after == new, (key, before, after)
        # Replica sets change minimally: drop the new node and the old list's prefix remains.
        n = min(3, len(nodes))
        kept = [x for x in grown.preference_list(key, n) if x != new]
        assert tuple(kept) == old.preference_list(key, n)[: len(kept)]
    share = moved / len(KEYS)
    event(f"nodes: {len(nodes) // 10 * 10}+")
    assert 0.35 / (len(nodes) + 1) <= share <= 2.0 / (len(nodes) + 1), share


@given(nodes=st.lists(st.integers(0, 10_000), min_size=2, max_size=30, unique=True), data=st.data())
def test_removing_a_node_moves_only_its_keys(nodes, data) -> None:
    gone = data.draw(st.sampled_from(nodes))
    old = Ring(nodes)
    shrunk = old.without_node(gone)
    for key in KEYS:
        if old.primary(key) != gone:
            assert shrunk.primary(key) == old.primary(key)
        n = min(3, len(nodes) - 1)
        survivors = tuple(x for x in old.preference_list(key, n) if x != gone)
        assert shrunk.preference_list(key, n)[: len(survivors)] == survivors


def test_a_thousand_nodes_work_and_are_fast() -> None:
    start = time.perf_counter()
    ring = Ring(range(1000), virtual_nodes=64)
    built = time.perf_counter() - start
    assert built < 1.0, f"construction took {built:.2f} s"
    for key in KEYS[:200]:
        pref = ring.preference_list(key, 3)
        assert len(set(pref)) == 3
    walked = list(ring.walk(KEYS[0]))
    assert len(walked) == 1000 == len(set(walked))
    bigger = ring.with_node(1000).without_node(0)
    assert len(bigger) == 1000 and 0 not in bigger.nodes


def test_a_nodes_points_are_the_positions_of_its_labels() -> None:
    """The batched hashing places every virtual node where `position` says (placement,
    hence every run, is what it was)."""
    from sim.engine.ring import _points, position

    suffixes = [str(v).encode() for v in range(64)]
    for node in (0, 1, 7, 999):
        assert _points(node, suffixes).tolist() == [position(f"{node}#{v}") for v in range(64)]


def test_a_nodes_points_are_memoized_read_only_and_the_same() -> None:
    """Rings in one process share a node's hashed points: the same positions, hashed once,
    and never writable (a ring that changed them would move every later run's keys)."""
    from sim.engine.ring import node_points, position

    first = node_points(5, 16)
    assert first.tolist() == [position(f"5#{v}") for v in range(16)]
    assert node_points(5, 16) is first
    assert not first.flags.writeable
    with pytest.raises(ValueError):
        first[0] = 0
    assert Ring([5, 6], 16).preference_list("k", 2) == Ring([6, 5], 16).preference_list("k", 2)
