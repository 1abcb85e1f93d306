"""The nemesis: faults start and stop on time, cuts heal apart, crashes nest; all recorded."""

from __future__ import annotations

from sim.engine.clocks import Clocks
from sim.engine.kernel import Engine
from sim.engine.nemesis import Nemesis
from sim.engine.network import LinkState
from sim.faults.base import Fault, fault
from sim.history import History


def run_nemesis(specs: tuple[Fault, ...], probe_at: list[float], nodes: int = 3):
    env = Engine()
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
        env.call_later(
            t,
            lambda: seen.append(
                (env.now, links.blocked(0, 1), set(links.down), clocks.now(2) - env.now)
            ),
        )
    env.run(until=10_000.0)
    return seen, history, crashed, restarted


def test_crash_marks_the_node_down_and_calls_the_hooks() -> None:
    seen, history, crashed, restarted = run_nemesis(
        (fault("crash", start_ms=100.0, end_ms=200.0, node=1),), [50.0, 150.0, 250.0]
    )
    assert [s[1:3] for s in seen] == [(False, set()), (True, {1}), (False, set())]
    assert crashed == [1] and restarted == [1]
    assert [(op.f, op.time) for op in history] == [("start-crash", 100.0), ("stop-crash", 200.0)]


def test_clock_skew_applies_during_its_window_only() -> None:
    seen, *_ = run_nemesis(
        (fault("clock-skew", start_ms=100.0, end_ms=200.0, node=2, skew_ms=-40.0),),
        [50.0, 150.0, 250.0],
    )
    assert [s[3] for s in seen] == [0.0, -40.0, 0.0]


def test_overlapping_cuts_heal_independently() -> None:
    specs = (
        fault("isolate", start_ms=100.0, end_ms=300.0, node=0),
        fault("one-way", start_ms=200.0, end_ms=400.0, **{"from": [0], "to": [1]}),
    )
    seen, *_ = run_nemesis(specs, [150.0, 250.0, 350.0, 450.0])
    assert [s[1] for s in seen] == [True, True, True, False]


def test_overlapping_crashes_of_one_node_nest() -> None:
    specs = (
        fault("crash", start_ms=100.0, end_ms=300.0, node=1),
        fault("crash", start_ms=200.0, end_ms=400.0, node=1),
    )
    seen, _, crashed, restarted = run_nemesis(specs, [150.0, 350.0, 450.0])
    assert [s[2] for s in seen] == [{1}, {1}, set()]
    assert crashed == [1] and restarted == [1]  # down once, up once: after the last crash
