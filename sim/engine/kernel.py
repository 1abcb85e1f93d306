"""The engine's one door to SimPy: the clock, cheap scheduled calls, the SimPy internals relied on.

Modes, clients and workloads use SimPy only through this module's `Engine`
(an `Environment` with the scheduling calls capsim's hot paths need) and
`Pending`; nothing else in capsim names a SimPy private attribute. One
other place pushes on SimPy's heap: `Network.send`, the hottest path, puts
its deliveries there itself (`Engine.heap` gives it the heap and the entry
counter), two calls less per message than through `push`. The
internals used here, and why, are listed in `INTERNALS`; `check_internals`
verifies each against the installed SimPy and names the first that differs;
every run checks once per process (`ensure_internals`) and
tests/engine/test_kernel.py pins it, so a SimPy upgrade that changes them fails
loudly rather than silently corrupting runs. pyproject.toml allows simpy 4.1.x.

Why internals at all: a delivery or a timer is one heap entry whose callback
SimPy's loop calls (STYLE.md §5). A full `simpy.Event` per message, or a
`Timeout`, costs about twice as much (benchmarks/engine.py), so scheduled
calls are bare objects with just what `Environment.step` reads.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from heapq import heappush
from itertools import count
from typing import Any, ClassVar

import simpy
from simpy.events import NORMAL

from sim.errors import InvariantError

INTERNALS: dict[str, str] = {
    "Environment._now": "the simulated time, read on the hot path without the `now` property",
    "Environment._queue": "the event heap of (time, priority, id, event) entries, pushed directly "
    "(here and, through `Engine.heap`, by Network.send)",
    "Environment._eid": "the itertools.count that orders entries of equal time and priority",
    "events.NORMAL": "the priority of ordinary events in those heap entries",
    "Environment.step": "pops an entry, swaps `event.callbacks` for None, calls each with the "
    "event, then reads `event._ok`: all a bare scheduled object needs",
    "Event.__init__(env)": "sets env, callbacks and _value only, so `Pending` may call it "
    "directly and `sleep` may set them itself",
    "Event._ok/_value": "what `sleep` and `succeed_later` set before pushing an event on the "
    "heap themselves (a triggered event, as a Timeout is): its waiters resume from that entry",
}
"""Every SimPy internal the engine relies on, with what it relies on it for."""


class Engine(simpy.Environment):
    """SimPy's environment plus the scheduling calls the hot paths use (times in ms)."""

    def call_later(self, delay_ms: float, fn: Callable[..., None], *args: Any) -> None:
        """Call `fn(*args)` after `delay_ms` of simulated time: one heap entry, no process.

        Timers that must be cancelled carry a generation number checked by `fn`
        (STYLE.md §5): stale ticks are dropped by the callee.
        """
        if delay_ms < 0:
            raise InvariantError(f"negative delay {delay_ms}")
        call = _Call()
        call.fn = fn
        call.args = args
        heappush(self._queue, (self._now + delay_ms, NORMAL, next(self._eid), call))

    def call_at(self, time_ms: float, fn: Callable[..., None], *args: Any) -> None:
        """Call `fn(*args)` at simulated time `time_ms` (not before now): for a timer that
        resumes a periodic schedule at exactly the time the schedule would have reached."""
        if time_ms < self._now:
            raise InvariantError(f"call_at {time_ms} is before now ({self._now})")
        call = _Call()
        call.fn = fn
        call.args = args
        heappush(self._queue, (time_ms, NORMAL, next(self._eid), call))

    def sleep(self, delay_ms: float) -> Pending:
        """What `timeout(delay_ms)` is (an event that succeeds `delay_ms` on, with one heap
        entry), at two thirds of its cost: a customer's think time between page views."""
        if delay_ms < 0:
            raise InvariantError(f"negative delay {delay_ms}")
        event = _new_pending()  # Event.__init__'s three fields set here: no frame
        event.env = self
        event.callbacks = []
        event._ok = True
        event._value = None
        heappush(self._queue, (self._now + delay_ms, NORMAL, next(self._eid), event))
        return event

    def succeed_later(self, event: Pending, delay_ms: float, value: Any) -> None:
        """Trigger `event` with `value`, taking effect `delay_ms` from now: its waiters resume
        then, from one heap entry (`succeed` would need a timer and a second entry).

        The event must be pending and triggered by nothing else meanwhile: it is on
        the heap, already holding its value (as a `Timeout` is).
        """
        if delay_ms < 0:
            raise InvariantError(f"negative delay {delay_ms}")
        event._ok = True
        event._value = value
        heappush(self._queue, (self._now + delay_ms, NORMAL, next(self._eid), event))

    def push(self, delay_ms: float, obj: Bare) -> None:
        """Put a bare object (see `Bare`) on the heap `delay_ms` from now: SimPy's loop then
        calls its class's callbacks with it (a client's request crossing its hop)."""
        heappush(self._queue, (self._now + delay_ms, NORMAL, next(self._eid), obj))

    def heap(self) -> tuple[list[Any], Iterator[int]]:
        """The event heap and its entry counter, for a sender that pushes bare objects itself
        (`Network.send`): entries are `(time, NORMAL, next(counter), obj)` as `push` makes
        them."""
        return self._queue, self._eid

    def scheduled(self) -> list[Any]:
        """The objects waiting on the heap (to count messages still in flight at the end)."""
        return [entry[3] for entry in self._queue]


