"""Strong mode through the Mode surface: registry, versions, observation, determinism, scale."""

from __future__ import annotations

from collections import Counter

import pytest

from sim.config.cluster import ClusterConfig
from sim.modes import build_mode
from sim.modes.base import KeyState, Status
from sim.modes.strong import MODE, StrongMode, StrongSettings
from sim.plugins import MODES
from tests.modes.conftest import build_world, call, make_mode


def test_the_registry_builds_strong_mode() -> None:
    world = build_world()
    mode = build_mode(world, ClusterConfig(mode="strong"))
    assert MODES.get("strong", "cluster.mode") is MODE and isinstance(mode, StrongMode)
    assert mode.name == "strong"


def test_versions_are_log_indices_exported_as_ints() -> None:
    world = build_world()
    mode = make_mode("strong", world)
    mode.load("k", "v0")
    box = call(world.env, lambda r: mode.write(0, "k", "v1", None, False, r))
    world.env.run(until=500)
    assert box[0].status is Status.OK
    exported = mode.export_version(box[0].version)
    assert type(exported) is int and exported > 0
    read = call(world.env, lambda r: mode.read(3, "k", r))
    world.env.run(until=700)
    assert read[0].version == box[0].version and read[0].siblings == ("v1",)


def test_observation_after_the_run() -> None:
    world = build_world()
    mode = make_mode("strong", world)
    for key in ("a", "b"):
        mode.load(key, f"{key}0")
    mode.write(1, "c", "c1", None, False, lambda r: None)
    world.env.run(until=1000)
    assert list(mode.stored_keys()) == ["a", "b", "c"]
    assert list(mode.divergent_keys()) == []
    assert mode.final("c") == KeyState(("c1",), True, 3)
    assert mode.final("never-written") == KeyState((), True, 3)
    stats = mode.stats()
    for name in ("groups", "elections", "leader_changes", "redirects", "step_downs", "max_term"):
        assert isinstance(stats[name], int)
    assert stats["leader_changes"] == stats["groups"]  # one election per new group


def test_a_crashed_members_keys_diverge_until_it_catches_up() -> None:
    world = build_world()
    mode = make_mode("strong", world)
    mode.load("k", "v0")
    world.env.run(until=400)
    group = mode.raft.group_for("k")
    victim = next(n for n in group.members if n != group.leader())
    world.links.set_down(victim, True)
    mode.crash(victim)
    mode.write(group.leader(), "k", "v1", None, False, lambda r: None)
    world.env.run(until=600)
    assert list(mode.divergent_keys()) == []  # only live members count
    world.links.set_down(victim, False)
    mode.restart(victim)
    assert list(mode.divergent_keys()) == ["k"]  # back with an empty state machine
    world.env.run(until=900)
    assert list(mode.divergent_keys()) == []
    assert mode.final("k") == KeyState(("v1",), True, 3)


def test_same_seed_same_protocol_run() -> None:
    def elections(seed: int) -> list:
        world = build_world(seed=seed)
        mode = make_mode("strong", world)
        for i in range(6):
            mode.load(f"k{i}", i)
        world.env.run(until=300)
        group = mode.raft.group_for("k0")
        world.links.set_down(group.leader(), True)
        mode.crash(group.leader())
        world.env.run(until=1500)
        return [(g.members, g.elected) for g in mode.raft.groups]

    assert elections(4) == elections(4)


def test_a_thousand_nodes_cost_only_the_groups_in_use() -> None:
    world = build_world(1000, latency_ms=2.0)
    mode = make_mode("strong", world)
    mode.load("hot", "v0")
    box = call(world.env, lambda r: mode.write(999, "hot", "v1", None, False, r))
    world.env.run(until=2000)
    assert box[0].status is Status.OK
    assert mode.stats()["groups"] == 1
    # one group of 3 heartbeating for 2 s: a few hundred messages, not n^2
    assert world.network.stats()["sent"] < 1000


# ---------------------------------------------------------------------- quiescence at scale


def sent_by_kind(world) -> Counter[str]:
    return Counter({k: v["sent"] for k, v in world.network.stats()["by_kind"].items()})


@pytest.mark.parametrize("nodes", [10, 1000])
def test_idle_groups_quiesce_and_cost_one_liveness_heartbeat_per_node_pair(nodes: int) -> None:
    world = build_world(nodes, latency_ms=2.0)
    mode = make_mode("strong", world)
    for i in range(100):
        mode.load(f"k{i}", i)
    world.env.run(until=1000)
    groups = mode.raft.groups
    assert all(r.quiet for g in groups for r in g.live())
    before = sent_by_kind(world)
    idle_ms = 2000.0
    world.env.run(until=world.env.now + idle_ms)
    grew = sent_by_kind(world) - before
    assert set(grew) == {"liveness"}  # no Raft message at all
    fans = mode.raft.ctx.liveness.fans
    pairs = sum(len(followers) for followers in fans.values())
    assert pairs <= 2 * len(groups)  # one per (leader node, follower node), however many groups
    assert grew["liveness"] <= pairs * (idle_ms / StrongSettings().liveness_ms + 1)


def test_a_requests_messages_do_not_grow_with_the_cluster() -> None:
    """Issue 13: no per-request work proportional to the number of nodes. The same ten writes
    and ten reads, each to an idle group from a node outside it, cost the same messages on
    10 nodes as on 1,000."""

    def cost(nodes: int) -> Counter[str]:
        world = build_world(nodes, latency_ms=2.0)
        mode = make_mode("strong", world)
        keys = [f"k{i}" for i in range(10)]
        for key in keys:
            mode.load(key, "v0")
        world.env.run(until=1000)
        before = sent_by_kind(world)
        answers: list = []
        for i, key in enumerate(keys):
            home = next(n for n in range(nodes) if n not in mode.raft.group_for(key).members)
            world.env.call_later(
                400.0 * i, mode.write, home, key, "v1", None, False, answers.append
            )
            world.env.call_later(400.0 * i + 200.0, mode.read, home, key, answers.append)
        world.env.run(until=world.env.now + 4400.0)
        assert [a.status for a in answers] == [Status.OK] * 20
        grew = sent_by_kind(world) - before
        del grew["liveness"]  # per node pair and period, not per request
        return grew

    small, large = cost(10), cost(1000)
    assert small == large
    # a write: forward, Accepted, Answer, its entry's round, the Quiesce round after it;
    # a read: forward, Accepted, Answer, one Quiesce round (ReadIndex's heartbeat round)
    assert sum(large.values()) == 10 * (3 + 4 + 4) + 10 * (3 + 4)
