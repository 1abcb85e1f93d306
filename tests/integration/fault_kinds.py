"""Which fault kinds a property's examples served orders through: coverage per fault kind.

A property over generated fault schedules proves something about a fault kind
only if some example kept serving while a fault of that kind was active. Each
property collects, over its examples, the kinds during which an order was
acknowledged (`FaultCoverage.add`) and asserts at the end that every kind it
draws was reached (`FaultCoverage.assert_reached`). A crash on a cluster
without durable storage is its own kind, "crash (volatile)": what a property
promises differs there. Clock skew cuts no link, so the run's
`ok_during_faults` ignores it; here every fault's own windows count.
Properties give each kind its own examples (`featured` in tests/strategies.py,
`each_kind` here) so that every kind is drawn often enough to be reached.
"""

from __future__ import annotations

import bisect
import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from hypothesis import given, note, seed, settings
from hypothesis.strategies import SearchStrategy

from sim.faults.base import Fault
from sim.history import OK, History
from sim.metrics.faults import merge_windows
from sim.scenario import Scenario
from tests.strategies import VOLATILE_CRASH

MIN_EXAMPLES = 20
"""Fewest examples of one featured fault kind (one mode), in any profile: enough that some
serve orders during it (the dev profile's 20 examples would otherwise be split eight ways)."""


T = TypeVar("T")


def per_kind(share: float, floor: int = MIN_EXAMPLES) -> int:
    """Examples for one featured kind: `share` of the profile's max_examples, `floor` at least."""
    return max(floor, round(share * settings().max_examples))


def each_kind(
    kinds: Iterable[str],
    examples: int,
    strategy: Callable[[str], SearchStrategy[T]],
    body: Callable[[T], None],
) -> None:
    """Run the property `body` on `examples` examples of `strategy(kind)` for each kind in turn.

    Each fault kind gets its own examples (the strategy features it: the
    schedule's first fault is of that kind), so that a property's coverage of
    every kind does not depend on how evenly Hypothesis spreads its draws,
    which it does not. One Hypothesis search per kind; the failing one reports.
    """
    for kind in kinds:
        _search(kind, examples, strategy(kind), body)


def _search(
    kind: str, examples: int, strategy: SearchStrategy[T], body: Callable[[T], None]
) -> None:
    """One Hypothesis search of `body` over `strategy`, noting the featured kind."""

    @settings(max_examples=examples)
    @given(strategy)
    def holds(example: T) -> None:
        note(f"featured fault kind: {kind}")
        body(example)

    # One random stream per property and kind: `holds` has the same source in every
    # property, and `ci` derandomizes by the test function's digest, so two properties
    # over one strategy would otherwise draw the very same examples. Under `ci` a seed
    # from the property's id and the kind (a seed overrides derandomize); dev and
    # nightly keep drawing afresh.
    if settings().derandomize:
        key = f"{os.environ.get('PYTEST_CURRENT_TEST', '').rsplit(' (', 1)[0]}::{kind}"
        holds = seed(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))(holds)
    holds()


def label(fault: Fault, durable: bool) -> str:
    """The fault's kind, with a crash on a cluster without durable storage told apart."""
    return VOLATILE_CRASH if fault.kind == "crash" and not durable else fault.kind


def labels(kinds: Iterable[str], volatile: bool = False) -> tuple[str, ...]:
    """The labels a property drawing `kinds` must reach (with `volatile`: both crashes)."""
    out = list(kinds)
    if volatile and "crash" in out:
        out.append(VOLATILE_CRASH)
    return tuple(out)


def served(
    faults: Sequence[Fault], durable: bool, ack_times: Iterable[float], end_ms: float
) -> set[str]:
    """The labels of the faults that were active when some acknowledgement in `ack_times` came."""
    times = sorted(ack_times)
    out = set()
    for fault in faults:
        for start, end in merge_windows(fault.windows(end_ms), end_ms):
            i = bisect.bisect_left(times, start)
            if i < len(times) and times[i] < end:
                out.add(label(fault, durable))
                break
    return out


def confirmed_order_times(history: History) -> list[float]:
    """When each confirmed order was acknowledged to its client."""
    return [
        op.time
        for op in history
        if op.f == "order"
        and op.type == OK
        and isinstance(op.value, dict)
        and op.value.get("outcome") == "confirmed"
    ]


ANY_MODE = "any mode"


class FaultCoverage:
    """Counts, per mode and fault label, the examples that drew it and that served through it."""

    def __init__(self, modes: Iterable[str] | None, kinds: Iterable[str]) -> None:
        """Expect every label in `kinds` to be served in every mode in `modes` (None: in some)."""
        self.pooled = modes is None
        self.expected = [(mode, kind) for mode in modes or (ANY_MODE,) for kind in kinds]
        self.drawn: Counter[tuple[str, str]] = Counter()
        self.served: Counter[tuple[str, str]] = Counter()

    def add_times(
        self, mode: str, faults: Sequence[Fault], durable: bool, times: Iterable[float], end: float
    ) -> set[str]:
        """Record one example from its faults and acknowledgement times; its served labels."""
        mode = ANY_MODE if self.pooled else mode
        for kind in {label(f, durable) for f in faults}:
            self.drawn[mode, kind] += 1
        hit = served(faults, durable, times, end)
        for kind in hit:
            self.served[mode, kind] += 1
        return hit

    def add(self, scenario: Scenario, history: History) -> set[str]:
        """Record one run: the labels during which it acknowledged a confirmed order."""
        return self.add_times(
            scenario.cluster.mode,
            scenario.faults,
            scenario.cluster.durable,
            confirmed_order_times(history),
            scenario.end_ms,
        )

    def report(self) -> str:
        """Per mode and label: examples served through it / examples that drew it."""
        return ", ".join(
            f"{mode}/{kind}: {self.served[mode, kind]}/{self.drawn[mode, kind]}"
            for mode, kind in self.expected
        )

    def assert_reached(self, at_least: int = 1) -> None:
        """Fail unless every expected (mode, label) served orders in `at_least` examples."""
        missing = [(m, k) for m, k in self.expected if self.served[m, k] < at_least]
        assert not missing, f"no example served orders during {missing} ({self.report()})"
