"""Strong mode through the Mode surface: registry, versions, observation, determinism, scale."""

from __future__ import annotations

from sim.config.cluster import ClusterConfig
from sim.modes import build_mode
from sim.modes.base import KeyState, Status
from sim.modes.strong import MODE, StrongMode
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
