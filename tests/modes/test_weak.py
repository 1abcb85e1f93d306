"""Weak mode: local answers, best-effort pushes, last writer wins on skewed clocks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.config.network import NetworkConfig, message_kinds
from sim.distributions import Constant
from sim.engine.clocks import Clocks
from sim.engine.kernel import Engine
from sim.engine.network import LinkState, Network
from sim.engine.ring import Ring
from sim.engine.world import World
from sim.modes.base import KeyState, Status
from sim.modes.weak import FETCH_RETRY_MS, WeakMode
from sim.rng import Streams
from tests.modes.conftest import build_world, call, make_mode

ROOT = Path(__file__).resolve().parents[2]


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
    mode = weak(world, cache_on_first_read=True)
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


# ---------------------------------------------------------------- leases (issue 13)


def _count_sends(world) -> list[tuple[int, int, str]]:
    """Record every message the mode sends from now on as (src, dst, message type)."""
    sent: list[tuple[int, int, str]] = []
    send = world.network.send

    def counting(src: int, dst: int, msg: object) -> None:
        sent.append((src, dst, type(msg).__name__))
        send(src, dst, msg)

    world.network.send = counting
    return sent


def _fan_out_after_lapse(nodes: int, lease_ms: float) -> dict[str, object]:
    """Every non-replica node reads `k` once; three read it again later; then two writes.

    The first write (at a replica, after the lease ran out) still reaches every
    subscriber once: the quiet ones lapse on it. Returns what the second write sent.
    """
    world = build_world(nodes=nodes)
    mode = weak(world, cache_on_first_read=True, lease_ms=lease_ms)
    key = "k"
    replicas = world.ring.preference_list(key, 3)
    others = [n for n in range(nodes) if n not in replicas]
    active, quiet = others[:3], others[3:]
    mode.load(key, "v0")
    for node in others:
        mode.read(node, key, lambda r: None)
    world.env.run(until=100)
    assert all(mode.store[n][key][1] == "v0" for n in others)  # all subscribed
    world.env.run(until=1500)
    for node in active:  # served recently: their leases hold
        assert call(world.env, lambda r, n=node: mode.read(n, key, r))[0].siblings == ("v0",)
    mode.write(replicas[0], key, "v1", None, False, lambda r: None)
    world.env.run(until=1600)
    sent = _count_sends(world)
    mode.write(replicas[0], key, "v2", None, False, lambda r: None)
    world.env.run(until=1700)
    return {
        "pushes": [dst for src, dst, kind in sent if kind == "Push"],
        "replicas": replicas,
        "active": active,
        "quiet": quiet,
        "mode": mode,
    }


@pytest.mark.parametrize("nodes", [10, 100, 1000])
def test_a_write_fans_out_to_recent_servers_only_whatever_the_cluster_size(nodes: int) -> None:
    out = _fan_out_after_lapse(nodes, lease_ms=1000.0)
    replicas, active, quiet = out["replicas"], out["active"], out["quiet"]
    # The other two replicas and the three nodes that served the key within the
    # lease: five messages on 10 nodes as on 1,000; a lapsed subscriber gets none.
    assert sorted(out["pushes"]) == sorted([*replicas[1:], *active])
    mode = out["mode"]
    assert mode.stats()["lease_lapses"] == len(quiet)
    assert all("k" not in mode.store[n] for n in quiet)  # lapsed copies are dropped
    assert all(mode.store[n]["k"][1] == "v2" for n in active)
    assert mode.final("k") == KeyState(("v2",), True, 3 + len(active))


def test_lease_zero_keeps_every_subscriber_as_before() -> None:
    out = _fan_out_after_lapse(100, lease_ms=0.0)
    assert len(out["pushes"]) == 2 + 97  # every node that ever fetched the key
    assert out["mode"].stats()["lease_lapses"] == 0


def test_a_lapsed_subscriber_serves_from_a_fresh_fetch() -> None:
    world = build_world(nodes=8)
    mode = weak(world, cache_on_first_read=True, lease_ms=500.0)
    key = "k"
    replicas = world.ring.preference_list(key, 3)
    sub = next(n for n in range(8) if n not in replicas)
    mode.load(key, "v0")
    mode.read(sub, key, lambda r: None)
    world.env.run(until=1000)
    source = mode.designated_replica(sub, key)
    sent = _count_sends(world)
    mode.write(replicas[1], key, "v1", None, False, lambda r: None)  # sub lapses on it
    world.env.run(until=1100)
    # The push reaches sub through its one source (forwarded when the writer is another
    # replica), and the Unsubscribe goes back there.
    assert (sub, source, "Unsubscribe") in sent
    mode.write(replicas[1], key, "v2", None, False, lambda r: None)
    world.env.run(until=1200)
    assert [m for m in sent if m[1] == sub] == [(source, sub, "Push")]  # v1 only
    box = call(world.env, lambda r: mode.read(sub, key, r))
    assert box == []  # no copy: it asks the replicas again
    world.env.run(until=1300)
    assert box[0].siblings == ("v2",)
    mode.write(replicas[1], key, "v3", None, False, lambda r: None)
    world.env.run(until=1400)
    assert mode.store[sub][key][1] == "v3"  # subscribed again


def _world_with_slow(kind: str, latency_ms: float, nodes: int = 8) -> World:
    """A world whose messages take 5 ms, except those of `kind`."""
    env = Engine()
    config = NetworkConfig(latency=Constant(5.0), latency_by_kind={kind: Constant(latency_ms)})
    net = Network(env, config, np.random.default_rng(1), LinkState(), message_kinds())
    clocks = Clocks(env, [0.0] * nodes)
    return World(env, net, Ring(list(range(nodes)), 16), clocks, net.links, Streams(1), nodes)


def test_an_unsubscribe_overtaken_by_a_later_fetch_ends_nothing_new() -> None:
    # The Unsubscribe (an "ack") takes 50 ms; the Fetch sent 1 ms after it, 5 ms.
    world = _world_with_slow("ack", 50.0)
    mode = weak(world, cache_on_first_read=True, lease_ms=500.0)
    key = "k"
    replicas = world.ring.preference_list(key, 3)
    sub = next(n for n in range(8) if n not in replicas)
    mode.load(key, "v0")
    mode.read(sub, key, lambda r: None)
    world.env.run(until=1000)
    mode.write(replicas[0], key, "v1", None, False, lambda r: None)
    world.env.run(until=1005.5)  # the push arrived at 1005: lapsed, Unsubscribe due at 1055
    assert key not in mode.store[sub]
    box = call(world.env, lambda r: mode.read(sub, key, r))
    world.env.run(until=1100)
    assert box[0].siblings == ("v1",)
    mode.write(replicas[0], key, "v2", None, False, lambda r: None)
    world.env.run(until=1200)
    assert mode.store[sub][key][1] == "v2"  # still subscribed at replicas[0]


def test_a_fetch_reply_slower_than_the_lease_does_not_become_a_copy() -> None:
    # Replies take 3 s. Before sub's reply comes, a subscriber's write reaches it
    # through every replica; idle for longer than the lease, it unsubscribes from
    # all three. The late reply would be a copy that nobody pushes to any more.
    world = _world_with_slow("response", 3000.0)
    mode = weak(world, cache_on_first_read=True, lease_ms=500.0)
    key = "k"
    replicas = world.ring.preference_list(key, 3)
    sub, writer = [n for n in range(8) if n not in replicas][:2]
    mode.load(key, "v0")
    first = call(world.env, lambda r: mode.read(sub, key, r))
    world.env.run(until=1000)
    mode.write(writer, key, "v1", None, False, lambda r: None)
    world.env.run(until=1100)
    assert all(sub not in mode.subscribers[r].get(key, {}) for r in replicas)
    world.env.run(until=3100)  # the replies came and were dropped
    assert key not in mode.store[sub] and first == []
    again = call(world.env, lambda r: mode.read(sub, key, r))  # fetches anew
    world.env.run(until=6200)
    assert first[0].siblings == again[0].siblings == ("v1",)
    mode.write(replicas[0], key, "v2", None, False, lambda r: None)
    world.env.run(until=6300)
    assert mode.store[sub][key][1] == "v2"


def test_a_copy_newer_than_the_push_is_kept_with_its_subscription() -> None:
    # sub's clock runs 10 s ahead; its write is cut off from the replicas, so its
    # copy is the only one holding it: a lapse must not drop it.
    key = "k"
    replicas = Ring(list(range(8)), 16).preference_list(key, 3)
    sub = next(n for n in range(8) if n not in replicas)
    world = build_world(nodes=8, skew=[10_000.0 if n == sub else 0.0 for n in range(8)])
    assert world.ring.preference_list(key, 3) == replicas
    mode = weak(world, lease_ms=500.0)
    mode.load(key, "v0")
    mode.read(sub, key, lambda r: None)
    world.env.run(until=100)
    cut = lambda src, dst: src == sub  # noqa: E731
    world.links.add_cut(cut)
    mode.write(sub, key, "mine", None, False, lambda r: None)
    world.env.run(until=200)
    world.links.remove_cut(cut)
    world.env.run(until=2000)
    sent = _count_sends(world)
    mode.write(replicas[0], key, "older-stamp", None, False, lambda r: None)
    world.env.run(until=2100)
    assert mode.store[sub][key][1] == "mine"
    assert not [m for m in sent if m[2] == "Unsubscribe"]
    assert mode.stats()["lease_lapses"] == 0
    assert mode.final(key).siblings == ("mine",)


def test_lapses_keep_histories_identical_across_processes(tmp_path: Path) -> None:
    """A browse on 60 nodes behind the balancer, with a partition: many lapses, same bytes."""
    halves = [list(range(30)), list(range(30, 60))]
    path = tmp_path / "browse60.toml"
    path.write_text(
        "seed = 3\nduration_ms = 3000\nsettle_ms = 1000\n"
        '[cluster]\nnodes = 60\nmode = "weak"\n[cluster.weak]\nlease_ms = 200.0\n'
        '[workload]\nkind = "browse"\nproducts = 20\ncustomers = 300\narrival_mean_ms = 10.0\n'
        f'[[faults]]\nkind = "partition"\nstart_ms = 1000\nend_ms = 2000\ngroups = {halves}\n'
    )
    outputs = []
    for hash_seed in ("1", "2"):
        history = tmp_path / f"{hash_seed}.jsonl"
        proc = subprocess.run(
            [sys.executable, "-m", "sim", "run", str(path), "--json", "--history", str(history)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": "/usr/bin:/bin"},
        )
        outputs.append((proc.stdout, history.read_bytes()))
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0][0])["metrics"]["mode"]["lease_lapses"] > 0


# ------------------------------------------- one replica answers (issue 13, scale)


def _sent(world, kind: str) -> int:
    """Messages of network kind `kind` ("read" is a Fetch, "write" a Push) sent so far."""
    return world.network.stats()["by_kind"].get(kind, {}).get("sent", 0)


def _subscribed_at(mode: WeakMode, node: int, key: str) -> list[int]:
    """The replicas that push `key` to `node`."""
    replicas = mode.ring.preference_list(key, mode.n)
    return [r for r in replicas if node in mode.subscribers[r].get(key, {})]


def _loaded(nodes: int, **settings: Any) -> tuple[World, WeakMode, list[int], list[int]]:
    """`nodes` nodes, key "k" loaded as "v0" on its replicas; the replicas and the others."""
    world = build_world(nodes=nodes)
    mode = weak(world, **settings)
    replicas = list(world.ring.preference_list("k", 3))
    mode.load("k", "v0")
    return world, mode, replicas, [n for n in range(nodes) if n not in replicas]


def test_a_cold_read_sends_one_fetch_to_its_designated_replica() -> None:
    world, mode, replicas, others = _loaded(10, cache_on_first_read=True)
    key = "k"
    boxes = {n: call(world.env, lambda r, n=n: mode.read(n, key, r)) for n in others}
    world.env.run(until=500)  # long past FETCH_RETRY_MS: no retry fired
    assert all(box[0].siblings == ("v0",) for box in boxes.values())
    assert _sent(world, "read") == _sent(world, "response") == len(others)  # one each
    for node in others:
        assert _subscribed_at(mode, node, key) == [replicas[node % 3]]
    assert len({replicas[n % 3] for n in others}) > 1  # spread by node id


@pytest.mark.parametrize("fault", ["cut", "down"])
def test_a_speculative_retry_reaches_the_next_replica(fault: str) -> None:
    world, mode, replicas, (sub, *_) = _loaded(10, cache_on_first_read=True)
    key = "k"
    first = mode.designated_replica(sub, key)
    second = replicas[(replicas.index(first) + 1) % 3]
    if fault == "cut":
        world.links.add_cut(lambda src, dst: {src, dst} == {sub, first})
    else:
        world.links.set_down(first, True)
        mode.crash(first)
    box = call(world.env, lambda r: mode.read(sub, key, r))
    world.env.run(until=FETCH_RETRY_MS - 1)
    assert box == []  # the designated replica never answers
    world.env.run(until=FETCH_RETRY_MS + 11)  # the retry's round trip: 2 x 5 ms
    assert box[0].siblings == ("v0",)
    assert _sent(world, "read") == 2
    assert _subscribed_at(mode, sub, key) == [second]
    world.env.run(until=1000)
    assert _sent(world, "read") == 2  # answered: the timer stopped
    mode.write(second, key, "v1", None, False, lambda r: None)
    world.env.run(until=1100)
    assert mode.store[sub][key][1] == "v1"  # pushed by the replica that answered


def test_retries_ask_each_replica_once_then_wait_for_the_next_read() -> None:
    world, mode, _, (sub, *_) = _loaded(10)
    key = "k"
    cut = lambda src, dst: sub in (src, dst)  # noqa: E731
    world.links.add_cut(cut)
    box = call(world.env, lambda r: mode.read(sub, key, r))
    world.env.run(until=5000)
    assert _sent(world, "read") == 3 and box == []  # one round, then quiet
    world.links.remove_cut(cut)
    again = call(world.env, lambda r: mode.read(sub, key, r))
    world.env.run(until=5100)
    assert _sent(world, "read") == 4  # a new round, at the designated replica
    assert box[0].siblings == again[0].siblings == ("v0",)


def test_a_write_at_another_replica_reaches_a_subscriber_through_its_source() -> None:
    world, mode, replicas, (sub, *_) = _loaded(10, cache_on_first_read=True)
    key = "k"
    source = mode.designated_replica(sub, key)
    writer = next(r for r in replicas if r != source)
    call(world.env, lambda r: mode.read(sub, key, r))
    world.env.run(until=100)
    sent = _count_sends(world)
    mode.write(writer, key, "v1", None, False, lambda r: None)
    world.env.run(until=200)
    assert mode.store[sub][key][1] == "v1"
    assert [m for m in sent if m[1] == sub] == [(source, sub, "Push")]  # forwarded, once


def test_a_subscribers_write_reaches_every_other_subscriber_once() -> None:
    world, mode, replicas, subs = _loaded(12, cache_on_first_read=True)
    key = "k"
    for node in subs:
        call(world.env, lambda r, n=node: mode.read(n, key, r))
    world.env.run(until=100)
    writer = subs[0]
    sent = _count_sends(world)
    mode.write(writer, key, "v1", None, False, lambda r: None)
    world.env.run(until=200)
    pushes = sorted(dst for src, dst, kind in sent if kind == "Push")
    # The writer pushes to the 3 replicas; each other subscriber hears it once, from
    # its own source; nothing comes back to the writer.
    assert pushes == sorted([*replicas, *subs[1:]])
    assert all((mode.designated_replica(n, key), n, "Push") in sent for n in subs[1:])
    assert all(mode.store[n][key][1] == "v1" for n in [*replicas, *subs])
    # Only the writer's source subscribes it, as before its write.
    assert _subscribed_at(mode, writer, key) == [mode.designated_replica(writer, key)]


def test_a_write_without_a_fetch_subscribes_at_the_designated_replica_only() -> None:
    world = build_world(nodes=10)
    mode = weak(world)
    key = "k"
    replicas = world.ring.preference_list(key, 3)
    writer = next(n for n in range(10) if n not in replicas)
    mode.write(writer, key, "v1", None, False, lambda r: None)
    world.env.run(until=100)
    assert _subscribed_at(mode, writer, key) == [mode.designated_replica(writer, key)]
    mode.write(replicas[2], key, "v2", None, False, lambda r: None)
    world.env.run(until=200)
    assert mode.store[writer][key][1] == "v2"


def test_a_key_read_once_is_answered_and_not_cached() -> None:
    """Second-hit admission: only a node that served the key within `lease_ms` keeps it."""
    world, mode, replicas, (node, *_) = _loaded(10, lease_ms=500.0)
    first = call(world.env, lambda r: mode.read(node, "k", r))
    world.env.run(until=50)
    assert first[0].siblings == ("v0",)  # answered from one replica...
    assert "k" not in mode.store[node] and _subscribed_at(mode, node, "k") == []  # ...not kept
    mode.write(replicas[0], "k", "v1", None, False, lambda r: None)
    world.env.run(until=100)
    assert _sent(world, "write") == 2  # to the other two replicas only: no push to `node`
    second = call(world.env, lambda r: mode.read(node, "k", r))  # 100 ms after the first
    world.env.run(until=150)
    assert second[0].siblings == ("v1",)
    assert mode.store[node]["k"][1] == "v1"  # kept now, and subscribed at its source
    assert _subscribed_at(mode, node, "k") == [replicas[node % 3]]
    assert _sent(world, "read") == 2


def test_a_read_after_a_lease_of_silence_is_a_first_read_again() -> None:
    world, mode, _, (node, *_) = _loaded(10, lease_ms=500.0)
    call(world.env, lambda r: mode.read(node, "k", r))
    world.env.run(until=700)
    late = call(world.env, lambda r: mode.read(node, "k", r))  # 700 ms later: > lease_ms
    world.env.run(until=800)
    assert late[0].siblings == ("v0",)
    assert "k" not in mode.store[node] and _subscribed_at(mode, node, "k") == []


def test_lease_zero_caches_on_the_first_read() -> None:
    """`lease_ms = 0` (subscriptions never lapse) keeps every fetched copy, as before leases."""
    world, mode, replicas, (node, *_) = _loaded(10, lease_ms=0.0)
    call(world.env, lambda r: mode.read(node, "k", r))
    world.env.run(until=50)
    assert mode.store[node]["k"][1] == "v0"
    assert _subscribed_at(mode, node, "k") == [replicas[node % 3]]


def test_fetches_in_flight_share_one_retry_timer() -> None:
    """One timer for every fetch's retry, armed for the first one due (not one each)."""
    world, mode, _, others = _loaded(40)
    for node in others:
        call(world.env, lambda r, n=node: mode.read(n, "k", r))
    timers = [c for c in world.env.scheduled() if getattr(c, "fn", None) == mode._retry_due]
    assert len(others) > 30 and len(timers) == 1
    world.env.run(until=1000)
    assert _sent(world, "read") == len(others)  # all answered in time: no retry
