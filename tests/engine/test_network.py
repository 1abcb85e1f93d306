"""The network: latency, loss, duplication, and cuts that drop messages (at send and in flight)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from hypothesis import event, given, note
from hypothesis import strategies as st

from sim.config.network import NetworkConfig
from sim.distributions import Constant, Exponential
from sim.engine.clocks import Clocks
from sim.engine.kernel import Engine
from sim.engine.nemesis import Nemesis
from sim.engine.network import LinkState, Network
from sim.faults.base import Fault
from sim.history import History
from tests.strategies import faults


@dataclass(frozen=True, slots=True)
class Ping:
    kind: ClassVar[str] = "write"
    n: int


@dataclass(frozen=True, slots=True)
class Pong:
    kind: ClassVar[str] = "ack"
    n: int


def make(config: NetworkConfig, seed: int = 1) -> tuple[Engine, Network, list]:
    env = Engine()
    net = Network(env, config, np.random.default_rng(seed), LinkState())
    got: list = []
    net.register(Ping, lambda src, dst, msg: got.append((env.now, src, dst, msg.n)))
    net.register(Pong, lambda src, dst, msg: got.append((env.now, src, dst, -msg.n)))
    return env, net, got


def test_delivery_after_latency_per_kind() -> None:
    config = NetworkConfig(latency=Constant(3.0), latency_by_kind={"ack": Constant(7.0)})
    env, net, got = make(config)
    net.send(0, 1, Ping(1))
    net.send(1, 0, Pong(2))
    env.run()
    assert got == [(3.0, 0, 1, 1), (7.0, 1, 0, -2)]
    assert net.stats()["delivered"] == 2


def test_cut_drops_at_send_and_in_flight() -> None:
    env, net, got = make(NetworkConfig(latency=Constant(10.0)))
    cut = lambda src, dst: {src, dst} == {0, 1}  # noqa: E731
    net.send(0, 1, Ping(1))  # in flight when the cut starts at t=5
    env.call_later(5.0, net.links.add_cut, cut)
    env.call_later(6.0, net.send, 0, 1, Ping(2))  # sent across the cut
    env.call_later(6.0, net.send, 0, 2, Ping(3))  # not across it
    env.call_later(30.0, net.links.remove_cut, cut)
    env.call_later(31.0, net.send, 1, 0, Ping(4))
    env.run()
    assert [g[3] for g in got] == [3, 4]
    stats = net.stats()
    assert (stats["sent"], stats["delivered"], stats["dropped"]) == (4, 2, 2)


def test_loss_and_duplication_rates() -> None:
    env, net, got = make(NetworkConfig(latency=Exponential(1.0), loss=0.3, duplicate=0.2))
    n = 20000
    for i in range(n):
        net.send(0, 1, Ping(i))
    env.run()
    kept = 1 - net.stats()["dropped"] / n
    assert abs(kept - 0.7) < 4 * np.sqrt(0.21 / n)
    assert abs(len(got) / (n * 0.7) - 1.2) < 0.03
    assert len(got) == net.stats()["delivered"]


def test_same_seed_same_latencies() -> None:
    runs = []
    for _ in range(2):
        env, net, got = make(NetworkConfig(latency=Exponential(5.0)), seed=9)
        for i in range(100):
            net.send(0, 1, Ping(i))
        env.run()
        runs.append(got)
    assert runs[0] == runs[1]


def test_a_message_between_zones_takes_its_latency_plus_cross_zone() -> None:
    config = NetworkConfig(
        latency=Constant(3.0),
        latency_by_kind={"ack": Constant(7.0)},
        zones=(0, 0, 1),
        cross_zone=Constant(75.0),
    )
    env, net, got = make(config)
    net.send(0, 1, Ping(1))  # same zone
    net.send(0, 2, Ping(2))  # zone 0 -> 1
    net.send(2, 0, Pong(3))  # zone 1 -> 0, its own kind's latency
    net.send(2, 2, Ping(4))  # to itself
    env.run()
    assert got == [(3.0, 0, 1, 1), (3.0, 2, 2, 4), (78.0, 0, 2, 2), (82.0, 2, 0, -3)]


def deliveries(config: NetworkConfig, pairs: list[tuple[int, int]]) -> list:
    env, net, got = make(config, seed=9)
    for i, (src, dst) in enumerate(pairs):
        net.send(src, dst, Ping(i))
    env.run()
    return got


def test_without_two_zones_and_a_cross_zone_the_network_is_unchanged() -> None:
    pairs = [(0, 1), (1, 2), (2, 0)] * 50
    plain = deliveries(NetworkConfig(latency=Exponential(5.0)), pairs)
    cross = Exponential(75.0)
    for config in (
        NetworkConfig(latency=Exponential(5.0), zones=(0, 0, 1)),  # no cross_zone
        NetworkConfig(latency=Exponential(5.0), zones=(2, 2, 2), cross_zone=cross),  # one zone
        NetworkConfig(latency=Exponential(5.0), cross_zone=cross),  # no zones
    ):
        assert deliveries(config, pairs) == plain, config
    # With zones, traffic inside one zone still draws what it drew without them.
    inside = [(0, 1), (1, 0)] * 50
    zoned = NetworkConfig(latency=Exponential(5.0), zones=(0, 0, 1), cross_zone=cross)
    assert deliveries(zoned, inside) == deliveries(NetworkConfig(latency=Exponential(5.0)), inside)


def cut_by_schedule(specs: tuple[Fault, ...], t: float, src: int, dst: int) -> bool:
    """Whether the schedule cuts src->dst at time t, computed from the specs alone."""
    for f in specs:
        if not (f.start_ms <= t < (f.end_ms if f.end_ms is not None else float("inf"))):
            continue
        if f.kind == "partition":
            side = {n: i for i, g in enumerate(f.groups) for n in g}
            if side.get(src, -1) != side.get(dst, -1):
                return True
        elif f.kind == "one-way":
            if src in f.from_nodes and dst in f.to_nodes:
                return True
        elif f.kind == "isolate" and (src == f.node) != (dst == f.node):
            return True
    return False


@given(st.data(), st.integers(0, 2**31 - 1))
def test_messages_are_never_delivered_across_an_active_cut(data: st.DataObject, seed: int) -> None:
    nodes = data.draw(st.integers(2, 6))
    specs = data.draw(faults(nodes, 1000.0))
    note(f"seed={seed} faults={specs}")
    env = Engine()
    links = LinkState()
    net = Network(env, NetworkConfig(latency=Exponential(20.0)), np.random.default_rng(seed), links)
    Nemesis(env, specs, nodes, links, Clocks(env, [0.0] * nodes), History(), 2000.0)
    sent: dict[int, tuple[float, int, int]] = {}
    delivered: list[tuple[float, int, int, int]] = []
    net.register(Ping, lambda src, dst, msg: delivered.append((env.now, src, dst, msg.n)))
    rng = np.random.default_rng(seed)
    for i, t in enumerate(np.sort(rng.uniform(0, 1500, 300))):
        src, dst = (int(x) for x in rng.choice(nodes, 2, replace=False))

        def send(i: int = i, src: int = src, dst: int = dst) -> None:
            sent[i] = (env.now, src, dst)
            net.send(src, dst, Ping(i))

        env.call_later(float(t), send)
    env.run()
    for t, src, dst, i in delivered:
        assert not cut_by_schedule(specs, t, src, dst), f"delivered across a cut at {t}"
        assert not cut_by_schedule(specs, sent[i][0], src, dst), "sent across a cut"
    crossing = sum(1 for t, s, d in sent.values() if cut_by_schedule(specs, t, s, d))
    event(f"messages sent across a cut: {'some' if crossing else 'none'}")
    assert len(delivered) + net.stats()["dropped"] == len(sent)
