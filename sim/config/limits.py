"""What one run can hold: the limits a scenario is checked against, each named in its error.

A scenario that passes every type and range check can still describe a run
that never ends (a timer every 1e-300 ms), that no machine holds (10^18
nodes) or whose times lose their meaning (a clock skew of 1e308 ms). These
limits refuse such scenarios at load time, with the limit and its reason in
the one-line error, e.g.
`cluster.nodes: must be <= 10,000, the most nodes a run holds (got 9223372036854775807)`.

The values, and why (figures measured on a 2-core machine):

- MAX_TIME_MS = 1e9 (about 11.6 simulated days): every time of the schedule
  (duration, settle, a fault's start and end, the whole run) and every clock
  skew. Times are float milliseconds; at 1e9 ms one step of a float is
  1.2e-7 ms, so a microsecond is still resolved.
- MIN_PERIOD_MS = 0.001 (one simulated microsecond): the shortest period of a
  timer or a flapping fault; far below any network latency modelled here, and
  above the float step at MAX_TIME_MS, so that `t + period` always moves on.
- MAX_TIMER_EVENTS = 10^7 per timer: a background loop fires once per period
  for the whole run, on every node (anti-entropy, handoff, liveness) or on
  one leader per busy group (Raft heartbeats; idle groups quiesce); at about
  12 us of CPU per tick, 10^7 ticks take two minutes.
- MAX_FAULT_WINDOWS = 10^5 per fault: a flapping partition's on-windows are
  listed up front and each records its start and end in the history (about
  1 KB and 40 us each).
- MAX_NODES = 10,000 (ten times the scale benchmark's 1,000; 10,000 nodes
  build in 2 s), MAX_VIRTUAL_NODES = 1,000 per node and MAX_RING_POINTS =
  10^6 in all (the ring is a sorted array of nodes x virtual nodes points).
- MAX_CUSTOMERS = MAX_PRODUCTS = 10^6: every user and product row exists
  from the start, about 4 KB each with its replicas.
- MAX_REQUESTS = 5 x 10^6 estimated client requests: the history holds every
  request (benchmarks/memory.py: 1.6 KB per request, so about 8 GB).
- MAX_NESTING = 32 levels of tables and lists in a scenario file (a valid one
  has at most 5).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from sim.errors import ScenarioError

MAX_TIME_MS = 1e9
MIN_PERIOD_MS = 0.001
MAX_TIMER_EVENTS = 10_000_000
MAX_FAULT_WINDOWS = 100_000
MAX_NODES = 10_000
MAX_VIRTUAL_NODES = 1_000
MAX_RING_POINTS = 1_000_000
MAX_CUSTOMERS = 1_000_000
MAX_PRODUCTS = 1_000_000
MAX_REQUESTS = 5_000_000
MAX_NESTING = 32

BUILTIN_TIMERS: dict[str, dict[str, bool]] = {
    "eventual": {"anti_entropy_ms": True, "handoff_ms": True},
    "strong": {"heartbeat_ms": False, "liveness_ms": True},
}
"""The periodic settings of the built-in modes, by mode name, each with whether every node
runs the loop (True) or one leader per busy group (False: Raft's heartbeats stop when a
quiesced group is idle); what `timers_of` falls back to for a table without `TIMERS`."""


REPR_CHARS = 80
"""The longest a value is shown in an error: one readable line, whatever was given."""


def shown(value: Any) -> str:
    """`repr(value)`, cut to REPR_CHARS characters."""
    text = repr(value)
    return text if len(text) <= REPR_CHARS else f"{text[: REPR_CHARS - 3]}..."


def _show(value: float) -> str:
    """A limit as a user reads it: whole numbers with separators, others short."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}" if abs(value) < 10**15 else str(value)
    return f"{value:g}"


def _got(value: float) -> str:
    """A given value as the user wrote it (repr: no digits lost, no separators)."""
    return repr(value)


def at_most(value: float, limit: float, path: str, why: str) -> None:
    """Raise `<path>: must be <= <limit>, <why> (got <value>)` when value exceeds limit."""
    if value > limit:
        raise ScenarioError(f"{path}: must be <= {_show(limit)}, {why} (got {_got(value)})")


def check_time(value: float | None, path: str) -> None:
    """A time of the schedule is at most MAX_TIME_MS (None: never, is fine)."""
    if value is not None:
        at_most(value, MAX_TIME_MS, path, "the longest simulated time a run holds (11.6 days)")


def check_skew(value: float, path: str) -> None:
    """A clock skew is at most MAX_TIME_MS either way."""
    if abs(value) > MAX_TIME_MS:
        limit = _show(MAX_TIME_MS)
        raise ScenarioError(
            f"{path}: must be between -{limit} and {limit} ms, the largest clock skew modelled "
            f"(got {_got(value)})"
        )


