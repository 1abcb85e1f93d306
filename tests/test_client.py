"""The store client: what it records for each outcome (ok, fail, info), and its deadlines."""

from __future__ import annotations

from typing import Any

import pytest

from sim.client import StoreClient
from sim.config.network import NetworkConfig
from sim.distributions import Constant
from sim.engine.kernel import Engine
from sim.engine.network import LinkState
from sim.history import History, Op
from sim.modes.base import ReadResult, Status, WriteResult
from sim.rng import Streams
from sim.routing import Router
from sim.run import client_hop, zone_hops
from sim.scenario import Scenario
from sim.vclock import VClock


class Tagged:
    """A stored value with a tag, as the shop's records have."""

    def __init__(self, tag: str) -> None:
        self.tag = tag


class ScriptedMode:
    """Answers each request with the next scripted (delay_ms, result); None: never answers."""

    name = "scripted"

    def __init__(self, env: Engine, script: list[tuple[float, Any] | None]) -> None:
        self.env = env
        self.script = list(script)
        self.calls: list[tuple] = []

    def _answer(self, reply: Any) -> None:
        step = self.script.pop(0)
        if step is not None:
            delay, result = step
            if delay == 0:
                reply(result)  # answered before the request even waits
            else:
                self.env.call_later(delay, reply, result)

    def read(self, node: int, key: str, reply: Any) -> None:
        self.calls.append(("read", node, key))
        self._answer(reply)

    def write(
        self, node: int, key: str, value: Any, context: Any, conditional: bool, reply: Any
    ) -> None:
        self.calls.append(("write", node, key, context, conditional))
        self._answer(reply)

    def export_version(self, version: Any) -> Any:
        return version.to_json() if isinstance(version, VClock) else version


def run_client(script: list, body: Any, down: tuple[int, ...] = ()) -> tuple[History, list]:
    """Run one client process (home node 1) through `body(client)`; its history and results."""
    env = Engine()
    links = LinkState()
    for node in down:
        links.set_down(node, True)
    history = History()
    client = StoreClient(env, ScriptedMode(env, script), links, history, 7, 1)
    results: list = []

    def proc():
        results.extend((yield from body(client)))

    env.process(proc())
    env.run()
    return history, results


def test_read_records_invoke_then_ok_with_tag_and_exported_version() -> None:
    clock = VClock.from_counters({0: 2, 3: 1})
    ok = ReadResult(Status.OK, (Tagged("w1"),), clock)

    def body(c: StoreClient):
        return [(yield from c.read("k", deadline=100.0))]

    history, results = run_client([(5.0, ok)], body)
    assert results == [ok]
    assert list(history) == [
        Op(7, "invoke", "read", "k", None, 0.0),
        Op(7, "ok", "read", "k", "w1", 5.0, None, {"0": 2, "3": 1}),
    ]
    assert all(len(op) == len(Op._fields) for op in history)


@pytest.mark.parametrize(
    ("siblings", "shown"),
    [((), None), (("a",), "a"), ((Tagged("b"), Tagged("a")), ["a", "b"])],
)
def test_read_value_is_nil_one_tag_or_the_sorted_sibling_tags(siblings: tuple, shown: Any) -> None:
    def body(c: StoreClient):
        return [(yield from c.read("k", deadline=100.0))]

    history, _ = run_client([(0, ReadResult(Status.OK, siblings, None))], body)
    assert history.ops[-1].value == shown
    assert history.ops[-1].time == 0.0  # answered synchronously: no waiting


def test_no_answer_by_the_deadline_is_info_and_a_late_answer_is_ignored() -> None:
    late = WriteResult(Status.OK, 1)

    def body(c: StoreClient):
        first = yield from c.write("k", "v", deadline=30.0)
        second = yield from c.read("k", deadline=c.env.now + 10.0)
        return [first, second]

    history, results = run_client([(50.0, late), None], body)
    assert [r.status for r in results] == [Status.TIMEOUT, Status.TIMEOUT]
    done = [op for op in history if op.type != "invoke"]
    assert [(op.type, op.f, op.time, op.error) for op in done] == [
        ("info", "write", 30.0, "timeout"),
        ("info", "read", 40.0, "timeout"),
    ]
    assert done[1].value is None


