"""The timeline's data model: bars from invokes and completions, fault bands, the violation."""

from __future__ import annotations

import math

import pytest

from sim.check import check
from sim.errors import HistoryError
from sim.history import Op
from sim.timeline import build_timeline, fault_bands
from tests.timeline.histories import stale_read_history


def test_every_invoke_is_one_bar_with_its_outcome() -> None:
    ops = stale_read_history().ops
    timeline = build_timeline(ops)
    by_index = {bar.index: bar for bar in timeline.bars}
    assert len(timeline.bars) == sum(op.type == "invoke" for op in ops if op.process != "nemesis")
    assert [by_index[i].outcome for i in (0, 5, 7, 9, 11, 13, 18)] == [
        "ok", "ok", "ok", "ok", "fail", "info", "open",
    ]  # fmt: skip
    assert by_index[11].error == "unavailable"
    assert by_index[7].output == 0 and (by_index[7].start, by_index[7].end) == (6.0, 8.0)
    assert by_index[18].end is None
    assert timeline.orphans == 1
    assert (timeline.t_min, timeline.t_max) == (0.0, 14.0)
    assert timeline.verdict is None and timeline.violations == ()


def test_reads_of_several_versions_are_marked_with_their_count() -> None:
    bars = {bar.index: bar for bar in build_timeline(stale_read_history().ops).bars}
    assert bars[9].siblings == 2
    assert all(bar.siblings == 0 for i, bar in bars.items() if i != 9)


def test_shop_and_store_operations_of_one_client_pair_separately() -> None:
    ops = [
        Op(0, "invoke", "order", "p", {"units": 1}, 0.0),
        Op(0, "invoke", "read", "p", None, 0.0),
        Op(0, "ok", "read", "p", "v", 1.0),
        Op(0, "invoke", "cas", "p", ["v", "w"], 1.0),
        Op(0, "ok", "cas", "p", ["v", "w"], 2.0),
        Op(0, "ok", "order", "p", {"units": 1}, 2.5),
    ]
    bars = build_timeline(ops).bars
    assert [(b.f, b.level, b.start, b.end) for b in bars] == [
        ("order", "shop", 0.0, 2.5),
        ("read", "store", 0.0, 1.0),
        ("cas", "store", 1.0, 2.0),
    ]


def test_a_second_invoke_leaves_the_first_never_completed() -> None:
    ops = [
        Op(0, "invoke", "write", "x", 1, 0.0),
        Op(0, "invoke", "write", "x", 2, 1.0),
        Op(0, "ok", "write", "x", 2, 2.0),
    ]
    bars = build_timeline(ops).bars
    assert [(b.value, b.outcome) for b in bars] == [(1, "open"), (2, "ok")]


def test_lanes_are_per_key_and_client_with_the_bad_key_first() -> None:
    ops = stale_read_history().ops
    timeline = build_timeline(ops, check(ops, all_keys=True))
    assert timeline.lanes == (
        ("x", "loader"), ("x", 0), ("x", 1), ("x", 3), ("y", "loader"), ("y", 0), ("y", 2),
    )  # fmt: skip
    reordered = [op for op in ops if op.key != "x"] + [op for op in ops if op.key == "x"]
    assert build_timeline(reordered, check(reordered)).lanes[0][0] == "x"


def test_the_violation_is_the_checkers_prefix_and_stuck_ops_by_history_position() -> None:
    ops = stale_read_history().ops
    result = check(ops)
    timeline = build_timeline(ops, result)
    assert timeline.verdict == "not-linearizable" and timeline.model == "register"
    (violation,) = timeline.violations
    explanation = result.explanations["x"]
    assert violation.key == "x"
    assert violation.linearized == tuple(op.call for op in explanation.linearized)
    assert violation.stuck == (7,)  # p1's stale read of 0
    assert 5 in violation.linearized  # p0's write of 1 was placed
    assert violation.descriptions[7] == explanation.stuck[0].description
    assert timeline.per_key == {"x": "not-linearizable", "y": "linearizable"}


def test_a_linearizable_history_has_no_violation() -> None:
    ops = [Op(0, "invoke", "write", "x", 1, 0.0), Op(0, "ok", "write", "x", 1, 1.0)]
    timeline = build_timeline(ops, check(ops))
    assert timeline.verdict == "linearizable" and timeline.violations == ()


def test_list_keys_are_one_key() -> None:
    ops = [
        Op(0, "invoke", "write", [1, 2], 1, 0.0),
        Op(0, "ok", "write", [1, 2], 1, 1.0),
        Op(1, "invoke", "read", [1, 2], None, 2.0),
        Op(1, "ok", "read", [1, 2], 5, 3.0),
    ]
    timeline = build_timeline(ops, check(ops))
    assert timeline.lanes == (([1, 2], 0), ([1, 2], 1))
    assert timeline.violations[0].stuck == (2,)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_time_that_is_not_a_finite_number_is_refused(bad: float) -> None:
    with pytest.raises(HistoryError, match="op 2: time must be a finite number"):
        build_timeline([Op(0, "invoke", "read", "x", None, 0.0), Op(0, "ok", "read", "x", 1, bad)])


def test_capsim_faults_pair_start_and_stop_by_kind_and_value() -> None:
    ops = [
        Op("nemesis", "info", "start-crash", None, 1, 1.0),
        Op("nemesis", "info", "start-crash", None, 2, 2.0),
        Op("nemesis", "info", "stop-crash", None, 2, 3.0),
        Op("nemesis", "info", "start-partition", None, [[0], [1]], 3.5),
        Op("nemesis", "info", "stop-crash", None, 1, 4.0),
    ]
    bands = fault_bands(ops, 10.0)
    assert [(b.name, b.start, b.end, b.value, b.open) for b in bands] == [
        ("crash", 1.0, 4.0, "1", False),
        ("crash", 2.0, 3.0, "2", False),
        ("partition", 3.5, 10.0, "[[0],[1]]", True),
    ]


def test_jepsen_nemesis_events_logged_twice_are_one_fault() -> None:
    ops = [
        Op("nemesis", "info", "start", None, None, 1.0),
        Op("nemesis", "info", "start", None, "isolated n1", 1.2),
        Op("nemesis", "info", "stop", None, None, 5.0),
        Op("nemesis", "info", "stop", None, "healed", 5.5),
        Op("nemesis", "info", "kill", None, "n2", 6.0),
    ]
    bands = fault_bands(ops, 9.0)
    assert [(b.name, b.start, b.end, b.value) for b in bands] == [
        ("nemesis", 1.0, 5.5, '"isolated n1"'),
        ("kill", 6.0, 6.0, '"n2"'),
    ]


def test_the_timeline_holds_every_fault_of_the_history() -> None:
    timeline = build_timeline(stale_read_history().ops)
    assert [(f.name, f.start, f.end, f.open) for f in timeline.faults] == [
        ("partition", 2.0, 12.0, False),
        ("crash", 13.0, 14.0, True),
    ]
