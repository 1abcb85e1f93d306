"""A history and the checker's verdict as plain data for the timeline: bars, lanes, faults.

Every client operation (an invoke, paired with its process's next completion
of the same level: store or shop, DESIGN.md "History and checking") is one
`Bar` from invoke to completion. Lanes are one per (key, process), grouped by
key: keys the checker found not linearizable first, then the others in order
of first appearance. The verdict is taken as the checker gives it
(sim/check/linearizable.py's `CheckResult`): its explanations name the longest
linearizable prefix and the operations that could not be placed, by the
position of their invoke in the history, which is the `Bar.index` here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sim.check.linearizable import CheckResult, Operation
from sim.check.models import freeze
from sim.errors import HistoryError
from sim.history import FAIL, INFO, INVOKE, NEMESIS, OK, SHOP_FS, Op
from sim.timeline.faults import FaultBand, fault_bands

__all__ = ["OPEN", "Bar", "Timeline", "Violation", "build_timeline", "key_label"]

OPEN = "open"
"""A bar's outcome when its invoke never completed (unknown, like info, but with no end)."""

READ_FS = frozenset({"read", "get"})
"""Reads whose list value means siblings: capsim records a read of several
versions as the sorted list of their tags (sim/client.py, siblings_token)."""


@dataclass(frozen=True, slots=True)
class Bar:
    """One operation: an invoke and its completion, drawn from `start` to `end`.

    Attributes:
        index: position of the invoke in the history (what the checker calls `call`).
        process: the client.
        f: the operation (`read`, `cas`, `order`, ...).
        key: the key it acts on (None when the history has no keys).
        level: "store" or "shop" (a client has one operation of each open at a time).
        start: invoke time.
        end: completion time; None when it never completed.
        outcome: ok, fail, info or open.
        value: the invoke's value.
        output: the completion's value (None when there is none).
        error: why it failed or is unknown, when the history says.
        siblings: how many sibling versions a read returned when more than one, else 0.
    """

    index: int
    process: int | str
    f: str
    key: Any
    level: str
    start: float
    end: float | None
    outcome: str
    value: Any
    output: Any
    error: str | None
    siblings: int


@dataclass(frozen=True, slots=True)
class Violation:
    """Why one key is not linearizable, by bar: Porcupine's partial linearization.

    Attributes:
        key: the key, as the history names it.
        state: the model's state after the prefix, described.
        linearized: the bars of the longest linearizable prefix, in linearization order.
        stuck: the bars that could not be placed after it.
        descriptions: the checker's description of each of those bars, by bar index.
    """

    key: Any
    state: str
    linearized: tuple[int, ...]
    stuck: tuple[int, ...]
    descriptions: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Timeline:
    """What the page shows: every operation, every fault, the lanes and the verdict.

    Attributes:
        title: the page's title (usually the history's file name).
        bars: every client operation, in history order.
        faults: the nemesis's faults.
        lanes: (key, process) per lane, in display order (grouped by key).
        verdict: the checker's verdict ("linearizable", ...), or None when not checked.
        model: the checker's model name, or None.
        per_key: the verdict of each checked key, by the key frozen (`sim.check.models.freeze`:
            hashable, lists as tuples), as the checker names it.
        violations: one per key found not linearizable.
        unknown_reason: why the verdict is unknown ("time", "memory"), else None.
        orphans: completions with no invoke before them (not drawn: nothing to pair).
        t_min, t_max: the history's time span (events and faults).
    """

    title: str
    bars: tuple[Bar, ...]
    faults: tuple[FaultBand, ...]
    lanes: tuple[tuple[Any, int | str], ...]
    verdict: str | None = None
    model: str | None = None
    per_key: dict[Any, str] = field(default_factory=dict)
    violations: tuple[Violation, ...] = ()
    unknown_reason: str | None = None
    orphans: int = 0
    t_min: float = 0.0
    t_max: float = 0.0


def key_label(key: Any) -> str:
    """How a key is named on the page: strings as they are, None as `(no key)`, others as repr."""
    if key is None:
        return "(no key)"
    return key if isinstance(key, str) else repr(key)


def _siblings(f: str, completion: Op | None) -> int:
    if completion is None or completion.type != OK or f not in READ_FS:
        return 0
    value = completion.value
    return len(value) if isinstance(value, list) and len(value) > 1 else 0


