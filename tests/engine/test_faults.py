"""The nemesis: windows, cuts of each kind, crashes and clock skew, recorded in the history."""

from __future__ import annotations

import simpy

from sim.engine.faults import Clocks, Nemesis, partition_cut, windows
from sim.engine.network import LinkState, call_later
from sim.history import History
from sim.scenario import FaultSpec


def test_flapping_alternates_on_and_off_until_its_end() -> None:
    spec = FaultSpec("flapping", 100.0, 600.0, groups=((0,),), period_ms=100.0)
    assert windows(spec, 10_000.0) == [(100.0, 200.0), (300.0, 400.0), (500.0, 600.0)]


def test_bridge_reaches_both_sides_which_cannot_reach_each_other() -> None:
    cut = partition_cut([[0, 1], [3, 4]], 5, rest_is_bridge=True)
    assert cut(0, 3) and cut(4, 1)
    assert not cut(0, 2) and not cut(2, 4) and not cut(0, 1)


def test_unlisted_nodes_form_one_more_group() -> None:
    cut = partition_cut([[0]], 3, rest_is_bridge=False)
    assert cut(0, 1) and cut(2, 0) and not cut(1, 2)


def run_nemesis(specs: tuple[FaultSpec, ...], probe_at: list[float], nodes: int = 3):
    env = simpy.Environment()
    links = LinkState()
    clocks = Clocks(env, [0.0] * nodes)
    history = History()
    crashed, restarted = [], []
    Nemesis(
        env,
        specs,
        nodes,
        links,
        clocks,
        history,
        10_000.0,
        on_crash=crashed.append,
        on_restart=restarted.append,
    )
    seen = []
    for t in probe_at:
        call_later(
            env,
            t,
            lambda: seen.append(
                (env.now, links.blocked(0, 1), set(links.down), clocks.now(2) - env.now)
            ),
        )
    env.run(until=10_000.0)
    return seen, history, crashed, restarted


def test_crash_marks_the_node_down_and_calls_the_hooks() -> None:
    seen, history, crashed, restarted = run_nemesis(
        (FaultSpec("crash", 100.0, 200.0, node=1),), [50.0, 150.0, 250.0]
    )
    assert [s[1:3] for s in seen] == [(False, set()), (True, {1}), (False, set())]
    assert crashed == [1] and restarted == [1]
    assert [(op.f, op.time) for op in history] == [("start-crash", 100.0), ("stop-crash", 200.0)]


def test_clock_skew_applies_during_its_window_only() -> None:
    seen, *_ = run_nemesis(
        (FaultSpec("clock-skew", 100.0, 200.0, node=2, skew_ms=-40.0),), [50.0, 150.0, 250.0]
    )
    assert [s[3] for s in seen] == [0.0, -40.0, 0.0]


def test_overlapping_cuts_heal_independently() -> None:
    specs = (
        FaultSpec("isolate", 100.0, 300.0, node=0),
        FaultSpec("one-way", 200.0, 400.0, from_nodes=(0,), to_nodes=(1,)),
    )
    seen, *_ = run_nemesis(specs, [150.0, 250.0, 350.0, 450.0])
    assert [s[1] for s in seen] == [True, True, True, False]