def test_refused_cas_is_a_fail_with_the_modes_reason() -> None:
    conflict = WriteResult(Status.CONFLICT, 4, "version changed")

    def body(c: StoreClient):
        r = yield from c.write(
            "k", Tagged("new"), 100.0, context=3, conditional=True, expected=Tagged("old")
        )
        return [r]

    history, _ = run_client([(2.0, conflict)], body)
    assert history.ops[0].value == ["old", "new"]
    assert history.ops[1] == Op(7, "fail", "cas", "k", ["old", "new"], 2.0, "version changed", 4)


def test_a_crashed_home_node_fails_at_once_without_asking_the_mode() -> None:
    def body(c: StoreClient):
        return [(yield from c.read("k", 100.0))]

    history, results = run_client([], body, down=(1,))
    assert results[0].status is Status.FAIL and results[0].error == "node-down"
    assert [(op.type, op.time, op.error) for op in history] == [
        ("invoke", 0.0, None),
        ("fail", 0.0, "node-down"),
    ]


@pytest.mark.parametrize("hop_ms", [0.5, 0.0])
@pytest.mark.parametrize(("home_down", "cross_ms"), [(False, 0.0), (True, 75.0)])
def test_a_client_pays_cross_zone_each_way_to_a_node_outside_its_zone(
    hop_ms: float, home_down: bool, cross_ms: float
) -> None:
    """Home node 0 is in zone 0, the others in zone 1: with node 0 down, the router
    sends the read to zone 1, and the hop there and back is client_latency + 75 ms."""
    network = NetworkConfig(
        client_latency=Constant(hop_ms), zones=(0, 1, 1, 1, 1), cross_zone=Constant(75.0)
    )
    scenario = Scenario(network=network)
    streams = Streams(1)
    hop = client_hop(scenario, streams)
    hops = zone_hops(scenario, streams, hop)[0]
    env = Engine()
    links = LinkState()
    links.set_down(0, home_down)
    router = Router(env, "any", links, 5, 1000.0, streams.get("routing"))
    mode = ScriptedMode(env, [(10.0, ReadResult(Status.OK, ("v",), None))])
    client = StoreClient(env, mode, links, History(), 7, 0, router, hop, hops)
    results: list = []

    def proc():
        results.append((yield from client.read("k", deadline=1000.0)))

    env.process(proc())
    env.run()
    assert results[0].status is Status.OK
    assert (mode.calls[0][1] != 0) == home_down
    one_way = hop_ms + cross_ms
    assert client.history.ops[-1].time == pytest.approx(one_way + 10.0 + one_way)


@pytest.mark.parametrize(
    ("deadline", "outcome", "at"),
    [(50.0, "info", 50.0), (55.0, "info", 55.0), (60.0, "ok", 55.0), (1000.0, "ok", 55.0)],
)
def test_an_answer_crossing_the_hop_back_after_the_deadline_is_a_timeout(
    deadline: float, outcome: str, at: float
) -> None:
    """20 ms each way, answered 15 ms after it arrives: the answer lands at 55 ms. Before
    the deadline it is the outcome, then; at or after it the deadline times the request
    out (the answer is dropped when sent: it lands too late). The client then serves its
    next request as ever."""
    network = NetworkConfig(client_latency=Constant(20.0))
    hop = client_hop(Scenario(network=network), Streams(1))
    env = Engine()
    links = LinkState()
    answer = ReadResult(Status.OK, (Tagged("v1"),), None)
    mode = ScriptedMode(env, [(15.0, answer), (15.0, answer)])
    client = StoreClient(env, mode, links, History(), 7, 0, None, hop)
    results: list = []

    def proc():
        results.append((yield from client.read("k", deadline=deadline)))
        results.append((yield from client.read("k", deadline=env.now + 1000.0)))

    env.process(proc())
    env.run()
    done = [op for op in client.history if op.type != "invoke"]
    assert [(op.type, op.time) for op in done] == [(outcome, at), ("ok", at + 55.0)]
    assert results[0].status is (Status.OK if outcome == "ok" else Status.TIMEOUT)
