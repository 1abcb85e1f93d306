"""Eventual mode: quorums, siblings, sloppy quorum, hinted handoff, read repair, anti-entropy."""

from __future__ import annotations

import dataclasses

import pytest

from sim.faults.partition import partition_cut
from sim.modes.base import ReadResult, Status
from sim.modes.eventual import EventualMode
from sim.vclock import actor_id, merged_context
from tests.modes.conftest import build_world, make_mode


def eventual(world, **kw) -> EventualMode:
    return make_mode("eventual", world, **{"anti_entropy_ms": 0.0, **kw})


def read_now(world, mode, node, key, until):
    box: list = []
    mode.read(node, key, box.append)
    world.env.run(until=until)
    return box[0] if box else None


def test_concurrent_writes_become_siblings_and_a_resolving_write_collapses_them() -> None:
    world = build_world()
    mode = eventual(world)
    mode.load("k", "v0")
    first = read_now(world, mode, 0, "k", 50)
    assert first.siblings == ("v0",)
    acks: list = []
    mode.write(1, "k", "left", first.version, False, acks.append)
    mode.write(2, "k", "right", first.version, False, acks.append)
    world.env.run(until=100)
    assert [a.status for a in acks] == [Status.OK, Status.OK]
    both = read_now(world, mode, 3, "k", 150)
    assert sorted(both.siblings) == ["left", "right"]
    mode.write(3, "k", "merged", both.version, False, acks.append)
    world.env.run(until=200)
    assert read_now(world, mode, 4, "k", 250).siblings == ("merged",)


def test_two_writes_through_one_coordinator_from_one_context_keep_both() -> None:
    world = build_world()
    mode = eventual(world)
    mode.load("k", "v0")
    ctx = read_now(world, mode, 0, "k", 50).version
    mode.write(0, "k", "a", ctx, False, lambda r: None)
    mode.write(0, "k", "b", ctx, False, lambda r: None)
    world.env.run(until=100)
    assert sorted(read_now(world, mode, 1, "k", 150).siblings) == ["a", "b"]


def test_sloppy_quorum_stays_available_and_hands_off_after_heal() -> None:
    world = build_world(nodes=5)
    mode = eventual(world, sloppy_quorum=True, handoff_ms=100.0)
    key = "k"
    mode.load(key, "v0")
    replicas = world.ring.preference_list(key, 3)
    home = next(n for n in range(5) if n not in replicas)
    others = [n for n in range(5) if n != home and n not in replicas]
    cut = partition_cut([[home, *others]], 5, rest_is_bridge=False)  # home side has no replica
    world.links.add_cut(cut)
    box: list = []
    mode.write(home, key, "during", None, False, box.append)
    world.env.run(until=500)
    assert box and box[0].status is Status.OK
    assert mode.stats()["hinted_writes"] > 0
    assert all(mode.storage[r].data[key][0].value == "v0" for r in replicas)
    world.links.remove_cut(cut)
    world.env.run(until=1500)
    assert mode.stats()["handoffs_delivered"] >= 1
    assert mode.stats()["hints_pending"] == 0
    handed = [r for r in replicas if mode.storage[r].data[key][0].value == "during"]
    assert len(handed) >= 2  # one hint per fall-back reached: W = 2
    mode.read(replicas[0], key, lambda r: None)  # read repair reaches the last one
    world.env.run(until=1600)
    for r in replicas:
        assert [v.value for v in mode.storage[r].data[key]] == ["during"]


def test_strict_quorum_is_unavailable_without_enough_replicas() -> None:
    world = build_world(nodes=5)
    mode = eventual(world, sloppy_quorum=False)
    key = "k"
    mode.load(key, "v0")
    replicas = world.ring.preference_list(key, 3)
    home = next(n for n in range(5) if n not in replicas)
    world.links.add_cut(partition_cut([[home]], 5, rest_is_bridge=False))
    reads: list = []
    writes: list = []
    mode.read(home, key, reads.append)
    mode.write(home, key, "x", None, False, writes.append)
    world.env.run(until=2000)
    # A read that nobody can answer fails for certain (it changed nothing), so a
    # client may try another node; a write may have landed somewhere: no answer,
    # and the client's deadline makes it `info`.
    assert [(r.status, r.error) for r in reads] == [(Status.FAIL, "unavailable")]
    assert writes == []


def test_a_strict_quorum_read_waits_for_replies_slower_than_the_peer_time_out() -> None:
    world = build_world(nodes=5, latency_ms=60.0)  # every reply after peer_timeout_ms (50)
    mode = eventual(world, sloppy_quorum=False)
    mode.load("k", "v0")
    home = next(n for n in range(5) if n not in world.ring.preference_list("k", 3))
    assert read_now(world, mode, home, "k", 1000).siblings == ("v0",)


