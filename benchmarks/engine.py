"""Engine benchmark: messages per second of bare SimPy vs capsim on the same quorum pattern.

The pattern: C clients, each attached to a home node, issue one request after
another; a request fans out to the key's N=3 replicas, each replica answers,
and the request completes at the 2nd answer (the 3rd is still delivered).
Latency is exponential with mean 5 ms, drawn per message.

- baseline: the fastest honest bare-SimPy rendering: one process per client,
  one `Timeout` with a callback per message, a counter that triggers one event
  at the quorum, latencies served from a pre-drawn buffer.
- capsim: the same pattern through capsim's Network (cut check, per-kind
  counters, dispatch by message type) and StoreClient (deadline timer and
  history recording on), with a minimal echo-quorum mode.
- eventual: capsim's real eventual mode doing quorum reads (N=3, R=2): the same
  message pattern plus everything Dynamo adds (failure-detector timers, sibling
  merging, read-repair bookkeeping).

- full scenario: a whole `sim.run` of a browse shop (eventual mode with its
  defaults: R = W = 2, sloppy quorum, read repair, anti-entropy every 1 s; 200
  products, Zipf popularity, 4,000 customers arriving every 5 ms on average,
  5 page views each, 10% buy), history and every metric included. Its
  requests are shop requests (a page view, an order: one or several store
  operations), its messages every message of the run; the ratio of its
  requests per second to the baseline's is issue 13's third target (>= 0.25).

Each capsim client reads a key its home node does not replicate, so that
every request crosses the network six times as in the baseline. Prints the
median of several repeats: messages per second and its ratio to the baseline
(the target of issues 2 and 3: >= 0.5), and completed requests per second.

    python benchmarks/engine.py [--clients 200] [--sim-ms 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import statistics
import time
from typing import Any, ClassVar

import numpy as np
import simpy

from sim.client import StoreClient
from sim.config.network import CORE_KINDS, NetworkConfig
from sim.distributions import Exponential, Sampler
from sim.engine.clocks import Clocks
from sim.engine.kernel import Engine
from sim.engine.loop import run_until
from sim.engine.network import LinkState, Network, message
from sim.engine.ring import Ring
from sim.engine.world import World
from sim.history import History
from sim.modes.base import ReadResult, Status
from sim.modes.eventual import MODE as EVENTUAL
from sim.rng import Streams
from sim.run import run
from sim.scenario import Scenario

NODES = 5
N, QUORUM = 3, 2
MEAN_MS = 5.0


# --------------------------------------------------------------------------- baseline


def baseline(clients: int, sim_ms: float, seed: int) -> tuple[int, int]:
    """Bare SimPy: returns (messages delivered, requests completed)."""
    env = simpy.Environment()
    rng = np.random.default_rng(seed)
    stream = itertools.chain.from_iterable(
        iter(lambda: rng.exponential(MEAN_MS, 4096).tolist(), None)
    )
    latency = stream.__next__
    delivered = 0
    completed = 0

    def request(replicas: list[int]) -> simpy.Event:
        """Fan out to the replicas; the returned event fires at the quorum-th reply."""
        done = env.event()
        count = 0

        def on_reply(_ev: Any) -> None:
            nonlocal delivered, count, completed
            delivered += 1
            count += 1
            if count == QUORUM:
                completed += 1
                done.succeed()

        def on_request(_ev: Any) -> None:
            nonlocal delivered
            delivered += 1
            env.timeout(latency()).callbacks.append(on_reply)

        for _replica in replicas:
            env.timeout(latency()).callbacks.append(on_request)
        return done

    def client(i: int):
        replicas = [(i + k) % NODES for k in range(N)]
        while True:
            yield request(replicas)

    for i in range(clients):
        env.process(client(i))
    run_until(env, sim_ms)  # the same loop driver as capsim (see sim/engine/loop.py)
    return delivered, completed


# --------------------------------------------------------------------------- capsim


@message
class Ask:
    kind: ClassVar[str] = "read"
    req: int
    key: str


@message
class Answer:
    kind: ClassVar[str] = "response"
    req: int


class EchoQuorum:
    """A minimal mode: fan a read out to N replicas, answer the client at R replies."""

    name = "echo"

    def __init__(self, world: World) -> None:
        self.world = world
        self.net = world.network
        self.ring = world.ring
        self.pending: dict[int, list] = {}
        self.ids = itertools.count()
        self.net.register(Ask, self._on_ask)
        self.net.register(Answer, self._on_answer)

    def read(self, node: int, key: str, reply: Any) -> None:
        req = next(self.ids)
        self.pending[req] = [0, reply]
        for replica in self.ring.preference_list(key, N):
            self.net.send(node, replica, Ask(req, key))

    def _on_ask(self, src: int, dst: int, msg: Ask) -> None:
        self.net.send(dst, src, Answer(msg.req))

    def _on_answer(self, src: int, dst: int, msg: Answer) -> None:
        state = self.pending[msg.req]
        state[0] += 1
        if state[0] == QUORUM:
            state[1](ReadResult(Status.OK, ("v",), 1))
        elif state[0] == N:
            del self.pending[msg.req]

    def export_version(self, version: Any) -> Any:
        return version


def remote_key(ring: Ring, home: int, i: int) -> str:
    """A key of client i that its home node does not replicate.

    Every request then sends 3 requests and gets 3 replies over the network, the
    baseline's pattern; a coordinator that holds a replica would answer itself
    in-process (eventual mode does), which is not the same work.
    """
    n = 0
    while True:
        key = f"k{i}.{n}"
        if home not in ring.preference_list(key, N):
            return key
        n += 1


def capsim(clients: int, sim_ms: float, seed: int, mode_name: str) -> tuple[int, int]:
    """capsim's network and clients: returns (messages delivered, requests completed)."""
    env = Engine()
    streams = Streams(seed)
    links = LinkState()
    kinds = (*CORE_KINDS, *EVENTUAL.message_kinds)
    config = NetworkConfig(latency=Exponential(MEAN_MS))
    net = Network(env, config, streams.get("network"), links, kinds)
    ring = Ring(list(range(NODES)), 64)
    world = World(env, net, ring, Clocks(env, [0.0] * NODES), links, streams, NODES, N)
    if mode_name == "echo":
        mode: Any = EchoQuorum(world)
    else:
        settings = EVENTUAL.settings(read_quorum=QUORUM, write_quorum=QUORUM, anti_entropy_ms=0.0)
        mode = EVENTUAL.build(world, settings)
    history = History()
    keys = [remote_key(world.ring, i % NODES, i) for i in range(clients)]
    if mode_name != "echo":
        for key in keys:
            mode.load(key, "v")

    def client(i: int):
        c = StoreClient(env, mode, links, history, i, i % NODES)
        key = keys[i]
        while True:
            yield from c.read(key, env.now + 1000.0)

    for i in range(clients):
        env.process(client(i))
    run_until(env, sim_ms)  # as sim.run does it: chunks, long-lived objects frozen
    return net.stats()["delivered"], sum(1 for op in history if op.type == "ok")


