"""Incremental anti-entropy: Merkle trees kept up to date by merges; syncs touch what differs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import event, given, note
from hypothesis import strategies as st

import sim.modes.eventual.storage as storage_module
from sim.faults.partition import partition_cut
from sim.modes.eventual import EventualMode
from sim.modes.eventual.messages import SyncRoot
from sim.modes.eventual.storage import (
    DEPTH,
    FANOUT_BITS,
    MASK,
    POSITION_BITS,
    MerkleTree,
    NodeStorage,
    PeerTrees,
    key_digest,
    key_position,
)
from sim.vclock import VClock, Versioned
from tests.modes.conftest import build_world, make_mode
from tests.strategies import causal_puts

NODES = 5
KEYS = [f"k{i}" for i in range(10)]

# Positions that share leaves and subtrees, so that paths cross and nodes empty out.
TOP = (1 << POSITION_BITS) - 1
POSITIONS = [0, 1, 0x10, 0x11, 0x100, TOP - 0x10, TOP - 1, TOP]


def expected_levels(
    entries: list[tuple[str, tuple[Versioned, ...]]], position: Callable[[str], int]
) -> list[dict[int, tuple[int, int]]]:
    """Each level's non-empty nodes as {index: (sum of digests, count)}, computed directly."""
    levels: list[dict[int, tuple[int, int]]] = [{} for _ in range(DEPTH + 1)]
    for key, siblings in entries:
        for level in range(DEPTH + 1):
            index = position(key) >> (POSITION_BITS - FANOUT_BITS * level)
            digest, count = levels[level].get(index, (0, 0))
            levels[level][index] = ((digest + key_digest(key, siblings)) & MASK, count + 1)
    return levels


@st.composite
def merge_sequences(draw: st.DrawFn) -> tuple[dict, list[tuple]]:
    """Placements for KEYS (a position, a preference list) and a sequence of store operations.

    Operations: merge some versions of a causal history into a key, wipe the
    store (a crash without durable storage), or let the trees catch up.
    """
    placement = {
        key: (
            draw(st.sampled_from(POSITIONS)),
            tuple(draw(st.permutations(range(NODES)))[:3]),
        )
        for key in KEYS
    }
    # a causal history, and blind writes by other actors that every put is concurrent with
    puts = draw(causal_puts(max_puts=8))
    puts += [Versioned.new(VClock(), (10 + i, 1), f"blind{i}", 0.0) for i in range(2)]
    op = st.one_of(
        st.tuples(
            st.just("merge"),
            st.sampled_from(KEYS),
            st.lists(st.sampled_from(puts), min_size=1, max_size=3),
        ),
        st.just(("wipe",)),
        st.just(("catch_up",)),
    )
    return placement, draw(st.lists(op, max_size=40))


@given(merge_sequences())
def test_kept_trees_equal_trees_built_from_scratch(case: tuple[dict, list[tuple]]) -> None:
    placement, ops = case
    store = NodeStorage(0, set())
    store.track_changes()
    trees = PeerTrees(0, placement.__getitem__)
    for op in ops:
        if op[0] == "merge":
            store.merge(op[1], op[2])
        elif op[0] == "wipe":
            event("wipe")
            store.wipe()
        else:
            trees.catch_up(store)
    trees.catch_up(store)
    note(f"data={ {k: [v.dot for v in s] for k, s in store.data.items()} }")
    if any(len(s) > 1 for s in store.data.values()):
        event("siblings>1")
    position = lambda key: placement[key][0]  # noqa: E731
    shared_with = set()
    for peer in range(1, NODES):
        entries = [(k, s) for k, s in store.data.items() if peer in placement[k][1]]
        if entries:
            shared_with.add(peer)
        kept = trees.tree(peer)
        assert kept == MerkleTree.of(entries, position)
        assert [kept.level_nodes(d) for d in range(DEPTH + 1)] == expected_levels(entries, position)
        assert sorted(kept.keys_under(0, 0)) == sorted(k for k, _ in entries)
        assert kept.count == len(entries)
    assert trees.peers() == sorted(shared_with)
    assert trees.digests == {k: key_digest(k, s) for k, s in store.data.items()}


def test_keys_under_and_children_cover_a_subtree_exactly() -> None:
    version = Versioned.new(VClock(), None, 0, 0.0)
    keys = [f"key{i}" for i in range(300)]
    tree = MerkleTree.of((k, (version,)) for k in keys)
    assert tree.count == 300
    for index in range(16):
        below = tree.keys_under(1, index)
        assert sorted(below) == sorted(
            k for k in keys if key_position(k) >> (POSITION_BITS - FANOUT_BITS) == index
        )
        assert len(below) == tree.node(1, index)[1]
        assert below == sorted(below, key=lambda k: (key_position(k), k))
    children = tree.children(0, 0)
    assert [c[0] for c in children] == list(range(16))
    assert sum(c[2] for c in children) == 300
    assert sum(c[1] for c in children) & MASK == tree.root[0]


