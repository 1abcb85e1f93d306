"""Fault windows count faults that cut or crash; availability by side follows each client's home."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sim.faults.base import fault
from sim.history import FAIL, INVOKE, OK, Op
from sim.metrics.faults import (
    availability_by_side,
    during,
    during_mask,
    fault_windows,
    merge_windows,
    requests_and_availability,
)
from sim.metrics.timings import Timings


def test_clock_skew_makes_no_fault_window() -> None:
    faults = (
        fault("clock-skew", start_ms=0.0, end_ms=60_000.0, node=4, skew_ms=-25.0),
        fault("partition", start_ms=10_000.0, end_ms=40_000.0, groups=[[0, 1], [2, 3, 4]]),
        fault("one-way", start_ms=45_000.0, end_ms=50_000.0, **{"from": [0], "to": [1]}),
    )
    assert fault_windows(faults, 90_000.0) == [(10_000.0, 40_000.0), (45_000.0, 50_000.0)]
    assert fault_windows(faults, 90_000.0, disrupting=False) == [(0.0, 60_000.0)]


def test_availability_by_side_follows_the_clients_home_node() -> None:
    split = fault("partition", start_ms=10.0, end_ms=20.0, groups=[[0, 1]])
    pairs = []
    for process, ok, t in [(0, False, 12.0), (1, True, 13.0), (2, True, 14.0), (2, True, 30.0)]:
        inv = Op(process, INVOKE, "order", "p", None, t)
        pairs.append((inv, Op(process, OK if ok else FAIL, "order", "p", None, t + 1)))
    sides = availability_by_side(pairs, (split,), 3, 100.0, lambda p: p)
    assert [(s["side"], s["requests"], s["availability"]) for s in sides] == [
        ([0, 1], 2, 0.5),
        ([2], 1, 1.0),
    ]
    during = requests_and_availability(Timings.of(pairs), [(10.0, 20.0)])
    assert during["availability_during_faults"] == 2 / 3
    assert availability_by_side(pairs, (), 3, 100.0, lambda p: p) is None


@given(
    st.lists(st.tuples(st.integers(0, 50), st.integers(0, 20) | st.none()), max_size=5),
    st.lists(st.integers(-5, 80), max_size=30),
)
def test_during_mask_agrees_with_during(spans: list, times: list[int]) -> None:
    windows = merge_windows(((s, None if d is None else s + d) for s, d in spans), 60.0)
    mask = during_mask(windows, np.array(times, dtype=float))
    assert mask.tolist() == [during(windows, float(t)) for t in times]