def full_scenario(sim_ms: float, seed: int) -> tuple[int, int]:
    """A whole browse run in eventual mode: (messages delivered, shop requests)."""
    scenario = Scenario.from_dict(
        {
            "seed": seed,
            "duration_ms": sim_ms,
            "settle_ms": 5000.0,
            "cluster": {"nodes": NODES, "replication": N, "mode": "eventual"},
            "network": {"latency": {"dist": "exponential", "mean": MEAN_MS}},
            "workload": {
                "kind": "browse",
                "products": 200,
                "customers": 4000,
                "arrival_mean_ms": 5.0,
            },
        }
    )
    metrics = run(scenario).metrics
    return metrics["messages"]["delivered"], metrics["requests"]


def measure(variants: dict[str, Any], repeats: int) -> dict[str, tuple[float, int, int]]:
    """Median wall time, and the (identical) message and request counts, of each variant.

    The variants take turns within each repeat, so a change in the machine's
    load during the benchmark touches them all alike rather than one. Each
    starts from a collected heap: what the one before left in reference cycles
    (a variant's world and history, millions of objects) is not collected in
    the next one's time (a run collects in full when memory doubled:
    sim/engine/loop.py).
    """
    times: dict[str, list[float]] = {name: [] for name in variants}
    counts: dict[str, tuple[int, int]] = {}
    for _ in range(repeats):
        for name, fn in variants.items():
            gc.collect()
            start = time.perf_counter()
            counts[name] = fn()
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(times[name]), *counts[name]) for name in variants}


def main() -> None:
    """Run the three variants and print messages per second and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--sim-ms", type=float, default=20000.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    c, t, s, r = args.clients, args.sim_ms, args.seed, args.repeats
    Sampler(Exponential(1.0), np.random.default_rng(0))  # warm imports
    variants = {
        "bare SimPy (baseline)": lambda: baseline(c, t, s),
        "capsim network+client": lambda: capsim(c, t, s, "echo"),
    }
    variants["capsim eventual mode"] = lambda: capsim(c, t, s, "eventual")
    variants["full scenario (browse)"] = lambda: full_scenario(t, s)
    rows = list(measure(variants, r).items())
    base_wall, base_msgs, base_reqs = rows[0][1]
    print(
        f"{c} clients, N={N}, quorum {QUORUM}, exponential latency mean {MEAN_MS} ms, "
        f"{t / 1000:g} s simulated, median of {r} runs"
    )
    print(
        f"{'variant':<24}{'messages':>10}{'wall s':>9}{'msgs/s':>11}{'ratio':>7}"
        f"{'requests/s':>12}{'ratio':>7}"
    )
    for name, (wall, msgs, reqs) in rows:
        rate, req_rate = msgs / wall, reqs / wall
        print(
            f"{name:<24}{msgs:>10}{wall:>9.3f}{rate:>11,.0f}{rate * base_wall / base_msgs:>7.2f}"
            f"{req_rate:>12,.0f}{req_rate * base_wall / base_reqs:>7.2f}"
        )


if __name__ == "__main__":
    main()