# ---------------------------------------------------------------- in a running mode


def ae_mode(world, **kw) -> EventualMode:
    settings = {
        "replication": 3,
        "read_quorum": 1,
        "write_quorum": 1,
        "sloppy_quorum": False,
        "read_repair": False,
        "anti_entropy_ms": 100.0,
        **kw,
    }
    return make_mode("eventual", world, **settings)


def from_scratch(mode: EventualMode, node: int, peer: int) -> MerkleTree:
    pref = mode.ring.preference_list
    data = mode.storage[node].data
    return MerkleTree.of((k, s) for k, s in data.items() if peer in pref(k, mode.n))


def sync_sent(world) -> int:
    """Sync messages sent so far (the `messages.anti_entropy` metric counts these)."""
    return world.network.stats()["by_kind"].get("sync", {}).get("sent", 0)


def count_digests(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count key_digest calls from now on (anti-entropy's only digest computation)."""
    calls = [0]
    real = storage_module.key_digest

    def counted(key, siblings):  # type: ignore[no-untyped-def]
        calls[0] += 1
        return real(key, siblings)

    monkeypatch.setattr(storage_module, "key_digest", counted)
    return calls


@pytest.mark.parametrize("keys", [40, 400, 4000])
def test_a_rounds_work_does_not_grow_with_unchanged_keys(
    keys: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three replicas of every key; five keys change on two of them; the rounds that repair
    them compute the same digests and send about the same keys, however many keys stay put."""
    world = build_world(nodes=3)
    mode = ae_mode(world)
    for i in range(keys):
        mode.load(f"k{i}", i)
    world.env.run(until=1000)  # every tree built once (a digest per key and node)
    calls = count_digests(monkeypatch)
    world.env.run(until=2000)  # in sync: roots only
    assert calls[0] == 0
    ae = mode.anti_entropy
    assert ae is not None
    sent = sync_sent(world)
    keys_sent = ae.keys_sent
    cut = partition_cut([[2]], 3, rest_is_bridge=False)
    world.links.add_cut(cut)
    for i in range(5):
        mode.write(0, f"k{i}", f"new{i}", None, False, lambda r: None)
    world.env.run(until=2050)
    world.links.remove_cut(cut)
    world.env.run(until=3000)
    assert list(mode.divergent_keys()) == []
    # Nodes 0 and 1 take the write (5 digests each), node 2 the repair (5 more);
    # a changed key's digest is computed again only when it changes again.
    assert calls[0] == 15
    messages = sync_sent(world) - sent
    rounds = 30  # 3 nodes, 10 rounds each
    depth = {40: 0, 400: 1, 4000: 2}[keys]  # levels walked down before keys are sent
    assert messages <= rounds + 2 * 2 * (depth + 2)  # two pairs repaired, both ways at most
    assert ae.keys_sent - keys_sent <= 2 * 2 * 5 * 16  # differing subtrees' keys, each way


def test_an_out_of_sync_pair_walks_down_only_where_it_differs() -> None:
    """Message by message: root, one SyncTree per level, the keys, the keys back; then
    the pair is in sync and the next root is the only message."""
    world = build_world(nodes=3)
    mode = ae_mode(world, anti_entropy_ms=1e9)  # no round of its own during the test
    for i in range(400):
        mode.load(f"k{i}", i)
    cut = partition_cut([[2]], 3, rest_is_bridge=False)
    world.links.add_cut(cut)
    mode.write(0, "k7", "new", None, False, lambda r: None)
    world.env.run(until=100)
    world.links.remove_cut(cut)
    ae = mode.anti_entropy
    assert ae is not None
    assert ae.tree(0, 2) != ae.tree(2, 0)
    before = sync_sent(world)
    world.network.send(0, 2, SyncRoot(*ae.tree(0, 2).root))
    world.env.run(until=1000)
    sent = sync_sent(world) - before
    # 400 keys: the root's 16 children hold ~25 each (> LEAF_KEYS), so one level
    # more, then a subtree of ~2 keys is settled by versions both ways.
    assert sent == 5
    assert ae.keys_sent <= 16 + 1
    assert [v.value for v in mode.storage[2].data["k7"]] == ["new"]
    assert ae.tree(0, 2) == ae.tree(2, 0) == from_scratch(mode, 2, 0)
    in_sync = ae.in_sync
    world.network.send(0, 2, SyncRoot(*ae.tree(0, 2).root))
    world.env.run(until=2000)
    assert sync_sent(world) - before == 6
    assert ae.in_sync == in_sync + 1


def test_a_small_pair_settles_at_the_root_in_two_messages() -> None:
    world = build_world(nodes=3)
    mode = ae_mode(world, anti_entropy_ms=1e9)
    for i in range(10):
        mode.load(f"k{i}", i)
    cut = partition_cut([[2]], 3, rest_is_bridge=False)
    world.links.add_cut(cut)
    mode.write(0, "k3", "new", None, False, lambda r: None)
    world.env.run(until=100)
    world.links.remove_cut(cut)
    ae = mode.anti_entropy
    assert ae is not None
    world.network.send(2, 0, SyncRoot(*ae.tree(2, 0).root))  # the stale side asks
    world.env.run(until=1000)
    # root; node 0 sends its 10 keys (<= LEAF_KEYS); node 2 has nothing newer to send back
    assert sync_sent(world) == 2
    assert ae.keys_sent == 10
    assert [v.value for v in mode.storage[2].data["k3"]] == ["new"]


def test_a_wiped_node_starts_from_empty_trees_and_is_filled_again() -> None:
    world = build_world(nodes=4)
    mode = ae_mode(world, durable=False)
    for i in range(60):
        mode.load(f"k{i}", i)
    for i in range(10):
        mode.write(i % 4, f"k{i}", f"v{i}", None, False, lambda r: None)
    world.env.run(until=500)
    ae = mode.anti_entropy
    assert ae is not None
    victim = 1
    world.links.set_down(victim, True)
    mode.crash(victim)
    for peer in range(4):
        if peer != victim:
            assert ae.tree(victim, peer) == MerkleTree()
    assert ae.trees[victim].peers() == []
    assert ae.trees[victim].digests == {}
    world.env.run(until=700)
    world.links.set_down(victim, False)
    mode.restart(victim)
    world.env.run(until=3000)
    assert list(mode.divergent_keys()) == []
    assert len(mode.storage[victim].data) > 0
    for node in range(4):
        for peer in range(4):
            if peer != node:
                assert ae.tree(node, peer) == from_scratch(mode, node, peer)


def test_trees_match_the_data_after_a_run_with_faults() -> None:
    """Writes, repairs, hints and handoffs, a partition and a volatile crash: at the end every
    kept tree is the tree of the node's data."""
    world = build_world(nodes=6)
    mode = ae_mode(world, sloppy_quorum=True, read_repair=True, durable=False, handoff_ms=100.0)
    for i in range(80):
        mode.load(f"k{i}", i)
    cut = partition_cut([[0, 1]], 6, rest_is_bridge=False)
    for step in range(200):
        t = step * 10.0
        if step == 50:
            world.links.add_cut(cut)
        if step == 120:
            world.links.remove_cut(cut)
        if step == 80:
            world.links.set_down(4, True)
            mode.crash(4)
        if step == 100:
            world.links.set_down(4, False)
            mode.restart(4)
        node = step % 6
        if node not in world.links.down:
            mode.write(node, f"k{step % 80}", step, None, False, lambda r: None)
            mode.read(node, f"k{(step * 7) % 80}", lambda r: None)
        world.env.run(until=t + 10.0)
    world.env.run(until=6000)
    ae = mode.anti_entropy
    assert ae is not None
    assert list(mode.divergent_keys()) == []
    for node in range(6):
        for peer in range(6):
            if peer != node:
                assert ae.tree(node, peer) == from_scratch(mode, node, peer)


def test_a_node_with_nothing_to_sync_sleeps_and_wakes_on_its_schedule() -> None:
    """A node that shares no key with anyone stops ticking (on 1,000 nodes a third of the
    ticks did nothing), and a key landing on it resumes its rounds at the very times the
    period would have reached, so that runs are what they were with idle ticks."""
    world = build_world(nodes=10)
    mode = ae_mode(world)  # 100 ms rounds, staggered: node n first ticks at 10 (n + 1) ms
    ae = mode.anti_entropy
    assert ae is not None
    world.env.run(until=150)
    assert all(ae.idle)  # no key anywhere: every node went to sleep at its first tick
    ticks: list[tuple[int, float]] = []
    real = ae._tick

    def tick(node: int) -> None:
        ticks.append((node, world.env.now))
        real(node)

    ae._tick = tick  # type: ignore[method-assign]
    world.env.run(until=1000)
    assert ticks == []  # asleep: no timer at all
    key = "k"
    holders = mode.ring.preference_list(key, 3)
    mode.write(holders[0], key, "v", None, False, lambda r: None)
    world.env.run(until=1400)
    for node in holders:
        assert not ae.idle[node]
        seen = [t for n, t in ticks if n == node]
        offsets = [(t - 10.0 * (node + 1)) % 100.0 for t in seen]
        assert seen and all(min(o, 100.0 - o) < 1e-6 for o in offsets), seen
    assert all(ae.idle[n] for n in range(10) if n not in holders)
    world.env.run(until=3000)
    assert list(mode.divergent_keys()) == []