def test_read_repair_fixes_a_stale_replica() -> None:
    world = build_world(nodes=3)
    mode = eventual(world, replication=3, read_quorum=3, write_quorum=2)
    key = "k"
    mode.load(key, "v0")
    lagging = 2
    cut = partition_cut([[lagging]], 3, rest_is_bridge=False)
    world.links.add_cut(cut)
    mode.write(0, key, "v1", None, False, lambda r: None)
    world.env.run(until=100)
    world.links.remove_cut(cut)
    assert mode.storage[lagging].data[key][0].value == "v0"
    mode.read(1, key, lambda r: None)  # node 0 suspects node 2 for a while; 1 does not
    world.env.run(until=200)
    assert mode.stats()["read_repairs"] >= 1
    assert mode.storage[lagging].data[key][0].value == "v1"


def test_anti_entropy_converges_and_in_sync_replicas_exchange_one_message() -> None:
    world = build_world(nodes=3)
    mode = eventual(
        world,
        replication=3,
        read_quorum=1,
        write_quorum=1,
        anti_entropy_ms=100.0,
        sloppy_quorum=False,
    )
    for i in range(20):
        mode.load(f"k{i}", i)
    cut = partition_cut([[2]], 3, rest_is_bridge=False)
    world.links.add_cut(cut)
    for i in range(5):
        mode.write(0, f"k{i}", f"new{i}", None, False, lambda r: None)
    world.env.run(until=50)
    world.links.remove_cut(cut)
    world.env.call_later(0.0, lambda: None)
    world.env.run(until=1000)
    assert list(mode.divergent_keys()) == []
    for i in range(5):
        assert [v.value for v in mode.storage[2].data[f"k{i}"]] == [f"new{i}"]
    stats = mode.stats()
    before = world.network.stats()["by_kind"]["sync"]["sent"]
    world.env.run(until=2000)  # everything in sync now: one root hash per round
    after = world.network.stats()["by_kind"]["sync"]["sent"]
    rounds = mode.stats()["anti_entropy_rounds"] - stats["anti_entropy_rounds"]
    assert rounds > 0 and after - before == rounds


def test_peer_time_outs_fire_on_time_while_older_writes_wait_to_expire() -> None:
    """A stand-in is tried one peer time-out after the silence, not at some later sweep."""
    world = build_world(nodes=5)
    mode = eventual(world, sloppy_quorum=True, peer_timeout_ms=50.0)
    key = "k"
    mode.load(key, "v0")
    replicas = world.ring.preference_list(key, 3)
    home = next(n for n in range(5) if n not in replicas)
    mode.write(home, key, "before", None, False, lambda r: None)  # leaves an expiry pending
    world.env.run(until=100)
    world.links.add_cut(
        partition_cut(
            [[home, *[n for n in range(5) if n not in replicas]]], 5, rest_is_bridge=False
        )
    )
    acks: list = []
    mode.write(home, key, "during", None, False, lambda r: acks.append(world.env.now))
    world.env.run(until=1000)
    assert acks and acks[0] - 100 < 2 * 50.0 + 20.0  # one time-out, a sweep, a round trip


def test_reads_time_out_on_time_and_stay_in_due_order_when_sent_to_stand_ins() -> None:
    """The sweep walks each coordinator's reads in insertion order and stops at the first
    not yet due; a read sent on to stand-ins must move to the back, or later reads'
    time-outs would wait behind it."""
    world = build_world(nodes=5)
    timeout = 50.0
    mode = eventual(world, sloppy_quorum=True, peer_timeout_ms=timeout)
    key = "k"
    mode.load(key, "v0")
    replicas = world.ring.preference_list(key, 3)
    home = next(n for n in range(5) if n not in replicas)
    world.links.add_cut(
        partition_cut(
            [[home, *[n for n in range(5) if n not in replicas]]], 5, rest_is_bridge=False
        )
    )
    starts = [100.0 + 7.0 * i for i in range(12)]
    answered: dict[float, float] = {}
    for t in starts:
        world.env.call_later(
            t,
            lambda t=t: mode.read(home, key, lambda r, t=t: answered.setdefault(t, world.env.now)),
        )
    reads = mode.coordinators.reads[home]
    for checkpoint in range(110, 400, 5):
        world.env.run(until=checkpoint)
        due = [op.check_at for op in reads.values()]
        assert due == sorted(due), f"reads out of due order at {checkpoint}: {due}"
    world.env.run(until=1000)
    assert sorted(answered) == starts  # every read answered by stand-ins
    for t, at in answered.items():
        # the first read waits one time-out (+ a sweep period) before stand-ins are
        # asked; later ones skip the suspected replicas at once
        assert at - t <= timeout + timeout / 2 + 10.0
    assert reads == {}  # nothing left behind