def _pair(ops: Sequence[Op]) -> tuple[list[Bar], int]:
    """Bars from invokes and completions, per (process, level); and the unpaired completions."""
    open_: dict[tuple[Any, str], int] = {}  # (process, level) -> position in `invokes`
    invokes: list[tuple[int, Op, Op | None]] = []
    orphans = 0
    for i, op in enumerate(ops):
        if op.process == NEMESIS:
            continue
        level = "shop" if op.f in SHOP_FS else "store"
        if op.type == INVOKE:
            # A second invoke while one is open: the first never completed.
            open_[(op.process, level)] = len(invokes)
            invokes.append((i, op, None))
            continue
        j = open_.pop((op.process, level), None)
        if j is None:
            orphans += 1
        else:
            invokes[j] = (invokes[j][0], invokes[j][1], op)
    bars = []
    for i, inv, comp in invokes:
        level = "shop" if inv.f in SHOP_FS else "store"
        outcome = OPEN if comp is None else comp.type
        if outcome not in (OK, FAIL, INFO, OPEN):
            outcome = INFO  # an unknown completion type: the outcome is not known
        f = str(inv.f)
        if comp is None:
            bars.append(Bar(i, inv.process, f, inv.key, level, inv.time, None, OPEN, inv.value,
                            None, None, 0))  # fmt: skip
            continue
        end = comp.time if comp.time >= inv.time else inv.time
        bars.append(Bar(i, inv.process, f, inv.key, level, inv.time, end, outcome, inv.value,
                        comp.value, comp.error, _siblings(f, comp)))  # fmt: skip
    return bars, orphans


def _process_order(process: int | str) -> tuple[bool, Any]:
    """Named processes (the loader) before numbered clients, clients by number."""
    return (isinstance(process, int), process if isinstance(process, int) else str(process))


def _violation(key: Any, explanation: Any) -> Violation:
    def ids(ops: Sequence[Operation]) -> tuple[int, ...]:
        return tuple(op.call for op in ops)

    described = {op.call: op.description for op in (*explanation.linearized, *explanation.stuck)}
    return Violation(
        key, explanation.state, ids(explanation.linearized), ids(explanation.stuck), described
    )


def build_timeline(
    ops: Sequence[Op], result: CheckResult | None = None, title: str = "history"
) -> Timeline:
    """Read a history (and the checker's result on it, if any) into a Timeline.

    Args:
        ops: the history, in the order events happened.
        result: what `sim.check.check` said about `ops`; None when not checked.
        title: the page's title.

    Returns:
        The Timeline: one bar per invoke, the faults, lanes grouped by key.

    Raises:
        HistoryError: an op's time is not a finite number (names the op).
    """
    times = [op.time for op in ops]
    for i, t in enumerate(times):
        if not isinstance(t, int | float) or not math.isfinite(t):
            raise HistoryError(f"op {i + 1}: time must be a finite number (got {t!r})")
    bars, orphans = _pair(ops)
    t_min = min(times, default=0.0)
    t_max = max(times, default=0.0)
    faults = fault_bands(ops, t_max)
    per_key: dict[Any, str] = {}
    violations: list[Violation] = []
    if result is not None:
        by_frozen: dict[Any, Any] = {}  # the checker names keys frozen (hashable)
        for bar in bars:
            by_frozen.setdefault(freeze(bar.key), bar.key)
        per_key = {k: v.value for k, v in result.per_key.items()}
        violations = [_violation(by_frozen.get(k, k), e) for k, e in result.explanations.items()]
    bad = {freeze(v.key) for v in violations}
    originals: dict[Any, Any] = {}  # frozen key -> the key as first written, in first-seen order
    processes: dict[Any, set[Any]] = {}
    for bar in bars:
        frozen = freeze(bar.key)
        originals.setdefault(frozen, bar.key)
        processes.setdefault(frozen, set()).add(bar.process)
    order = {k: i for i, k in enumerate(originals)}
    keys = sorted(originals, key=lambda k: (k not in bad, order[k]))
    lanes = tuple((originals[k], p) for k in keys for p in sorted(processes[k], key=_process_order))
    return Timeline(
        title=title,
        bars=tuple(bars),
        faults=tuple(faults),
        lanes=lanes,
        verdict=None if result is None else result.verdict.value,
        model=None if result is None else result.model,
        per_key=per_key,
        violations=tuple(violations),
        unknown_reason=None if result is None else result.unknown_reason,
        orphans=orphans,
        t_min=t_min,
        t_max=t_max,
    )