def check_period(value: float, path: str, off: bool = False) -> None:
    """A period is at least MIN_PERIOD_MS (or 0 where 0 turns it off)."""
    if off and value == 0:
        return
    if value < MIN_PERIOD_MS:
        zero = " or 0 (off)" if off else ""
        raise ScenarioError(
            f"{path}: must be >= {MIN_PERIOD_MS:g} ms{zero}, the shortest period a run "
            f"resolves (got {_got(value)})"
        )


def check_ticks(period_ms: float, loops: int, span_ms: float, path: str) -> None:
    """A timer run by `loops` loops every `period_ms` for `span_ms` fits MAX_TIMER_EVENTS.

    Args:
        period_ms: the timer's period (0: off).
        loops: how many run it: the nodes, or 1 for a timer of one group's leader.
        span_ms: how long it runs (the whole run).
        path: the setting's dotted path.

    Raises:
        ScenarioError: naming the shortest period this run allows and why.
    """
    if period_ms <= 0:
        return
    ticks = loops * span_ms / period_ms
    if ticks > MAX_TIMER_EVENTS:
        shortest = loops * span_ms / MAX_TIMER_EVENTS
        who = f"{loops:,} nodes x " if loops > 1 else "one leader: "
        raise ScenarioError(
            f"{path}: must be >= {shortest:.3g} ms for this run (got {_got(period_ms)}): "
            f"{who}{span_ms:g} ms / {_show(period_ms)} ms makes {ticks:.3g} "
            f"timer events, more than a run holds ({MAX_TIMER_EVENTS:,} per timer)"
        )


def zero_allowed(table: Any, name: str) -> bool:
    """Whether a table's field accepts 0 (a timer that 0 turns off), from its constraints."""
    field = type(table).model_fields[name]
    return not any(getattr(m, "gt", None) is not None for m in field.metadata)


def timers_of(mode: str, settings: Any) -> dict[str, bool]:
    """The settings of a mode that are the period of a loop that runs all run long.

    Returns:
        {setting: whether every node runs it (else one leader per busy group)}.
        A mode lists them in its settings table's `TIMERS`; the built-in
        modes' are kept in BUILTIN_TIMERS.
    """
    return dict(getattr(type(settings), "TIMERS", {})) or BUILTIN_TIMERS.get(mode, {})


def requests_estimate(customers: int, settings: Any) -> int:
    """About how many client requests a workload issues.

    A customer places one order (or views one page); a browsing customer views
    `reads_per_customer` pages and may order; the probe (trials, offsets_ms)
    writes `trials` versions and reads each at every offset.
    """
    trials = getattr(settings, "trials", None)
    if isinstance(trials, int):
        return trials * (1 + len(getattr(settings, "offsets_ms", ())))
    return customers * (1 + int(getattr(settings, "reads_per_customer", 0)))


def check_requests(customers: int, kind: str, settings: Any) -> None:
    """The workload's estimated requests fit MAX_REQUESTS; the error names what sets them."""
    estimate = requests_estimate(customers, settings)
    if estimate <= MAX_REQUESTS:
        return
    if isinstance(getattr(settings, "trials", None), int):
        what, path = "trials x (1 + offsets)", f"workload.{kind}.trials"
    elif getattr(settings, "reads_per_customer", 0):
        what, path = "customers x (1 + reads_per_customer)", "workload.customers"
    else:
        what, path = "customers", "workload.customers"
    raise ScenarioError(
        f"{path}: the {kind} workload would make about {_show(estimate)} requests "
        f"({what}), more than a run holds ({MAX_REQUESTS:,}: its history is kept in memory)"
    )


def nesting(value: Any, limit: int = MAX_NESTING) -> int:
    """How deeply lists and tables nest in `value` (a scalar: 0), without recursion.

    The walk stops one level past `limit`: anything deeper than `limit` is `limit + 1`.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if depth > limit:
            return depth
        stack.extend((child, depth) for child in children)
    return deepest


def check_nesting(value: Any, path: str) -> None:
    """Tables and lists nest at most MAX_NESTING levels deep."""
    if nesting(value) > MAX_NESTING:
        raise ScenarioError(
            f"{path}: nested more than {MAX_NESTING} levels deep (a scenario needs at most 5)"
        )


def windows_estimate(start_ms: float, stop_ms: float, period_ms: float) -> float:
    """How many on-windows a flapping fault from start to stop with this period has."""
    if period_ms <= 0 or stop_ms <= start_ms:
        return 0.0
    return math.ceil((stop_ms - start_ms) / (2 * period_ms))