def test_after_a_volatile_restart_the_node_writes_as_a_new_actor() -> None:
    """Its next dot is covered by no context built from its old dots, and covers none of them.

    Keeping its actor, node 0 would issue (0, 3) after (0, 1) and (0, 2): a
    reader that saw only (0, 3) would get a context covering the old dots, which
    still live on nodes 1 and 2, and drop them unseen.
    """
    world = build_world(nodes=3)
    mode = eventual(world, durable=False, replication=3, read_quorum=1, write_quorum=2)
    mode.load("k", "v0")
    for value in ("a", "b"):
        ctx = read_now(world, mode, 0, "k", world.env.now + 50).version
        mode.write(0, "k", value, ctx, False, lambda r: None)
        world.env.run(until=world.env.now + 50)
    old = mode.storage[1].data["k"]
    old_context = merged_context(old)
    assert [v.dot for v in old] == [(0, 2)] and old_context.counter(0) == 2
    mode.crash(0)
    mode.restart(0)
    assert mode.storage[0].data == {}
    mode.write(0, "k", "c", None, False, lambda r: None)  # it read nothing: its copy is gone
    world.env.run(until=world.env.now + 50)
    (new,) = (v for v in mode.storage[0].data["k"] if v.value == "c")
    actor, counter = new.dot
    assert actor == actor_id(0, 1) and counter == 1
    assert old_context.counter(actor) < counter  # no old context covers the new dot
    assert all(new.clock.counter(v.dot[0]) < v.dot[1] for v in old)  # it covers no old dot
    assert new.clock.to_json() == {"0:1": 1}
    assert sorted(v.value for v in mode.storage[1].data["k"]) == ["b", "c"]  # siblings


def test_a_durable_restart_keeps_the_actor() -> None:
    world = build_world(nodes=3)
    mode = eventual(world, durable=True)
    mode.crash(0)
    mode.restart(0)
    assert mode.storage[0].actor == 0


def test_a_writes_answer_never_claims_a_concurrent_version_through_the_same_node() -> None:
    """Two writes through one node from one context are siblings; writing on from the
    second's answer must not drop the first (the clock {node: 2} would claim dot 1)."""
    world = build_world()
    mode = eventual(world)
    mode.load("k", "v0")
    first = read_now(world, mode, 0, "k", 50)
    a: list = []
    b: list = []
    mode.write(1, "k", "A", first.version, False, a.append)
    mode.write(1, "k", "B", first.version, False, b.append)
    world.env.run(until=100)
    assert sorted(read_now(world, mode, 2, "k", 150).siblings) == ["A", "B"]
    mode.write(1, "k", "B2", b[0].version, False, [].append)
    world.env.run(until=200)
    after = read_now(world, mode, 3, "k", 250).siblings
    assert "A" in after and "B2" in after  # B2 may stand beside B: safe, never A dropped


def test_a_suspected_replica_with_no_stand_in_is_still_asked() -> None:
    """Three nodes, N = R = 3, sloppy: no node can stand in for a suspect.

    Skipping the suspect left two targets for a quorum of three: every read
    through that coordinator went silent (the client timed out) for as long as
    the suspicion lasted, and a saga's compensation hung past the settle.
    """
    world = build_world(nodes=3)
    mode = eventual(world, replication=3, read_quorum=3, write_quorum=2, sloppy_quorum=True)
    mode.load("k", "v0")
    cut = partition_cut([[2]], 3, rest_is_bridge=False)
    world.links.add_cut(cut)
    assert read_now(world, mode, 0, "k", 300) == ReadResult(Status.FAIL, error="unavailable")
    assert mode.coordinators.suspected[0]  # node 0 now suspects node 2...
    world.links.remove_cut(cut)
    after = read_now(world, mode, 0, "k", 400)  # ...but asks it anyway, and it answers
    assert after is not None and after.siblings == ("v0",)
    assert not mode.coordinators.suspected[0]
    box: list = []
    mode.write(0, "k", "v1", after.version, False, box.append)
    world.env.run(until=500)
    assert [w.status for w in box] == [Status.OK]


def test_without_read_repair_a_stale_replica_stays_stale() -> None:
    world = build_world(nodes=3)
    mode = eventual(world, replication=3, read_quorum=3, write_quorum=2, read_repair=False)
    mode.load("k", "v0")
    cut = partition_cut([[2]], 3, rest_is_bridge=False)
    world.links.add_cut(cut)
    mode.write(0, "k", "v1", None, False, lambda r: None)
    world.env.run(until=100)
    world.links.remove_cut(cut)
    assert read_now(world, mode, 1, "k", 200).siblings == ("v1",)
    assert mode.stats()["read_repairs"] == 0
    assert mode.storage[2].data["k"][0].value == "v0"


@pytest.mark.parametrize("self_latency", [False, True])
def test_with_self_latency_the_coordinators_own_copy_travels_as_a_message(
    self_latency: bool,
) -> None:
    """PBS's WARS: every replica, the coordinator's own included, pays W, A, R and S."""
    hop = 5.0 if self_latency else 0.0
    world = dataclasses.replace(build_world(nodes=1, latency_ms=5.0), self_latency=self_latency)
    mode = eventual(world, replication=1, read_quorum=1, write_quorum=1)
    done: list = []
    mode.write(0, "k", "v1", None, False, lambda r: done.append(world.env.now))
    if self_latency:  # not stored, not acknowledged until its Put arrives
        assert "k" not in mode.storage[0].data and not done
    world.env.run(until=100)
    assert done == [2 * hop]
    assert world.network.stats()["delivered"] == (2 if self_latency else 0)
    box: list = []
    mode.read(0, "k", lambda r: box.append((world.env.now, r.siblings)))
    world.env.run(until=200)
    assert box == [(100.0 + 2 * hop, ("v1",))]
