"""Weak mode: local answers, best-effort pushes, last writer wins on skewed clocks."""

from __future__ import annotations

from sim.modes.base import Status
from sim.modes.weak import WeakMode
from tests.modes.conftest import build_world, call, make_mode


def weak(world, **kw) -> WeakMode:
    return make_mode("weak", world, **kw)


def test_write_is_acknowledged_at_once_and_pushed_to_replicas() -> None:
    world = build_world()
    mode = weak(world)
    key = "k"
    replicas = world.ring.preference_list(key, 3)
    home = replicas[0]
    box = call(world.env, lambda r: mode.write(home, key, "v1", None, False, r))
    assert box and box[0].status is Status.OK  # before any simulated time passes
    world.env.run(until=100)
    for node in replicas:
        assert mode.final(key).siblings == ("v1",)
        assert mode.store[node][key][1] == "v1"
    assert list(mode.divergent_keys()) == []


def test_last_writer_wins_on_skewed_clocks_loses_the_later_write() -> None:
    # Node a's clock runs 100 ms ahead: its write at t=0 outranks b's write at t=50.
    world = build_world(skew=[100.0, 0.0, 0.0, 0.0, 0.0])
    mode = weak(world, replication=5)
    a, b = 0, 1
    mode.write(a, "k", "from-a", None, False, lambda r: None)
    later = []
    world.env.call_later(50.0, mode.write, b, "k", "from-b", None, False, later.append)
    world.env.run(until=500)
    assert later[0].status is Status.OK  # acknowledged...
    assert mode.final("k").siblings == ("from-a",)  # ...and lost
    assert mode.stats()["lww_lost_on_arrival"] == 1


def test_a_cut_loses_pushes_forever() -> None:
    world = build_world()
    mode = weak(world)
    key = "k"
    replicas = world.ring.preference_list(key, 3)
    home, other = replicas[0], replicas[1]
    cut = lambda src, dst: other in (src, dst)  # noqa: E731
    world.links.add_cut(cut)
    mode.write(home, key, "v1", None, False, lambda r: None)
    world.env.run(until=100)
    world.links.remove_cut(cut)
    world.env.run(until=1000)
    assert key not in mode.store[other]
    assert not mode.final(key).agree
    assert list(mode.divergent_keys()) == [key]


def test_conditional_write_checks_the_local_version_only() -> None:
    world = build_world()
    mode = weak(world)
    home = world.ring.preference_list("k", 3)[0]
    mode.load("k", "v0")
    read = call(world.env, lambda r: mode.read(home, "k", r))[0]
    ok = call(world.env, lambda r: mode.write(home, "k", "v1", read.version, True, r))[0]
    stale = call(world.env, lambda r: mode.write(home, "k", "v2", read.version, True, r))[0]
    assert ok.status is Status.OK
    assert stale.status is Status.CONFLICT


def test_non_replica_home_fetches_then_subscribes() -> None:
    world = build_world(nodes=6)
    mode = weak(world)
    key = "k"
    replicas = world.ring.preference_list(key, 3)
    outsider = next(n for n in range(6) if n not in replicas)
    mode.load(key, "v0")
    box = call(world.env, lambda r: mode.read(outsider, key, r))
    assert box == []  # waits for the fetch
    world.env.run(until=50)
    assert box[0].siblings == ("v0",)
    mode.write(replicas[0], key, "v1", None, False, lambda r: None)
    world.env.run(until=100)
    assert mode.store[outsider][key][1] == "v1"  # pushed to the subscriber