class Bare:
    """The least SimPy's loop needs to run a callback: `callbacks` and `_ok` (see INTERNALS).

    Subclasses set `callbacks` to a shared one-element list; the loop's
    `event.callbacks = None` then shadows it on the instance only.
    """

    _ok = True
    callbacks: ClassVar[list[Callable[[Any], None]] | None] = None


def _run_call(call: _Call) -> None:
    call.fn(*call.args)


class _Call(Bare):
    """A scheduled call."""

    callbacks: ClassVar[list[Callable[[Any], None]] | None] = [_run_call]


class Pending(simpy.Event):
    """An event a process waits on, made at a third of `Event`'s cost (one per client request)."""

    __init__ = simpy.Event.__init__  # (self, env): no frame of its own, on the hot path


_new_pending = functools.partial(object.__new__, Pending)
"""An uninitialised Pending (C-level): `sleep` sets what `Event.__init__` would."""


@functools.cache
def ensure_internals() -> None:
    """`check_internals`, once per process (a run calls it before it starts)."""
    check_internals()


def check_internals() -> None:
    """Verify every entry of INTERNALS against the installed SimPy.

    Raises:
        InvariantError: naming the first internal that is missing or behaves otherwise.
    """
    env = simpy.Environment()
    for name, kind in (("_now", float | int), ("_queue", list), ("_eid", count)):
        if not isinstance(getattr(env, name, None), kind):
            raise InvariantError(
                f"simpy {simpy.__version__}: Environment.{name} is not a {kind} "
                f"(capsim's engine relies on it: {INTERNALS['Environment.' + name]})"
            )
    if not isinstance(NORMAL, int):
        raise InvariantError(f"simpy {simpy.__version__}: events.NORMAL is not an int")
    params = list(inspect.signature(simpy.Event.__init__).parameters)
    if params != ["self", "env"]:
        raise InvariantError(
            f"simpy {simpy.__version__}: Event.__init__ takes {params}, not (self, env)"
        )
    probe = simpy.Event(env)
    if set(vars(probe)) - {"env", "callbacks", "_value"}:
        raise InvariantError(
            f"simpy {simpy.__version__}: Event.__init__ sets {sorted(vars(probe))}, "
            "more than Pending gives it"
        )
    engine = Engine()
    seen: list[Any] = []
    engine.call_later(5.0, lambda: seen.append(engine.now))
    engine.push(2.0, _probe_bare(seen, engine))
    fired = Pending(engine)

    def waiter() -> Any:
        seen.append((yield fired))
        seen.append(engine.now)

    engine.process(waiter())
    engine.succeed_later(fired, 7.0, "fired")
    try:
        engine.run(until=10.0)
    except Exception as exc:  # any failure here means the loop is not the one relied on
        seen.append(float("nan"))
        seen.append(repr(exc))
    if seen != [2.0, 5.0, "fired", 7.0] or not fired.processed:
        raise InvariantError(
            f"simpy {simpy.__version__}: Environment.step does not run bare heap entries "
            f"(or a Pending triggered later's waiters) as capsim's engine expects (saw {seen}, "
            "expected [2.0, 5.0, 'fired', 7.0])"
        )


def _probe_bare(seen: list[float], engine: Engine) -> Bare:
    class Probe(Bare):
        callbacks: ClassVar[list[Callable[[Any], None]] | None] = [
            lambda event: seen.append(engine.now)
        ]

    return Probe()
