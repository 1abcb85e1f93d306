"""The engine's one door to SimPy: the internals it relies on are checked, and fail loudly."""

from __future__ import annotations

import pytest
import simpy

from sim.engine.kernel import INTERNALS, Engine, Pending, check_internals
from sim.errors import InvariantError


def test_the_installed_simpy_has_every_internal_the_engine_relies_on() -> None:
    check_internals()
    assert set(INTERNALS) >= {"Environment._now", "Environment._queue", "Environment._eid"}


@pytest.mark.parametrize("attribute", ["_now", "_queue", "_eid"])
def test_a_simpy_without_an_internal_is_refused_naming_it(monkeypatch, attribute) -> None:
    original = simpy.Environment.__init__

    def without(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        delattr(self, attribute)

    monkeypatch.setattr(simpy.Environment, "__init__", without)
    with pytest.raises(InvariantError, match=rf"Environment\.{attribute} "):
        check_internals()


def test_a_simpy_whose_event_init_changed_is_refused(monkeypatch) -> None:
    def init(self, env, name=None) -> None:
        self.env = env
        self.callbacks = []

    monkeypatch.setattr(simpy.Event, "__init__", init)
    with pytest.raises(InvariantError, match=r"Event\.__init__ takes"):
        check_internals()


def test_a_loop_that_no_longer_runs_bare_entries_is_refused(monkeypatch) -> None:
    def step(self) -> None:  # a loop that drops what it pops
        import heapq

        if not self._queue:
            raise simpy.core.EmptySchedule
        self._now = heapq.heappop(self._queue)[0]

    monkeypatch.setattr(simpy.Environment, "step", step)
    with pytest.raises(InvariantError, match=r"Environment\.step does not run bare heap entries"):
        check_internals()


def test_calls_run_in_time_order_and_a_negative_delay_is_a_bug() -> None:
    env = Engine()
    seen: list[tuple[float, str]] = []
    env.call_later(3.0, lambda: seen.append((env.now, "b")))
    env.call_later(1.0, lambda: seen.append((env.now, "a")))
    env.run()
    assert seen == [(1.0, "a"), (3.0, "b")]
    with pytest.raises(InvariantError, match="negative delay"):
        env.call_later(-1.0, lambda: None)


def test_a_pending_event_is_a_simpy_event_a_process_can_wait_on() -> None:
    env = Engine()
    pending = Pending(env)
    got: list = []

    def proc():
        got.append((yield pending))

    env.process(proc())
    env.call_later(2.0, pending.succeed, "answer")
    env.run()
    assert got == ["answer"]


def test_sleep_is_a_timeout_in_order_and_time() -> None:
    """`sleep` and `timeout` wake their processes at the same times, in the same order."""

    def wakes(pause) -> list[tuple[str, float, object]]:
        env = Engine()
        seen: list[tuple[str, float, object]] = []

        def sleeper(name: str, delays: list[float]):
            for delay in delays:
                value = yield pause(env, delay)
                seen.append((name, env.now, value))

        env.process(sleeper("a", [5.0, 0.0, 2.5]))
        env.process(sleeper("b", [2.5, 2.5, 2.5]))
        env.run()
        return seen

    slept = wakes(lambda env, delay: env.sleep(delay))
    assert slept == wakes(lambda env, delay: env.timeout(delay))
    assert [t for _, t, _ in slept] == [2.5, 5.0, 5.0, 5.0, 7.5, 7.5]
    with pytest.raises(InvariantError):
        Engine().sleep(-1.0)
